#!/bin/bash
# The man pages (man/netdisk.1, man/netdiskd.8, man/netdiskd.conf.5, as
# CMake configured them into the build tree) render without a groff
# warning, and say what the programs and the documentation say:
#
#   - netdisk.1: every option of `netdisk --help` (with its short form),
#     every subcommand, every exit status, every NETDISK_* variable the
#     client reads and every key of the client's configuration table, and
#     nothing that is not there;
#   - netdiskd.8: every option of `netdiskd --help`, every `user`
#     subcommand, every exit status;
#   - netdiskd.conf.5: every key of docs/configuration.md's Keys table, with
#     the same type, default and range, and nothing else; the daemon's key
#     table in src/nd_config.c has the same keys, and `netdiskd -t` accepts
#     a file setting each to its documented default.
#
# Run it after changing a --help text, a key or a variable: it names what
# is missing where.
# shellcheck disable=SC2016
# shellcheck source=lib.sh
. "${ND_TEST_SRC:-$(dirname "$0")}/lib.sh"

SRC=$(cd "$ND_TEST_SRC/.." && pwd)
MAN=$ND_BIN/man
PAGES=(netdisk.1 netdiskd.8 netdiskd.conf.5)

command -v groff >/dev/null 2>&1 ||
    fail "groff is not installed (scripts/install-deps.sh installs groff-base)"

# render PAGE: the page as plain ASCII in $T/PAGE.txt (grotty -cbou: no
# bold, underline or escape sequences), with lines long enough that
# nothing wraps or is hyphenated.
render() {
    groff -man -Tascii -rLL=400n -P-cbou "$MAN/$1" >"$T/$1.txt" 2>/dev/null
}

# section PAGE NAME: the rendered lines of section NAME of PAGE.
section() {
    awk -v want="$2" '/^[A-Z]/ { on = ($0 == want); next } on' "$T/$1.txt"
}

# tags PAGE NAME REGEX: the first words of the tagged paragraphs of section
# NAME (the lines indented by 7 spaces) that match REGEX, sorted.
tags() {
    section "$1" "$2" | sed -nE "s/^ {7}($3)( .*)?\$/\\1/p" | LC_ALL=C sort -u
}

# same_set WHAT LEFT-NAME LEFT RIGHT-NAME RIGHT: the two newline-separated
# lists hold the same items; otherwise says which side lacks which.
same_set() {
    local what=$1 ln=$2 l=$3 rn=$4 r=$5 only_l only_r
    only_l=$(comm -23 <(printf '%s\n' "$l" | LC_ALL=C sort -u) \
        <(printf '%s\n' "$r" | LC_ALL=C sort -u) | paste -sd' ')
    only_r=$(comm -13 <(printf '%s\n' "$l" | LC_ALL=C sort -u) \
        <(printf '%s\n' "$r" | LC_ALL=C sort -u) | paste -sd' ')
    if [ -z "$l" ] || [ -z "$r" ]; then
        not_ok "$what: nothing found in ${ln} or ${rn}"
    elif [ -z "$only_l" ] && [ -z "$only_r" ]; then
        ok "$what ($(printf '%s\n' "$l" | LC_ALL=C sort -u | wc -l) items)"
    else
        not_ok "$what: only in $ln: [${only_l}]; only in $rn: [${only_r}]"
    fi
}

# --- Every page is there and renders cleanly. ----------------------------

for page in "${PAGES[@]}"; do
    [ -f "$MAN/$page" ] || fail "$MAN/$page was not configured by CMake"
    if groff -man -Tutf8 -ww -z "$MAN/$page" 2>"$T/groff.err" &&
        [ ! -s "$T/groff.err" ]; then
        ok "$page: groff -man -ww renders it without a warning"
    else
        not_ok "$page: groff warnings: $(head -n 5 "$T/groff.err")"
    fi
    if command -v man >/dev/null 2>&1; then
        if MANWIDTH=80 man -P cat -l "$MAN/$page" >"$T/man.out" \
            2>"$T/man.err" && [ ! -s "$T/man.err" ] &&
            grep -q '^NAME' "$T/man.out"; then
            ok "$page: man -l shows it without complaint"
        else
            not_ok "$page: man -l: $(head -n 5 "$T/man.err")"
        fi
    fi
    if grep -n '@[A-Za-z_]*@' "$MAN/$page" >"$T/unfilled"; then
        not_ok "$page: CMake left placeholders: $(head -n 3 "$T/unfilled")"
    else
        ok "$page: every @PLACEHOLDER@ is filled in"
    fi
    render "$page"
    for sec in NAME SYNOPSIS DESCRIPTION "SEE ALSO"; do
        if grep -qx "$sec" "$T/$page.txt"; then
            ok "$page has a $sec section"
        else
            not_ok "$page has a $sec section"
        fi
    done
