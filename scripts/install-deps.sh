#!/usr/bin/env bash
# Installs, on Debian 12, the packages that building, testing and running mlp need and that are
# missing. Uses sudo when not run as root. Prints what it installs.
set -euo pipefail

packages=(cmake ninja-build g++ libeigen3-dev doctest-dev libcxxopts-dev zlib1g-dev
          dataset-fashion-mnist)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages are present"
  exit 0
fi

as_root=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  as_root=(sudo)
fi
echo "install-deps: installing ${missing[*]}"
"${as_root[@]}" apt-get update
DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
