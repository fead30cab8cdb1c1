#!/bin/sh
# Creates the storage root named in the given config file if it is missing,
# owned by the user who runs "make run".
set -eu
conf=$1
root=$(sed -n 's/^[[:space:]]*root[[:space:]]*=[[:space:]]*"\([^"]*\)".*/\1/p' "$conf" | head -n 1)
[ -n "$root" ] || { echo "error: no root in $conf" >&2; exit 1; }
[ -d "$root" ] && exit 0
if mkdir -p "$root" 2>/dev/null; then
    :
elif command -v sudo >/dev/null 2>&1; then
    sudo mkdir -p "$root" && sudo chown "$(id -u):$(id -g)" "$root"
else
    echo "error: cannot create $root" >&2; exit 1
fi
chmod 0750 "$root"
echo "created storage root $root"
