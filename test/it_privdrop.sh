#!/bin/bash
# Privileges.  Anyone: an unknown user or group, or a group without a user,
# makes netdiskd (and netdiskd -t) exit 78 naming it, before it listens.
# As root: with user = "nobody" both the watchdog and the pool process run as
# nobody with no other group and no capability, logins and uploads work and
# files land owned by nobody, and SIGTERM still exits 0; without user (and
# without allow_root) it refuses with 78 and a hint at allow_root;
# allow_root = true serves as root with a warning; a root nobody cannot write
# to, or a users file nobody cannot read, is exit 1 after the drop.  Not
# root: a user naming someone else is a warning, not an error.  The test
# writes its own configurations (nd_start's carry settings for other tests)
# and stops, by pid, only the daemons it started.
# shellcheck disable=SC2119,SC2317
# shellcheck source=lib.sh
. "${ND_TEST_SRC:-$(dirname "$0")}/lib.sh"

NO_USER=nd-no-such-user-q7
NO_GROUP=nd-no-such-group-q7
IS_ROOT=0
[ "$(id -u)" -eq 0 ] && IS_ROOT=1

# The unprivileged account must reach the storage root and the configs:
# mktemp -d made $T 0700.
chmod 0755 "$T"

# conf NAME LINE...: writes $T/NAME.conf: a loopback listener on a free port,
# the storage root $PRIV_ROOT (default $DROOT), the users file $PRIV_USERS
# (default an absent file in $T), then the given lines.
conf() {
    local name=$1
    shift
    {
        printf 'listen = "127.0.0.1";\nport = 0;\nworkers = 2;\n'
        printf 'root = "%s";\n' "${PRIV_ROOT:-$DROOT}"
        printf 'users_file = "%s";\n' "${PRIV_USERS:-$T/no-users}"
        printf 'idle_timeout = 10;\nshutdown_timeout = 10;\n'
        printf 'log_level = "debug";\n'
        printf '%s\n' "$@"
    } >"$T/$name.conf"
}

# refused NAME STATUS TEXT [ARGS...]: netdiskd ARGS -c $T/NAME.conf exits
# STATUS, with TEXT in what it printed, and never listens.
refused() {
    local name=$1 want=$2 text=$3 rc=0
    shift 3
    timeout -k 2 10 "$ND_BIN/netdiskd" "$@" -c "$T/$name.conf" \
        >"$T/$name.out" 2>"$T/$name.err" || rc=$?
    if [ "$rc" -eq "$want" ]; then
        ok "$name: netdiskd${*:+ $*} exits $want"
    else
        not_ok "$name: netdiskd${*:+ $*} exits $want (exit $rc)"
        sed 's/^/#   /' "$T/$name.err" | head -n 5
    fi
    if grep -qF -- "$text" "$T/$name.err"; then
        ok "$name: the message mentions '$text'"
    else
        not_ok "$name: the message mentions '$text': $(cat "$T/$name.err")"
    fi
    if grep -q 'listening on' "$T/$name.err"; then
        not_ok "$name: netdiskd did not start listening"
    else
        ok "$name: netdiskd did not start listening"
    fi
}

# start NAME [LAUNCHER...]: starts netdiskd -c $T/NAME.conf (through
# LAUNCHER, such as setpriv, when given) with its log in
# $T/daemon.NAME.log, and waits for "listening on" and " ready".
start() {
    local name=$1
    shift
    ND_LOG=$T/daemon.$name.log
    nd_launch "$T/$name.conf" "$@"
}

# ids PID: "uids gids [groups] CapEff CapPrm" from /proc/PID/status.
ids() {
    awk '
        /^Uid:/ { u = $2 "/" $3 "/" $4 "/" $5 }
        /^Gid:/ { g = $2 "/" $3 "/" $4 "/" $5 }
        /^Groups:/ { $1 = ""; gr = $0; gsub(/^ +| +$/, "", gr) }
        /^CapEff:/ { ce = $2 }
        /^CapPrm:/ { cp = $2 }
        END { print u, g, "[" gr "]", ce, cp }' "/proc/$1/status"
}

