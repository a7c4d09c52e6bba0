#!/usr/bin/env bash
# slurm-up.sh: a real Slurm 22.05 "cluster" on this one machine (Debian 12), loopback only, for the tests.
#
#   scripts/slurm-up.sh [up]     install what is missing, write the config, start what is not running, wait
#                                until every node is idle (and sacct answers); a fast no-op when already up
#   scripts/slurm-up.sh status   daemons, nodes, partitions, listeners (needs no root)
#   scripts/slurm-up.sh down     stop every daemon this script starts (by PID file), keep the state
#   scripts/slurm-up.sh purge    down, then wipe the Slurm state (job ids restart at 1) and the accounting DB
#
# Knobs (environment):
#   SLURM_ACCOUNTING=1      1: slurmdbd + MariaDB, so that sacct works; 0: accounting_storage/none (no sacct)
#   SLURM_NODES="n1:x86_64,zen2 n2:x86_64,zen3 n3:x86_64,zen4 n4:aarch64,neoverse_v1"
#                           fake nodes as name:feature,feature...; each is a `slurmd -N name` on 127.0.0.1
#   SLURM_NODE_CPUS=2  SLURM_NODE_MEM=2048   per fake node (may exceed the real hardware: config_overrides)
#   SLURM_MIN_JOB_AGE=300   seconds a finished job stays visible to squeue/scontrol
#
# Partitions: "debug" (the default, all nodes), then one partition per node feature, named after it
# (default: x86_64, aarch64, zen2, zen3, zen4, neoverse_v1), so a node type can be chosen with -p or with
# --constraint. Every daemon runs in its own UTS namespace whose hostname is "localhost": with
# CommunicationParameters=NoInAddrAny the daemons bind to what that name resolves to (127.0.0.1), whatever
# this machine is called. Jobs therefore see `hostname` = localhost.
#
# Time limits: OverTimeLimit=0 and KillWait=2, but slurmctld checks time limits only every 30 s
# (PERIODIC_TIMEOUT) and --time has a granularity of one minute, so a `--time=1` job ends TIMEOUT 60-90 s
# after it started (measured: 73 s); lowering a running job's limit (scontrol update JobId=N TimeLimit=0)
# gets TIMEOUT at the next check, 0-31 s later (tests/slurm.py force_timeout).
set -euo pipefail

ACTION=${1:-up}
ACCOUNTING=${SLURM_ACCOUNTING:-1}
NODES=${SLURM_NODES:-"n1:x86_64,zen2 n2:x86_64,zen3 n3:x86_64,zen4 n4:aarch64,neoverse_v1"}
NODE_CPUS=${SLURM_NODE_CPUS:-2}
NODE_MEM=${SLURM_NODE_MEM:-2048}
MIN_JOB_AGE=${SLURM_MIN_JOB_AGE:-300}
CONF=/etc/slurm/slurm.conf
DBDCONF=/etc/slurm/slurmdbd.conf
STATE=/var/lib/slurm/slurmctld
SPOOL=/var/lib/slurm/slurmd
LOGDIR=/var/log/slurm
DBPASS=slurm-local-only   # MariaDB listens on 127.0.0.1 only; the account can reach slurm_acct_db only
CONF_CHANGED=0
T0=${EPOCHREALTIME/./}

elapsed() { local us=$(( ${EPOCHREALTIME/./} - T0 )); printf '%d.%02d' $(( us / 1000000 )) $(( us % 1000000 / 10000 )); }
log() { printf '[slurm-up %6ss] %s\n' "$(elapsed)" "$*"; }
die() { log "ERROR: $*" >&2; exit 1; }

case "$ACTION" in
  up|down|purge)
    if [ "$(id -u)" != 0 ]; then
      echo "slurm-up.sh: must run as root (it installs packages and starts munged, slurmctld, slurmd, slurmdbd" \
           "and MariaDB); try: sudo $0 $ACTION" >&2
      exit 1
    fi ;;
  status) ;;
  *) echo "usage: $0 [up|status|down|purge]" >&2; exit 2 ;;
esac

