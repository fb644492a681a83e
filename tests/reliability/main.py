#!/usr/bin/env python3
"""The reliability suite's driver (run by tests/reliability/run.sh, which builds the C helpers first).

    main.py --build BUILD --tmp DIR [--quick] [--only slow,flood,exhaust,shutdown,race,fs]

Runs the selected tests against BUILD/waitless hello on loopback, prints PASS/FAIL per check as it goes,
then the table (test, cases, passed, figure). Exits 1 if any check failed. Every server and client it
starts is killed on the way out, whatever the way out is.
"""
import argparse
import atexit
import os
import signal
import sys
import time
import traceback

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common  # noqa: E402
import exhaust  # noqa: E402
import flood  # noqa: E402
import fsfaults  # noqa: E402
import race  # noqa: E402
import shutdown  # noqa: E402
import slow  # noqa: E402

# Full suite order. The quick subset (CI) skips the slow clients, the 10 000 connection churn and the idle
# keep-alive hold and the peers of the keep-alive race, and runs the rest with smaller counts.
TESTS = {
    "slow": slow.run,
    "flood": flood.run,
    "exhaust": exhaust.run,
    "shutdown": shutdown.run,
    "race": race.run,
    "fs": fsfaults.run,
}
QUICK = ["flood", "exhaust", "shutdown", "race"]


class Ctx:
    def __init__(self, args):
        self.build = os.path.abspath(args.build)
        self.waitless = os.path.join(self.build, "waitless")
        self.tmp = args.tmp
        self.quick = args.quick
        # Under ASan/UBSan freed memory sits in quarantine and every allocation has redzones: memory bounds
        # are checked with this much slack (the figures are still printed as measured).
        self.sanitized = False
        try:
            with open(os.path.join(self.build, "CMakeCache.txt")) as f:
                self.sanitized = any(line.startswith("WAITLESS_SANITIZE:STRING=") and line.strip().split("=", 1)[1]
                                     for line in f)
        except OSError:
            pass
        self.mem_factor = 16 if self.sanitized else 1


def table(rows):
    head = ("test", "cases", "passed", "figure")
    cells = [(r.test, str(r.cases), str(r.passed), r.figure) for r in rows]
    w = [max(len(c[i]) for c in [head, *cells]) for i in range(3)]
    lines = [f"| {head[0]:<{w[0]}} | {head[1]:>{w[1]}} | {head[2]:>{w[2]}} | {head[3]}",
             f"|{'-' * (w[0] + 2)}|{'-' * (w[1] + 2)}|{'-' * (w[2] + 2)}|{'-' * 8}"]
    for c in cells:
        lines.append(f"| {c[0]:<{w[0]}} | {c[1]:>{w[1]}} | {c[2]:>{w[2]}} | {c[3]}")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--tmp", required=True)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", default="")
    args = ap.parse_args()
    ctx = Ctx(args)
    names = [n for n in args.only.split(",") if n] or (QUICK if args.quick else list(TESTS))
    unknown = [n for n in names if n not in TESTS]
    if unknown:
        sys.exit(f"unknown test(s) {unknown}; known: {list(TESTS)}")

    atexit.register(common.kill_all)

    def on_signal(signum, _frame):
        common.kill_all()
        sys.exit(128 + signum)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    rows = []
    t0 = time.monotonic()
    try:
        for name in names:
            print(f"== {name}", flush=True)
            t = time.monotonic()
            try:
                rows.extend(TESTS[name](ctx))
            except Exception as e:  # noqa: BLE001 - a broken test is a failed row, the others still run
                traceback.print_exc()
                r = common.Row(name)
                r.check("ran to the end", False, f"{type(e).__name__}: {e}")
                rows.append(r)
            finally:
                common.kill_all()
            print(f"   ({time.monotonic() - t:.1f} s)", flush=True)
    finally:
        common.kill_all()
    print()
    print(table(rows))
    cases = sum(r.cases for r in rows)
    passed = sum(r.passed for r in rows)
    print(f"\nreliability: {passed}/{cases} checks passed in {time.monotonic() - t0:.0f} s")
    failed = [(r.test, n, d) for r in rows for n, ok, d in r.checks if not ok]
    for test, n, d in failed:
        print(f"FAILED {test}: {n}{' (' + d + ')' if d else ''}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