# --- Checks for anyone: names are resolved, as root or not, with -t too. ---
conf nouser "user = \"$NO_USER\";" 'allow_root = true;'
refused nouser 78 "\"$NO_USER\""
refused nouser 78 "\"$NO_USER\"" -t
conf nogroup 'user = "nobody";' "group = \"$NO_GROUP\";"
refused nogroup 78 "\"$NO_GROUP\""
refused nogroup 78 "\"$NO_GROUP\"" -t
conf groupalone 'group = "nogroup";' 'allow_root = true;'
refused groupalone 78 'needs user'

if [ "$IS_ROOT" -eq 0 ]; then
    say "# skipped: needs root: the drop to nobody, /proc ids, refusal as root"
    say "# skipped: needs root: allow_root, a root nobody cannot write to"
    # A user other than the one running: a warning, then it serves.
    conf other 'user = "root";'
    start other
    check "other: 'user = root ignored: not started as root' is logged" \
        grep -q 'user = root ignored: not started as root' "$ND_LOG"
    nd_stop
    nd_done
fi

NOBODY_UID=$(id -u nobody)
NOBODY_GID=$(id -g nobody)

# --- Root without user: refused, unless allow_root. ---
conf asroot
refused asroot 78 'allow_root = true'
if grep -qF 'user = ' "$T/asroot.err"; then
    ok "asroot: the message also suggests setting user"
else
    not_ok "asroot: the message also suggests setting user"
fi
ND_WHAT="asroot: -t does not judge who it would run as" \
    assert_exit 0 "$ND_BIN/netdiskd" -t -c "$T/asroot.conf"

conf allowroot 'allow_root = true;'
start allowroot
check "allowroot: 'serving as root (allow_root = true)' is logged" \
    grep -q 'serving as root (allow_root = true)' "$ND_LOG"
assert_eq 0 "$(awk '/^Uid:/ { print $3 }' "/proc/$ND_PID/status")" \
    "allowroot: the watchdog runs as root"
nd_stop

# --- The drop itself. ---
# Both the store and the users file, which every login reads afresh, must be
# nobody's: "netdiskd user add" gives a new users file its directory's owner.
chown -R nobody "$DROOT"
mkdir -m 0700 "$T/nbetc"
chown nobody "$T/nbetc"
PRIV_USERS=$T/nbetc/users conf drop 'user = "nobody";'
rc=0
printf '%s\n' "$ND_PASSWORD" | "$ND_BIN/netdiskd" -c "$T/drop.conf" user add \
    "$ND_USER" >/dev/null 2>"$T/useradd.err" || rc=$?
if [ "$rc" -eq 0 ]; then
    ok "drop: netdiskd user add $ND_USER (as root)"
else
    not_ok "drop: netdiskd user add $ND_USER (as root): exit $rc:" \
        "$(head -n 3 "$T/useradd.err")"
fi
ND_WHAT="drop: -t with user = nobody" \
    assert_exit 0 "$ND_BIN/netdiskd" -t -c "$T/drop.conf"
start drop
line="dropped privileges to user=nobody uid=$NOBODY_UID gid=$NOBODY_GID"
check "drop: '$line' is logged" grep -q "$line\$" "$ND_LOG"
pool=$(ps -o pid= --ppid "$ND_PID" | tr -d ' ' | head -n 1)
[ -n "$pool" ] || fail "drop: netdiskd $ND_PID has no pool process"
assert_eq nobody "$(ps -o user= -p "$ND_PID" | tr -d ' ')" \
    "drop: ps shows the watchdog as nobody"
assert_eq "nobody $pool" \
    "$(ps -o user=,pid= --ppid "$ND_PID" | awk '{ print $1, $2 }')" \
    "drop: ps shows the pool process as nobody"
