#!/bin/bash
# The systemd unit: it must pass systemd-analyze verify with the built
# binaries, keep the properties the shutdown design relies on, and stay
# sandboxed: "systemd-analyze security --offline=true" must rate its
# overall exposure at most ND_MAX_EXPOSURE (2.0; lower is safer).
# shellcheck disable=SC2317
# shellcheck source=lib.sh
. "${ND_TEST_SRC:-$(dirname "$0")}/lib.sh"

unit_in="$ND_TEST_SRC/../systemd/netdiskd.service.in"
conf="$ND_TEST_SRC/../conf/netdiskd.conf"
unit=$T/netdiskd.service
: "${ND_MAX_EXPOSURE:=2.0}"

sed -e "s#@CMAKE_INSTALL_FULL_SBINDIR@#$ND_BIN#g" \
    -e "s#@CMAKE_INSTALL_FULL_SYSCONFDIR@/netdisk/netdiskd.conf#$conf#g" \
    -e "s#@CMAKE_INSTALL_FULL_DOCDIR@#/usr/share/doc/netdisk#g" \
    "$unit_in" >"$unit"
# CMake placeholders look like @NAME@; a lone @ (SystemCallFilter=@...) is
# unit syntax.
check "no placeholder left" bash -c "! grep -qE '@[A-Za-z_]+@' '$unit'"

has() { grep -qx -- "$1" "$unit"; }
check "Type=notify" has "Type=notify"
check "NotifyAccess=all (the pool process notifies)" has "NotifyAccess=all"
check "KillMode=mixed" has "KillMode=mixed"
check "Restart=on-failure" has "Restart=on-failure"
check "ExecStart uses -c" grep -q "^ExecStart=$ND_BIN/netdiskd -c " "$unit"
# TimeoutStopSec must exceed the shipped shutdown_timeout.
stop=$(sed -n 's/^TimeoutStopSec=\([0-9]*\)$/\1/p' "$unit")
drain=$(sed -n 's/^[[:space:]]*shutdown_timeout[[:space:]]*=[[:space:]]*\([0-9]*\).*/\1/p' "$conf")
check "TimeoutStopSec ($stop) > shutdown_timeout ($drain)" test "$stop" -gt "$drain"
# The check-config mode the unit's ExecStartPre uses accepts the shipped file.
# The shipped config names the account netdisk, which make run, the
# sysusers.d file or the unit's DynamicUser provide; on a machine that has
# none of them, check the config with that one line pointing at nobody.
if getent passwd netdisk >/dev/null; then
    check "netdiskd -t accepts the shipped config" "$ND_BIN/netdiskd" -t -c "$conf"
else
    sed 's/^user = "netdisk";/user = "nobody";/' "$conf" >"$T/shipped.conf"
    check "netdiskd -t accepts the shipped config (user = nobody: no account netdisk here)" \
        "$ND_BIN/netdiskd" -t -c "$T/shipped.conf"
fi
check "the sysusers.d file creates the account the unit runs as" \
    grep -q '^u netdisk ' "$ND_TEST_SRC/../systemd/netdisk.sysusers"
check "the unit runs as User=netdisk" grep -q '^User=netdisk$' "$unit"

# The sandbox: the settings the exposure figure rests on, spelled out so
# that a drop-in-style edit of the shipped unit shows up here first.
check "runs as an unprivileged user (DynamicUser=yes or User=)" \
    grep -qxE 'DynamicUser=yes|User=[^[:space:]]+' "$unit"
check "not User=root" bash -c "! grep -qxE 'User=(root|0)' '$unit'"
check "ProtectSystem=strict" has "ProtectSystem=strict"
check "NoNewPrivileges=yes" has "NoNewPrivileges=yes"
check "CapabilityBoundingSet= (empty)" has "CapabilityBoundingSet="
check "SystemCallFilter=@system-service" has "SystemCallFilter=@system-service"
check "UMask=0077" has "UMask=0077"
check "MemoryDenyWriteExecute=yes" has "MemoryDenyWriteExecute=yes"
check "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX" \
    has "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX"
check "StateDirectory=netdisk" has "StateDirectory=netdisk"
check "LimitNOFILE=65536" has "LimitNOFILE=65536"

if ! command -v systemd-analyze >/dev/null 2>&1; then
    say "# skipped: systemd-analyze not installed: verify, security and syscall-filter checks not run"
    nd_done
fi

check "systemd-analyze verify" systemd-analyze verify "$unit"

# The system calls of a filter set, nested sets (@default...) expanded.
filter_list() {
    local e
    systemd-analyze syscall-filter "$1" 2>/dev/null |
        awk 'NR > 1 && NF && $1 !~ /^#/ { print $1 }' |
        while read -r e; do
            case $e in
            @*) filter_list "$e" ;;
            *) printf '%s\n' "$e" ;;
            esac
        done
}
# grep without -q reads to the end: no SIGPIPE to trip pipefail.
filter_has() { filter_list "$1" | grep -x -- "$2" >/dev/null; }
filter_lacks() { ! filter_has "$@"; }
# The daemon raises RLIMIT_NOFILE at start: glibc's setrlimit() is the
# prlimit64 system call, which the filter must keep although it denies
# @resources (whose setrlimit entry is the legacy call).
check "@system-service keeps prlimit64" filter_has @system-service prlimit64
check "@resources does not deny prlimit64" filter_lacks @resources prlimit64
check "@privileged does not deny prlimit64" filter_lacks @privileged prlimit64

if ! grep -q -- '--offline' <<<"$(systemd-analyze security --help 2>/dev/null)"; then
    say "# skipped: this systemd-analyze ($(systemd-analyze --version | head -n 1)) has no 'security --offline': exposure not measured"
    nd_done
fi
sec=$T/security.out
rc=0
systemd-analyze security --offline=true "$unit" >"$sec" 2>"$T/security.err" || rc=$?
assert_eq 0 "$rc" "systemd-analyze security --offline=true exits 0"
exposure=$(sed -n 's/.*Overall exposure level for [^:]*: *\([0-9][0-9]*\(\.[0-9]*\)\{0,1\}\).*/\1/p' \
    "$sec" | head -n 1)
if [ -z "$exposure" ]; then
    not_ok "systemd-analyze security printed an overall exposure level"
    sed 's/^/#   /' "$sec" "$T/security.err" | tail -n 20
else
    say "# overall exposure: $exposure (at most $ND_MAX_EXPOSURE allowed)"
    if awk -v x="$exposure" -v m="$ND_MAX_EXPOSURE" 'BEGIN { exit !(x + 0 <= m + 0) }'; then
        ok "overall exposure $exposure <= $ND_MAX_EXPOSURE"
    else
        not_ok "overall exposure $exposure <= $ND_MAX_EXPOSURE"
        # The settings that cost something, to see what changed.
        grep '✗' "$sec" | sed 's/^/#   /'
    fi
fi
nd_done
