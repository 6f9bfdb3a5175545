#!/usr/bin/env bash
# Builds and runs the test suite and the benchmarks on a lent NVIDIA machine (shared/GPU.md), where
# the project's libraries are not installed and the NVIDIA OpenCL driver is not registered.
#
#   bench/nvidia_run.sh --fetch-debs   # here, once: download the libraries into .debs/ (git-ignored)
#                                      # and copy ../shared/bench/torch_reference.py there too
#   bash bench/nvidia_run.sh           # there (carry .debs): logs and CSVs go to $OUT
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
  [ -f ../shared/bench/torch_reference.py ] && cp ../shared/bench/torch_reference.py .debs/
  exit 0
fi

out=${OUT:-results-nvidia}
mkdir -p "$out"
prefix=/tmp/ebm-prefix
mkdir -p "$prefix"
for f in .debs/*.deb; do dpkg -x "$f" "$prefix"; done
lib=$prefix/usr/lib/x86_64-linux-gnu
export CMAKE_PREFIX_PATH=$prefix/usr LD_LIBRARY_PATH=$lib:${LD_LIBRARY_PATH:-} CPATH=$prefix/usr/include LIBRARY_PATH=$lib
export PKG_CONFIG_PATH=$lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$prefix PKG_CONFIG_LIBDIR=$lib/pkgconfig
pkgconf=$(command -v pkg-config || echo "$prefix/usr/bin/pkgconf")
device=${EBM_RUN_DEVICE:-nvidia}
if [ -e /usr/lib/libnvidia-opencl.so.1 ] || [ -e /usr/lib/x86_64-linux-gnu/libnvidia-opencl.so.1 ]; then
  icd=$(ls /usr/lib/libnvidia-opencl.so.1 /usr/lib/x86_64-linux-gnu/libnvidia-opencl.so.1 2>/dev/null | head -1)
  mkdir -p /tmp/icd && echo "$icd" > /tmp/icd/nvidia.icd && export OCL_ICD_VENDORS=/tmp/icd
else
  echo "no NVIDIA OpenCL driver here: using the registered OpenCL devices" | tee "$out/note.txt"
  device=${EBM_RUN_DEVICE:-}
fi
export EBM_DEVICE=$device
{
  cmake -S . -B build-nv -DCMAKE_BUILD_TYPE=Release -DPKG_CONFIG_EXECUTABLE="$pkgconf" &&
  cmake --build build-nv --parallel "$(nproc)"
} > "$out/build.log" 2>&1 || { tail -40 "$out/build.log"; exit 1; }
build-nv/ebm devices 2>&1 | tee "$out/devices.txt"
ctest --test-dir build-nv --output-on-failure > "$out/ctest.log" 2>&1
echo "ctest exit $?: $(grep -E 'tests passed|tests failed' "$out/ctest.log")"
build-nv/tests/test_ops perf --csv "$out/ops.csv" > "$out/ops.txt" 2>&1
build-nv/bench_workloads --csv "$out/workloads.csv" > "$out/workloads.txt" 2>&1
cat "$out/workloads.txt"
if command -v nvidia-smi > /dev/null; then
  python3 bench/torch_ops.py cuda > "$out/torch-ops-cuda.csv" 2> "$out/torch-ops.err"
  ref=$(ls .debs/torch_reference.py shared/bench/torch_reference.py 2>/dev/null | head -1)
  [ -n "$ref" ] && python3 "$ref" cuda > "$out/torch-reference-cuda.txt" 2>&1
fi
exit 0
