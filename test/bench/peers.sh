# shellcheck shell=bash
# shellcheck disable=SC2034 # NAME_PORT, PEER_WHY and the like are for the caller.
# The peers of the benchmark (test/bench/run.sh sources this file): nginx,
# vsftpd, an rsync daemon and sshd, each started in the foreground as a
# background job of the benchmark, on a free loopback port, with a
# throw-away configuration under $W/peers/NAME, serving that peer's own
# data directory.  Nothing here touches the system's configurations, and
# every process is one the caller stops by pid (peer_stop).
#
# Each peer_NAME_start DIR returns 0 and sets NAME_PORT and NAME_PID (the
# pid to stop), or returns 1 with the reason in PEER_WHY.  The caller
# provides W (its work directory), bench_left (seconds left before its
# deadline) and say.
#
# Data directory layouts:
#   nginx   DIR is the document root, files fetched as http://.../NAME.
#   vsftpd  DIR is the anonymous root (it must be owned by root and not
#           writable by the ftp account: vsftpd refuses otherwise);
#           DIR/up is where uploads go (made here, mode 0777).
#   rsync   DIR is the module "data" (read and write).
#   sshd    no directory: scp takes absolute paths; logs in as the
#           current user with a throw-away key (SSH_KEY, SSH_USER).

PEER_WHY=

# peer_free_port: a loopback TCP port nothing listens on (and, as far as
# ss shows, nothing is bound to), from a random base.
peer_free_port() {
    local p i
    for ((i = 0; i < 100; i++)); do
        p=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
        if command -v ss >/dev/null 2>&1; then
            if [ -z "$(ss -Hltn "sport = :$p" 2>/dev/null)" ]; then
                echo "$p"
                return 0
            fi
        elif ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"
            return 0
        fi
    done
    return 1
}

