#!/usr/bin/env bash
# Makes sure the services the tests, demo and benchmarks talk to are installed, running and answering:
# PostgreSQL on 127.0.0.1:5432, RabbitMQ with its STOMP plugin on 127.0.0.1:61613, ActiveMQ Classic with a
# STOMP connector on 127.0.0.1:61614 (README "Brokers"), plus Debian's python3-stomp (an independent STOMP
# peer for interop tests). Idempotent: on a machine where all is
# up it only checks. Exits non-zero with one line saying what is wrong when it cannot.
#
# It changes the machine, and says so each time, before it does (README "Quick start"): it may install
# packages with apt-get (with sudo unless root), and it adds `trust` authentication for 127.0.0.1 to
# pg_hba.conf (a test machine's setting: any local user may then connect as any role without a password).
set -u

log() { echo "services: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else "$@"; fi; }

apt_updated=0
apt_install() {
  if [ "$apt_updated" = 0 ]; then
    log "running apt-get update$( [ "$(id -u)" = 0 ] || echo ' (sudo)')"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null 2>&1 || log "apt-get update failed"
    apt_updated=1
  fi
  log "installing $* with apt-get$( [ "$(id -u)" = 0 ] || echo ' (sudo)')"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1 || die "apt-get install $* failed"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() { # port name seconds
  local i
  for ((i = 0; i < $3 * 4; i++)); do port_open "$1" && return 0; sleep 0.25; done
  return 1
}

# --- PostgreSQL ---------------------------------------------------------------------------------
if ! port_open 5432; then
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then apt_install postgresql; fi
  ver=$(ls /etc/postgresql | sort -V | tail -1)
  log "starting PostgreSQL $ver"
  as_root pg_ctlcluster --skip-systemctl-redirect "$ver" main start >/dev/null 2>&1 || true
  wait_port 5432 postgres 30 || die "PostgreSQL does not answer on 127.0.0.1:5432 (try: pg_ctlcluster --skip-systemctl-redirect $ver main start)"
fi
# Tests connect as postgres over TCP without a password; a fresh Debian install wants md5/scram there.
if ! psql "postgres://postgres@127.0.0.1:5432/postgres" -Atqc 'select 1' >/dev/null 2>&1; then
  hba=$(ls /etc/postgresql/*/main/pg_hba.conf 2>/dev/null | sort -V | tail -1)
  if [ -n "$hba" ] && ! grep -q '^host all all 127.0.0.1/32 trust' "$hba"; then
    log "adding 'host all all 127.0.0.1/32 trust' to $hba and reloading PostgreSQL: any local user may now connect as any role without a password (a test machine's setting)"
    as_root sed -i '1i host all all 127.0.0.1/32 trust' "$hba"
    as_root pg_ctlcluster --skip-systemctl-redirect "$(basename "$(dirname "$(dirname "$hba")")")" main reload >/dev/null 2>&1 || true
    sleep 1
  fi
  psql "postgres://postgres@127.0.0.1:5432/postgres" -Atqc 'select 1' >/dev/null 2>&1 \
    || die "cannot connect to postgres://postgres@127.0.0.1:5432/postgres without a password"
fi
psql "postgres://postgres@127.0.0.1:5432/postgres" -Atqc "select 1 from pg_database where datname='test'" | grep -q 1 \
  || psql "postgres://postgres@127.0.0.1:5432/postgres" -qc 'create database test' >/dev/null 2>&1 || true

# --- RabbitMQ -----------------------------------------------------------------------------------
if ! command -v rabbitmqctl >/dev/null 2>&1; then apt_install rabbitmq-server; fi
if ! as_root rabbitmqctl -q status >/dev/null 2>&1; then
  log "starting RabbitMQ"
  as_root rabbitmq-server -detached >/dev/null 2>&1 || true
  as_root rabbitmqctl -q wait --timeout 60 /var/lib/rabbitmq/mnesia/rabbit@$(hostname -s).pid >/dev/null 2>&1 || true
  for ((i = 0; i < 120; i++)); do as_root rabbitmqctl -q status >/dev/null 2>&1 && break; sleep 0.5; done
  as_root rabbitmqctl -q status >/dev/null 2>&1 || die "RabbitMQ does not start (try: rabbitmq-server -detached)"
fi
if ! port_open 61613; then
  log "enabling rabbitmq_stomp"
  as_root rabbitmq-plugins -q enable rabbitmq_stomp >/dev/null 2>&1 || die "rabbitmq-plugins enable rabbitmq_stomp failed"
  wait_port 61613 stomp 60 || die "RabbitMQ STOMP does not answer on 127.0.0.1:61613"
fi

# --- ActiveMQ Classic (Debian's activemq 5.17), instance `outbox` ------------------------------------
# Its configuration is scripts/activemq/ (STOMP on 61614, every topic virtual, DLQ.<queue> per queue, a 512 MB
# heap); it is (re)written into /etc/activemq and the broker restarted only when it differs.
stomp_answers() { # port: a STOMP CONNECT gets CONNECTED
  timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1 && printf 'CONNECT\naccept-version:1.2\nhost:/\nlogin:guest\npasscode:guest\n\n\0' >&3 && head -c 9 <&3" 2>/dev/null | grep -q CONNECTED
}
amq_src="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/activemq"
amq_dir=/etc/activemq/instances-available/outbox
amq_changed=0
if [ ! -x /etc/init.d/activemq ]; then apt_install activemq; fi
[ -x /etc/init.d/activemq ] || die "the activemq package did not install /etc/init.d/activemq"
for f in activemq.xml options; do
  if ! cmp -s "$amq_src/$f" "$amq_dir/$f"; then
    [ "$amq_changed" = 1 ] || log "writing the ActiveMQ instance 'outbox' into $amq_dir (from scripts/activemq/)"
    as_root mkdir -p "$amq_dir" && as_root cp "$amq_src/$f" "$amq_dir/$f" || die "cannot write $amq_dir/$f"
    amq_changed=1
  fi
done
if [ ! -e "$amq_dir/log4j2.properties" ] && [ -e /etc/activemq/instances-available/main/log4j2.properties ]; then
  as_root cp /etc/activemq/instances-available/main/log4j2.properties "$amq_dir/"
fi
[ -e /etc/activemq/instances-enabled/outbox ] || as_root ln -sfn "$amq_dir" /etc/activemq/instances-enabled/outbox
amq_pidfile=/var/run/activemq/outbox.pid
amq_pid=$(cat "$amq_pidfile" 2>/dev/null)
if [ "$amq_changed" = 1 ] && [ -n "$amq_pid" ] && kill -0 "$amq_pid" 2>/dev/null; then
  # Our instance only (the init script's stop would stop every instance), and until its process is gone:
  # the connector closes before the JVM exits, and a start meanwhile finds the old one "running".
  log "restarting ActiveMQ: its configuration changed"
  as_root kill -TERM "$amq_pid" 2>/dev/null || true
  for ((i = 0; i < 120; i++)); do kill -0 "$amq_pid" 2>/dev/null || break; sleep 0.25; done
  if kill -0 "$amq_pid" 2>/dev/null; then as_root kill -KILL "$amq_pid" 2>/dev/null || true; sleep 0.5; fi
  as_root rm -f "$amq_pidfile"
fi
if ! stomp_answers 61614; then
  if ! port_open 61614; then
    log "starting ActiveMQ (instance outbox)"
    as_root mkdir -p /var/lib/activemq/outbox /var/log/activemq /var/run/activemq
    as_root chown activemq /var/lib/activemq/outbox /var/log/activemq /var/run/activemq 2>/dev/null || true
    as_root /etc/init.d/activemq start >/dev/null 2>&1 || true
  fi
  # A JVM on two busy cores can take a minute to open its connectors: up to two, whatever each try costs.
  amq_deadline=$((SECONDS + 120))
  until stomp_answers 61614 || ((SECONDS >= amq_deadline)); do sleep 0.25; done
  stomp_answers 61614 || die "ActiveMQ STOMP does not answer on 127.0.0.1:61614 (see /var/log/activemq/outbox.out; try: /etc/init.d/activemq start)"
fi

# --- python3-stomp (interop peer; Debian's own python, not a pyenv shim) ------------------------
if ! /usr/bin/python3 -c 'import stomp' >/dev/null 2>&1; then apt_install python3-stomp; fi

log "PostgreSQL :5432, RabbitMQ STOMP :61613 and ActiveMQ STOMP :61614 are up"
