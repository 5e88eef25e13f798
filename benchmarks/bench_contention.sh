#!/usr/bin/env bash
# Training speed while another process keeps one core busy (issue: "no collapse under contention").
#
#   benchmarks/bench_contention.sh [BUILD_DIR] [bench_training flags other than --threads, --fixed-threads...]
#
# Starts a busy loop in a session of its own (as another user's program would be: the kernel's
# autogroup scheduling then gives it a core's worth of time), and measures, side by side:
# 1 thread, 2 threads with the Trainer's thread governor (the default), and 2 threads fixed
# (--fixed-threads). Default: M and L on 10,000 training images, the CNN on 5,000.
set -euo pipefail
build=build/release
if (($# > 0)) && [[ $1 != -* ]]; then
  build=$1
  shift
fi
bench="$build/bin/bench_training"
[[ -x $bench ]] || { echo "bench_contention: $bench not found (cmake --workflow --preset release)" >&2; exit 2; }
for flag in "$@"; do
  case $flag in
    --threads|--threads=*|--fixed-threads|--fixed-threads=*)
      # this script's runs set them: one of the user's would silently replace them
      echo "bench_contention: $flag: the thread counts are this script's (1 and 2, governed and fixed)" >&2
      exit 2 ;;
  esac
done

setsid bash -c 'while :; do :; done' &
hog=$!
trap 'kill $hog 2>/dev/null || true' EXIT
sleep 1
echo "busy loop running (pid $hog); load: $(cut -d' ' -f1-3 /proc/loadavg)"

run() {
  echo "== $*"
  "$bench" "$@" | grep -v '^$'
}
if (($# > 0)); then
  run --threads 1,2 "$@"
  run --threads 2 --fixed-threads "$@"
else
  run --models M,L --threads 1,2 --epochs 4 --train-limit 10000
  run --models M,L --threads 2 --epochs 4 --train-limit 10000 --fixed-threads
  run --models CNN --threads 1,2 --epochs 3 --train-limit 5000
  run --models CNN --threads 2 --epochs 3 --train-limit 5000 --fixed-threads
fi
