#!/usr/bin/env bash
# Crash safety of the `train` program (issue 6):
#   1. SIGKILL at 20 random moments, and at the worst moment of 6 different writes (after the
#      temporary file is written, before the rename; a fault-injection build of train does that):
#      after every kill, each best.mlp and checkpoint that exists is complete and loadable, and no
#      temporary file is left once training continues;
#   2. `train --resume` then finishes the run with exactly the same best model as a run never
#      interrupted (byte-identical best.mlp, identical test results);
#   3. SIGINT (also twice in a row): exit status 130, a checkpoint, a resume hint, and again the
#      same final model;
#   4. a file-size limit (standing in for a full disk) and an unwritable output folder: a clear
#      error naming the path, exit status 2, the previous best model intact, no temporaries left;
#   5. a fresh run in a folder with another run's files never leaves that run's model as its own.
# Usage: crash_safety.sh <bin dir> <work dir> [kills]
set -uo pipefail
bin=$1
work=$2
kills=${3:-20}
# (a flag given twice is refused: the runs that need another --epochs or --threads take base)
base=(--hidden 64 --batch-norm --dropout 0.2 --train-limit 6000 --batch-size 64 --seed 7 --quiet)
flags=("${base[@]}" --epochs 12 --threads 1)
fail() { echo "FAIL: $*"; exit 1; }
check_files() {  # dir context
  local files=()
  for f in "$1/best.mlp" "$1/checkpoint.mlpckpt"; do [ -f "$f" ] && files+=("$f"); done
  [ ${#files[@]} -eq 0 ] && return 0
  "$bin/check_file" "${files[@]}" > "$work/check.log" || fail "$2: $(grep BAD "$work/check.log")"
}
same_result() {  # dir
  cmp -s "$work/reference/best.mlp" "$1/best.mlp" || fail "$1/best.mlp differs from the uninterrupted run's"
  local a b
  a=$(grep -A3 '"best": {' "$work/reference/summary.json")
  b=$(grep -A3 '"best": {' "$1/summary.json")
  [ "$a" = "$b" ] || fail "$1/summary.json has other test results than the uninterrupted run"
  if ls "$1"/*.tmp.* > /dev/null 2>&1; then fail "temporary files left in $1: $(ls "$1"/*.tmp.*)"; fi
}

rm -rf "$work"
mkdir -p "$work"
started=$(date +%s%N)
"$bin/train" "${flags[@]}" --out "$work/reference" > /dev/null || fail "the reference run failed"
run_ms=$((($(date +%s%N) - started) / 1000000))
echo "reference run done in $run_ms ms"

# 1 + 2: random kills, then finish. A kill that comes after the run already finished does not
# count: that run's result is compared with the reference and the next kills go to a fresh run.
RANDOM=12345
# The kill times are spread over the length of a whole run on this machine.
landed=0
finished=0
attempts=0
while ((landed < kills)); do
  attempts=$((attempts + 1))
  ((attempts <= 20 * kills)) || fail "only $landed of $attempts kills landed in a live process"
  "$bin/train" "${flags[@]}" --out "$work/killed" --resume > /dev/null 2>&1 &
  pid=$!
  delay_ms=$((RANDOM * 32768 + RANDOM))
  delay_ms=$((delay_ms % (run_ms + 1)))
  sleep "$((delay_ms / 1000)).$(printf '%03d' $((delay_ms % 1000)))"
  kill -KILL "$pid" 2> /dev/null
  wait "$pid" 2> /dev/null
  status=$?
  if [ $status -eq 137 ]; then
    landed=$((landed + 1))
    check_files "$work/killed" "after random kill $landed"
  else
    [ $status -eq 0 ] || fail "a run between kills failed with status $status"
    same_result "$work/killed"
    finished=$((finished + 1))
    rm -rf "$work/killed"
  fi
done
"$bin/train" "${flags[@]}" --out "$work/killed" --resume > /dev/null || fail "resume after random kills failed"
same_result "$work/killed"
finished=$((finished + 1))
echo "$kills random kills ($attempts tries): every file complete after each; $finished runs resumed to the end, each identical to the reference"

# Kills in the middle of atomic writes (fault injection), each in a fresh run, at its n-th write. In
# a fresh run write 1 is metrics.csv and write 2 the TensorBoard file (at the start), write 3 best.mlp,
# 4 metrics.csv and 5 the checkpoint (after epoch 1), 6 to 8 the same after epoch 2.
for n in 1 2 3 5 6 8; do
  MLP_KILL_AT_WRITE=$n "$bin/train_with_faults" "${flags[@]}" --out "$work/faults-$n" > /dev/null 2>&1
  status=$?
  [ $status -eq 137 ] || fail "fault injection at write $n: exit status $status, expected 137 (killed)"
  check_files "$work/faults-$n" "after a kill during write $n"
  ls "$work/faults-$n"/*.tmp.* > /dev/null 2>&1 || fail "write $n: expected the killed write's temporary file"
  "$bin/train" "${flags[@]}" --out "$work/faults-$n" --resume > /dev/null || fail "resume after write kill $n failed"
  same_result "$work/faults-$n"
done
echo "kills during 6 different writes (csv, events, best model, checkpoint): files complete, temporaries removed on resume, same final model"

# 3: SIGINT. First Ctrl-C from outside, in a run far longer than the wait (so the signal always
# lands mid-training): exit 130, a loadable checkpoint, the hint.
"$bin/train" "${base[@]}" --epochs 100000 --threads 1 --out "$work/ctrl-c" > "$work/ctrl-c.log" 2>&1 &
pid=$!
for ((t = 0; t < 500; t++)); do
  [ "$(cat "$work/ctrl-c/metrics.csv" 2> /dev/null | wc -l)" -ge 3 ] && break
  sleep 0.02
done
kill -INT "$pid"
kill -INT "$pid" 2> /dev/null || true  # a second one (timeout -s INT sends two) must not cut the save short
wait "$pid"
status=$?
[ $status -eq 130 ] || fail "SIGINT: exit status $status, expected 130"
grep -q "continue with the same command and --resume" "$work/ctrl-c.log" || fail "SIGINT: no resume hint"
[ -f "$work/ctrl-c/checkpoint.mlpckpt" ] || fail "SIGINT: no checkpoint"
check_files "$work/ctrl-c" "after SIGINT"
# Then SIGINT at fixed points (raised by the fault-injection build in the middle of write n, the
# handler's worst case): the write completes, the run stops with 130, and --resume ends with the
# reference model.
for n in 3 5; do
  MLP_INTERRUPT_AT_WRITE=$n "$bin/train_with_faults" "${flags[@]}" --out "$work/sigint-$n" > "$work/sigint-$n.log" 2>&1
  status=$?
  [ $status -eq 130 ] || fail "SIGINT during write $n: exit status $status, expected 130"
  grep -q "continue with the same command and --resume" "$work/sigint-$n.log" || fail "SIGINT during write $n: no resume hint"
  check_files "$work/sigint-$n" "after SIGINT during write $n"
  if ls "$work/sigint-$n"/*.tmp.* > /dev/null 2>&1; then fail "SIGINT during write $n: temporary files left"; fi
  # The second resumes on 2 threads (the last --threads given counts): the thread count changes no
  # bit, so it is the same run.
  threads=1
  [ $n -eq 5 ] && threads=2
  "$bin/train" "${base[@]}" --epochs 12 --threads $threads --out "$work/sigint-$n" --resume > /dev/null ||
    fail "resume after SIGINT $n failed"
  same_result "$work/sigint-$n"
done
echo "SIGINT: exit 130 with a checkpoint and a hint; resumed runs identical to the reference (one on 2 threads)"

# 4: a full disk (file size limit: writes fail with EFBIG) and an unwritable folder.
# (The interrupted run of part 3 is resumed: a model file is larger than the limit.)
cp -r "$work/ctrl-c" "$work/full"
before=$(md5sum < "$work/full/best.mlp")
(trap '' XFSZ; ulimit -f 100; exec "$bin/train" "${base[@]}" --epochs 100000 --threads 1 --resume --out "$work/full") > /dev/null 2> "$work/full.err"
status=$?
[ $status -eq 2 ] || fail "full disk: exit status $status, expected 2 ($(cat "$work/full.err"))"
grep -q "^train: error: cannot write '$work/full/.*': File too large$" "$work/full.err" || fail "full disk: message was: $(cat "$work/full.err")"
[ "$(md5sum < "$work/full/best.mlp")" = "$before" ] || fail "full disk: the previous best.mlp changed"
if ls "$work/full"/*.tmp.* > /dev/null 2>&1; then fail "full disk: temporary files left"; fi
check_files "$work/full" "after the full disk"
touch "$work/a-file"
"$bin/train" "${flags[@]}" --out "$work/a-file/run" > /dev/null 2> "$work/unwritable.err"
status=$?
[ $status -eq 2 ] || fail "unwritable folder: exit status $status"
grep -q "cannot create folder '$work/a-file/run'" "$work/unwritable.err" || fail "unwritable folder: $(cat "$work/unwritable.err")"
echo "full disk and unwritable folder: clear errors naming the path, exit 2, nothing corrupted"

# 5: a fresh run that diverges in its first epoch, in a folder holding another run's files: no best
# model, checkpoint or summary of the other run is left to pass for this run's.
cp -r "$work/reference" "$work/stale"
cp "$work/reference/best.mlp" "$work/stale/checkpoint.mlpckpt"
"$bin/train" "${flags[@]}" --optimizer sgd --lr 1000 --out "$work/stale" > /dev/null 2>&1
status=$?
[ $status -eq 1 ] || fail "diverging run: exit status $status, expected 1"
for f in best.mlp checkpoint.mlpckpt; do
  [ -e "$work/stale/$f" ] && fail "the diverged run left the earlier run's $f"
done
grep -q '"diverged": true' "$work/stale/summary.json" || fail "the diverged run's summary.json does not say so"
echo "a fresh run in a used folder: the earlier run's model, checkpoint and summary are gone"
echo "crash safety: all checks passed"
