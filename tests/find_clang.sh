# find_clang.sh — sourced by the tests that need clang (strict_kernels.sh, fuzz/run_fuzz.sh):
# find_clang WHO HINT sets $clang to EBM_CLANG or the first clang on PATH (newest versioned names
# too), or prints "WHO: SKIPPED, no clang found (HINT)" and exits 77, ctest's skip.
find_clang() {
  clang=${EBM_CLANG:-}
  if [ -z "$clang" ]; then
    for c in clang clang-20 clang-19 clang-18 clang-17 clang-16 clang-15 clang-14; do
      if command -v "$c" >/dev/null 2>&1; then
        clang=$(command -v "$c")
        break
      fi
    done
  fi
  if [ -z "$clang" ]; then
    echo "$1: SKIPPED, no clang found ($2)"
    exit 77
  fi
}
