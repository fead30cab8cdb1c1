# bash completion for netdisk(1)                          -*- shell-script -*-
#
# Completes the subcommands, the global options (before the subcommand, as
# the client takes them), the subcommands' own options (put -r, get -r,
# ls -l -R, mkdir -p, rm -r),
# local file names where the client reads or writes a local file (put's
# LOCAL, get's LOCAL, --config, --password-file, --cacert) and host names
# after -H.  Remote paths are not completed: that
# would need a session, and so a password, at every TAB.
#
# Installed as share/bash-completion/completions/netdisk, where
# bash-completion loads it on first use; or source it from ~/.bashrc.  It
# needs nothing from bash-completion, but uses its _filedir when loaded.
# test/it_completion.sh checks it against `netdisk --help`.

# The subcommands and options, as `netdisk --help` lists them.
_netdisk_commands='put get ls stat md5 mkdir rm mv'
_netdisk_long_opts='--config --host --port --quiet --verbose --user
    --password-file --tls --cacert --insecure --help --version'
_netdisk_short_opts='-c -H -p -q -v -u -h -V'

# Prints the options of subcommand $1, which come after it.
_netdisk_cmd_opts() {
    case $1 in
    put | get) echo -r ;;
    ls) echo -l -R ;;
    mkdir) echo -p ;;
    rm) echo -r ;;
    esac
}

# Succeeds for an option that takes a value in the next word (or after '=').
_netdisk_takes_arg() {
    case $1 in
    -c | --config | -H | --host | -p | --port | -u | --user | \
        --password-file | --cacert)
        return 0
        ;;
    esac
    return 1
}

# Completes the local file or directory names that start with $1.
_netdisk_files() {
    if declare -F _filedir >/dev/null; then
        cur=$1 _filedir
        return
    fi
    compopt -o filenames 2>/dev/null
    # compgen prints one name a line; names holding a newline are lost.
    mapfile -t COMPREPLY < <(compgen -f -- "$1")
}

_netdisk() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev='' cmd='' i w nargs=0
    COMPREPLY=()

    # bash splits "--config=FILE" at '=' into "--config", "=", "FILE".
    if ((COMP_CWORD >= 1)); then
        prev=${COMP_WORDS[COMP_CWORD - 1]}
    fi
    if [[ $cur == = && $prev == --* ]]; then
        cur=
    elif [[ $prev == = ]] && ((COMP_CWORD >= 2)) &&
        [[ ${COMP_WORDS[COMP_CWORD - 2]} == --* ]]; then
        prev=${COMP_WORDS[COMP_CWORD - 2]}
    fi

    # Find the subcommand and count its operands before the current word.
    # Global options come before the subcommand; after it, a word starting
    # with '-' (up to "--") is one of the subcommand's own options.
    local opts_end=''
    for ((i = 1; i < COMP_CWORD; i++)); do
        w=${COMP_WORDS[i]}
        if [[ -n $cmd ]]; then
            if [[ -z $opts_end && $w == -- ]]; then
                opts_end=1
            elif [[ -n $opts_end || $w != -?* ]]; then
                ((nargs++))
            fi
        elif [[ $w == = ]]; then
            ((i++)) # "--opt" "=" "value": skip the value too
        elif [[ $w == -* ]]; then
            if _netdisk_takes_arg "$w" &&
                [[ ${COMP_WORDS[i + 1]-} != = ]]; then
                ((i++)) # the option's value
            fi
        else
            cmd=$w
        fi
    done

    # The value of a global option.
    if [[ -z $cmd ]]; then
        case $prev in
        -c | --config | --password-file | --cacert)
            _netdisk_files "$cur"
            return
            ;;
        -H | --host)
            mapfile -t COMPREPLY < <(compgen -A hostname -- "$cur")
            return
            ;;
        -p | --port | -u | --user)
            return
            ;;
        esac
    fi

    if [[ $cur == -* && -n $cmd && -z $opts_end ]]; then
        mapfile -t COMPREPLY < <(compgen -W "$(_netdisk_cmd_opts "$cmd")" \
            -- "$cur")
        return
    fi
    if [[ $cur == -* && -z $cmd ]]; then
        if [[ $cur == --* ]]; then
            mapfile -t COMPREPLY < <(compgen -W "$_netdisk_long_opts" -- "$cur")
        else
            mapfile -t COMPREPLY < <(compgen -W \
                "$_netdisk_short_opts $_netdisk_long_opts" -- "$cur")
        fi
        return
    fi
    if [[ -z $cmd ]]; then
        mapfile -t COMPREPLY < <(compgen -W "$_netdisk_commands" -- "$cur")
        return
    fi
    case $cmd in
    put)
        # Every operand but the remote name is a local file; which one is
        # last is not known yet, so offer local files for all of them.
        _netdisk_files "$cur"
        ;;
    get)
        # get REMOTE [LOCAL] or get REMOTE... LOCAL_DIR: after the first
        # operand, any may be the last, a local file or directory.
        if ((nargs >= 1)); then
            _netdisk_files "$cur"
        fi
        ;;
    esac
    # ls, stat, md5, mkdir, rm and mv take remote paths only.
}

complete -F _netdisk netdisk
