#!/usr/bin/env bash
# Builds and runs the test suite and the benchmarks on a GPU machine that has NVIDIA's OpenCL driver
# (/usr/lib/libnvidia-opencl.so.1, installed but not registered with the ICD loader, as on CUDA images),
# gcc and cmake, but neither the project's libraries nor a package registry (e.g. Ubuntu 24.04 with
# CUDA; the Debian 12 packages below run there).
#
#   bench/nvidia_run.sh --fetch-debs   # on a machine with apt, once: download the libraries into
#                                      # .debs/ (git-ignored) in this checkout, and copy Debian's
#                                      # Fashion-MNIST (dataset-fashion-mnist) into .data/
#   bash bench/nvidia_run.sh [STAGE...]   # on the GPU machine, in a copy of the checkout with .debs
#                                      # and .data (carry both): logs and CSVs go to $OUT (default
#                                      # results-nvidia/); no argument: ctest, compare and bench
# Stages, run in this order whatever the order given (tune first):
#   tune: CLBlast's GEMM tuners on the device (tools/clblast_tune.sh, $TUNE_SECONDS per tuner, default
#     90; the GEMM tuners on 1/$TUNE_FRACTION of their configurations, default 10), imported for the engine's later stages; then bench_workloads on cifar32 and fmnist-ms with
#     the tuned parameters off and on ($out/tune.txt; the tuners' results and the engine's file in $out/clblast)
#   bench: bench/workloads.sh -g (the reference workloads on the device beside PyTorch CUDA, one
#     table), then the per-op convolution table (test_ops perf against bench/torch_ops.py cuda)
#   ctest: the test suite on the NVIDIA driver only (EBM_TEST_DEVICES; CTEST_ARGS adds ctest options,
#     e.g. "-R ops_ -j4"), stopped at $DEADLINE_SECONDS; with cond, it runs beside the two trainings
#   compare: first-iteration losses of every config on PoCL and NVIDIA (tools/compare_devices.sh)
#   stacked: the Fashion-MNIST classifier, then MEG on stacked Fashion-MNIST for $STACKED_SECONDS and
#     its mode count
#   cond: configs/cond-stacked-fmnist-gpu.ini twice side by side (label channel 0 and 1) for
#     $COND_SECONDS (default 240; SIGINT saves the checkpoint), then bench/compose_stacked.py with the
#     classifier runs/fmnist-classifier (carried, or trained here first) if $COMPOSE_SECONDS (default
#     150) remain before $DEADLINE_SECONDS (default: none) since the start; the runs go to $OUT/cond-ch*
# PYTHON (default python3) runs compose_stacked.py (numpy, torch); BENCH_WORKLOADS picks the bench
# stage's workloads, COMPOSE_ARGS compose_stacked.py's pairs, --n and --steps; PACK=1 leaves in $OUT
# only results.tgz (every log, table and picture) and the cond runs' checkpoints (cond-ch0.safetensors,
# cond-ch1.safetensors).
#
# EBM_RUN_DEVICE overrides the device (default nvidia); on a machine without the NVIDIA driver it
# falls back to whatever OpenCL device is registered, which is how this script is checked off-GPU.
set -uo pipefail
cd "$(dirname "$0")/.."
debs=(ocl-icd-libopencl1 ocl-icd-opencl-dev opencl-c-headers libclblast1 libclblast-dev libclfft2 libclfft-dev
      clblast-utils libstb0 libstb-dev libinih1 libinih-dev libcjson1 libcjson-dev zlib1g-dev pkgconf pkgconf-bin libpkgconf3
      libpng-dev libpng16-16 libjpeg62-turbo libjpeg62-turbo-dev libjpeg-dev
      liblapacke liblapacke-dev liblapack3 liblapack-dev libblas3 libblas-dev libtmglib3 libtmglib-dev libgfortran5 libquadmath0)
