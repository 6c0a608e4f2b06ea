#!/usr/bin/env bash
# The test suite as README.md's second command runs it: brings what the tests need that pip cannot
# (Debian's chromium, for the real-browser leaderboard test), then runs pytest with any arguments given.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x /usr/bin/chromium ]; then
    echo "== installing Debian's chromium for the real-browser leaderboard test"
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q chromium
fi
exec .venv/bin/python -m pytest "$@"
