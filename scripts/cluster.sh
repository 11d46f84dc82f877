#!/usr/bin/env bash
# `make cluster` (issue 18): a whole MCU cluster on this machine, each part on its own
# loopback address -- PostgreSQL and Kamailio (config/kamailio/kamailio.cfg) on
# 127.0.0.10, node "a" on 127.0.0.11 and node "b" on 127.0.0.12 -- in the foreground
# until Ctrl-C, which stops them all. State lives in var/cluster/ (kept between runs).
#
#   dial   sip:CONFERENCE@127.0.0.10:5060           (Kamailio places the call)
#   web    http://127.0.0.11:8080/  http://127.0.0.12:8080/   (admin / $MCU_ADMIN__PASSWORD)
#
# Needs the Debian packages postgresql, kamailio and kamailio-postgres-modules
# (scripts/install-system-deps.sh) and the .venv (make .venv/.installed).
set -euo pipefail

HERE=$(cd "$(dirname "$0")/.." && pwd)
STATE="$HERE/var/cluster"
FRONT_IP=127.0.0.10
PG_PORT=${MCU_CLUSTER_PG_PORT:-55432}
SIP_PORT=5060
export MCU_ADMIN__PASSWORD=${MCU_ADMIN__PASSWORD:-cluster-admin}
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
AS_PG=()
if [ "$(id -u)" -eq 0 ]; then
    AS_PG=(runuser -u postgres --)
fi
mkdir -p "$STATE"
PIDS=()

stop_all() {
    trap - INT TERM EXIT
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    wait "${PIDS[@]}" 2>/dev/null || true
    "${AS_PG[@]}" "$PGBIN/pg_ctl" -D "$STATE/pg" -m fast stop >/dev/null 2>&1 || true
    echo "cluster: stopped"
}
trap "stop_all; exit 0" INT TERM
trap stop_all EXIT

start_postgres() {
    if [ ! -d "$STATE/pg" ]; then
        mkdir -p "$STATE/pg" && [ "$(id -u)" -ne 0 ] || chown postgres "$STATE" "$STATE/pg"
        "${AS_PG[@]}" "$PGBIN/initdb" -D "$STATE/pg" -A trust -U postgres >/dev/null
    fi
    "${AS_PG[@]}" "$PGBIN/pg_ctl" -D "$STATE/pg" -l "$STATE/pg.log" -w start \
        -o "-k $STATE/pg -c listen_addresses=$FRONT_IP -p $PG_PORT" >/dev/null
    psql -h "$FRONT_IP" -p "$PG_PORT" -U postgres -tAc \
        "SELECT 1 FROM pg_database WHERE datname = 'mcu'" | grep -q 1 \
        || psql -h "$FRONT_IP" -p "$PG_PORT" -U postgres -qc 'CREATE DATABASE mcu'
}

start_node() {  # name ip rtp_min rtp_max
    local name=$1 ip=$2
    mkdir -p "$STATE/node-$name"
    (cd "$STATE/node-$name" && exec env \
        MCU_DATABASE__URL="postgresql+asyncpg://postgres@$FRONT_IP:$PG_PORT/mcu" \
        MCU_SIP__HOST="$ip" MCU_SIP__PORT=$SIP_PORT MCU_HTTP__HOST="$ip" MCU_HTTP__PORT=8080 \
        MCU_H323__HOST="$ip" MCU_RTSP__PORT=0 MCU_SIP__TLS_PORT=0 \
        MCU_RTP__PORT_MIN="$3" MCU_RTP__PORT_MAX="$4" \
        MCU_CLUSTER__ENABLED=true MCU_CLUSTER__NODE_ID="$name" \
        MCU_SIP__LIMITS__TRUSTED_NETWORKS="[\"$FRONT_IP\"]" \
        "$HERE/.venv/bin/mcu" serve >"$STATE/node-$name.log" 2>&1) &
    PIDS+=($!)
}

start_postgres
start_node a 127.0.0.11 20000 20499
start_node b 127.0.0.12 20500 20999
printf '1 sip:127.0.0.11:%s\n1 sip:127.0.0.12:%s\n' $SIP_PORT $SIP_PORT >"$STATE/dispatcher.list"
mkdir -p "$STATE/kamailio"
env MCU_KAMAILIO_LISTEN="udp:$FRONT_IP:$SIP_PORT" \
    MCU_KAMAILIO_DB="mcu=>postgres://postgres@$FRONT_IP:$PG_PORT/mcu" \
    MCU_KAMAILIO_NODES="$STATE/dispatcher.list" MCU_KAMAILIO_LEASE_S=10 \
    /usr/sbin/kamailio -f "$HERE/config/kamailio/kamailio.cfg" -DD -E -m 256 \
    -Y "$STATE/kamailio" -P "$STATE/kamailio/kamailio.pid" >"$STATE/kamailio.log" 2>&1 &
PIDS+=($!)
echo "cluster: PostgreSQL $FRONT_IP:$PG_PORT, Kamailio sip:$FRONT_IP:$SIP_PORT," \
     "nodes http://127.0.0.11:8080 and http://127.0.0.12:8080 (admin / $MCU_ADMIN__PASSWORD);" \
     "logs in var/cluster/; Ctrl-C stops them"
wait -n "${PIDS[@]}" || true
echo "cluster: a part exited; see var/cluster/*.log"