# Run a daemon in a private UTS namespace whose hostname is "localhost"; it daemonizes itself. Its early
# stdout/stderr (before it opens its log file) go to $LOGDIR/NAME.out, so no caller's pipe is held open.
in_localhost_uts() { # in_localhost_uts NAME COMMAND...
  local name=$1; shift
  unshare --uts /bin/sh -c 'hostname localhost && exec "$@"' sh "$@" >"$LOGDIR/$name.out" 2>&1 </dev/null
}
alive() { [ -s "$1" ] && [ -r "$1" ] && [ -d "/proc/$(cat "$1")" ]; }
node_names() { local n; for n in $NODES; do echo "${n%%:*}"; done; }
wait_for() { # wait_for SECONDS DESCRIPTION LOGFILE COMMAND...
  local limit=$1 what=$2 logfile=$3; shift 3
  local end=$(( SECONDS + limit ))
  until "$@" >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$end" ]; then
      [ ! -s "$logfile" ] || { echo "--- last lines of $logfile:"; tail -n 20 "$logfile"; } >&2
      die "timed out after ${limit}s waiting for $what"
    fi
    sleep 0.1
  done
}

# SIGTERM every live daemon of the given PID files at once, wait (slurm daemons need 2-4 s), then SIGKILL.
stop_pidfiles() {
  local f pid pids=()
  for f in "$@"; do
    if alive "$f"; then
      pid=$(cat "$f"); pids+=("$pid"); kill "$pid"; log "SIGTERM $(basename "$f" .pid) (pid $pid)"
    fi
  done
  local end=$(( SECONDS + 15 ))
  for pid in "${pids[@]}"; do
    while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$end" ]; do sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then log "pid $pid ignored SIGTERM, sending SIGKILL"; kill -9 "$pid"; fi
  done
  for f in "$@"; do alive "$f" || rm -f "$f"; done
}
# Every slurmd this script ever started, including nodes no longer in SLURM_NODES.
slurmd_pidfiles() { local f; for f in /run/slurmd-*.pid; do [ -e "$f" ] && echo "$f"; done; return 0; }

down() {
  local f files=()
  while read -r f; do files+=("$f"); done < <(slurmd_pidfiles)
  stop_pidfiles "${files[@]}" /run/slurmctld.pid /run/slurmdbd.pid /run/mysqld/mysqld.pid /run/munge/munged.pid
  log "all stopped"
}

status() {
  local f
  for f in /run/munge/munged.pid /run/mysqld/mysqld.pid /run/slurmdbd.pid /run/slurmctld.pid /run/slurmd-*.pid; do
    [ -e "$f" ] || continue
    if [ ! -r "$f" ]; then echo "unknown  $(basename "$f" .pid) (cannot read $f)"
    elif alive "$f"; then echo "running  $(basename "$f" .pid) pid=$(cat "$f")"; else echo "dead     $f"; fi
  done
  sinfo -N -o "%N %P %T %f %c %m" 2>/dev/null || echo "sinfo: slurmctld does not answer"
  ss -ltnp 2>/dev/null | grep -E '"(slurmctld|slurmd|slurmdbd|mariadbd|munged)"' || true
}

install_pkgs() {
  local pkgs=(slurmctld slurmd slurm-client munge) missing=() p
  [ "$ACCOUNTING" != 1 ] || pkgs+=(slurmdbd mariadb-server)
  for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then log "packages already installed"; return; fi
  log "installing ${missing[*]}"
  local aptlog; aptlog=$(mktemp)
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
           "${missing[@]}"; } >"$aptlog" 2>&1; then
    cat "$aptlog" >&2; rm -f "$aptlog"; die "apt-get install ${missing[*]} failed"
  fi
  rm -f "$aptlog"
  log "installed slurm $(dpkg-query -W -f='${Version}' slurmctld), munge $(dpkg-query -W -f='${Version}' munge)"
}

# install_file TMPFILE DEST MODE: replace DEST when different; sets CONF_CHANGED=1 then.
install_file() {
  if cmp -s "$1" "$2"; then rm -f "$1"; else mv "$1" "$2"; CONF_CHANGED=1; log "wrote $2"; fi
  chmod "$3" "$2"
}

