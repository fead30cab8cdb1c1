#!/bin/bash
# The bash completion (completion/netdisk.bash): it registers _netdisk for
# netdisk, offers the subcommands, the global options and each
# subcommand's own options that `netdisk --help` lists (no more, no
# fewer), skips option values when looking for the subcommand, and
# completes local file names for put's LOCAL, get's LOCAL and the options
# that name a local file.  Each case runs _netdisk in a
# fresh `bash --norc` with COMP_WORDS and COMP_CWORD set as bash would.
# shellcheck source=lib.sh
. "${ND_TEST_SRC:-$(dirname "$0")}/lib.sh"

COMPLETION=$ND_TEST_SRC/../completion/netdisk.bash
[ -f "$COMPLETION" ] || fail "no completion script at $COMPLETION"
W=$T/w
mkdir -p "$W/beta dir" "$W/conf.d"
: >"$W/alpha.txt"
: >"$W/alpine.bin"
: >"$W/conf.d/client.conf"

# comp WORD...: completes the last WORD of "netdisk WORD..." in $W and
# prints COMPREPLY sorted, one a line.
comp() {
    (cd "$W" && bash --norc --noprofile -c '
        . "$1" || exit 1
        shift
        COMP_WORDS=(netdisk "$@")
        COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
        COMP_LINE="${COMP_WORDS[*]}"
        COMP_POINT=${#COMP_LINE}
        _netdisk netdisk "${COMP_WORDS[COMP_CWORD]}" \
            "${COMP_WORDS[COMP_CWORD - 1]}" 2>/dev/null
        if [ "${#COMPREPLY[@]}" -gt 0 ]; then
            printf "%s\n" "${COMPREPLY[@]}" | LC_ALL=C sort
        fi' _ "$COMPLETION" "$@")
}

# expect "WANTED WORDS" WORD...: the completion of WORD... is exactly the
# space-separated WANTED WORDS (sorted here), or nothing for "".
expect() {
    local want got words
    read -ra words <<<"$1"
    want=$(printf '%s\n' "${words[@]}" | LC_ALL=C sort | paste -sd' ')
    shift
    got=$(comp "$@" | paste -sd' ')
    assert_eq "$want" "$got" "netdisk $* <TAB> -> ${want:-nothing}"
}

spec=$(bash --norc --noprofile -c '. "$1" && complete -p netdisk' _ \
    "$COMPLETION" 2>&1)
assert_eq "complete -F _netdisk netdisk" "$spec" \
    "sourcing it registers _netdisk for netdisk"

# In step with --help: the subcommands, the long and the short options.
"$ND_BIN/netdisk" --help >"$T/help" || fail "netdisk --help failed"
help_cmds=$(sed -nE 's/^.*netdisk \[OPTIONS\] ([a-z0-9]+).*$/\1/p' "$T/help" |
    LC_ALL=C sort -u | paste -sd' ')
[ -n "$help_cmds" ] || fail "found no subcommand in netdisk --help"
assert_eq "$help_cmds" "$(comp '' | paste -sd' ')" \
    "the subcommands offered are those of --help"
help_long=$(grep -oE -- '--[a-z][a-z0-9-]*' "$T/help" | LC_ALL=C sort -u |
    paste -sd' ')
assert_eq "$help_long" "$(comp -- '--' | paste -sd' ')" \
    "the long options offered are those of --help"
help_short=$(sed -nE 's/^ +(-[A-Za-z]), --.*$/\1/p' "$T/help" |
    LC_ALL=C sort -u | paste -sd' ')
assert_eq "$help_short" "$(comp -- '-' | grep -v -- '^--' | paste -sd' ')" \
    "the short options offered are those of --help"

# Each subcommand's own options, as the usage lines show them
# ("mkdir [-p] DIR...").
for cmd in $help_cmds; do
    want=$(sed -nE "s/^.*netdisk \[OPTIONS\] $cmd (.*)\$/\1/p" "$T/help" |
        { grep -oE '\[-[a-zA-Z]\]' || true; } | tr -d '[]' | LC_ALL=C sort -u |
        paste -sd' ')
    assert_eq "$want" "$(comp "$cmd" - | paste -sd' ')" \
        "netdisk $cmd - <TAB> offers its usage line's options: ${want:-none}"
done

# Subcommands and options.
expect "md5 mkdir mv" m
expect "put" pu
expect "--cacert --config" --c
expect "--password-file --port" --p
expect "--verbose --version" -q --ver
expect "get" -p 5678 g
expect "get" -c conf.d/client.conf g
expect "get" --config = conf.d/client.conf g
expect "get" -H host -u alice --tls g
expect "get" -qv g
expect "get" -- g
# After the subcommand, options are its own: mkdir -p is not -p PORT.
expect "-p" mkdir -
expect "-r" rm -r dir -
expect "" rm -- -
expect "" put --ver

# Local files where the client reads or writes one.
expect "alpha.txt alpine.bin" put al
expect "alpha.txt alpine.bin" -v put al
expect "beta dir" put be
expect "conf.d/client.conf" -c conf.d/
expect "conf.d/client.conf" --config conf.d/cl
expect "conf.d/client.conf" --config = conf.d/cl
expect "alpha.txt alpine.bin" --password-file al
expect "alpha.txt alpine.bin" --cacert al
expect "alpha.txt alpine.bin" get docs/report.pdf al
expect "alpha.txt alpine.bin" -p 1 -v get docs/report.pdf al

# Remote paths and option values that are not local files: nothing.
expect "" get al
expect "" ls al
expect "" stat al
expect "" md5 al
expect "" mkdir al
expect "" rm al
expect "" mv al
expect "" mv alpha.txt al
expect "" -p al
expect "" -u al
expect "" -c conf.d/client.conf ls al
expect "" mkdir -p al
expect "" rm -r al

nd_done
