#!/usr/bin/env bash
# clang-tidy (checks in .clang-tidy) on the library's headers, through tests/tidy/tidy_all.cpp, which
# instantiates every template, and the compile commands of the ci preset. Fails on any finding.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f build/ci/compile_commands.json ] || cmake --preset ci > /dev/null
clang-tidy -p build/ci --extra-arg=-std=c++17 --quiet tests/tidy/tidy_all.cpp
echo "clang-tidy: no findings in include/mlp and app/include/mlp_app"