done

# --- netdisk(1) against netdisk --help and the client's sources. ---------

"$ND_BIN/netdisk" --help >"$T/help" || fail "netdisk --help failed"

help_long=$(grep -oE -- '--[a-z][a-z0-9-]*' "$T/help")
man_long=$(sed 's/\\-/-/g' "$MAN/netdisk.1" | grep -oE -- '--[a-z][a-z0-9-]*')
same_set "netdisk.1 and --help name the same long options" \
    "--help" "$help_long" "netdisk.1" "$man_long"
opt_tags=$(tags netdisk.1 OPTIONS '-[-a-zA-Z]+(, --[a-z0-9-]+)?')
help_opts=$(sed -nE 's/^ {2,6}(-[a-zA-Z], --[a-z0-9-]+|--[a-z0-9-]+).*$/\1/p' \
    "$T/help")
same_set "netdisk.1's OPTIONS items are --help's options, short forms too" \
    "--help" "$help_opts" "netdisk.1 OPTIONS" "$opt_tags"

help_cmds=$(sed -nE 's/^.*netdisk \[OPTIONS\] ([a-z0-9]+).*$/\1/p' "$T/help")
same_set "netdisk.1's COMMANDS are the subcommands of --help" \
    "--help" "$help_cmds" "netdisk.1 COMMANDS" \
    "$(tags netdisk.1 COMMANDS '[a-z0-9]+')"
syn_cmds=$(section netdisk.1 SYNOPSIS |
    sed -nE 's/^ *netdisk \[options\] ([a-z0-9]+).*$/\1/p')
same_set "netdisk.1's SYNOPSIS shows every subcommand" \
    "--help" "$help_cmds" "netdisk.1 SYNOPSIS" "$syn_cmds"

help_exit=$(sed -n '/^Exit status:/,$p' "$T/help" |
    sed -nE 's/^ +([0-9]+) .*$/\1/p')
same_set "netdisk.1's EXIT STATUS lists the statuses of --help" \
    "--help" "$help_exit" "netdisk.1 EXIT STATUS" \
    "$(tags netdisk.1 'EXIT STATUS' '[0-9]+')"

