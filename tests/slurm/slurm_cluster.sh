#!/usr/bin/env bash
# A private one-node Slurm cluster for tests, built from Debian 12's slurm-wlm and munge packages.
#
#   tests/slurm/slurm_cluster.sh start <parent-dir>   start a cluster in a new <parent-dir>/slurm-cluster.XXXXXX,
#                                                     print that folder on stdout; daemons stay up
#   tests/slurm/slurm_cluster.sh stop <cluster-dir>   cancel its jobs, stop its daemons (by pid)
#   tests/slurm/slurm_cluster.sh status <cluster-dir> daemons' pids and the node's state
#
# Tests normally use tests/slurm/with_slurm_cluster.sh, which sources this file, starts a cluster, runs a
# command with SLURM_CONF pointing at it and always stops it. Must run as root (slurmd runs jobs as the
# submitting user, munged here runs as root).
#
# Design (each choice is for robustness on a shared CI machine):
# - Everything lives in one new folder (mode 0755 so job users can reach the munge socket): slurm.conf,
#   an empty plugstack.conf, state, spool, logs, pid records. slurm.conf's folder is Slurm's config folder,
#   so no file of /etc/slurm (plugstack.conf, cgroup.conf, gres.conf...) is ever read. A new folder per
#   run means stale pid files or state of a killed earlier run never matter.
# - Munge: a private munged as root, with its own key (made by mungekey, 0400, in a 0700 folder) and its
#   own socket, pid, seed and log in the cluster folder; Slurm uses it through AuthInfo=socket=... (auth
#   and cred plugins, clients and jobs read the same slurm.conf). So the harness neither needs nor
#   disturbs a system munged, /etc/munge/munge.key, /run/munge or the munge user: on a fresh Debian 12
#   machine `apt-get install -y slurm-wlm munge` is enough. (The munge package's postinst creates
#   /etc/munge/munge.key and starts munged under systemd; neither is used here.)
# - Ports: SlurmctldPort and SlurmdPort are two random ports below the kernel's ephemeral range that no
#   socket in /proc/net/tcp{,6} uses (not 6817/6818, so no clash with a system Slurm or another instance).
#   If a daemon still dies with "Address already in use" (a race), start retries with new ports.
# - Node: NodeName = `hostname -s` (slurmctld and slurmd match it against gethostname()), NodeAddr and
#   the controller address 127.0.0.1 (no DNS needed), CPUs = nproc, RealMemory = MemTotal in MiB.
#   ProctrackType=proctrack/linuxproc and TaskPlugin=task/none: no cgroups, so no cgroup.conf.
#   SelectTypeParameters=CR_CPU: each job (array task) takes one CPU, memory is not a consumable.
#   SchedulerParameters=batch_sched_delay=0: jobs start (and dependencies are resolved) right away
#   instead of on the next 3 s tick; halves the smoke test's time.
#   No accounting database (accounting_storage/none); jobcomp/filetxt writes one line per finished job
#   to log/jobcomp.txt (exported as SLURM_CLUSTER_JOBCOMP) for sacct-like checks; finished jobs also stay
#   visible to `scontrol show job` for MinJobAge (300 s).
# - Daemons run in the foreground (munged -F, slurmctld -D, slurmd -D) as background jobs of this shell,
#   so $! is their pid (recorded in pids/); each gets its own session (setsid), so a Ctrl-C in the
#   terminal reaches the wrapper's trap, which stops them in order, not the daemons directly. A pid is
#   only signalled if /proc/<pid>/cmdline still names this cluster folder (no pid-reuse accidents, no
#   pkill). with_slurm_cluster.sh also starts a watchdog (this script's `watchdog` sub-command) with a
#   parent-death signal (setpriv --pdeathsig TERM): if the wrapper is SIGKILLed, the kernel sends the
#   watchdog SIGTERM and it stops the cluster the same way (jobs first, then daemons).
# - Stop: cancel all jobs and wait (bounded) until none is left, so no slurmstepd outlives the cluster;
#   then SIGTERM slurmd and slurmctld, then munged; SIGKILL whatever is still alive after a timeout.
#   Every client call is bounded by `timeout`, so nothing here can hang.
#
# Tunables (environment): SLURM_CLUSTER_START_TIMEOUT (s, default 60), SLURM_CLUSTER_STOP_TIMEOUT
# (s per phase, default 20), SLURM_CLUSTER_CPUS, SLURM_CLUSTER_REAL_MEMORY (MiB),
# SLURM_CLUSTER_EXTRA_CONF (lines appended to slurm.conf; a repeated keyword overrides the generated one).

