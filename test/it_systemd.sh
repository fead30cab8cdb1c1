#!/bin/bash
# The systemd unit: it must pass systemd-analyze verify with the built
# binaries, and keep the properties the shutdown design relies on.
set -euo pipefail
unit_in="$ND_TEST_SRC/../systemd/netdiskd.service.in"
conf="$ND_TEST_SRC/../conf/netdiskd.conf"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0
check() {
    local what=$1; shift
    if "$@"; then
        echo "ok - $what"; pass=$((pass + 1))
    else
        echo "not ok - $what"; fail=$((fail + 1))
    fi
}

sed -e "s#@CMAKE_INSTALL_FULL_SBINDIR@#$ND_BIN#g" \
    -e "s#@CMAKE_INSTALL_FULL_SYSCONFDIR@/netdisk/netdiskd.conf#$conf#g" \
    -e "s#@CMAKE_INSTALL_FULL_DOCDIR@#/usr/share/doc/netdisk#g" \
    "$unit_in" > "$tmp/netdiskd.service"
check "no placeholder left" bash -c "! grep -q @ '$tmp/netdiskd.service'"
if command -v systemd-analyze >/dev/null 2>&1; then
    check "systemd-analyze verify" systemd-analyze verify "$tmp/netdiskd.service"
else
    echo "# systemd-analyze not installed: verify not run"
fi
has() { grep -qx "$1" "$tmp/netdiskd.service"; }
check "Type=notify" has "Type=notify"
check "NotifyAccess=all (the pool process notifies)" has "NotifyAccess=all"
check "KillMode=mixed" has "KillMode=mixed"
check "Restart=on-failure" has "Restart=on-failure"
check "ExecStart uses -c" grep -q "^ExecStart=$ND_BIN/netdiskd -c " "$tmp/netdiskd.service"
# TimeoutStopSec must exceed the shipped shutdown_timeout.
stop=$(sed -n 's/^TimeoutStopSec=\([0-9]*\)$/\1/p' "$tmp/netdiskd.service")
drain=$(sed -n 's/^[[:space:]]*shutdown_timeout[[:space:]]*=[[:space:]]*\([0-9]*\).*/\1/p' "$conf")
check "TimeoutStopSec ($stop) > shutdown_timeout ($drain)" test "$stop" -gt "$drain"
# The check-config mode the unit's ExecStartPre uses accepts the shipped file.
check "netdiskd -t accepts the shipped config" "$ND_BIN/netdiskd" -t -c "$conf"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