# The variables the client reads appear in its sources as "NETDISK_X".
src_env=$(cat "$SRC"/client/*.c | grep -oE '"NETDISK_[A-Z_]+"' | tr -d '"')
same_set "netdisk.1's ENVIRONMENT has every NETDISK_* variable of client/*.c" \
    "client/*.c" "$src_env" "netdisk.1 ENVIRONMENT" \
    "$(tags netdisk.1 ENVIRONMENT 'NETDISK_[A-Z_]+')"
help_env=$(grep -oE 'NETDISK_[A-Z_]+' "$T/help" | sort -u)
missing=
for v in $help_env; do
    grep -qx "$v" <<<"$src_env" || missing="$missing $v"
done
assert_eq "" "$missing" "every NETDISK_* variable --help names is read"

src_keys=$(sed -nE 's/^ *\[K_[A-Z_]+\] = \{"([a-z_]+)",.*$/\1/p' \
    "$SRC/client/nd_clientconf.c")
conf_tags=$(section netdisk.1 'CONFIGURATION FILE' |
    sed -nE 's/^ {7}([a-z_]+) \(.*$/\1/p')
same_set "netdisk.1's CONFIGURATION FILE items are the client's keys" \
    "client/nd_clientconf.c" "$src_keys" "netdisk.1" "$conf_tags"

# --- netdiskd(8) against netdiskd --help and its user commands. ----------

"$ND_BIN/netdiskd" --help >"$T/dhelp" || fail "netdiskd --help failed"
same_set "netdiskd.8 and --help name the same long options" \
    "--help" "$(grep -oE -- '--[a-z][a-z0-9-]*' "$T/dhelp")" \
    "netdiskd.8 OPTIONS" \
    "$(section netdiskd.8 OPTIONS | grep -oE -- '--[a-z][a-z0-9-]*')"
same_set "netdiskd.8's OPTIONS items are --help's options, short forms too" \
    "--help" \
    "$(sed -nE 's/^ {2,6}(-[a-zA-Z], --[a-z0-9-]+).*$/\1/p' "$T/dhelp")" \
    "netdiskd.8 OPTIONS" "$(tags netdiskd.8 OPTIONS '-[a-zA-Z], --[a-z0-9-]+')"
rc=0
"$ND_BIN/netdiskd" -c /dev/null user >/dev/null 2>"$T/uhelp" || rc=$?
assert_eq 2 "$rc" "netdiskd user (no subcommand) prints its usage, exit 2"
same_set "netdiskd.8's USER COMMANDS are the user subcommands" \
    "netdiskd user usage" \
    "$(grep -oE 'user [a-z]+( NAME)?' "$T/uhelp" | awk '{print $2}')" \
    "netdiskd.8" \
    "$(section netdiskd.8 'USER COMMANDS' |
        sed -nE 's/^ {7}user ([a-z]+).*$/\1/p')"
man_dexit=$(tags netdiskd.8 'EXIT STATUS' '[0-9]+')
for st in $(sed -n '/^Exit status/,$p' "$T/dhelp" | grep -oE '\b[0-9]+\b') 2; do
    if grep -qx "$st" <<<"$man_dexit"; then
        ok "netdiskd.8's EXIT STATUS has $st"
    else
        not_ok "netdiskd.8's EXIT STATUS has $st (it lists: $man_dexit)"
    fi
done
rc=0
"$ND_BIN/netdiskd" --no-such-option >/dev/null 2>&1 || rc=$?
assert_eq 2 "$rc" "netdiskd exits 2 for an unknown option, as netdiskd.8 says"
rc=0
"$ND_BIN/netdiskd" -t -c "$T/no-such.conf" >/dev/null 2>&1 || rc=$?
assert_eq 78 "$rc" "netdiskd -t exits 78 for a missing file, as netdiskd.8 says"
for sig in SIGTERM SIGINT SIGHUP; do
    if section netdiskd.8 SIGNALS | grep "$sig" >/dev/null; then
        ok "netdiskd.8's SIGNALS covers $sig"
    else
        not_ok "netdiskd.8's SIGNALS covers $sig"
    fi
done

# --- netdiskd.conf(5) against docs/configuration.md and nd_config.c. -----

# The Keys table's rows as the man page's item headers would say them:
# "key (type[, unit]; default D; range)", markdown quoting removed.
doc_rows=$(sed -n '/^## Keys/,/^### /p' "$SRC/docs/configuration.md" |
    grep -E '^\| `[a-z_]+` \|' |
    awk -F' \\| ' '{
        key = $1; sub(/^\| /, "", key); type = $2; def = $3; range = $4
        sub(/ \|$/, "", range)
        gsub(/`/, "", key); gsub(/`/, "", def); gsub(/`/, "", range)
        sub(/ \(/, ", ", type); sub(/\)$/, "", type)
        printf "%s (%s; default %s; %s)\n", key, type, def, range
    }')
man_rows=$(section netdiskd.conf.5 KEYS |
    sed -nE 's/^ {7}([a-z_]+ \(.*\))$/\1/p')
same_set "netdiskd.conf.5 = configuration.md: keys, types, defaults, ranges" \
    "docs/configuration.md" "$doc_rows" "netdiskd.conf.5" "$man_rows"
doc_keys=$(printf '%s\n' "$doc_rows" | awk '{print $1}')
src_dkeys=$(sed -nE 's/^ *\{"([a-z_]+)", KEY_.*$/\1/p' "$SRC/src/nd_config.c")
same_set "docs/configuration.md's Keys table has every key of src/nd_config.c" \
    "docs/configuration.md" "$doc_keys" "src/nd_config.c" "$src_dkeys"
sample_keys=$(sed -nE 's/^([a-z_]+) *=.*$/\1/p' "$SRC/conf/netdiskd.conf")
same_set "conf/netdiskd.conf sets every key" \
    "conf/netdiskd.conf" "$sample_keys" "src/nd_config.c" "$src_dkeys"

printf '%s\n' "$doc_rows" |
    sed -E 's/^([a-z_]+) \([^;]*; default ([^;]*); .*$/\1 = \2;/' \
        >"$T/defaults.conf"
if "$ND_BIN/netdiskd" -t -c "$T/defaults.conf" >"$T/t.out" 2>&1; then
    ok "netdiskd -t accepts every key set to its documented default"
else
    not_ok "netdiskd -t on the documented defaults: $(cat "$T/t.out")"
    sed 's/^/#   /' "$T/defaults.conf"
fi

nd_done
