#!/usr/bin/env bash
# Set up a Debian/Ubuntu machine for Voxtra: the system tools the sandbox Asterisk
# and the SIP test caller need, and a virtual environment in .venv with Voxtra
# installed for development. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

# debootstrap builds the sandbox's Debian sid root; sip-tester is SIPp; sox makes
# test audio; tshark captures RTP in media tests; espeak-ng is the light fallback voice;
# flite speaks two of the test callers; postgresql is the server the tests of campaigns
# shared by several workers start a throwaway cluster of; chromium and its driver open
# every page of the documentation site in its test.
packages=(debootstrap sip-tester sox tshark espeak-ng flite postgresql python3-venv
          ca-certificates chromium chromium-driver)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$package")
done
if ((${#missing[@]})); then
  echo "Installing system packages: ${missing[*]}"
  $SUDO apt-get update -qq
  echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || { echo "Voxtra needs Python 3.11 or newer (python3 is $(python3 -V))" >&2; exit 1; }
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[dev]'
# The official Silero VAD (8 kHz capable) and Smart Turn model files, from a wheel.
.venv/bin/voxtra models fetch
echo "Voxtra is installed in .venv"
