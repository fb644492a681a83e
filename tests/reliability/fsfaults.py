"""Test 6: file system faults. The cases are GoogleTest tests in waitless/fs/fs_faults_test.cpp (suite
FsFaults, part of BUILD/unit_tests): /dev/full (ENOSPC), RLIMIT_FSIZE (EFBIG, atomic write keeps the old
file), /proc/self/mem (EIO), FIFOs without a peer (ENXIO, ESPIPE), directory/file mix-ups (EISDIR, ENOTDIR,
ENAMETOOLONG, ELOOP), a read-only directory (immutable attribute as root: EPERM; mode 0555 otherwise:
EACCES), an immutable file, descriptor exhaustion (EMFILE). This row runs them and counts."""
import os
import re
import subprocess

from common import Row


def run(ctx):
    row = Row("fs faults (waitless/fs/fs_faults_test.cpp)")
    exe = os.path.join(ctx.build, "unit_tests")
    if not os.access(exe, os.X_OK):
        row.check("unit_tests built", False, exe)
        return [row]
    p = subprocess.run([exe, "--gtest_filter=FsFaults.*", "--gtest_brief=0"], capture_output=True, text=True,
                       timeout=120)
    names = re.findall(r"^\[\s+(OK|FAILED|SKIPPED)\s+\] FsFaults\.(\w+)", p.stdout, re.M)
    if not names:
        row.check("FsFaults tests ran", False, (p.stdout + p.stderr)[-300:])
        return [row]
    skipped = [n for s, n in names if s == "SKIPPED"]
    for status, name in names:
        if status != "SKIPPED":
            row.check(name, status == "OK")
    row.check("unit_tests exit status", p.returncode == 0, f"exit {p.returncode}")
    row.figure = f"{sum(1 for s, _ in names if s == 'OK')} typed-error cases" + (
        f", skipped here: {', '.join(skipped)}" if skipped else "")
    return [row]
