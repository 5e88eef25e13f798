#!/usr/bin/env bash
# Smoke test of the Slurm test harness: a private one-node cluster (with_slurm_cluster.sh) runs
#  1. a job array of 3 tasks, each writing a file named by SLURM_ARRAY_TASK_ID into a shared folder, and
#     a job with --dependency=afterok:<array> that concatenates them; checks the files and job states;
#  2. the same with task 1 failing (exit 3), and two afterok jobs on that array:
#     - with --kill-on-invalid-dep=yes: Slurm 22.05 cancels it (JobState=CANCELLED,
#       Reason=DependencyNeverSatisfied) as soon as the dependency can never be met; it never runs;
#     - with --kill-on-invalid-dep=no (the default unless SchedulerParameters has kill_invalid_depend):
#       it stays PENDING with Reason=DependencyNeverSatisfied forever (anything waiting for it, e.g.
#       `sbatch --wait`, would hang); the test checks that state, then cancels it.
# Every wait is bounded (SLURM_SMOKE_TIMEOUT seconds, default 120).
#
# Usage (as root): tests/slurm/smoke_test.sh [workdir]
#   workdir: where the cluster folder and the shared job folders go (default: a new ${TMPDIR:-/tmp}/slurm-smoke.XXXXXX).
# Prints "slurm smoke test: all checks passed" on success; exits non-zero with a message otherwise.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

