#!/usr/bin/env python3
"""Fails on any #include under waitless/ that goes against the layer order.

The order is read from one place: the "Layer order:" line of README.md's "## Layout" section, e.g.

    Layer order: base → loop → async → fs | net → proc → http → web → data → proxy

A file in waitless/<layer>/ may include its own layer and the layers before it; layers written side by side
("fs | net") do not include each other. Every folder of waitless/ must be a layer of the order. Files
outside waitless/ (apps/, bench/, fuzz/, tests/) may include everything and are not checked.

usage: check_layers.py [ROOT]     (ROOT: the repository, by default the one holding this script)
Exit status: 0 when every include keeps the order, 1 when one does not (each one printed as
file:line: message), 2 when the order cannot be read.
"""
import os
import re
import sys

SOURCE_SUFFIXES = (".hpp", ".cpp", ".h", ".cc", ".ipp", ".inc")
INCLUDE = re.compile(r'^\s*#\s*include\s*[<"]([^>"]+)[>"]')
ORDER_LINE = re.compile(r"^\s*(?:[-*]\s*)?`?Layer order:\s*(.+?)`?\s*$")


class OrderError(Exception):
    pass


def read_order(readme_path):
    """Returns [[layer, ...], ...]: the ranks, first to last; a rank holds the layers side by side."""
    try:
        with open(readme_path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError as e:
        raise OrderError(f"{readme_path}: cannot read the layer order: {e.strerror}")
    in_layout = False
    for line in lines:
        if line.startswith("## "):
            in_layout = line.strip() == "## Layout"
            continue
        if not in_layout:
            continue
        m = ORDER_LINE.match(line)
        if not m:
            continue
        ranks = []
        seen = set()
        for rank_text in re.split(r"\s*(?:→|->)\s*", m.group(1).strip()):
            rank = [name.strip() for name in rank_text.split("|")]
            for name in rank:
                if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
                    raise OrderError(f"{readme_path}: bad layer name {name!r} in the 'Layer order:' line")
                if name in seen:
                    raise OrderError(f"{readme_path}: layer {name!r} appears twice in the 'Layer order:' line")
                seen.add(name)
            ranks.append(rank)
        return ranks
    raise OrderError(
        f"{readme_path}: no 'Layer order: a → b → c | d → ...' line in its '## Layout' section "
        "(the include check reads the order from there)"
    )


def include_target_layer(include, source_dir, root):
    """The layer an include names, or None if it is not a waitless header (std, system, third party)."""
    if include.startswith("waitless/"):
        parts = include.split("/")
        return parts[1] if len(parts) > 2 else None
    # A relative include ("timer.hpp", "../loop/loop.hpp"): resolved from the including file's folder.
    resolved = os.path.normpath(os.path.join(source_dir, include))
    rel = os.path.relpath(resolved, os.path.join(root, "waitless"))
    parts = rel.split(os.sep)
    if parts[0] == ".." or len(parts) < 2 or not os.path.exists(resolved):
        return None
    return parts[0]


def check(root):
    """Returns the list of violations, each 'file:line: message'."""
    ranks = read_order(os.path.join(root, "README.md"))
    rank_of = {name: i for i, rank in enumerate(ranks) for name in rank}
    order_text = " → ".join(" | ".join(rank) for rank in ranks)
    problems = []
    top = os.path.join(root, "waitless")
    if not os.path.isdir(top):
        return [f"{top}: no waitless/ folder to check"]
    for layer in sorted(os.listdir(top)):
        layer_dir = os.path.join(top, layer)
        if not os.path.isdir(layer_dir):
            continue  # a file at waitless/'s top (an umbrella header) may include every layer
        if layer not in rank_of:
            problems.append(
                f"waitless/{layer}/: not a layer of the order in README.md '## Layout' ({order_text}); "
                "add it there"
            )
            continue
        for dirpath, _, files in os.walk(layer_dir):
            for name in sorted(files):
                if not name.endswith(SOURCE_SUFFIXES):
                    continue
                path = os.path.join(dirpath, name)
                rel_path = os.path.relpath(path, root)
                with open(path, encoding="utf-8", errors="replace") as f:
                    for lineno, line in enumerate(f, 1):
                        m = INCLUDE.match(line)
                        if not m:
                            continue
                        target = include_target_layer(m.group(1), dirpath, root)
                        if target is None or target == layer:
                            continue
                        if target not in rank_of:
                            problems.append(
                                f'{rel_path}:{lineno}: includes "{m.group(1)}": {target} is not a layer '
                                f"of the order ({order_text})"
                            )
                        elif rank_of[target] == rank_of[layer]:
                            problems.append(
                                f'{rel_path}:{lineno}: includes "{m.group(1)}": {layer} and {target} sit '
                                f"side by side in the layer order ({order_text}) and do not use each other"
                            )
                        elif rank_of[target] > rank_of[layer]:
                            allowed = [n for rank in ranks[: rank_of[layer]] for n in rank]
                            rule = f"may use only {', '.join(allowed)}" if allowed else "may use no other layer"
                            problems.append(
                                f'{rel_path}:{lineno}: includes "{m.group(1)}": layer {layer} {rule}; '
                                f"{target} comes after it ({order_text})"
                            )
    return problems


def main(argv):
    root = argv[1] if len(argv) > 1 else os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        problems = check(root)
    except OrderError as e:
        print(f"check_layers: {e}", file=sys.stderr)
        return 2
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        print(
            f"check_layers: {len(problems)} include(s) against the layer order "
            "(README.md, section '## Layout')",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