# peer__listening PORT: something accepts connections on 127.0.0.1:PORT.
peer__listening() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# peer__alive PID: PID runs and is not a zombie.
peer__alive() {
    local st
    [ -r "/proc/$1/stat" ] || return 1
    st=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
    [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# peer__wait_up PID PORT LOG: waits (5 s at most) for PID to accept on
# PORT; on failure sets PEER_WHY from LOG's last lines and stops PID.
peer__wait_up() {
    local pid=$1 port=$2 log=$3 i
    for ((i = 0; i < 50; i++)); do
        if ! peer__alive "$pid"; then
            PEER_WHY="exited at start: $(tail -n 3 "$log" 2>/dev/null | tr '\n' ' ')"
            wait "$pid" 2>/dev/null
            return 1
        fi
        if peer__listening "$port"; then
            return 0
        fi
        sleep 0.1
    done
    PEER_WHY="not listening on 127.0.0.1:$port after 5 s: $(tail -n 3 "$log" 2>/dev/null | tr '\n' ' ')"
    peer_stop "$pid"
    return 1
}

# peer_stop PID: SIGTERM, then SIGKILL after 5 s; reaps PID.
peer_stop() {
    local pid=$1 i
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        peer__alive "$pid" || break
        sleep 0.1
    done
    if peer__alive "$pid"; then
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}

# ---- nginx -------------------------------------------------------------------
# Static files with sendfile, keep-alive (up to 100000 requests on one
# connection, so one curl process fetches every small file over one
# connection), no access log; as many workers as cores.
peer_nginx_start() {
    local root=$1 dir=$W/peers/nginx port try
    command -v nginx >/dev/null 2>&1 || {
        PEER_WHY="no nginx command"
        return 1
    }
    mkdir -p "$dir/tmp"
    for try in 1 2 3; do
        port=$(peer_free_port) || {
            PEER_WHY="no free port"
            return 1
        }
        {
            printf 'daemon off;\nmaster_process on;\n'
            printf 'worker_processes %d;\n' "$(nproc 2>/dev/null || echo 2)"
            # Workers run as nobody by default when started by root; the
            # work directory is private to root.
            if [ "$(id -u)" -eq 0 ]; then
                printf 'user root;\n'
            fi
            printf 'pid %s/nginx.pid;\n' "$dir"
            printf 'error_log %s/error.log warn;\n' "$dir"
            printf 'events { worker_connections 4096; }\n'
            printf 'http {\n'
            printf '    access_log off;\n'
            printf '    sendfile on;\n    tcp_nopush on;\n    tcp_nodelay on;\n'
            printf '    keepalive_timeout 120;\n    keepalive_requests 100000;\n'
            printf '    default_type application/octet-stream;\n'
            printf '    client_body_temp_path %s/tmp/body;\n' "$dir"
            printf '    proxy_temp_path %s/tmp/proxy;\n' "$dir"
            printf '    fastcgi_temp_path %s/tmp/fastcgi;\n' "$dir"
            printf '    uwsgi_temp_path %s/tmp/uwsgi;\n' "$dir"
            printf '    scgi_temp_path %s/tmp/scgi;\n' "$dir"
            printf '    server {\n'
            printf '        listen 127.0.0.1:%d;\n' "$port"
            printf '        root %s;\n' "$root"
            printf '        location / { }\n'
            printf '    }\n}\n'
        } >"$dir/nginx.conf"
        nginx -p "$dir/" -e "$dir/error.log" -c "$dir/nginx.conf" \
            </dev/null >>"$dir/stderr.log" 2>&1 &
        NGINX_PID=$!
        NGINX_PORT=$port
        if peer__wait_up "$NGINX_PID" "$port" "$dir/error.log"; then
            return 0
        fi
        # A port taken between the check and the bind: try another.
        grep -q 'Address already in use' "$dir/error.log" 2>/dev/null ||
            break
    done
    NGINX_PID=
    return 1
}

# ---- vsftpd ------------------------------------------------------------------
# Standalone, anonymous (no password to manage): downloads of any file
# under the root, uploads into up/; passive data connections on loopback.
# sendfile is vsftpd's default for downloads.
peer_vsftpd_start() {
    local root=$1 dir=$W/peers/vsftpd port base try
    [ -x /usr/sbin/vsftpd ] || {
        PEER_WHY="no /usr/sbin/vsftpd"
        return 1
    }
    if [ "$(id -u)" -ne 0 ]; then
        # Anonymous FTP chroots to the root and switches to the ftp
        # account, which needs root; run_as_launching_user would serve
        # without either, a different server from the one users run.
        PEER_WHY="not root: anonymous vsftpd needs root (chroot, setuid)"
        return 1
    fi
    mkdir -p "$dir/empty" "$root/up"
    chmod 0755 "$root" "$dir/empty"
    chmod 0777 "$root/up"
    for try in 1 2 3; do
        port=$(peer_free_port) || {
            PEER_WHY="no free port"
            return 1
        }
        base=$(peer_free_port) || base=41000
        base=$((base > 65000 ? 41000 : base))
        {
            printf '%s\n' listen=YES listen_ipv6=NO background=NO \
                listen_address=127.0.0.1 "listen_port=$port" \
                anonymous_enable=YES local_enable=NO no_anon_password=YES \
                write_enable=YES anon_upload_enable=YES \
                anon_mkdir_write_enable=YES anon_other_write_enable=YES \
                anon_world_readable_only=NO anon_umask=022 \
                "anon_root=$root" \
                pasv_enable=YES port_enable=NO connect_from_port_20=NO \
                pasv_address=127.0.0.1 "pasv_min_port=$base" \
                "pasv_max_port=$((base + 200))" \
                use_sendfile=YES xferlog_enable=NO dual_log_enable=NO \
                "vsftpd_log_file=$dir/vsftpd.log" \
                "secure_chroot_dir=$dir/empty" \
                max_clients=0 max_per_ip=0 \
                idle_session_timeout=600 data_connection_timeout=600
        } >"$dir/vsftpd.conf"
        /usr/sbin/vsftpd "$dir/vsftpd.conf" </dev/null >>"$dir/stderr.log" 2>&1 &
        VSFTPD_PID=$!
        VSFTPD_PORT=$port
        if peer__wait_up "$VSFTPD_PID" "$port" "$dir/stderr.log"; then
            # A login proves more than the listening socket: the chroot,
            # the ftp account and the sandbox all come into play.
            if timeout -k 2 10 curl -q -s -S --noproxy '*' -o /dev/null \
                "ftp://127.0.0.1:$port/" 2>"$dir/probe.err"; then
                return 0
            fi
            PEER_WHY="listing / failed: $(tr '\n' ' ' <"$dir/probe.err")"
            peer_stop "$VSFTPD_PID"
            VSFTPD_PID=
            return 1
        fi
        grep -q 'Address already in use\|could not bind' "$dir/stderr.log" \
            2>/dev/null || break
    done
    VSFTPD_PID=
    return 1
}

# ---- rsync daemon --------------------------------------------------------------
# Module "data" at DIR, read and write, no chroot; as root the transfers
# run as root (rsync's default for a root daemon is nobody).
peer_rsync_start() {
    local root=$1 dir=$W/peers/rsync port try
    command -v rsync >/dev/null 2>&1 || {
        PEER_WHY="no rsync command"
        return 1
    }
    mkdir -p "$dir"
    {
        printf 'use chroot = no\naddress = 127.0.0.1\nreverse lookup = no\n'
        printf 'log file = %s/rsyncd.log\n' "$dir"
        printf 'max connections = 0\n'
        if [ "$(id -u)" -eq 0 ]; then
            printf 'uid = root\ngid = root\n'
        fi
        printf '[data]\n    path = %s\n    read only = false\n' "$root"
    } >"$dir/rsyncd.conf"
    for try in 1 2 3; do
        port=$(peer_free_port) || {
            PEER_WHY="no free port"
            return 1
        }
        rsync --daemon --no-detach --config="$dir/rsyncd.conf" \
            --port="$port" --address=127.0.0.1 \
            </dev/null >>"$dir/stderr.log" 2>&1 &
        RSYNC_PID=$!
        RSYNC_PORT=$port
        if peer__wait_up "$RSYNC_PID" "$port" "$dir/rsyncd.log"; then
            return 0
        fi
        grep -q 'Address already in use' "$dir/rsyncd.log" 2>/dev/null ||
            break
    done
    RSYNC_PID=
    return 1
}

# ---- sshd ----------------------------------------------------------------------
# A throw-away host key and client key; public-key login as the current
# user only; the SFTP subsystem, which scp uses by default since OpenSSH
# 9.0.
peer_sshd_start() {
    local dir=$W/peers/sshd port try sftp f
    [ -x /usr/sbin/sshd ] || {
        PEER_WHY="no /usr/sbin/sshd"
        return 1
    }
    if ! command -v scp >/dev/null 2>&1 || ! command -v ssh-keygen >/dev/null 2>&1; then
        PEER_WHY="no scp or ssh-keygen command"
        return 1
    fi
    sftp=
    for f in /usr/lib/openssh/sftp-server /usr/libexec/sftp-server \
        /usr/lib/ssh/sftp-server; do
        if [ -x "$f" ]; then
            sftp=$f
            break
        fi
    done
    [ -n "$sftp" ] || {
        PEER_WHY="no sftp-server (scp needs it)"
        return 1
    }
    if [ "$(id -u)" -eq 0 ] && [ ! -d /run/sshd ]; then
        # The privilege separation directory sshd insists on, as the
        # package's unit would make it.
        mkdir -p /run/sshd && chmod 0755 /run/sshd
    fi
    mkdir -p "$dir"
    chmod 0700 "$dir"
    rm -f "$dir/host_key" "$dir/host_key.pub" "$dir/client_key" "$dir/client_key.pub"
    if ! ssh-keygen -q -t ed25519 -N '' -f "$dir/host_key" >"$dir/keygen.log" 2>&1 ||
        ! ssh-keygen -q -t ed25519 -N '' -f "$dir/client_key" >>"$dir/keygen.log" 2>&1; then
        PEER_WHY="ssh-keygen failed: $(tr '\n' ' ' <"$dir/keygen.log")"
        return 1
    fi
    cp "$dir/client_key.pub" "$dir/authorized_keys"
    chmod 0600 "$dir/authorized_keys"
    SSH_KEY=$dir/client_key
    SSH_USER=$(id -un)
    peer_ssh_opts
    {
        printf '%s\n' 'ListenAddress 127.0.0.1' \
            "HostKey $dir/host_key" \
            "PidFile $dir/sshd.pid" \
            "AuthorizedKeysFile $dir/authorized_keys" \
            'PubkeyAuthentication yes' 'PasswordAuthentication no' \
            'KbdInteractiveAuthentication no' 'UsePAM no' \
            'PermitRootLogin yes' 'StrictModes no' \
            "AllowUsers $SSH_USER" \
            'X11Forwarding no' 'PrintMotd no' 'PrintLastLog no' \
            'MaxStartups 100:30:200' 'MaxSessions 100' \
            'LogLevel ERROR' \
            "Subsystem sftp $sftp"
    } >"$dir/sshd_config"
    for try in 1 2 3; do
        port=$(peer_free_port) || {
            PEER_WHY="no free port"
            return 1
        }
        /usr/sbin/sshd -D -e -f "$dir/sshd_config" -p "$port" \
            -h "$dir/host_key" </dev/null >>"$dir/sshd.log" 2>&1 &
        SSHD_PID=$!
        SSHD_PORT=$port
        if peer__wait_up "$SSHD_PID" "$port" "$dir/sshd.log"; then
            # A login proves the key, the account and the subsystem.
            if timeout -k 2 15 ssh "${SSH_OPTS[@]}" -p "$port" \
                "$SSH_USER@127.0.0.1" true </dev/null 2>"$dir/probe.err"; then
                return 0
            fi
            PEER_WHY="ssh login failed: $(tr '\n' ' ' <"$dir/probe.err") $(tail -n 2 "$dir/sshd.log" | tr '\n' ' ')"
            peer_stop "$SSHD_PID"
            SSHD_PID=
            return 1
        fi
        grep -q 'Address already in use' "$dir/sshd.log" 2>/dev/null ||
            break
    done
    SSHD_PID=
    return 1
}

# The options of every ssh and scp command: the throw-away key only, no
# user or system ssh configuration, no agent, no host key prompt or file.
peer_ssh_opts() {
    SSH_OPTS=(-F /dev/null -i "$SSH_KEY" -o IdentitiesOnly=yes
        -o IdentityAgent=none -o BatchMode=yes
        -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
        -o LogLevel=ERROR -c aes128-gcm@openssh.com)
}
