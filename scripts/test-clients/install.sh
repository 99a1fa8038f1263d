#!/usr/bin/env bash
# Installs the clients `make test-clients` drives, skipping what is already
# there: Debian's awscli, python3-boto3, s3cmd, rclone and curl (apt-get, as
# root or through sudo), and the AWS SDK for JavaScript v3 from the
# committed lockfile (npm ci into scripts/test-clients/js/node_modules).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)

APT_PACKAGES=(awscli python3-boto3 s3cmd rclone curl)

installed() { [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]; }

missing=()
for p in "${APT_PACKAGES[@]}"; do
  installed "$p" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "test-clients: installing Debian packages: ${missing[*]}"
  SUDO=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || {
      echo "test-clients: need root (or sudo) to apt-get install ${missing[*]}" >&2
      exit 1
    }
    SUDO=(sudo)
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${SUDO[@]}" apt-get update -qq
  "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

for tool in node npm; do
  command -v "$tool" >/dev/null 2>&1 || {
    echo "test-clients: $tool not found (Node.js 20+ and npm are required)" >&2
    exit 1
  }
done
# npm ci only when node_modules does not match the committed lockfile.
stamp=$HERE/js/node_modules/.strongbox-lock.sha256
want=$(sha256sum "$HERE/js/package-lock.json" | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "test-clients: npm ci (AWS SDK for JavaScript v3)"
  (cd "$HERE/js" && npm ci --no-audit --no-fund --loglevel=error)
  printf '%s\n' "$want" >"$stamp"
fi
