#!/bin/sh
# Prepares what the daemon needs before "make run" starts it on the given
# config file: the account named by its user key (as root: a system account
# without a shell or home, like the one the systemd unit uses) and the
# parent of its storage root, owned by that account, so the daemon can
# create the root and the users file can live beside it.  Run as another
# user, the parent is made through sudo and given to that user instead.
set -eu
conf=$1
key() {
    sed -n "s/^[[:space:]]*$1[[:space:]]*=[[:space:]]*\"\([^\"]*\)\".*/\1/p" "$conf" |
        head -n 1
}
root=$(key root)
user=$(key user)
[ -n "$root" ] || { echo "error: no root in $conf" >&2; exit 1; }
parent=$(dirname "$root")
if [ "$(id -u)" -eq 0 ]; then
    if [ -n "$user" ] && ! getent passwd "$user" >/dev/null; then
        useradd --system --user-group --no-create-home \
            --home-dir "$parent" --shell /usr/sbin/nologin "$user"
        echo "created system account $user"
    fi
    if [ ! -d "$parent" ]; then
        mkdir -p "$parent"
        chmod 0750 "$parent"
        [ -z "$user" ] || chown "$user:" "$parent"
        echo "created $parent"
    fi
elif [ ! -d "$parent" ]; then
    if mkdir -p "$parent" 2>/dev/null; then
        :
    elif command -v sudo >/dev/null 2>&1; then
        sudo mkdir -p "$parent" && sudo chown "$(id -u):$(id -g)" "$parent"
    else
        echo "error: cannot create $parent" >&2; exit 1
    fi
    chmod 0750 "$parent"
    echo "created $parent"
fi
