#!/usr/bin/env bash
# The two Debian packages the tests need besides Python's:
#   chromium    the browser tests open the built site in it;
#   bubblewrap  the instructor's grader runs every student kernel inside it (`bwrap`).
# Installs what is missing when this machine can (apt-get, as root or with password-less sudo);
# otherwise prints one message saying what to install, and fails.
set -euo pipefail

missing=()
command -v bwrap >/dev/null 2>&1 || missing+=(bubblewrap)
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ ${#missing[@]} -eq 0 ] && exit 0

if command -v apt-get >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ]; then
        sudo=()
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        sudo=(sudo -n)
    else
        sudo=(none)
    fi
    if [ "${sudo[0]:-}" != none ]; then
        echo "system packages: installing ${missing[*]} with apt-get"
        "${sudo[@]}" apt-get update -qq
        DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
        exit 0
    fi
fi

cat >&2 <<MSG
The tests need these Debian packages, and this machine cannot install them by itself: ${missing[*]}
  On Debian or Ubuntu:  sudo apt-get install -y ${missing[*]}   then run make test again.
  Elsewhere (macOS, no apt-get): run 'make test-fast', which needs neither; the browser and sandbox
  tests run on Linux only.
MSG
exit 1