now_us() { local t=${EPOCHREALTIME//[!0-9]/}; printf '%s\n' "$((10#$t))"; }
secs_since() { local d=$(($(now_us) - $1)); printf '%d.%02d' "$((d / 1000000))" "$((d % 1000000 / 10000))"; }
note() { printf 'slurm smoke test: %s\n' "$*"; }
fail() {
  printf 'slurm smoke test: FAILED: %s\n' "$*" >&2
  exit 1
}

# ---- outside: start the cluster and run the checks inside it ----------------------------------------
if [[ ${1:-} != --inside ]]; then
  workdir=${1:-}
  if [[ -z $workdir ]]; then
    workdir=$(mktemp -d "${TMPDIR:-/tmp}/slurm-smoke.XXXXXX")
    chmod 0755 "$workdir" # munged wants its socket reachable by all users
  fi
  mkdir -p "$workdir"
  workdir=$(cd "$workdir" && pwd -P)
  t0=$(now_us)
  rc=0
  "$here/with_slurm_cluster.sh" "$workdir" "$here/smoke_test.sh" --inside "$workdir" || rc=$?
  if ((rc != 0)); then
    printf 'slurm smoke test: FAILED (exit status %d; cluster logs and job files in %s)\n' "$rc" "$workdir" >&2
    exit "$rc"
  fi
  note "whole test (cluster up, checks, cluster down) took $(secs_since "$t0") s; files in $workdir"
  note "all checks passed"
  exit 0
fi

# ---- inside: SLURM_CONF points at the private cluster -----------------------------------------------
workdir=$2
timeout_s=${SLURM_SMOKE_TIMEOUT:-120}
[[ -n ${SLURM_CONF:-} ]] || fail "SLURM_CONF is not set (run this through with_slurm_cluster.sh)"

bin=$(mktemp -d "$workdir/jobs.XXXXXX")
chmod 0755 "$bin"
cat >"$bin/task.sh" <<'EOF'
#!/bin/bash
# Array task: writes <out>/<task id>; exits 3 if its id is <fail_id>.
set -euo pipefail
out=$1 fail_id=${2:-none}
[[ -n ${SLURM_ARRAY_TASK_ID:-} ]] || { echo "SLURM_ARRAY_TASK_ID not set" >&2; exit 2; }
printf 'task %s of array %s\n' "$SLURM_ARRAY_TASK_ID" "$SLURM_ARRAY_JOB_ID" >"$out/.$SLURM_ARRAY_TASK_ID"
mv "$out/.$SLURM_ARRAY_TASK_ID" "$out/$SLURM_ARRAY_TASK_ID"
if [[ $SLURM_ARRAY_TASK_ID == "$fail_id" ]]; then exit 3; fi
EOF
cat >"$bin/concat.sh" <<'EOF'
#!/bin/bash
# Final job: concatenates <out>/0, <out>/1, ... (numeric order) into <result>.
set -euo pipefail
out=$1 result=$2
find "$out" -maxdepth 1 -name '[0-9]*' -printf '%f\n' | sort -n | while read -r f; do cat "$out/$f"; done >"$result.tmp"
mv "$result.tmp" "$result"
EOF
chmod 0755 "$bin/task.sh" "$bin/concat.sh"

# sbatch --parsable prints "<id>" or "<id>;<cluster>".
submit() {
  local out
  out=$(sbatch --parsable "$@") || fail "sbatch $* failed"
  [[ ${out%%;*} =~ ^[0-9]+$ ]] || fail "sbatch $* printed '$out', not a job id"
  printf '%s\n' "${out%%;*}"
}

# Prints "<array task id or -> <JobState> <Reason> <ExitCode>" for each record of job $1 (all tasks of
# an array), from slurmctld's memory (finished jobs stay there for MinJobAge = 300 s).
job_records() {
  local line task state reason code
  scontrol show job -o "$1" 2>/dev/null | while read -r line; do
    task=- state='?' reason='?' code='?'
    [[ $line =~ (^| )ArrayTaskId=([^ ]*) ]] && task=${BASH_REMATCH[2]}
    [[ $line =~ (^| )JobState=([^ ]*) ]] && state=${BASH_REMATCH[2]}
    [[ $line =~ (^| )Reason=([^ ]*) ]] && reason=${BASH_REMATCH[2]}
    [[ $line =~ (^| )ExitCode=([^ ]*) ]] && code=${BASH_REMATCH[2]}
    printf '%s %s %s %s\n' "$task" "$state" "$reason" "$code"
  done | sort -n
}

# Waits until none of the jobs $1 (comma-separated ids) is pending, running or completing.
wait_gone() {
  local ids=$1 what=$2 deadline=$((SECONDS + timeout_s)) left
  while :; do
    if left=$(squeue -h -j "$ids" -o '%i %T %r' 2>&1) && [[ -z $left ]]; then return 0; fi
    if ((SECONDS >= deadline)); then
      squeue -j "$ids" -l >&2 || true
      fail "$what not finished after ${timeout_s} s (squeue: $(printf '%s' "$left" | tr '\n' ';'))"
    fi
    sleep 0.2
  done
}

expect_records() { # job id, expected job_records output, label
  local got
  got=$(job_records "$1")
  [[ $got == "$2" ]] || fail "$3: expected job records
$2
but scontrol shows
$got"
}

# ---- 1. array of 3 tasks, then an afterok job that concatenates their files ---------------------------
t1=$(now_us)
out1=$(mktemp -d "$workdir/shared-ok.XXXXXX")
chmod 0755 "$out1"
array1=$(submit --array=0-2 --job-name=smoke-array --output="$out1/slurm-%A_%a.out" "$bin/task.sh" "$out1")
final1=$(submit --dependency="afterok:$array1" --kill-on-invalid-dep=yes --job-name=smoke-concat \
  --output="$out1/slurm-%j.out" "$bin/concat.sh" "$out1" "$out1/all")
note "submitted array job $array1 and afterok job $final1"
wait_gone "$array1,$final1" "array job $array1 and its afterok job $final1"

expected=""
for i in 0 1 2; do
  [[ -f $out1/$i ]] || fail "array task $i wrote no $out1/$i"
  line="task $i of array $array1"
  [[ $(<"$out1/$i") == "$line" ]] || fail "$out1/$i holds '$(<"$out1/$i")', expected '$line'"
  expected+="$line"$'\n'
done
[[ -f $out1/all ]] || fail "the afterok job $final1 wrote no $out1/all"
[[ "$(<"$out1/all")"$'\n' == "$expected" ]] || fail "$out1/all holds '$(<"$out1/all")', expected '$expected'"
expect_records "$array1" "0 COMPLETED None 0:0
1 COMPLETED None 0:0
2 COMPLETED None 0:0" "array job $array1"
expect_records "$final1" "- COMPLETED None 0:0" "afterok job $final1"
# jobcomp/filetxt: one line per finished job, written when the job ends.
n=$(grep -c "ArrayJobId=$array1 .*JobState=COMPLETED\|JobState=COMPLETED.* ArrayJobId=$array1 " \
  "$SLURM_CLUSTER_JOBCOMP" || true)
((n == 3)) || fail "expected 3 COMPLETED records of array $array1 in $SLURM_CLUSTER_JOBCOMP, found $n"
note "1. array + afterok: files and states correct ($(secs_since "$t1") s)"

# ---- 2. task 1 fails: afterok jobs must never run -----------------------------------------------------
t2=$(now_us)
out2=$(mktemp -d "$workdir/shared-fail.XXXXXX")
chmod 0755 "$out2"
array2=$(submit --array=0-2 --job-name=smoke-array-fail --output="$out2/slurm-%A_%a.out" "$bin/task.sh" "$out2" 1)
killed=$(submit --dependency="afterok:$array2" --kill-on-invalid-dep=yes --job-name=smoke-dep-kill \
  --output="$out2/slurm-%j.out" "$bin/concat.sh" "$out2" "$out2/all-kill")
kept=$(submit --dependency="afterok:$array2" --kill-on-invalid-dep=no --job-name=smoke-dep-keep \
  --output="$out2/slurm-%j.out" "$bin/concat.sh" "$out2" "$out2/all-keep")
note "submitted array job $array2 (task 1 fails), afterok jobs $killed (--kill-on-invalid-dep=yes)" \
  "and $kept (--kill-on-invalid-dep=no)"
wait_gone "$array2,$killed" "array job $array2 and the afterok job $killed"
expect_records "$array2" "0 COMPLETED None 0:0
1 FAILED NonZeroExitCode 3:0
2 COMPLETED None 0:0" "array job $array2"
expect_records "$killed" "- CANCELLED DependencyNeverSatisfied 0:0" "afterok job $killed (--kill-on-invalid-dep=yes)"
[[ ! -e $out2/all-kill ]] || fail "afterok job $killed ran although array task 1 failed"
note "   --kill-on-invalid-dep=yes: job $killed CANCELLED, Reason=DependencyNeverSatisfied, never ran"

deadline=$((SECONDS + timeout_s))
until [[ $(job_records "$kept") == "- PENDING DependencyNeverSatisfied 0:0" ]]; do
  ((SECONDS < deadline)) || fail "job $kept: expected PENDING DependencyNeverSatisfied, scontrol shows '$(job_records "$kept")'"
  sleep 0.2
done
note "   --kill-on-invalid-dep=no: job $kept stays PENDING, Reason=DependencyNeverSatisfied; cancelling it"
scancel "$kept" || fail "scancel $kept failed"
wait_gone "$kept" "the cancelled job $kept"
[[ $(job_records "$kept") == "- CANCELLED"* ]] || fail "job $kept not CANCELLED: '$(job_records "$kept")'"
[[ ! -e $out2/all-keep ]] || fail "afterok job $kept ran although array task 1 failed"
note "2. failed task: afterok jobs never ran ($(secs_since "$t2") s)"