# ---- small helpers ----------------------------------------------------------------------------------

sc_log() { printf 'slurm_cluster: %s\n' "$*" >&2; }

# Microseconds since the epoch (EPOCHREALTIME without its locale-dependent decimal separator).
sc_now_us() { local t=${EPOCHREALTIME//[!0-9]/}; printf '%s\n' "$((10#$t))"; }

# Seconds with two decimals between two sc_now_us values.
sc_seconds_between() {
  local d=$(($2 - $1))
  printf '%d.%02d\n' "$((d / 1000000))" "$((d % 1000000 / 10000))"
}

# Runs a Slurm client command against the cluster in folder $1, bounded in time.
sc_client() {
  local dir=$1
  shift
  env -u SLURM_CLUSTERS SLURM_CONF="$dir/slurm.conf" timeout 15 "$@"
}

# True if pid $1 is alive and is one of the daemons of cluster folder $2.
sc_pid_is_ours() {
  local pid=$1 dir=$2 cmdline
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  cmdline=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") || return 1
  [[ $cmdline == *"$dir/"* ]]
}

# Pid recorded for daemon $2 of cluster folder $1, empty if none.
sc_pid_of() {
  local f="$1/pids/$2"
  if [[ -r $f ]]; then cat "$f"; fi
}

sc_daemon_alive() {
  local pid
  pid=$(sc_pid_of "$1" "$2")
  [[ -n $pid ]] && sc_pid_is_ours "$pid" "$1"
}

# True while daemon $2 of cluster $1, just spawned by sc_spawn, has not died. Unlike sc_daemon_alive it
# does not need the exec to have been seen: on a busy host that can take longer than sc_spawn waits, and
# a start-up loop that gave up then reported a daemon that was coming up as dead.
sc_daemon_not_dead() {
  local pid
  pid=$(sc_pid_of "$1" "$2")
  [[ -n $pid ]] || return 1
  sc_pid_is_ours "$pid" "$1" && return 0
  kill -0 "$pid" 2>/dev/null || return 1
  [[ $(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null) != Z* ]]
}

# Prints the last lines of the cluster's logs (to stderr).
sc_tail_logs() {
  local dir=$1 f
  for f in "$dir"/log/munged.log "$dir"/log/slurmctld.out "$dir"/log/slurmctld.log \
           "$dir"/log/slurmd.out "$dir"/log/slurmd.log; do
    [[ -s $f ]] || continue
    printf '%s\n' "---- last lines of $f (without the harmless PMIx plugin errors) ----" >&2
    grep -vE 'pmix|MPI: Cannot create context' "$f" | tail -n 25 >&2
  done
}

# Local TCP ports in use by any socket (any state), one per line.
sc_used_ports() {
  local f local_address
  for f in /proc/net/tcp /proc/net/tcp6; do
    [[ -r $f ]] || continue
    while read -r _ local_address _; do
      [[ $local_address == *:* ]] || continue
      printf '%d\n' "0x${local_address##*:}"
    done <"$f"
  done
}

# Prints two distinct free TCP ports, below the ephemeral range when it leaves room.
sc_pick_ports() {
  local eph_lo=32768 eph_hi=60999 lo=20000 hi used p
  local -a ports=()
  if [[ -r /proc/sys/net/ipv4/ip_local_port_range ]]; then
    read -r eph_lo eph_hi </proc/sys/net/ipv4/ip_local_port_range || true
  fi
  hi=$((eph_lo - 1))
  if ((hi - lo < 2000)); then
    if ((65535 - eph_hi >= 2000)); then lo=$((eph_hi + 1)) hi=65535; else lo=20000 hi=65000; fi
  fi
  used=" $(sc_used_ports | tr '\n' ' ') "
  while ((${#ports[@]} < 2)); do
    p=$((lo + (RANDOM * 32768 + RANDOM) % (hi - lo + 1)))
    [[ $used == *" $p "* || " ${ports[*]:-} " == *" $p "* ]] && continue
    ports+=("$p")
  done
  printf '%s %s\n' "${ports[0]}" "${ports[1]}"
}

# Starts "$@" in the background in its own session, output appended to log $3, and records its pid
# as process $2 of cluster folder $1. With $4 = pdeathsig it gets SIGTERM when this shell dies (then this
# must run in the shell that owns the cluster, not in a subshell).
sc_spawn() {
  local dir=$1 name=$2 log=$3 mode=$4
  shift 4
  if [[ $mode == pdeathsig ]]; then
    setsid setpriv --pdeathsig TERM -- "$@" </dev/null >>"$log" 2>&1 3>&- &
  else
    setsid "$@" </dev/null >>"$log" 2>&1 3>&- &
  fi
  local pid=$! deadline=$((SECONDS + 5))
  printf '%s\n' "$pid" >"$dir/pids/$name"
  # Until the child has exec'd, its cmdline is this shell's; wait for that (or for its death).
  while ! sc_pid_is_ours "$pid" "$dir" && kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do
    [[ $(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null) == Z* ]] && break
    sleep 0.01
  done
}

# Sends SIGTERM to daemon $2 of cluster $1 and waits up to $3 seconds, then SIGKILL. Returns 1 if it
# had to be killed or is still alive.
sc_stop_daemon() {
  local dir=$1 name=$2 timeout_s=$3 pid deadline rc=0
  pid=$(sc_pid_of "$dir" "$name")
  [[ -n $pid ]] || return 0
  if sc_pid_is_ours "$pid" "$dir"; then
    kill -TERM "$pid" 2>/dev/null || true
    deadline=$((SECONDS + timeout_s))
    while sc_pid_is_ours "$pid" "$dir" && ((SECONDS < deadline)); do sleep 0.05; done
    if sc_pid_is_ours "$pid" "$dir"; then
      sc_log "$name (pid $pid) ignored SIGTERM for ${timeout_s} s, sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.5
      rc=1
      if sc_pid_is_ours "$pid" "$dir"; then sc_log "$name (pid $pid) is still alive"; return 1; fi
    fi
  fi
  wait "$pid" 2>/dev/null || true # reap it if it is our child
  rm -f "$dir/pids/$name"
  return "$rc"
}

# ---- cluster folder and configuration ---------------------------------------------------------------

# True if every folder from / down to $1 can be searched by all users (munged refuses a socket that
# other users cannot reach, and jobs of other users need the cluster folder).
sc_searchable_by_all() {
  local p=$1 mode
  while [[ -n $p && $p != / ]]; do
    mode=$(stat -L -c %A "$p" 2>/dev/null) || return 1
    [[ ${mode:9:1} == [xt] ]] || return 1
    p=${p%/*}
  done
}

# Creates a new cluster folder under $1 and prints its path. $1 must be reachable by all users, and
# short: Unix socket paths (the munge socket, slurmstepd's sockets in the spool folder) must stay under
# 108 bytes. Otherwise the folder goes to ${TMPDIR:-/tmp} or /tmp, with a note.
sc_make_dir() {
  local parent candidate dir=""
  mkdir -p "$1" || return 1
  for candidate in "$1" "${TMPDIR:-/tmp}" /tmp; do
    parent=$(cd "$candidate" 2>/dev/null && pwd -P) || continue
    if ((${#parent} > 50)); then
      sc_log "$parent is too long for Unix socket paths below it"
    elif ! sc_searchable_by_all "$parent"; then
      sc_log "$parent is not searchable by all users (munged requires that)"
    else
      dir=$parent
      break
    fi
  done
  [[ -n $dir ]] || { sc_log "no usable folder for the cluster"; return 1; }
  [[ $dir == "$(cd "$1" && pwd -P)" ]] || sc_log "so the cluster folder goes to $dir instead"
  dir=$(mktemp -d "$dir/slurm-cluster.XXXXXX") || return 1
  chmod 0755 "$dir" || return 1
  mkdir -p "$dir"/{state,spool,log,run,pids} || return 1
  printf '%s\n' "$dir"
}

sc_node_name() {
  local n
  n=$(hostname -s 2>/dev/null) || n=$(uname -n)
  printf '%s\n' "${n%%.*}"
}

# Writes $1/slurm.conf for controller port $2 and slurmd port $3.
sc_write_conf() {
  local dir=$1 ctld_port=$2 slurmd_port=$3 node cpus mem_kib mem
  node=$(sc_node_name)
  # (GNU nproc obeys OMP_NUM_THREADS and OMP_THREAD_LIMIT, which an OpenMP project's CI may set.)
  cpus=${SLURM_CLUSTER_CPUS:-$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc)}
  mem_kib=$(awk '$1 == "MemTotal:" { print $2 }' /proc/meminfo)
  mem=${SLURM_CLUSTER_REAL_MEMORY:-$((mem_kib / 1024))}
  : >"$dir/plugstack.conf"
  cat >"$dir/slurm.conf" <<EOF
# Generated by tests/slurm/slurm_cluster.sh: a private one-node test cluster.
ClusterName=mlptest
SlurmctldHost=${node}(127.0.0.1)
SlurmctldPort=${ctld_port}
SlurmdPort=${slurmd_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=${dir}/munge/munge.socket
StateSaveLocation=${dir}/state
SlurmdSpoolDir=${dir}/spool
SlurmctldPidFile=${dir}/run/slurmctld.pid
SlurmdPidFile=${dir}/run/slurmd.pid
SlurmctldLogFile=${dir}/log/slurmctld.log
SlurmdLogFile=${dir}/log/slurmd.log
PlugStackConfig=${dir}/plugstack.conf
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=${dir}/log/jobcomp.txt
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
SwitchType=switch/none
ReturnToService=2
MinJobAge=300
# Schedule at once after submissions and completions, not within Slurm's default 3 s: halves test times,
# job semantics unchanged.
SchedulerParameters=batch_sched_delay=0
NodeName=${node} NodeAddr=127.0.0.1 CPUs=${cpus} RealMemory=${mem} State=UNKNOWN
PartitionName=test Nodes=${node} Default=YES MaxTime=INFINITE State=UP
EOF
  if [[ -n ${SLURM_CLUSTER_EXTRA_CONF:-} ]]; then
    printf '%s\n' "$SLURM_CLUSTER_EXTRA_CONF" >>"$dir/slurm.conf"
  fi
}

# ---- start / stop -----------------------------------------------------------------------------------

sc_check_prerequisites() {
  local b
  if ((EUID != 0)); then sc_log "must run as root (slurmd, munged)"; return 1; fi
  for b in munged mungekey slurmctld slurmd sinfo squeue scancel scontrol setsid setpriv timeout; do
    if ! command -v "$b" >/dev/null 2>&1 && [[ ! -x /usr/sbin/$b ]]; then
      sc_log "missing program '$b' (Debian 12: apt-get install -y slurm-wlm munge)"
      return 1
    fi
  done
}

sc_start_munged() {
  local dir=$1 deadline
  mkdir -p "$dir/munge" "$dir/munge-key" || return 1
  chmod 0755 "$dir/munge" && chmod 0700 "$dir/munge-key" || return 1
  if ! mungekey --create --keyfile="$dir/munge-key/munge.key" 2>>"$dir/log/munged.log"; then
    dd if=/dev/urandom of="$dir/munge-key/munge.key" bs=1024 count=1 2>/dev/null || return 1
  fi
  chmod 0400 "$dir/munge-key/munge.key" || return 1
  sc_spawn "$dir" munged "$dir/log/munged.log" - munged --foreground --origin=127.0.0.1 \
    --socket="$dir/munge/munge.socket" --key-file="$dir/munge-key/munge.key" \
    --pid-file="$dir/munge/munged.pid" --seed-file="$dir/munge-key/munged.seed"
  deadline=$((SECONDS + 15))
  until [[ -S $dir/munge/munge.socket ]]; do
    if ! sc_daemon_not_dead "$dir" munged || ((SECONDS >= deadline)); then
      sc_log "munged did not come up"
      return 1
    fi
    sleep 0.05
  done
}

# Starts slurmctld and slurmd and waits until the node is idle. Returns 0 when up, 2 when a daemon died
# because its port was taken (caller retries with other ports), 1 on any other failure.
sc_start_slurm_daemons() {
  local dir=$1 timeout_s=$2 node deadline state="" name
  node=$(sc_node_name)
  sc_spawn "$dir" slurmctld "$dir/log/slurmctld.out" - slurmctld -D -f "$dir/slurm.conf"
  sc_spawn "$dir" slurmd "$dir/log/slurmd.out" - slurmd -D -f "$dir/slurm.conf" -N "$node"
  deadline=$((SECONDS + timeout_s))
  while :; do
    for name in slurmctld slurmd; do
      if ! sc_daemon_not_dead "$dir" "$name"; then
        if grep -qs 'Address already in use' "$dir/log/$name.out" "$dir/log/$name.log"; then return 2; fi
        sc_log "$name exited during start-up"
        return 1
      fi
    done
    state=$(sc_client "$dir" sinfo -h -N -n "$node" -o '%T' 2>/dev/null) || state=""
    [[ $state == idle ]] && return 0
    if ((SECONDS >= deadline)); then
      sc_log "node $node not idle after ${timeout_s} s (state: '${state:-no answer from slurmctld}')"
      sc_client "$dir" scontrol show node "$node" >&2 2>/dev/null || true
      return 1
    fi
    sleep 0.1
  done
}

# Starts a cluster in the existing, empty folder $1 (from sc_make_dir). On failure it prints the logs'
# tails, stops whatever it started and returns 1.
sc_start() {
  local dir=$1 timeout_s=${SLURM_CLUSTER_START_TIMEOUT:-60} attempt rc ports f
  sc_check_prerequisites || return 1
  if ! sc_start_munged "$dir"; then
    sc_tail_logs "$dir"
    sc_stop "$dir" || true
    return 1
  fi
  for attempt in 1 2 3; do
    ports=$(sc_pick_ports)
    # shellcheck disable=SC2086 # two words on purpose
    sc_write_conf "$dir" $ports || return 1
    rc=0
    sc_start_slurm_daemons "$dir" "$timeout_s" || rc=$?
    ((rc == 0)) && return 0
    if ((rc == 2 && attempt < 3)); then
      sc_log "port clash (attempt $attempt, ports $ports), retrying with other ports"
      sc_stop_daemon "$dir" slurmd 2 || true
      sc_stop_daemon "$dir" slurmctld 2 || true
      rm -rf "${dir:?}"/state/* "${dir:?}"/spool/*
      for f in "$dir"/log/slurm{ctld,d}.{log,out}; do
        if [[ -e $f ]]; then mv -f "$f" "$f.attempt$attempt"; fi
      done
      continue
    fi
    break
  done
  sc_log "the cluster in $dir did not come up"
  sc_tail_logs "$dir"
  sc_stop "$dir" || true
  return 1
}

# Cancels all jobs of cluster $1, waits until they are gone, stops its daemons. Idempotent. Returns 1 if
# something could not be stopped cleanly.
sc_stop() {
  local dir=$1 timeout_s=${SLURM_CLUSTER_STOP_TIMEOUT:-20} rc=0 jobs deadline left f steps=""
  if sc_daemon_alive "$dir" slurmctld; then
    jobs=$(sc_client "$dir" squeue -h -o '%A' 2>/dev/null | sort -u | tr '\n' ' ') || jobs=""
    if [[ -n ${jobs// /} ]]; then
      # shellcheck disable=SC2086 # a list of job ids
      sc_client "$dir" scancel $jobs 2>/dev/null || true
      deadline=$((SECONDS + timeout_s))
      while :; do
        left=$(sc_client "$dir" squeue -h -o '%i' 2>/dev/null) || left="?"
        [[ -z $left ]] && break
        if ((SECONDS >= deadline)); then
          sc_log "jobs still listed after cancelling them: $(printf '%s' "$left" | tr '\n' ' ')"
          rc=1
          break
        fi
        sleep 0.2
      done
    fi
  fi
  sc_stop_daemon "$dir" slurmd "$timeout_s" || rc=1
  sc_stop_daemon "$dir" slurmctld "$timeout_s" || rc=1
  sc_stop_daemon "$dir" munged "$timeout_s" || rc=1
  # slurmstepd removes its socket in the spool folder when it ends; one left means a step outlived us.
  for f in "$dir"/spool/*; do
    if [[ -S $f ]]; then steps+=" ${f##*/}"; fi
  done
  if [[ -n $steps ]]; then
    sc_log "warning: job step sockets left in $dir/spool (a slurmstepd may still run):$steps"
    rc=1
  fi
  return "$rc"
}

# Starts a watchdog for cluster $1: a process that gets SIGTERM from the kernel when this shell dies
# (even by SIGKILL) and then stops the cluster like sc_stop, jobs first. Call it directly from the shell
# that owns the cluster; that shell stops it with sc_stop_watchdog before stopping the cluster itself.
sc_start_watchdog() {
  local dir=$1
  mkfifo "$dir/run/watchdog.fifo" || return 1
  sc_spawn "$dir" watchdog "$dir/log/watchdog.log" pdeathsig bash "${BASH_SOURCE[0]}" watchdog "$dir/"
  sc_daemon_alive "$dir" watchdog
}

sc_stop_watchdog() {
  local dir=$1 pid
  pid=$(sc_pid_of "$dir" watchdog)
  [[ -n $pid ]] || return 0
  if sc_pid_is_ours "$pid" "$dir"; then kill -KILL "$pid" 2>/dev/null || true; fi
  wait "$pid" 2>/dev/null || true
  rm -f "$dir/pids/watchdog"
}

sc_watchdog() {
  SC_WATCHDOG_DIR=${1%/}
  trap sc_watchdog_fire TERM
  sc_log "watchdog for $SC_WATCHDOG_DIR running (pid $$)"
  read -r _ <>"$SC_WATCHDOG_DIR/run/watchdog.fifo" || true # blocks until a signal comes
}

# shellcheck disable=SC2317 # invoked by the trap
sc_watchdog_fire() {
  sc_log "watchdog: its shell died, stopping the cluster in $SC_WATCHDOG_DIR"
  sc_stop "$SC_WATCHDOG_DIR" || true
  sc_log "watchdog: done"
  exit 0
}

sc_status() {
  local dir=$1 name pid
  for name in munged slurmctld slurmd watchdog; do
    pid=$(sc_pid_of "$dir" "$name")
    if [[ $name == watchdog && -z $pid ]]; then continue; fi # only with with_slurm_cluster.sh
    if sc_daemon_alive "$dir" "$name"; then echo "$name: running, pid $pid"; else echo "$name: not running"; fi
  done
  if sc_daemon_alive "$dir" slurmctld; then sc_client "$dir" sinfo -N -l || true; fi
}

# ---- command line -----------------------------------------------------------------------------------

sc_main() {
  local cmd=${1:-} dir t0
  case $cmd in
    start)
      [[ $# == 2 ]] || { sc_log "usage: $0 start <parent-dir>"; return 64; }
      dir=$(sc_make_dir "$2") || return 1
      t0=$(sc_now_us)
      sc_start "$dir" || return 1
      sc_log "cluster up in $(sc_seconds_between "$t0" "$(sc_now_us)") s; use: export SLURM_CONF=$dir/slurm.conf"
      printf '%s\n' "$dir"
      ;;
    stop)
      [[ $# == 2 && -f $2/slurm.conf ]] || { sc_log "usage: $0 stop <cluster-dir>"; return 64; }
      dir=$(cd "$2" && pwd -P)
      t0=$(sc_now_us)
      sc_stop "$dir" || { sc_log "cluster in $dir not stopped cleanly"; return 1; }
      sc_log "cluster down in $(sc_seconds_between "$t0" "$(sc_now_us)") s"
      ;;
    watchdog) # internal, see sc_start_watchdog
      sc_watchdog "$2"
      ;;
    status)
      [[ $# == 2 && -f $2/slurm.conf ]] || { sc_log "usage: $0 status <cluster-dir>"; return 64; }
      sc_status "$(cd "$2" && pwd -P)"
      ;;
    *)
      sc_log "usage: $0 start <parent-dir> | stop <cluster-dir> | status <cluster-dir>"
      return 64
      ;;
  esac
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  set -euo pipefail
  sc_main "$@"
fi
