#!/bin/sh
# Installs the Debian packages the build and the tests need, but only those
# that are missing, so a machine that has them all pays one dpkg query.
set -eu
# procps (pgrep) and the coreutils/diffutils oracles are used by the tests;
# openssl (the command: a throw-away CA, s_client) and iproute2 (ip, for a
# private network namespace) by it_tls; groff-base (groff, to check that the
# man pages render) by it_manpages; valgrind by it_valgrind; strace (to see
# what the client and the daemon send, in which calls) by it_multi and
# it_replies.  With
# arguments, it installs those packages instead (scripts/fuzz.sh: clang).
pkgs="build-essential cmake pkg-config libconfig-dev libssl-dev check procps diffutils openssl iproute2 groff-base valgrind strace"
if [ "$#" -gt 0 ]; then
    pkgs="$*"
fi
missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
        || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "installing missing Debian packages:$missing"
if [ "$(id -u)" -eq 0 ]; then
    sudo=""
elif command -v sudo >/dev/null 2>&1; then
    sudo="sudo"
else
    echo "error: need root or sudo to install:$missing" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# shellcheck disable=SC2086
$sudo apt-get install -y -qq --no-install-recommends $missing
