#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, AddressSanitizer + UndefinedBehaviorSanitizer) and runs each
# for a fixed time, two at a time, starting from the committed seed corpora (copied, so the repository
# is not modified). Fails on any crash, leak, timeout or sanitizer report, and prints where the input
# that caused it was saved.
#   scripts/fuzz.sh [seconds per target, default 30] [targets, default all]
set -uo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
targets=${2:-"idx cifar10 model_file checkpoint json flags"}
mkdir -p build
cmake --workflow --preset fuzz > build/fuzz-build.log 2>&1 || { cat build/fuzz-build.log; exit 1; }

work=build/fuzz/run
rm -rf "$work"
mkdir -p "$work"

run_target() {  # target
  local t=$1
  mkdir -p "$work/$t/corpus" "$work/$t/artifacts"
  cp tests/fuzz/corpus/"$t"/* "$work/$t/corpus/"
  build/fuzz/bin/fuzz_"$t" "$work/$t/corpus" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$work/$t/artifacts/" -print_final_stats=1 > "$work/$t/log" 2>&1
  echo $? > "$work/$t/status"
}

running=0
for t in $targets; do
  run_target "$t" &
  running=$((running + 1))
  if [ $running -ge 2 ]; then wait -n; running=$((running - 1)); fi
done
wait

failed=0
for t in $targets; do
  status=$(cat "$work/$t/status")
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work/$t/log" | grep -o '[0-9]*$')
  if [ "$status" -ne 0 ]; then
    failed=1
    echo "fuzz_$t: FAILED (status $status); input saved in $(ls "$work/$t/artifacts"/* 2>/dev/null | head -1)"
    grep -E "ERROR|SUMMARY|runtime error|Assertion" "$work/$t/log" | head -5
  else
    echo "fuzz_$t: ok, ${runs:-?} inputs in ${seconds} s"
  fi
done
exit $failed