want_u="$NOBODY_UID/$NOBODY_UID/$NOBODY_UID/$NOBODY_UID"
want_g="$NOBODY_GID/$NOBODY_GID/$NOBODY_GID/$NOBODY_GID"
zero=0000000000000000
for who in watchdog:$ND_PID pool:$pool; do
    got=$(ids "${who#*:}")
    if [ "$got" = "$want_u $want_g [$NOBODY_GID] $zero $zero" ] ||
        [ "$got" = "$want_u $want_g [] $zero $zero" ]; then
        ok "drop: ${who%%:*} ids, groups and capabilities: $got"
    else
        not_ok "drop: ${who%%:*}: want" \
            "$want_u $want_g [$NOBODY_GID] $zero $zero, got $got"
    fi
done
nd_roundtrip drop
owner=$(stat -c %U "$ROOT/rt/drop" 2>/dev/null || true)
assert_eq nobody "$owner" "drop: the uploaded file belongs to nobody"
nd_stop

# --- A root nobody cannot write to: refused after the drop. ---
# The port is bound before the drop, so this one does listen first.
mkdir "$T/roroot"
PRIV_ROOT=$T/roroot conf roroot 'user = "nobody";'
rc=0
timeout -k 2 10 "$ND_BIN/netdiskd" -c "$T/roroot.conf" >"$T/roroot.out" \
    2>"$T/roroot.err" || rc=$?
assert_eq 1 "$rc" "roroot: netdiskd exits 1 when nobody cannot write the root"
if grep -qF "storage root \"$T/roroot\" is not writable by user nobody" \
    "$T/roroot.err"; then
    ok "roroot: the message names the root and the user"
else
    not_ok "roroot: the message names the root and the user: $(cat "$T/roroot.err")"
fi
if grep -q ' ready' "$T/roroot.err"; then
    not_ok "roroot: no pool process started"
else
    ok "roroot: no pool process started"
fi

# --- A users file nobody cannot read: refused after the drop. ---
mkdir "$T/rootetc"
printf '# only root may read this\n' >"$T/rootetc/users"
chmod 0600 "$T/rootetc/users"
PRIV_USERS=$T/rootetc/users conf rousers 'user = "nobody";'
rc=0
timeout -k 2 10 "$ND_BIN/netdiskd" -c "$T/rousers.conf" >"$T/rousers.out" \
    2>"$T/rousers.err" || rc=$?
assert_eq 1 "$rc" "rousers: netdiskd exits 1 when nobody cannot read users_file"
if grep -qF "users_file \"$T/rootetc/users\" is not readable by user nobody" \
    "$T/rousers.err"; then
    ok "rousers: the message names the file and the user"
else
    not_ok "rousers: the message names the file and the user:" \
        "$(cat "$T/rousers.err")"
fi

# --- A missing root is made for nobody: in a parent nobody may write, by
# nobody itself (nothing to chown); in a parent only root may write, by root
# and then given to nobody. ---
for kind in nbparent rootparent; do
    mkdir "$T/$kind"
    [ "$kind" = rootparent ] || chown nobody "$T/$kind"
    PRIV_ROOT=$T/$kind/files PRIV_USERS=$T/nbetc/users conf "$kind" \
        'user = "nobody";'
    start "$kind"
    check "$kind: 'created storage root' is logged" \
        grep -q "created storage root \"$T/$kind/files\"" "$ND_LOG"
    assert_eq "nobody 700" "$(stat -c '%U %a' "$T/$kind/files")" \
        "$kind: the new root belongs to nobody, mode 0700"
    nd_stop
done

# --- Not root (simulated with setpriv): another user is only a warning. ---
if command -v setpriv >/dev/null; then
    conf other 'user = "root";'
    start other setpriv --reuid="$NOBODY_UID" --regid="$NOBODY_GID" \
        --clear-groups
    check "other: 'user = root ignored: not started as root' is logged" \
        grep -q 'user = root ignored: not started as root' "$ND_LOG"
    nd_stop
else
    say "# skipped: setpriv is not installed: the non-root warning"
fi

nd_done
