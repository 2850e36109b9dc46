#!/usr/bin/env bash
# Build the two images, run the compose stack, call the app from the host and hear it;
# then remove everything this script started or added, whether a step failed or not.
#
#   bash docker/ci.sh          (as root; called by .ci/run)
#
# It installs Debian's docker.io and docker-compose if missing, starts its own dockerd
# (own socket, pidfile, data root; no bridge and no iptables rules, since both
# containers use the host's network), makes the base images locally when no registry
# can be reached (a Debian sid root with Asterisk, the sandbox's, and a Debian bookworm
# root with Python), builds the app image from wheels built here, brings the stack up,
# checks ARI and the app's health check, places a SIPp call that must be answered and
# heard, and tears it all down. Where no Docker engine can start it fails under CI=true
# (as .ci/run sets it) and is skipped, with the reason, elsewhere.
set -euo pipefail
cd "$(dirname "$0")/.."

work="$(mktemp -d /tmp/voxtra-docker.XXXXXX)"
export DOCKER_HOST="unix://$work/docker.sock"
export COMPOSE_PROJECT_NAME="voxtra-ci"
export VOXTRA_ARI_PORT=18388 VOXTRA_SIP_PORT=15360 VOXTRA_RTP_START=31000 VOXTRA_RTP_END=31199
VOXTRA_ARI_PASSWORD="$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')"
export VOXTRA_ARI_PASSWORD
compose=(docker-compose -f docker/docker-compose.yml)
started=$(date +%s)

say() { echo "docker-ci: $*"; }

cleanup() {
  status=$?
  set +e
  if [ -S "$work/docker.sock" ]; then
    "${compose[@]}" logs --no-color --tail=40 >"$work/compose.log" 2>&1
    [ "$status" -eq 0 ] || cat "$work/compose.log"
    "${compose[@]}" down -v --rmi local >/dev/null 2>&1
  fi
  if [ -s "$work/dockerd.pid" ]; then
    pid="$(cat "$work/dockerd.pid")"
    kill "$pid" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$pid" 2>/dev/null
  fi
  # Mounts the daemon left (overlay layers, the data root) go before the files do.
  grep -o " $work[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null
  rm -rf "$work"
  rm -f docker/wheels/*.whl
  say "finished in $(( $(date +%s) - started )) s with status $status"
  exit "$status"
}
trap cleanup EXIT

# 1. Packages.
missing=()
for package in docker.io docker-compose sip-tester debootstrap; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$package")
done
if ((${#missing[@]})); then
  say "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
export PATH="/usr/sbin:/usr/bin:$PATH"  # Debian's docker client, beside any other

# 2. Our own Docker engine.
dockerd --host "$DOCKER_HOST" --pidfile "$work/dockerd.pid" --data-root "$work/data" \
  --exec-root "$work/exec" --bridge=none --iptables=false --ip-masq=false \
  >"$work/dockerd.log" 2>&1 &
for _ in $(seq 100); do docker info >/dev/null 2>&1 && break; sleep 0.2; done
if ! docker info >/dev/null 2>&1; then
  rm -f "$work/dockerd.pid"  # nothing to stop
  if [ "${CI:-}" = "true" ]; then  # in CI a step that did nothing has failed
    say "FAILED: no Docker engine can start on this machine:"
    tail -5 "$work/dockerd.log"
    exit 1
  fi
  say "SKIPPED (outside CI): no Docker engine can start on this machine:"
  tail -5 "$work/dockerd.log"
  exit 0
fi
say "dockerd $(docker version --format '{{.Server.Version}}') up"

# 3. Base images: from a registry if one answers, else made here.
if docker pull -q debian:sid-slim >/dev/null 2>&1 && docker pull -q python:3.11-slim >/dev/null 2>&1; then
  say "base images pulled"
else
  mirror="$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)"
  asterisk_root="$(.venv/bin/python -c 'from voxtra.sandbox import rootfs; r = rootfs.default_root(); rootfs.ensure_root(r); print(r)')"
  tar -C "$asterisk_root" --exclude=./var/lib/voxtra-sandbox -c . \
    | docker import - voxtra-local/asterisk-base >/dev/null
  python_root="${XDG_CACHE_HOME:-$HOME/.cache}/voxtra/python-bookworm"
  if [ ! -x "$python_root/usr/bin/python3" ]; then
    say "making a Debian bookworm root with Python (once; cached in $python_root)"
    rm -rf "$python_root.tmp"
    debootstrap --variant=minbase --include=python3,python3-venv bookworm \
      "$python_root.tmp" "${mirror:-http://deb.debian.org/debian}" >"$work/debootstrap.log" 2>&1 \
      || { tail -20 "$work/debootstrap.log"; exit 1; }
    rm -rf "$python_root.tmp/var/cache/apt/archives/"*.deb "$python_root.tmp/var/lib/apt/lists/"*
    mv "$python_root.tmp" "$python_root"
  fi
  tar -C "$python_root" -c . | docker import - voxtra-local/python >/dev/null
  export VOXTRA_ASTERISK_BASE=voxtra-local/asterisk-base VOXTRA_PYTHON_IMAGE=voxtra-local/python
  say "base images made locally"
fi

# 4. Wheels built here: the image installs them with --no-index.
.venv/bin/pip wheel -q --wheel-dir docker/wheels '.[speed,offline]' hatchling 2>&1 \
  | grep -v "^WARNING: Location" || true
export VOXTRA_PIP_OPTIONS="--no-index --find-links /wheels"

# 5. Build and start.
"${compose[@]}" build -q
say "images: $(docker images --format '{{.Repository}} {{.Size}}' | grep -E '^voxtra-(app|asterisk) ' | tr '\n' ' ')"
"${compose[@]}" up -d

# 6. ARI answers, with the password only; the app's own health check passes.
ari="http://127.0.0.1:$VOXTRA_ARI_PORT/ari/asterisk/info"
for _ in $(seq 150); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' -u "voxtra:$VOXTRA_ARI_PASSWORD" "$ari")" = 200 ] && break
  sleep 0.2
done
[ "$(curl -s -o /dev/null -w '%{http_code}' -u "voxtra:$VOXTRA_ARI_PASSWORD" "$ari")" = 200 ]
[ "$(curl -s -o /dev/null -w '%{http_code}' -u "voxtra:wrong-password" "$ari")" = 401 ]
say "ARI answers (and refuses a wrong password)"
app="$("${compose[@]}" ps -q app)"
for _ in $(seq 120); do
  [ "$(docker inspect -f '{{.State.Health.Status}}' "$app")" = healthy ] && break
  sleep 1
done
[ "$(docker inspect -f '{{.State.Health.Status}}' "$app")" = healthy ]
say "the app is healthy (voxtra check)"

# 7. A call from the host: the agent hears a spoken question and the caller hears the answer.
.venv/bin/python docker/call.py 127.0.0.1 "$VOXTRA_SIP_PORT"
