#!/usr/bin/env bash
# Installs Intel's OpenCL CPU runtime next to the OpenCL drivers already registered (PoCL, a GPU
# driver), without root and without touching system folders, so that the test suite and `ebm` see
# a second vendor's OpenCL implementation on any x86-64 Linux machine.
#
#   tools/opencl_vendors.sh            install (once; later runs only refresh the registry) and
#                                      print the environment to use it
#   eval "$(tools/opencl_vendors.sh)"  ... and use it in this shell (what .ci/run does)
#
# What it does: `pip download` the runtime's wheels by name from the Python package index
# (intel-opencl-rt, intel-cmplr-lib-rt, intel-cmplr-lic-rt, tbb; versions pinned below), unpacks
# their shared libraries, cl.cfg and the runtime's builtin libraries into one folder (without the
# wheel's own libOpenCL.so, so Debian's ICD loader stays in charge), and writes an ICD registry
# folder holding an .icd file for the runtime plus copies of the system's /etc/OpenCL/vendors/*.icd.
# The printed OCL_ICD_VENDORS points the ICD loader at that folder. Re-run it after installing or
# removing another OpenCL driver, so the copies stay current.
#
# Where the runtime cannot run (it needs an x86-64 CPU with SSE4.2; it was tried on Intel Xeon and
# AMD EPYC), the script says so on stderr, prints the environment of the system drivers alone, and
# exits 0: the suite then runs on what is present.
#
# EBM_OPENCL_VENDORS_DIR: install folder (default ${XDG_DATA_HOME:-~/.local/share}/ebm-cl/opencl-vendors).
set -euo pipefail

prefix=${EBM_OPENCL_VENDORS_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/ebm-cl/opencl-vendors}
wheels=(intel-opencl-rt==2026.2.0 intel-cmplr-lib-rt==2026.2.0 intel-cmplr-lic-rt==2026.2.0 tbb==2023.2.0)
lib=$prefix/intel-cpu
vendors=$prefix/vendors
stamp="$lib/.installed"

say() { echo "opencl_vendors: $*" >&2; }

# the system's ICD files, refreshed on every run; an empty registry folder would hide them all
refresh_vendors() {
    mkdir -p "$vendors"
    find "$vendors" -maxdepth 1 -name '*.icd' ! -name 'intel-cpu.icd' -delete
    local f
    for f in /etc/OpenCL/vendors/*.icd; do
        [ -e "$f" ] && cp "$f" "$vendors/"
    done
    return 0
}

install_intel() {
    [ "$(uname -m)" = x86_64 ] || { say "Intel's OpenCL CPU runtime needs x86-64 (this is $(uname -m))"; return 1; }
    grep -qw sse4_2 /proc/cpuinfo || { say "Intel's OpenCL CPU runtime needs SSE4.2, which this CPU lacks"; return 1; }
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "${wheels[*]}" ]; then return 0; fi
    local py
    py=$(command -v python3 || true)
    [ -n "$py" ] && "$py" -m pip --version > /dev/null 2>&1 || { say "python3 -m pip is needed to download the runtime"; return 1; }
    local tmp
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' RETURN
    say "downloading ${wheels[*]} from the Python package index"
    "$py" -m pip download --quiet --no-deps --only-binary=:all: --dest "$tmp/wheels" "${wheels[@]}" >&2 ||
        { say "pip download failed"; return 1; }
    "$py" - "$tmp/wheels" "$tmp/lib" <<'PY' || { say "unpacking the wheels failed"; return 1; }
# shared libraries, cl.cfg, the runtime's builtin libraries (*.rtl, *.o) from each wheel's
# *.data/data/lib; not its libOpenCL.so*, nor what the CPU device never loads
import os, sys, zipfile, glob
src, dst = sys.argv[1], sys.argv[2]
os.makedirs(dst, exist_ok=True)
skip = ("libOpenCL.so", "icx-lto.so", "libze_trace_collector.so", "libintelocl.so-gdb.py")
for whl in glob.glob(os.path.join(src, "*.whl")):
    with zipfile.ZipFile(whl) as z:
        for info in z.infolist():
            parts = info.filename.split("/")
            if len(parts) != 4 or not parts[0].endswith(".data") or parts[1:3] != ["data", "lib"] or not parts[3]:
                continue
            name = parts[3]
            if name.startswith(skip):
                continue
            with z.open(info) as f, open(os.path.join(dst, name), "wb") as out:
                out.write(f.read())
# a wheel holds copies where a system package has symlinks (libx.so, libx.so.1 -> libx.so.1.2.3):
# keep one file and link the others to it
by_content = {}
for path in sorted(glob.glob(os.path.join(dst, "*")), key=lambda p: (-len(p), p)):
    key = (os.path.getsize(path), open(path, "rb").read(65536))
    if key in by_content and open(path, "rb").read() == open(by_content[key], "rb").read():
        os.remove(path)
        os.symlink(os.path.basename(by_content[key]), path)
    else:
        by_content.setdefault(key, path)
PY
    [ -f "$tmp/lib/libintelocl.so" ] && [ -f "$tmp/lib/cl.cfg" ] || { say "the wheels lack libintelocl.so or cl.cfg"; return 1; }
    echo "${wheels[*]}" > "$tmp/lib/.installed"
    rm -rf "$lib"
    mkdir -p "$prefix"
    mv "$tmp/lib" "$lib"
}

# the runtime loads through the ICD loader and lists a device, or the registry leaves it out
probe_intel() {
    OCL_ICD_VENDORS=$vendors python3 - <<'PY' 2> /dev/null
import ctypes, sys
cl = ctypes.CDLL("libOpenCL.so.1")
n = ctypes.c_uint(0)
if cl.clGetPlatformIDs(0, None, ctypes.byref(n)) != 0 or n.value == 0:
    sys.exit(1)
plats = (ctypes.c_void_p * n.value)()
cl.clGetPlatformIDs(n.value, plats, None)
for p in plats:
    name = ctypes.create_string_buffer(256)
    cl.clGetPlatformInfo(ctypes.c_void_p(p), 0x0902, 256, name, None)   # CL_PLATFORM_NAME
    nd = ctypes.c_uint(0)
    if b"Intel(R) OpenCL" in name.value and \
            cl.clGetDeviceIDs(ctypes.c_void_p(p), ctypes.c_ulong(0xFFFFFFFF), 0, None, ctypes.byref(nd)) == 0 and nd.value > 0:
        sys.exit(0)
sys.exit(1)
PY
}

refresh_vendors
if install_intel; then
    echo "$lib/libintelocl.so" > "$vendors/intel-cpu.icd"
    if ! probe_intel; then
        say "Intel's OpenCL CPU runtime is installed in $lib but lists no device on this machine; left out"
        rm -f "$vendors/intel-cpu.icd"
    fi
else
    rm -f "$vendors/intel-cpu.icd"
    say "continuing with the system's OpenCL drivers only"
fi
echo "export OCL_ICD_VENDORS=$vendors"
