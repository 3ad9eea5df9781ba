#!/usr/bin/env bash
# Installs dependencies, builds Encore with warnings as errors, and runs the whole test suite
# (unit, component, gRPC and end-to-end) with CTest. Set ENCORE_SANITIZERS=1 to also run the
# unit and component tests under ASan+UBSan.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
JOBS=$(nproc)
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DENCORE_WERROR=ON > /dev/null
cmake --build build -j "$JOBS"
ctest --test-dir build --output-on-failure -j "$JOBS"
if [ "${ENCORE_SANITIZERS:-0}" = "1" ]; then
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DENCORE_SANITIZE="address;undefined" -DENCORE_WERROR=ON > /dev/null
  cmake --build build-asan -j "$JOBS"
  ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=suppressions="$PWD/tests/lsan.supp" \
    UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    ctest --test-dir build-asan --output-on-failure -j "$JOBS" -E e2e_cli
fi
