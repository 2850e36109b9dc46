#!/usr/bin/env bash
# Create (or bring up to date) Pipecat's own venv for the agents benchmark and print its
# Python as the last line. Pipecat is never installed into Voxtra's venv, only here.
#   VOXTRA_PIPECAT_VENV   where the venv goes (default ~/.cache/voxtra/pipecat-venv)
#   PYTHON                the interpreter that makes it (default python3.11)
# Safe to run again: nothing is installed when the requirements have not changed.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
requirements="$here/pipecat-requirements.txt"
venv="${VOXTRA_PIPECAT_VENV:-$HOME/.cache/voxtra/pipecat-venv}"
python="${PYTHON:-python3.11}"
stamp="$venv/.voxtra-requirements.sha256"

[ -x "$venv/bin/python" ] || "$python" -m venv "$venv" >&2
want="$(sha256sum "$requirements" | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "Installing Pipecat into $venv" >&2
  "$venv/bin/python" -m pip install -q --upgrade pip >&2
  "$venv/bin/python" -m pip install -q -r "$requirements" >&2
  echo "$want" > "$stamp"
fi
# Silero VAD and Smart Turn run on onnxruntime here; torch must not sneak in.
if "$venv/bin/python" -m pip show -q torch >/dev/null 2>&1; then
  echo "torch is installed in $venv, which the benchmark must not have" >&2
  exit 1
fi
echo "$venv/bin/python"