if [ "${1:-}" = "--fetch-debs" ]; then
  mkdir -p .debs && (cd .debs && apt-get download "${debs[@]}") || exit 1
  if [ -d /usr/share/datasets/fashion-mnist ]; then
    mkdir -p .data/fashion-mnist && cp /usr/share/datasets/fashion-mnist/*.gz .data/fashion-mnist/
  fi
  exit 0
fi
t0=$SECONDS deadline=${DEADLINE_SECONDS:-1000000}   # seconds from the start (after the download above)

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
# what Debian's alternatives would link: BLAS and LAPACK (LAPACKE needs them) under their generic names
for a in blas lapack; do
  ln -sf "$a-netlib.pc" "$lib/pkgconfig/$a.pc"
  for f in "$lib/$a"/lib$a.so*; do ln -sf "$a/${f##*/}" "$lib/${f##*/}"; done
done
export PATH=$PATH:$prefix/usr/bin   # CLBlast's tuners (clblast-utils)
export CMAKE_PREFIX_PATH=$prefix/usr LD_LIBRARY_PATH=$lib:${LD_LIBRARY_PATH:-} CPATH=$prefix/usr/include LIBRARY_PATH=$lib
export PKG_CONFIG_PATH=$lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$prefix PKG_CONFIG_LIBDIR=$lib/pkgconfig
pkgconf=$(command -v pkg-config || echo "$prefix/usr/bin/pkgconf")
device=${EBM_RUN_DEVICE:-nvidia}
if [ -e /usr/lib/libnvidia-opencl.so.1 ] || [ -e /usr/lib/x86_64-linux-gnu/libnvidia-opencl.so.1 ]; then
  icd=$(ls /usr/lib/libnvidia-opencl.so.1 /usr/lib/x86_64-linux-gnu/libnvidia-opencl.so.1 2>/dev/null | head -1)
  mkdir -p /tmp/icd && echo "$icd" > /tmp/icd/nvidia.icd && export OCL_ICD_VENDORS=/tmp/icd
  [[ $what == *" compare "* ]] && cp /etc/OpenCL/vendors/*.icd /tmp/icd/ 2>/dev/null   # PoCL too, for the comparison
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
if [[ $what == *" tune "* ]]; then   # before the timings, which then run on the tuned parameters
  rm -rf "$out/clblast"
  tools/clblast_tune.sh -e build-nv/ebm -d "$device" -s "${TUNE_SECONDS:-90}" -f "${TUNE_FRACTION:-10}" -o "$out/clblast" > "$out/tune.txt" 2>&1
  echo "tune exit $? ($((SECONDS - t0)) s)"; cat "$out/tune.txt"
  kept=$(sed -n 's/^kept in //p' "$out/tune.txt")
  [ -f "$kept" ] && cp "$kept" "$out/clblast/"   # the device's parameters as the engine keeps them
  for t in off on; do
    echo "EBM_CLBLAST_TUNED=$t:" >> "$out/tune.txt"
    EBM_CLBLAST_TUNED=$t build-nv/bench_workloads -w cifar32,fmnist-ms -n 2 >> "$out/tune.txt" 2>&1
  done
  tail -8 "$out/tune.txt"; echo "tune done ($((SECONDS - t0)) s)"
fi
if [[ $what == *" bench "* ]]; then   # first, alone on the device: timings
  bench/workloads.sh -g -b build-nv -w "${BENCH_WORKLOADS:-toy2d,fmnist-ms,cifar32}" -o "$out/workloads" > "$out/workloads.md" 2> "$out/workloads.log"
  echo "workloads exit $? ($((SECONDS - t0)) s)"; cat "$out/workloads.md"
  build-nv/tests/test_ops perf --csv "$out/ops.csv" > "$out/ops.txt" 2>&1
  if command -v nvidia-smi > /dev/null; then
    python3 bench/torch_ops.py cuda > "$out/torch-ops-cuda.csv" 2> "$out/torch-ops.err"
    python3 bench/compare_ops.py "$out/ops.csv" "$out/torch-ops-cuda.csv" > "$out/ops-vs-torch.md" 2>> "$out/torch-ops.err"
    cat "$out/ops-vs-torch.md"
  fi
  echo "bench done ($((SECONDS - t0)) s)"
fi
ctest_pid=
ctest_wait() {   # the background ctest's end and its summary line
  wait "$ctest_pid"; echo "ctest exit $?: $(grep -E 'tests passed|tests failed' "$out/ctest.log")"; ctest_pid=
}
if [[ $what == *" ctest "* ]]; then
  EBM_TEST_DEVICES=$device timeout $((deadline - (SECONDS - t0))) \
    ctest --test-dir build-nv --output-on-failure ${CTEST_ARGS:-} > "$out/ctest.log" 2>&1 &
  ctest_pid=$!
  [[ $what == *" cond "* ]] || ctest_wait
fi
if [[ $what == *" cond "* ]]; then   # two class-conditional models side by side, then their composition
  pids=()
  for c in 0 1; do
    rm -rf "$out/cond-ch$c"
    timeout -s INT "${COND_SECONDS:-240}" build-nv/ebm train configs/cond-stacked-fmnist-gpu.ini --out "$out/cond-ch$c" \
      --set data.label_channel=$c > "$out/cond-ch$c.log" 2>&1 &
    pids+=($!)
  done
  wait "${pids[@]}"
  for c in 0 1; do echo "cond-ch$c: $(grep -v '^/' "$out/cond-ch$c.log" | tail -1)"; done
  if [ ! -f runs/fmnist-classifier/checkpoint.safetensors ]; then
    build-nv/ebm train configs/fmnist-classifier.ini --out runs/fmnist-classifier > "$out/classifier.log" 2>&1
  fi
  left=$((deadline - (SECONDS - t0)))
  if [ "$left" -ge "${COMPOSE_SECONDS:-150}" ]; then
    timeout "$left" "${PYTHON:-python3}" bench/compose_stacked.py "$out/cond-ch0" "$out/cond-ch1" runs/fmnist-classifier \
      ${COMPOSE_ARGS:---pairs 1,8 7,3 9,0 5,1 3,7 8,2 0,5 6,4 --n 100 --steps 400} --ebm build-nv/ebm --work /tmp/compose \
      --out "$out/compose.md" --png "$out/compose-and.png" > "$out/compose.log" 2>&1
    echo "compose exit $? ($((SECONDS - t0)) s)"; grep '^|' "$out/compose.log"
  else
    echo "compose skipped: $left s left before the deadline"
  fi
fi
[ -z "$ctest_pid" ] || ctest_wait
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
if [ -n "${PACK:-}" ]; then   # what comes back from a lent machine: at most 8 files, 16 MiB each
  for c in 0 1; do [ -f "$out/cond-ch$c/checkpoint.safetensors" ] && mv "$out/cond-ch$c/checkpoint.safetensors" "$out/cond-ch$c.safetensors"; done
  tar czf /tmp/results.tgz -C "$out" --exclude='*.safetensors' . && mv /tmp/results.tgz "$out/results.tgz"
  find "$out" -mindepth 1 -maxdepth 1 ! -name results.tgz ! -name '*.safetensors' -exec rm -rf {} +
  ls -la "$out"
fi
echo "done ($((SECONDS - t0)) s)"
exit 0