write_conf() {
  local tmp; tmp=$(mktemp)
  {
    cat <<CONF
# generated by scripts/slurm-up.sh: one machine, loopback only, for eessi-bot's tests
ClusterName=localcluster
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
SlurmctldPort=6817
# bind to what the hostname ("localhost" in the daemons' UTS namespace) resolves to, not to 0.0.0.0
CommunicationParameters=NoCtldInAddrAny,NoInAddrAny
StateSaveLocation=$STATE
SlurmdSpoolDir=$SPOOL/%n
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd-%n.pid
SlurmctldLogFile=$LOGDIR/slurmctld.log
SlurmdLogFile=$LOGDIR/slurmd-%n.log
SlurmctldDebug=info
SlurmdDebug=info
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
# no cgroups: works in containers and VMs without a usable cgroup hierarchy (no --mem enforcement)
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/linux
SchedulerType=sched/backfill
# start batch jobs right at submit/release (the default batch_sched_delay=3 gives 1.5-2.5 s sbatch->RUNNING)
SchedulerParameters=batch_sched_delay=0
# trust the CPUs/RealMemory written here, not the real hardware (fake nodes may oversubscribe)
SlurmdParameters=config_overrides
ReturnToService=2
MpiDefault=none
MailProg=/bin/true
MinJobAge=$MIN_JOB_AGE
# kill at the time limit (no grace), SIGKILL 2 s after SIGTERM: TIMEOUT/CANCELLED arrive quickly
OverTimeLimit=0
KillWait=2
JobCompType=jobcomp/filetxt
JobCompLoc=$LOGDIR/jobcomp.log
CONF
    if [ "$ACCOUNTING" = 1 ]; then
      printf 'AccountingStorageType=accounting_storage/slurmdbd\nAccountingStorageHost=localhost\nAccountingStoragePort=6819\n'
    else
      printf 'AccountingStorageType=accounting_storage/none\n'
    fi
    local port=17001 n name feats all="" features=() f
    for n in $NODES; do
      name=${n%%:*}; feats=${n#*:}
      [ "$feats" != "$n" ] || feats=""
      echo "NodeName=$name NodeHostname=localhost NodeAddr=127.0.0.1 Port=$port CPUs=$NODE_CPUS RealMemory=$NODE_MEM${feats:+ Features=$feats} State=UNKNOWN"
      all="$all,$name"; port=$((port + 1))
      IFS=, read -r -a f <<<"$feats"; features+=("${f[@]}")
    done
    echo "PartitionName=debug Nodes=${all#,} Default=YES MaxTime=INFINITE State=UP"
    # one partition per feature, in order of first appearance
    local feature members seen=" "
    for feature in "${features[@]}"; do
      case "$seen" in *" $feature "*) continue ;; esac
      seen="$seen$feature "; members=""
      for n in $NODES; do
        case ",${n#*:}," in *",$feature,"*) members="$members,${n%%:*}" ;; esac
      done
      echo "PartitionName=$feature Nodes=${members#,} MaxTime=INFINITE State=UP"
    done
  } >"$tmp"
  install_file "$tmp" "$CONF" 644

  if [ "$ACCOUNTING" = 1 ]; then
    tmp=$(mktemp)
    cat >"$tmp" <<DBD
# generated by scripts/slurm-up.sh
AuthType=auth/munge
DbdHost=localhost
DbdPort=6819
# undocumented in slurmdbd.conf(5) for 22.05 but honoured: bind to the hostname's address, not 0.0.0.0
CommunicationParameters=NoInAddrAny
SlurmUser=root
LogFile=$LOGDIR/slurmdbd.log
PidFile=/run/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=3306
StorageUser=slurm
StoragePass=$DBPASS
StorageLoc=slurm_acct_db
DBD
    install_file "$tmp" "$DBDCONF" 600
  fi
}

start_munge() {
  mkdir -p /run/munge && chown munge:munge /run/munge && chmod 755 /run/munge
  if [ ! -s /etc/munge/munge.key ]; then
    log "creating munge key"; mungekey --create --keyfile=/etc/munge/munge.key
    chown munge:munge /etc/munge/munge.key; chmod 400 /etc/munge/munge.key
  fi
  if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then log "munged already running"; return; fi
  rm -f /run/munge/munged.pid
  runuser -u munge -- /usr/sbin/munged >"$LOGDIR/munged.out" 2>&1 </dev/null
  wait_for 10 munged "$LOGDIR/munged.out" sh -c 'munge -n | unmunge'
  log "munged started (pid $(cat /run/munge/munged.pid))"
}

start_mariadb() {
  mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld
  if mariadb-admin ping >/dev/null 2>&1; then
    log "mariadb already running"
  else
    setsid /usr/sbin/mariadbd --user=mysql --bind-address=127.0.0.1 --port=3306 \
      --pid-file=/run/mysqld/mysqld.pid --socket=/run/mysqld/mysqld.sock \
      >>"$LOGDIR/mariadb.log" 2>&1 </dev/null &
    disown
    wait_for 30 mariadb "$LOGDIR/mariadb.log" mariadb-admin ping
    log "mariadb started (pid $(cat /run/mysqld/mysqld.pid))"
  fi
  mariadb -e "CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY '$DBPASS';
              GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';"
}

