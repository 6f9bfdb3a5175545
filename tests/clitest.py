"""clitest.py — what the Python tests of the command line share (npy_cli.py, compose_cli.py,
plot_metrics.py): a module they need (the Debian python3 when the first python3 on PATH lacks it,
else skipped with 77), a fresh work folder, ok/FAIL lines with a count, running a program."""
import importlib
import os
import shutil
import subprocess
import sys

failures = 0


def need(module, package, test):
    """import module, or re-run under /usr/bin/python3 (a pyenv or virtualenv python3 first on PATH
    may lack Debian's), or exit 77 (ctest: skipped) naming the Debian package"""
    try:
        return importlib.import_module(module)
    except ImportError:
        if os.path.realpath(sys.executable) != os.path.realpath("/usr/bin/python3") and os.path.exists("/usr/bin/python3"):
            os.execv("/usr/bin/python3", ["/usr/bin/python3", *sys.argv])
        print(f"{test}: SKIPPED, python3 cannot import {module} (apt-get install {package})")
        sys.exit(77)


def workdir(path):
    """path, emptied"""
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    return path


def check(cond, what):
    global failures
    print(("ok   " if cond else "FAIL ") + what)
    failures += not cond


def run(*cmd):
    """(exit status, stdout, stderr) of cmd"""
    p = subprocess.run(list(cmd), capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


def finish():
    sys.exit(1 if failures else 0)
