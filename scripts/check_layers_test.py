#!/usr/bin/env python3
"""Self-test of check_layers.py, run with it by `make layers` (so by `make lint` and `make test`).

Builds small repository trees in a temporary folder and runs the real checker on each: a tree that keeps
the order must pass, and each kind of bad include must fail with a message naming the file, the include
and the rule broken.
"""
import os
import subprocess
import sys
import tempfile

CHECKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "check_layers.py")

README = """# demo

## Layout

Some words.

    Layer order: base → loop → async → fs | net → proc → http → web → data → proxy

## Other
"""

GOOD = {
    "README.md": README,
    "waitless/base/error.hpp": "#pragma once\n#include <string>\n",
    "waitless/loop/loop.hpp": '#pragma once\n#include "waitless/base/error.hpp"\n#include "timer.hpp"\n',
    "waitless/loop/timer.hpp": "#pragma once\n",
    "waitless/async/task.hpp": '#include "waitless/loop/loop.hpp"\n#include <waitless/base/error.hpp>\n',
    "waitless/fs/file.cpp": '#include "waitless/async/task.hpp"\n#include "../loop/loop.hpp"\n',
    "waitless/net/tcp.cpp": '#include "waitless/async/task.hpp"\n// #include "waitless/http/server.hpp"\n',
    "waitless/http/server.cpp": '#include "waitless/net/tcp.hpp"\n#include "waitless/fs/file.hpp"\n',
    "waitless/umbrella.hpp": '#include "waitless/http/server.hpp"\n',
    "apps/main.cpp": '#include "waitless/http/server.hpp"\n#include "waitless/base/error.hpp"\n',
    "tests/e2e.cpp": '#include "waitless/proxy/anything.hpp"\n',
}


def run_checker(files):
    with tempfile.TemporaryDirectory() as root:
        for rel, text in files.items():
            path = os.path.join(root, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
        p = subprocess.run([sys.executable, CHECKER, root], capture_output=True, text=True, timeout=60)
        return p.returncode, p.stderr


def with_changes(rel, text):
    files = dict(GOOD)
    files[rel] = text
    return files


failures = []
cases = 0


def expect(name, files, code, *needles):
    global cases
    cases += 1
    got_code, err = run_checker(files)
    missing = [n for n in needles if n not in err]
    if got_code != code or missing:
        failures.append(f"{name}: exit {got_code} (wanted {code}); missing {missing} in:\n{err}")


expect("a tree that keeps the order passes", GOOD, 0)
expect(
    "loop including async fails",
    with_changes("waitless/loop/pool.hpp", '#pragma once\n#include "waitless/async/task.hpp"\n'),
    1,
    "waitless/loop/pool.hpp:2:",
    '"waitless/async/task.hpp"',
    "layer loop may use only base",
)
expect(
    "a relative include reaching up fails",
    with_changes("waitless/base/log.cpp", '#include "../loop/loop.hpp"\n'),
    1,
    "waitless/base/log.cpp:1:",
    "layer base may use no other layer",
)
expect(
    "fs and net side by side fail",
    with_changes("waitless/fs/file.cpp", '#include "waitless/net/tcp.hpp"\n'),
    1,
    "waitless/fs/file.cpp:1:",
    "fs and net sit side by side",
)
expect(
    "a test file keeps its layer's order too",
    with_changes("waitless/async/task_test.cpp", '#include <gtest/gtest.h>\n\n#include "waitless/proc/process.hpp"\n'),
    1,
    "waitless/async/task_test.cpp:3:",
    "layer async may use only base, loop",
)
expect(
    "a folder that is not a layer fails",
    with_changes("waitless/extra/x.hpp", "#pragma once\n"),
    1,
    "waitless/extra/: not a layer",
)
expect(
    "a README without the order line is refused",
    with_changes("README.md", "# demo\n\n## Layout\n\nNo order here.\n"),
    2,
    "no 'Layer order:",
)
expect(
    "an order line outside the Layout section does not count",
    with_changes("README.md", "# demo\n\n## Other\n\n    Layer order: base → loop\n\n## Layout\n\nNone.\n"),
    2,
    "no 'Layer order:",
)

if failures:
    print("check_layers self-test FAILED:\n" + "\n".join(failures), file=sys.stderr)
    sys.exit(1)
print(f"check_layers self-test: {cases} cases pass")
