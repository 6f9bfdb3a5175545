#!/usr/bin/env bash
# strict_kernels.sh — every kernel program the engine can build (engine/variants.c: each cl/ file
# and each -D variant, with common.cl in front as the engine builds it), at work-group sizes 256, 16
# and 1, through clang's OpenCL C 1.2 front end (-fsyntax-only: parsing and semantic checks, where
# every warning below comes from) with -Werror and a strict warning set, for two SPIR devices:
#   spir    32-bit size_t and no optional extension (no fp64: every double is an error)
#   spir64  64-bit size_t, clang's default extensions (fp64 on, so -Wdouble-promotion sees float
#           arithmetic promoted to double)
# Exits 77 (ctest SKIP_RETURN_CODE) when no clang is installed.
#
#   strict_kernels.sh KERNEL_SOURCES WORKDIR      (KERNEL_SOURCES: the tests/kernel_sources.c tool)
#
# The warning set, and why each family left out is left out:
#   -Wall -Wextra               unused variables/parameters, sign-compare, uninitialised values, ...
#   -Wdouble-promotion          float silently computed in double: slow or absent on many GPUs, and
#                               a different result on devices with and without fp64
#   -Wconversion                implicit narrowing: double->float, 64->32-bit (size_t on spir),
#                               int->float precision loss, int->char/short
#     -Wno-sign-conversion      left out: int indices meet size_t/ulong offsets all over the index
#                               math (157 sites today), non-negative by construction; casting each
#                               would bury the arithmetic, and the mixes that do go wrong
#                               (comparisons, ambiguous overloads) are caught by -Wsign-compare and
#                               by the overload errors themselves
#   -Wshadow                    a local hiding another local or a parameter
#   -Wundef                     an undefined macro in #if (a variant define misspelt reads as 0)
#   -Wcast-align -Wcast-qual    pointer casts that raise alignment or drop const (8-bit replay storage)
#   -Wincompatible-pointer-types  pointer-type mismatches (address-space mismatches are errors in
#                               OpenCL C regardless)
# Left out of -Weverything: -Wfloat-equal (exact comparisons are intended: flags, integer powers),
# -Wbad-function-cast ((int)floor(x) is the idiom), -Wcomma (a, b statements are a style choice),
# -Wunused-macros (common.cl and the variant defaults are not used by every program),
# -Wdeclaration-after-statement (OpenCL C is C99); -Wunused-function for a kernel compiled alone.
set -u
tool=${1:?usage: strict_kernels.sh KERNEL_SOURCES WORKDIR}
dir=${2:?usage: strict_kernels.sh KERNEL_SOURCES WORKDIR}

. "$(dirname "$0")/find_clang.sh"
find_clang strict_kernels "Debian: apt-get install clang; or set EBM_CLANG"
"$clang" --version | head -1

rm -rf "$dir"
mkdir -p "$dir/src" "$dir/fail"
"$tool" "$dir/src" 256 16 1 || exit 1

# __OPENCL_VERSION__ is the device's OpenCL version, defined by every driver but not by clang itself.
common=(-x cl -cl-std=CL1.2 -D__OPENCL_VERSION__=120 -Xclang -finclude-default-header -fsyntax-only
        -Werror -Wall -Wextra -Wdouble-promotion -Wconversion -Wno-sign-conversion -Wshadow -Wundef -Wcast-align
        -Wcast-qual -Wincompatible-pointer-types)
export clang dir
export common_flags="${common[*]}"

# one job: "N<TAB>target<TAB>file<TAB>options"; a failure leaves its diagnostics in $dir/fail/N
compile() {
  local n target file opts ext=()
  IFS=$'\t' read -r n target file opts <<<"$1"
  [ "$target" = spir ] && ext=(-Xclang -cl-ext=-all)
  # a kernel alone (-DONE_KERNEL, tests/kernel_sources.c) leaves the file's helpers for the other
  # kernels unused; the whole file's compile checks that every helper is used
  case $opts in *-DONE_KERNEL*) ext+=(-Wno-unused-function) ;; esac
  # shellcheck disable=SC2086  # the option strings are word lists
  if ! out=$("$clang" $common_flags -target "$target" "${ext[@]}" $opts "$dir/src/$file" 2>&1) || [ -n "$out" ]; then
    printf '%s %s %s\n%s\n' "$target" "$file" "$opts" "$out" >"$dir/fail/$n"
  fi
}
export -f compile

start=$(date +%s)
jobs=$(nproc 2>/dev/null || echo 2)
while IFS=$'\t' read -r file opts; do
  for target in spir spir64; do printf '%s\t%s\t%s\n' "$target" "$file" "$opts"; done
done <"$dir/src/variants.txt" | nl -ba -w1 -s$'\t' | xargs -d '\n' -n 1 -P "$jobs" bash -c 'compile "$1"' _
total=$(($(wc -l <"$dir/src/variants.txt") * 2))
failed=$(find "$dir/fail" -type f | wc -l)
for n in $(ls "$dir/fail" | sort -n | head -20); do   # the first 20 failures in list order
  echo "---- $(head -1 "$dir/fail/$n")"
  tail -n +2 "$dir/fail/$n"
done
echo "strict_kernels: $((total - failed)) of $total compiles clean ($(($(date +%s) - start)) s)"

[ "$failed" -eq 0 ]
