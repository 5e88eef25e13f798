#!/usr/bin/env bash
# ctest study_slurm: the quick study with two seeds as a Slurm job array on a private one-node cluster
# (tests/slurm/with_slurm_cluster.sh), then the report job that waits for the array. Checks that every
# array task and the report job completed, and what report.md says (cells, means, intervals). Then
# removes one finished cell and submits again: only that cell must run.
#
#   tests/study/slurm_study.sh <fashion_mnist_experiments> <workdir> [extra study flags...]
#
# Exit status 77 (ctest SKIP_RETURN_CODE) when not root or when Slurm (slurm-wlm) or munge is not
# installed. Every wait is bounded (STUDY_SLURM_TIMEOUT seconds per wait, default 150).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
note() { printf 'study on slurm: %s\n' "$*"; }
fail() {
  printf 'study on slurm: FAILED: %s\n' "$*" >&2
  exit 1
}

# ---- outside: skip or start the cluster --------------------------------------------------------------
if [[ ${1:-} != --inside ]]; then
  (($# >= 2)) || { echo "usage: $0 <fashion_mnist_experiments> <workdir> [flags...]" >&2; exit 64; }
  if [[ $(id -u) != 0 ]]; then
    note "skipped: the private Slurm cluster needs root"
    exit 77
  fi
  for tool in sbatch squeue scontrol slurmctld slurmd munged mungekey; do
    if ! PATH=$PATH:/usr/sbin:/sbin command -v "$tool" >/dev/null; then
      note "skipped: $tool is not installed (apt-get install slurm-wlm munge)"
      exit 77
    fi
  done
  program=$1 workdir=$2
  shift 2
  rm -rf "$workdir"
  mkdir -p "$workdir"
  chmod 0755 "$workdir"
  workdir=$(cd "$workdir" && pwd -P)
  start=$SECONDS
  rc=0
  "$here/../slurm/with_slurm_cluster.sh" "$workdir" bash "$here/slurm_study.sh" --inside "$program" "$workdir" "$@" || rc=$?
  ((rc == 0)) || fail "exit status $rc (cluster logs and the study in $workdir)"
  note "took $((SECONDS - start)) s in all (cluster up and down included)"
  note "all checks passed"
  exit 0
fi

# ---- inside: SLURM_CONF points at the private cluster -------------------------------------------------
program=$2 workdir=$3
shift 3
# A space, a single quote and a '%' in the path: sbatch splits #SBATCH lines at spaces and expands
# %u, %j, ... in file names, so the scripts have to quote and escape them (a log path with %u once
# named a folder that did not exist: the tasks failed without a log).
out="$workdir/runs of 'slurm' 100%u"
timeout_s=${STUDY_SLURM_TIMEOUT:-150}
[[ -n ${SLURM_CONF:-} ]] || fail "SLURM_CONF is not set (run this through with_slurm_cluster.sh)"

# Submits the study; prints "<array id> <report id>" (array id "-" when no cell was left to run).
submit() {
  local log=$1 array report
  "$program" --quick --seeds 2 --slurm --submit --out "$out" "${@:2}" >"$log" 2>&1 || fail "submitting failed: $(tail -3 "$log")"
  array=$(sed -n 's/^array job: \([0-9]*\) .*/\1/p' "$log")
  report=$(sed -n 's/^report job: \([0-9]*\) .*/\1/p' "$log")
  [[ -n $report ]] || fail "no report job id in $log: $(tail -3 "$log")"
  printf '%s %s\n' "${array:--}" "$report"
}

# Waits until none of the jobs (comma-separated ids) is pending, running or completing.
wait_gone() {
  local deadline=$((SECONDS + timeout_s)) left
  while :; do
    if left=$(squeue -h -j "$1" -o '%i %T %r' 2>&1) && [[ -z $left ]]; then return 0; fi
    ((SECONDS < deadline)) || fail "jobs $1 not finished after ${timeout_s} s: $(printf '%s' "$left" | tr '\n' ';')"
    sleep 0.5
  done
}

# "<JobState>" of every record of job $1 (each array task), one per line.
states() { scontrol show job -o "$1" | sed -n 's/.* JobState=\([A-Z_]*\) .*/\1/p'; }

expect_completed() { # job id, number of records, label
  local got bad
  got=$(states "$1")
  bad=$(grep -vc '^COMPLETED$' <<<"$got" || true)
  [[ $(wc -l <<<"$got") -eq $2 && $bad -eq 0 ]] ||
    fail "$3 $1: expected $2 COMPLETED records, scontrol shows: $(tr '\n' ' ' <<<"$got") (logs in $out/slurm/logs)"
}

# ---- 1. the whole quick study ------------------------------------------------------------------------
t1=$SECONDS
read -r array report < <(submit "$workdir/submit-1.log" "$@")
[[ $array != - ]] || fail "the first submission ran no array"
tasks=$(sed -n 's/^array job: [0-9]* (\([0-9]*\) tasks.*/\1/p' "$workdir/submit-1.log")
note "submitted array job $array ($tasks tasks) and report job $report"
wait_gone "$array,$report"
expect_completed "$array" "$tasks" "array job"
expect_completed "$report" 1 "report job"
note "1. array and report job completed in $((SECONDS - t1)) s"

r=$out/report.md
[[ -f $r ]] || fail "no $r"
check() { grep -Eq -- "$1" "$r" || fail "report.md does not match: $1"; }
if [[ $# -eq 0 ]]; then
  check '^All 28 cells \(experiment x seed\) are finished\.$'
  for id in baseline early_stopping arch_small arch_large l1 l2 dropout cosine_lr batchnorm sgd sgd_momentum best mlp_matched cnn; do
    check "^\| \`$id\` \| 42 \| [0-9.]+% \|"
    check "^\| \`$id\` \| 43 \| [0-9.]+% \|"
    check "^\| \`$id\` \| [^|]* \| 2 \| [0-9.]+% ± [0-9.]+ pp \([0-9.]+-[0-9.]+%\) \|"
  done
  check '^\| `cnn` vs `mlp_matched` \| 2 \| [-+][0-9.]+ pp \[[-+][0-9.]+, [-+][0-9.]+\] \| (better|worse|no difference detectable with 2 seeds) \|'
fi
check '^\| `l2` \| 2 \| [-+][0-9.]+ pp \[[-+][0-9.]+, [-+][0-9.]+\] \| (better|worse|no difference detectable with 2 seeds) \|'
check "95% confidence interval \(Student's t, 1 degree of freedom\)"
note "   report.md: every cell, the means over seeds, the paired intervals and verdicts"

# ---- 2. one cell lost: a new submission runs only that one ---------------------------------------------
t2=$SECONDS
rm -rf "$out/l2/seed-43"
read -r array report < <(submit "$workdir/submit-2.log" "$@")
grep -Eq '\(1 of the [0-9]* (selected )?cells to run' "$workdir/submit-2.log" || fail "resubmission: $(head -1 "$workdir/submit-2.log")"
wait_gone "$array,$report"
expect_completed "$array" 1 "array job"
expect_completed "$report" 1 "report job"
[[ -f $out/l2/seed-43/summary.json ]] || fail "the resubmitted array did not train l2/seed-43"
note "2. resubmitted: only l2/seed-43 ran, and the report was written again ($((SECONDS - t2)) s)"
