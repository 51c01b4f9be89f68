#!/usr/bin/env bash
# The CUDA package's static Python files are checked with pyflakes (Debian's pyflakes3) besides
# py_compile; python3 itself comes with the machine image.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
if ! command -v pyflakes3 >/dev/null; then
  for try in 1 2 3 4 5 6 7 8 9 10; do
    if apt-get -o DPkg::Lock::Timeout=120 update; then break; fi
    [ "$try" = 10 ] && exit 1
    sleep 15
  done
  apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends pyflakes3
fi
pyflakes3 --version
