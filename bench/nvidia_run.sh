#!/usr/bin/env bash
# Builds and runs the test suite and the benchmarks on a GPU machine that has NVIDIA's OpenCL driver
# (/usr/lib/libnvidia-opencl.so.1, installed but not registered with the ICD loader, as on CUDA images),
# gcc and cmake, but neither the project's libraries nor a package registry (e.g. Ubuntu 24.04 with
# CUDA; the Debian 12 packages below run there).
#
#   bench/nvidia_run.sh --fetch-debs   # on a machine with apt, once: download the libraries into
#                                      # .debs/ (git-ignored) in this checkout
#   bash bench/nvidia_run.sh [ctest] [compare] [stacked] [bench]   # on the GPU machine, in a copy of
#                                      # the checkout with .debs (and .data/fashion-mnist for
#                                      # Fashion-MNIST): logs and CSVs go to $OUT (default
#                                      # results-nvidia/); no argument: ctest, compare and bench
#   ctest: the test suite on the NVIDIA driver; compare: first-iteration losses of every config on
#   PoCL and NVIDIA (tools/compare_devices.sh); stacked: the Fashion-MNIST classifier, then MEG on
#   stacked Fashion-MNIST for $STACKED_SECONDS and its mode count; bench: op and workload benchmarks,
#   PyTorch CUDA
#
# EBM_RUN_DEVICE overrides the device (default nvidia); on a machine without the NVIDIA driver it
# falls back to whatever OpenCL device is registered, which is how this script is checked off-GPU.
set -uo pipefail
cd "$(dirname "$0")/.."
debs=(ocl-icd-libopencl1 ocl-icd-opencl-dev opencl-c-headers libclblast1 libclblast-dev libclfft2 libclfft-dev
      libstb0 libstb-dev libinih1 libinih-dev libcjson1 libcjson-dev zlib1g-dev pkgconf pkgconf-bin libpkgconf3)
if [ "${1:-}" = "--fetch-debs" ]; then
  grep -qx '/.debs/' .git/info/exclude 2>/dev/null || echo '/.debs/' >> .git/info/exclude
  mkdir -p .debs && (cd .debs && apt-get download "${debs[@]}") || exit 1
  exit 0
fi

what=" $* "
[ $# -gt 0 ] || what=" ctest compare bench "
out=${OUT:-results-nvidia}
mkdir -p "$out"
prefix=/tmp/ebm-prefix
mkdir -p "$prefix"
for f in .debs/*.deb; do dpkg -x "$f" "$prefix"; done
lib=$prefix/usr/lib/x86_64-linux-gnu
# the packages' CMake config files name /usr/lib and /usr/include: point them into the prefix
find "$lib/cmake" "$prefix/usr/share" -name '*.cmake' 2>/dev/null |
  xargs -r sed -i "s|\([\" ;]\)/usr/lib/x86_64-linux-gnu|\1$lib|g; s|\([\" ;]\)/usr/include|\1$prefix/usr/include|g"
export CMAKE_PREFIX_PATH=$prefix/usr LD_LIBRARY_PATH=$lib:${LD_LIBRARY_PATH:-} CPATH=$prefix/usr/include LIBRARY_PATH=$lib
export PKG_CONFIG_PATH=$lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$prefix PKG_CONFIG_LIBDIR=$lib/pkgconfig
pkgconf=$(command -v pkg-config || echo "$prefix/usr/bin/pkgconf")
device=${EBM_RUN_DEVICE:-nvidia}
if [ -e /usr/lib/libnvidia-opencl.so.1 ] || [ -e /usr/lib/x86_64-linux-gnu/libnvidia-opencl.so.1 ]; then
  icd=$(ls /usr/lib/libnvidia-opencl.so.1 /usr/lib/x86_64-linux-gnu/libnvidia-opencl.so.1 2>/dev/null | head -1)
  mkdir -p /tmp/icd && echo "$icd" > /tmp/icd/nvidia.icd && export OCL_ICD_VENDORS=/tmp/icd
  cp /etc/OpenCL/vendors/*.icd /tmp/icd/ 2>/dev/null   # PoCL too, for the comparison
else
  echo "no NVIDIA OpenCL driver here: using the registered OpenCL devices" | tee "$out/note.txt"
  device=${EBM_RUN_DEVICE:-}
fi
export EBM_DEVICE=$device
[ -f .data/fashion-mnist/train-images-idx3-ubyte.gz ] && export EBM_FASHION_MNIST_DIR=$PWD/.data/fashion-mnist
{
  cmake -S . -B build-nv -DCMAKE_BUILD_TYPE=Release -DPKG_CONFIG_EXECUTABLE="$pkgconf" &&
  cmake --build build-nv --parallel "$(nproc)"
} > "$out/build.log" 2>&1 || { tail -40 "$out/build.log"; exit 1; }
build-nv/ebm devices 2>&1 | tee "$out/devices.txt"
if [[ $what == *" ctest "* ]]; then
  ctest --test-dir build-nv --output-on-failure > "$out/ctest.log" 2>&1
  echo "ctest exit $?: $(grep -E 'tests passed|tests failed' "$out/ctest.log")"
fi
if [[ $what == *" compare "* ]]; then
  EBM=build-nv/ebm OUT_DIR=/tmp/ebm-compare tools/compare_devices.sh pocl "$device" > "$out/compare.txt" 2>&1
  echo "compare exit $?"; cat "$out/compare.txt"
  cp /tmp/ebm-compare/*.log "$out/" 2>/dev/null
fi
if [[ $what == *" stacked "* ]]; then   # MEG on stacked Fashion-MNIST for STACKED_SECONDS (default 360), then the mode count
  build-nv/ebm train configs/fmnist-classifier.ini --out runs/fmnist-classifier > "$out/classifier.log" 2>&1
  build-nv/ebm eval runs/fmnist-classifier >> "$out/classifier.log" 2>&1; tail -2 "$out/classifier.log"
  timeout -s INT "${STACKED_SECONDS:-360}" build-nv/ebm train configs/meg-stacked-fmnist-gpu.ini --out runs/meg-stacked > "$out/stacked.log" 2>&1
  tail -4 "$out/stacked.log"
  build-nv/ebm eval runs/meg-stacked --classifier runs/fmnist-classifier > "$out/stacked-eval.json" 2>> "$out/stacked.log"
  cat "$out/stacked-eval.json"
  build-nv/ebm sample runs/meg-stacked --out "$out/stacked-samples.png" > /dev/null 2>> "$out/stacked.log"
  cp runs/meg-stacked/metrics.jsonl "$out/stacked-metrics.jsonl"
fi
if [[ $what == *" bench "* ]]; then
  build-nv/tests/test_ops perf --csv "$out/ops.csv" > "$out/ops.txt" 2>&1
  build-nv/bench_workloads --csv "$out/workloads.csv" > "$out/workloads.txt" 2>&1
  cat "$out/workloads.txt"
  if command -v nvidia-smi > /dev/null; then
    python3 bench/torch_ops.py cuda > "$out/torch-ops-cuda.csv" 2> "$out/torch-ops.err"
    python3 bench/torch_reference.py cuda > "$out/torch-reference-cuda.txt" 2>&1
  fi
fi
exit 0