start_slurmdbd() {
  if alive /run/slurmdbd.pid && [ "$CONF_CHANGED" = 0 ]; then log "slurmdbd already running"; return; fi
  stop_pidfiles /run/slurmdbd.pid
  in_localhost_uts slurmdbd slurmdbd
  wait_for 30 "slurmdbd on 127.0.0.1:6819" "$LOGDIR/slurmdbd.log" bash -c '</dev/tcp/127.0.0.1/6819'
  log "slurmdbd started (pid $(cat /run/slurmdbd.pid))"
}

start_slurmctld() {
  if alive /run/slurmctld.pid && [ "$CONF_CHANGED" = 0 ]; then log "slurmctld already running"; return; fi
  if [ "$CONF_CHANGED" = 1 ]; then   # the config changed: restart the controller and every node
    local f files=()
    while read -r f; do files+=("$f"); done < <(slurmd_pidfiles)
    stop_pidfiles "${files[@]}" /run/slurmctld.pid
  fi
  in_localhost_uts slurmctld slurmctld
  wait_for 30 slurmctld "$LOGDIR/slurmctld.log" scontrol ping
  log "slurmctld started (pid $(cat /run/slurmctld.pid))"
}

start_slurmds() {
  local n
  for n in $(node_names); do
    mkdir -p "$SPOOL/$n"
    alive "/run/slurmd-$n.pid" && continue
    in_localhost_uts "slurmd-$n" slurmd -N "$n"
    wait_for 10 "slurmd $n" "$LOGDIR/slurmd-$n.log" alive "/run/slurmd-$n.pid"
    log "slurmd $n started (pid $(cat "/run/slurmd-$n.pid"))"
  done
}

# Every configured node must be responding (idle, or busy with jobs left from before); nodes left DOWN or
# DRAINED by an earlier run are resumed.
wait_nodes() {
  local expected ready bad end=$(( SECONDS + 60 ))
  expected=$(node_names | wc -l)
  while :; do
    ready=$(sinfo -h -N -p debug -o '%N %T' 2>/dev/null | awk '$2 ~ /^(idle|mixed|allocated|completing)$/' | wc -l)
    [ "$ready" -lt "$expected" ] || break
    sinfo -h -N -p debug -o '%N %T' 2>/dev/null | awk '$2 ~ /down|drain|fail/ {print $1}' | while read -r bad; do
      scontrol update NodeName="$bad" State=RESUME >/dev/null 2>&1 || true
    done
    [ "$SECONDS" -lt "$end" ] || die "nodes not ready after 60 s: $(sinfo -h -N -o '%N=%T' | paste -sd' ')"
    sleep 0.1
  done
  log "nodes: $(sinfo -h -N -p debug -o '%N=%T(%f)' | paste -sd' ')"
  if [ "$ACCOUNTING" = 1 ]; then
    wait_for 30 "sacct to answer" "$LOGDIR/slurmdbd.log" sacct -n -X -j 1
  fi
}

check_loopback_only() {
  local wide
  wide=$(ss -ltnpH 2>/dev/null | grep -E '"(slurmctld|slurmd|slurmdbd|mariadbd|munged)"' | awk '{print $4}' \
         | grep -vE '^(127\.|\[::1\]|\[::ffff:127\.)' || true)
  [ -z "$wide" ] || die "a daemon listens beyond loopback: $wide"
}

case "$ACTION" in
  up)
    install_pkgs
    mkdir -p "$STATE" "$SPOOL" "$LOGDIR"
    write_conf
    start_munge
    if [ "$ACCOUNTING" = 1 ]; then start_mariadb; start_slurmdbd; fi
    start_slurmctld
    start_slurmds
    wait_nodes
    check_loopback_only
    log "ready in $(elapsed) s: partitions $(sinfo -h -o '%P(%N)' | paste -sd' ')"
    ;;
  down) down ;;
  purge)
    down
    rm -rf "${STATE:?}"/* "${SPOOL:?}"/*
    rm -f "$LOGDIR"/*.log "$LOGDIR"/*.out
    if [ -d /var/lib/mysql/slurm_acct_db ]; then
      start_mariadb >/dev/null
      mariadb -e 'DROP DATABASE IF EXISTS slurm_acct_db'
      stop_pidfiles /run/mysqld/mysqld.pid
    fi
    log "state purged"
    ;;
  status) status ;;
esac
