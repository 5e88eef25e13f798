#!/usr/bin/env bash
# Runs a command against a private one-node Slurm cluster that lives only as long as the command.
#
#   tests/slurm/with_slurm_cluster.sh <workdir> <command> [args...]
#
# Starts the cluster (tests/slurm/slurm_cluster.sh: own munged, free ports, files in a new
# <workdir>/slurm-cluster.XXXXXX), waits until its node is idle, then runs <command> in the current
# folder with these variables exported:
#   SLURM_CONF            the cluster's slurm.conf: sbatch, squeue, scontrol, scancel, sinfo use it
#   SLURM_CLUSTER_DIR     the cluster folder (logs in log/)
#   SLURM_CLUSTER_JOBCOMP one line per finished job (jobcomp/filetxt), sacct-like information
# and finally cancels all jobs and stops the daemons, whatever happened: normal end, failure, Ctrl-C,
# SIGTERM or SIGHUP (trap). If the wrapper itself is SIGKILLed, a watchdog process (which the kernel
# then sends SIGTERM, a parent-death signal) stops the cluster, and the command gets SIGTERM. Exit status: the command's; 128+n if the wrapper got signal n; 1 if the
# command succeeded but the cluster could not be stopped cleanly, or if the cluster never came up
# (then the daemons' log tails are printed). The cluster folder is kept for its logs.
# Start-up and shut-down times are printed on stderr. Must run as root.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=slurm_cluster.sh
source "$here/slurm_cluster.sh"

if (($# < 2)); then
  echo "usage: $0 <workdir> <command> [args...]" >&2
  exit 64
fi
workdir=$1
shift

cluster_dir=""
cmd_pid=""

# shellcheck disable=SC2317 # invoked by the traps
on_exit() {
  local rc=$? t0
  trap - EXIT INT TERM HUP
  if [[ -n $cmd_pid ]] && kill -0 "$cmd_pid" 2>/dev/null; then
    sc_log "stopping the command (pid $cmd_pid)"
    kill -TERM "$cmd_pid" 2>/dev/null || true
    wait "$cmd_pid" 2>/dev/null || true
  fi
  if [[ -n $cluster_dir ]]; then
    sc_stop_watchdog "$cluster_dir"
    t0=$(sc_now_us)
    if sc_stop "$cluster_dir"; then
      sc_log "cluster down in $(sc_seconds_between "$t0" "$(sc_now_us)") s"
    else
      sc_log "cluster in $cluster_dir not stopped cleanly"
      sc_tail_logs "$cluster_dir"
      if ((rc == 0)); then rc=1; fi
    fi
  fi
  exit "$rc"
}
# shellcheck disable=SC2317 # invoked by the traps
on_signal() {
  sc_log "got SIG$1"
  exit "$2" # runs on_exit
}
trap on_exit EXIT
trap 'on_signal INT 130' INT
trap 'on_signal TERM 143' TERM
trap 'on_signal HUP 129' HUP

cluster_dir=$(sc_make_dir "$workdir")
t0=$(sc_now_us)
if ! sc_start_watchdog "$cluster_dir"; then
  sc_log "could not start the watchdog (log: $cluster_dir/log/watchdog.log)"
  exit 1
fi
if ! sc_start "$cluster_dir"; then
  sc_log "could not start the cluster (logs in $cluster_dir/log)"
  exit 1
fi
sc_log "cluster up in $(sc_seconds_between "$t0" "$(sc_now_us)") s ($cluster_dir)"

export SLURM_CONF="$cluster_dir/slurm.conf"
export SLURM_CLUSTER_DIR="$cluster_dir"
export SLURM_CLUSTER_JOBCOMP="$cluster_dir/log/jobcomp.txt"

# The command runs in the background so that a signal to this shell is handled at once (bash runs traps
# only after a foreground command ends); its stdin is passed on explicitly (a background command's
# stdin would otherwise be /dev/null). It gets SIGTERM if this shell dies.
if [[ -e /proc/self/fd/0 ]]; then exec 3<&0; else exec 3</dev/null; fi # stdin may be closed
setpriv --pdeathsig TERM -- "$@" <&3 3<&- &
cmd_pid=$!
exec 3<&-
rc=0
wait "$cmd_pid" || rc=$?
cmd_pid=""
exit "$rc"
