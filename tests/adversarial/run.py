#!/usr/bin/env python3
"""Differential HTTP/1.1 request-smuggling runner (standard library only).

Sends every case of a corpus (cases.txt) on a fresh TCP connection to each target, reads the reply
stream until the server closes or goes quiet, parses every response in it, and compares the targets.

    run.py [--cases FILE] [--differences FILE] [--only SUBSTR] [--jobs N] name=host:port ...

Targets must be loopback addresses. The target named `waitless` is the one under test: the run
exits 1 when it
  (a) accepts a case that every other target rejects,
  (b) accepts a case whose expectation is "reject",
  (c) answers bytes that were not a request: serves more requests than the case holds (`max`),
      or sends anything after an error response (see smuggled()),
  (d) accepts a case whose expectation is "reject" (even an allow-listed one) without closing,
  (e) cannot be reached during or after the run (it crashed),
  (f) refuses or leaves unanswered a case whose expectation is "accept", or serves fewer of its
      requests than the case's `serve` (default `max`),
  (g) refuses a case with `status=N` (the status RFC 9112 / RFC 9110 name for it) with another status,
      or without a response.
(a), (b), (f) and (g) are waived for case names allow-listed in DIFFERENCES.md (with the reason);
(c), (d) and (e) never are. Findings that do not fail the run are still printed (reject kept open,
the peers' refusals of valid requests and their statuses, hangs).
Exit 2: usage error, unreadable corpus or unreachable target.
"""
import argparse
import concurrent.futures
import json
import os
import re
import socket
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
IDLE_TIMEOUT = 1.0  # seconds without a byte after which the reply stream is taken as complete
MAX_TIME = 3.0  # hard cap per case and target
EXPECTATIONS = ("accept", "reject", "any")
PAUSE = 0.05  # seconds after each \p piece of a case
SPLIT_PAUSE = 0.005  # seconds between split=N pieces: short, so 100 one-byte pieces take 0.5 s


class Case:
    """raw: all the bytes; pieces: how they are sent (a pause between two pieces); heads: the
    first `heads` final responses answer HEAD requests (no body follows them)."""

    def __init__(self, name, expect, opts, note, line):
        self.name, self.expect, self.note, self.line = name, expect, note, line
        self.max = opts.get("max", 1)
        self.serve = opts.get("serve", self.max)  # requests an "accept" case must have served
        self.status = opts.get("status")  # the status the RFC names, when the case is refused
        self.split = opts.get("split", 0)
        self.pause = SPLIT_PAUSE if self.split else PAUSE
        self.heads = opts.get("head", 0)
        self.fin = bool(opts.get("fin", 0))
        self.pieces = [bytearray()]
        self.raw = b""


# ---------------------------------------------------------------------------------------------
# Corpus

_ESCAPES = {"r": b"\r", "n": b"\n", "t": b"\t", "0": b"\0", "\\": b"\\", "s": b" ",
            "{": b"{", "}": b"}"}


def _macro_end(text, start):
    """Index of the "}}" closing the "{{" at start (macros nest), or -1."""
    depth, i = 0, start
    while i < len(text):
        if text[i] == "\\":
            i += 2
        elif text.startswith("{{", i):
            depth, i = depth + 1, i + 2
        elif text.startswith("}}", i):
            depth -= 1
            if depth == 0:
                return i
            i += 2
        else:
            i += 1
    return -1


def unescape(text, where):
    """Decodes \\r \\n \\t \\0 \\s (space) \\\\ \\{ \\} \\xHH and {{N*text}} (text repeated N times)."""
    pieces = unescape_pieces(text, where)
    if len(pieces) != 1:
        raise ValueError(f"{where}: \\p (pause) is not allowed here")
    return pieces[0]


def unescape_pieces(text, where):
    """As unescape, and \\p splits the result: returns the list of pieces between pauses."""
    pieces = [bytearray()]
    out = pieces[0]
    i = 0
    while i < len(text):
        if text.startswith("{{", i):
            end = _macro_end(text, i)
            m = re.fullmatch(r"(\d+)\*(.*)", text[i + 2:end], re.S) if end > 0 else None
            if not m:
                raise ValueError(f"{where}: bad repeat macro, want {{{{N*text}}}}")
            out += unescape(m.group(2), where) * int(m.group(1))
            i = end + 2
            continue
        c = text[i]
        if c != "\\":
            out += c.encode("utf-8")
            i += 1
            continue
        nxt = text[i + 1:i + 2]
        if nxt == "x":
            hexpair = text[i + 2:i + 4]
            if not re.fullmatch(r"[0-9a-fA-F]{2}", hexpair):
                raise ValueError(f"{where}: bad \\x escape")
            out.append(int(hexpair, 16))
            i += 4
        elif nxt in _ESCAPES:
            out += _ESCAPES[nxt]
            i += 2
        elif nxt == "p":
            out = bytearray()
            pieces.append(out)
            i += 2
        else:
            raise ValueError(f"{where}: unknown escape \\{nxt}")
    return [bytes(p) for p in pieces]


def load_cases(path):
    """Parses the corpus format described at the top of cases.txt."""
    cases, names = [], set()
    cur = None
    header = re.compile(r"^\[([A-Za-z0-9_.-]+)\]\s+(\w+)((?:\s+\w+=\d+)*)\s*(?:;\s*(.*))?$")
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    for lineno, line in enumerate(lines, 1):
        where = f"{path}:{lineno}"
        if line.startswith("#"):
            continue
        if line.startswith("["):
            m = header.match(line)
            if not m:
                raise ValueError(f"{where}: bad case header {line!r}")
            name, expect, optstr, note = m.groups()
            if expect not in EXPECTATIONS:
                raise ValueError(f"{where}: expectation must be one of {EXPECTATIONS}")
            if name in names:
                raise ValueError(f"{where}: duplicate case name {name}")
            opts = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", optstr)}
            unknown = set(opts) - {"max", "split", "head", "fin", "serve", "status"}
            if unknown or opts.get("max", 1) < 1 or not 1 <= opts.get("serve", 1) <= opts.get("max", 1):
                raise ValueError(f"{where}: options are max=N (N >= 1), serve=N (1..max), status=NNN, "
                                 "split=N, head=N, fin=1")
            if "status" in opts and not (400 <= opts["status"] <= 599 and expect != "accept"):
                raise ValueError(f"{where}: status=NNN is a 4xx/5xx for a reject or any case")
            names.add(name)
            cur = Case(name, expect, opts, note or "", lineno)
            cases.append(cur)
            continue
        if line == "":
            cur = None
            continue
        if cur is None:
            raise ValueError(f"{where}: raw line outside a case")
        pieces = unescape_pieces(line, where)
        cur.pieces[-1] += pieces[0]
        cur.pieces += [bytearray(p) for p in pieces[1:]]
    for c in cases:
        c.raw = b"".join(c.pieces)
        if not c.raw:
            raise ValueError(f"{path}:{c.line}: case {c.name} has no bytes")
        if c.split:
            c.pieces = [c.raw[i:i + c.split] for i in range(0, len(c.raw), c.split)]
        c.pieces = [bytes(p) for p in c.pieces if p]
    return cases


def load_allowlist(path):
    """Case names allow-listed in DIFFERENCES.md: under the heading "## Allow-list", the list items
    that start with `case-name` (the rest of the item is the reason). Other sections are prose."""
    allowed = {}
    if not os.path.exists(path):
        return allowed
    in_list = False
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("#"):
                in_list = line.lstrip("#").strip().lower().startswith("allow-list")
                continue
            if not in_list:
                continue
            m = re.match(r"^\s*[-*]\s+`([A-Za-z0-9_.-]+)`\s*[:\u2014-]?\s*(.*)$", line)
            if m:
                allowed[m.group(1)] = m.group(2).strip()
    return allowed


# ---------------------------------------------------------------------------------------------
# Talking to a server

def exchange(host, port, pieces, pause=PAUSE, fin=False):
    """Sends the pieces on a fresh connection, `pause` apart, then shuts down the sending side if fin;
    returns (reply bytes, how the stream ended).

    The end is "closed" (EOF), "reset" (ECONNRESET/EPIPE) or "open" (idle or time limit reached)."""
    start = time.monotonic()
    data = bytearray()
    ending = "open"
    try:
        s = socket.create_connection((host, port), timeout=MAX_TIME)
    except OSError as e:
        return b"", f"connect-error {e.strerror or e}"
    with s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            for i, piece in enumerate(pieces):
                if i:
                    time.sleep(pause)  # let the server read (and parse) what it has so far
                s.sendall(piece)
            if fin:
                s.shutdown(socket.SHUT_WR)
        except socket.timeout:
            pass  # server stopped reading: the reply (if any) is what counts
        except OSError:  # EPIPE, ECONNRESET, ENOTCONN from shutdown after a reset
            ending = "reset"  # still read what arrived before the reset
        while True:
            left = MAX_TIME - (time.monotonic() - start)
            if left <= 0:
                break
            s.settimeout(min(IDLE_TIMEOUT, left))
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            except OSError:  # ECONNRESET
                ending = "reset"
                break
            if not chunk:
                if ending != "reset":
                    ending = "closed"
                break
            data += chunk
            if ending == "reset":
                ending = "open"  # data after a failed send: keep reading to see the real end
    return bytes(data), ending


def parse_responses(data, ended, heads=0):
    """Splits a reply stream into responses; returns (list of status strings, trailing note).

    Interim 1xx responses are listed as e.g. "100"; a reply that is not HTTP/1.x (an HTTP/0.9
    answer: a bare body) is listed as "0.9". Bodies are framed by chunked, Content-Length or close;
    the first `heads` final responses answer HEAD requests and have none."""
    statuses = []
    finals = 0
    pos = 0
    while pos < len(data):
        if not data.startswith(b"HTTP/", pos):
            statuses.append("0.9" if pos == 0 else "garbage")
            return statuses, ""
        head_end = data.find(b"\r\n\r\n", pos)
        sep = 4
        if head_end < 0:
            head_end, sep = data.find(b"\n\n", pos), 2
        if head_end < 0:
            statuses.append("partial")
            return statuses, "truncated head"
        head = data[pos:head_end].decode("latin-1").replace("\r\n", "\n").split("\n")
        m = re.match(r"HTTP/\d\.\d (\d{3})", head[0])
        if not m:
            statuses.append("garbage")
            return statuses, "bad status line"
        status = int(m.group(1))
        statuses.append(str(status))
        fields = {}
        for h in head[1:]:
            k, _, v = h.partition(":")
            fields.setdefault(k.strip().lower(), v.strip())
        pos = head_end + sep
        if 100 <= status < 200:
            continue
        finals += 1
        if status in (204, 304) or finals <= heads:
            continue
        if "chunked" in fields.get("transfer-encoding", "").lower():
            while True:
                eol = data.find(b"\r\n", pos)
                if eol < 0:
                    return statuses, "truncated chunked body"
                try:
                    size = int(data[pos:eol].split(b";")[0], 16)
                except ValueError:
                    return statuses, "bad chunk in response"
                pos = eol + 2
                if size == 0:
                    end = data.find(b"\r\n\r\n", pos - 2)
                    if end < 0:
                        return statuses, "truncated trailers"
                    pos = end + 4
                    break
                pos += size + 2
        elif "content-length" in fields:
            try:
                pos += int(fields["content-length"])
            except ValueError:
                return statuses, "bad response content-length"
            if pos > len(data):
                return statuses, "truncated body"
        else:
            if ended == "open":
                return statuses, "body without length still open"
            return statuses, ""  # body runs to close
    return statuses, ""


ACCEPTED_EXTRA = {404, 405}  # routed, so parsed: waitless hello answers 404 off /plaintext


def classify(status):
    """'accept' when the server parsed and routed the request, 'reject' when it refused it."""
    if status == "0.9":
        return "accept"
    if not status.isdigit():
        return "reject"
    code = int(status)
    if 200 <= code < 400 or code in ACCEPTED_EXTRA:
        return "accept"
    return "reject"


class Result:
    def __init__(self, statuses, ending, note):
        self.statuses, self.ending, self.note = statuses, ending, note
        self.final = [s for s in statuses if not (s.isdigit() and 100 <= int(s) < 200)]
        self.closed = ending in ("closed", "reset")
        if self.final:
            self.verdict = classify(self.final[0])
        elif ending.startswith("connect-error"):
            self.verdict = "error"
        elif self.closed:
            self.verdict = "reject"  # closed without a word
        else:
            self.verdict = "hang"

    def cell(self):
        if not self.statuses:
            text = "-"
        else:
            parts, prev, n = [], None, 0
            for s in self.statuses + [None]:
                if s == prev:
                    n += 1
                    continue
                if prev is not None:
                    parts.append(prev + (f"x{n}" if n > 1 else ""))
                prev, n = s, 1
            text = ",".join(parts)
        return f"{text} {self.ending}"


def run_case(target, case):
    name, host, port = target
    data, ending = exchange(host, port, case.pieces, case.pause, case.fin)
    statuses, note = parse_responses(data, ending, case.heads)
    r = Result(statuses, ending, note)
    r.reply = data
    return r


# ---------------------------------------------------------------------------------------------
# Judging

def smuggled(r, most):
    """Why r holds a response to bytes that were not a request, or None.

    A case holds at most `most` requests: no more than `most` may be served. After the last of them,
    one error response to trailing garbage is legitimate (a 400 for an incomplete or malformed next
    request), but nothing may follow an error: the server must stop parsing there."""
    if "garbage" in r.final:
        return "bytes that are not a response in the reply stream (a body after HEAD, a split response)"
    served = [s for s in r.final if classify(s) == "accept"]
    if len(served) > most:
        return f"{len(served)} served for at most {most} request(s)"
    for i, s in enumerate(r.final[:-1]):
        if classify(s) == "reject":
            return f"{r.final[i + 1]} after refusing with {s}: the leftovers were parsed"
    return None  # so at most `most` served plus one final error


def wrong_status(case, r):
    """True when the case names a status (status=N), the target refused, and not with that status."""
    return case.status is not None and r.verdict == "reject" and (not r.final or r.final[0] != str(case.status))


def judge(cases, targets, results, allowed, sut="waitless"):
    """Returns (failures, findings, differences): failures are (case name, line), the rest lines."""
    failures, findings, differences = [], [], []
    names = [t[0] for t in targets]
    for case in cases:
        row = {n: results[(n, case.name)] for n in names}
        verdicts = {n: r.verdict for n, r in row.items()}
        if len(set(verdicts.values())) > 1:
            differences.append(f"{case.name} (expect {case.expect}): " + ", ".join(
                f"{n}={row[n].cell()}" for n in names))
        for n, r in row.items():
            extra = smuggled(r, case.max)
            if extra and n != sut:
                findings.append(f"{n}: {case.name}: smuggled response: {extra}: {r.cell()}")
            if case.expect == "reject" and r.verdict == "reject" and not r.closed and r.final:
                findings.append(f"{n}: {case.name}: rejected ({r.final[0]}) but kept the connection open")
            if case.expect == "accept" and r.verdict != "accept" and n != sut:
                findings.append(f"{n}: {case.name}: valid request not served: {r.cell()}")
            if n != sut and wrong_status(case, r):
                findings.append(f"{n}: {case.name}: refused with {r.final[0] if r.final else 'no response'} "
                                f"where the RFC names {case.status}")
            if r.verdict == "hang":
                findings.append(f"{n}: {case.name}: no answer and connection still open after "
                                f"{MAX_TIME:.0f} s: {r.cell()}")
            if r.verdict == "error" and n != sut:
                findings.append(f"{n}: {case.name}: {r.ending}")
        if sut not in row:
            continue
        w = row[sut]
        if w.verdict == "error":  # it was reachable before the run: it crashed or stopped accepting
            failures.append((case.name, f"(e) {case.name}: {sut} could not be reached: {w.ending}"))
            continue
        others = [n for n in names if n != sut]
        waived = case.name in allowed
        hard, soft, why = [], [], []  # failing letters, waived letters, explanations
        extra = smuggled(w, case.max)
        if extra:
            hard.append("c")
            why.append(extra)
        # (a) is about cases the corpus does not call valid: rejecting a valid request is the others'
        # strictness, not a waitless bug.
        if (case.expect != "accept" and w.verdict == "accept" and others
                and all(verdicts[o] == "reject" for o in others)):
            (soft if waived else hard).append("a")
            why.append("every other target rejects it")
        if case.expect == "reject" and w.verdict == "accept":
            (soft if waived else hard).append("b")
            why.append("expected reject")
            if not w.closed:
                hard.append("d")
                why.append("accepted without closing the connection")
        if case.expect == "accept":
            served = sum(1 for s in w.final if classify(s) == "accept")
            if w.verdict != "accept" or served < case.serve:
                (soft if waived else hard).append("f")
                why.append(f"a valid request refused or unanswered: {served} of {case.serve} served")
        if wrong_status(case, w):
            (soft if waived else hard).append("g")
            why.append(f"the RFC names {case.status}")
        if hard:
            failures.append((case.name, f"({','.join(sorted(hard))}) {case.name}: {sut} answers "
                             f"{w.cell()}: {'; '.join(why)}" + (" [allow-listed for a,b,f,g]" if waived else "")))
        elif soft:
            findings.append(f"{sut}: {case.name}: allow-listed ({','.join(soft)}): answers {w.cell()}: "
                            f"{'; '.join(why)}")
        elif waived:
            findings.append(f"{sut}: {case.name}: allow-listed in DIFFERENCES.md but passes without it: "
                            f"remove the item ({w.cell()})")
    return failures, findings, differences


def print_table(cases, targets, results, allowed, out):
    names = [t[0] for t in targets]
    wname = max(len(c.name) for c in cases) + (2 if allowed else 0)
    widths = {n: max(len(n), *(len(results[(n, c.name)].cell()) for c in cases)) for n in names}
    header = f"{'case':<{wname}}  {'expect':<6}  " + "  ".join(f"{n:<{widths[n]}}" for n in names)
    print(header, file=out)
    print("-" * len(header), file=out)
    for c in cases:
        mark = " *" if c.name in allowed else ""
        cells = []
        for n in names:
            r = results[(n, c.name)]
            cells.append(f"{r.cell():<{widths[n]}}")
        print(f"{c.name + mark:<{wname}}  {c.expect:<6}  " + "  ".join(cells), file=out)
    if allowed:
        print("(* allow-listed in DIFFERENCES.md)", file=out)


def parse_target(spec):
    m = re.fullmatch(r"([A-Za-z0-9_.-]+)=([^:]+):(\d+)", spec)
    if not m:
        raise argparse.ArgumentTypeError(f"target {spec!r}: want name=host:port")
    name, host, port = m.group(1), m.group(2), int(m.group(3))
    if host not in ("127.0.0.1", "localhost", "::1") and not host.startswith("127."):
        raise argparse.ArgumentTypeError(f"target {spec!r}: loopback addresses only")
    return name, host, port


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("targets", nargs="+", type=parse_target, help="name=host:port (loopback only)")
    ap.add_argument("--cases", default=os.path.join(HERE, "cases.txt"))
    ap.add_argument("--differences", default=os.path.join(HERE, "DIFFERENCES.md"))
    ap.add_argument("--only", action="append", default=[], help="run only cases whose name contains this")
    ap.add_argument("--jobs", type=int, default=16, help="connections in flight at once")
    ap.add_argument("--sut", default="waitless", help="name of the target under test")
    ap.add_argument("--json", metavar="FILE", help="also write every result as JSON to FILE")
    ap.add_argument("--dump", action="store_true",
                    help="print each case's bytes and every target's raw reply (use with --only)")
    args = ap.parse_args(argv)

    try:
        cases = load_cases(args.cases)
    except (OSError, ValueError) as e:
        print(f"run.py: {e}", file=sys.stderr)
        return 2
    if args.only:
        cases = [c for c in cases if any(s in c.name for s in args.only)]
        if not cases:
            print("run.py: no case matches --only", file=sys.stderr)
            return 2
    allowed = load_allowlist(args.differences)
    unknown = sorted(set(allowed) - {c.name for c in load_cases(args.cases)})
    if unknown:
        print(f"run.py: DIFFERENCES.md names unknown cases: {', '.join(unknown)}", file=sys.stderr)
        return 2
    names = [t[0] for t in args.targets]
    if len(set(names)) != len(names):
        print("run.py: target names must differ", file=sys.stderr)
        return 2

    # Reachability first, so a dead server is an error, not 80 "rejects".
    for name, host, port in args.targets:
        try:
            socket.create_connection((host, port), timeout=2).close()
        except OSError as e:
            print(f"run.py: target {name} at {host}:{port} unreachable: {e}", file=sys.stderr)
            return 2

    started = time.monotonic()
    results = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futs = {pool.submit(run_case, t, c): (t[0], c.name) for t in args.targets for c in cases}
        for f in concurrent.futures.as_completed(futs):
            results[futs[f]] = f.result()
    elapsed = time.monotonic() - started
    # Still alive? A server that crashed on the last cases would otherwise go unnoticed.
    dead = []
    for name, host, port in args.targets:
        try:
            socket.create_connection((host, port), timeout=2).close()
        except OSError as e:
            dead.append(f"{name} at {host}:{port} unreachable after the run: {e}")

    out = sys.stdout
    if args.dump:
        for c in cases:
            print(f"== {c.name} ({c.expect}, max {c.max}) sends {len(c.raw)} bytes: {c.raw[:400]!r}", file=out)
            for n in names:
                r = results[(n, c.name)]
                print(f"   {n}: {r.cell()}{' (' + r.note + ')' if r.note else ''}: {r.reply[:600]!r}", file=out)
        print(file=out)
    print(f"{len(cases)} cases x {len(names)} targets ({', '.join(names)}) in {elapsed:.1f} s\n", file=out)
    print_table(cases, args.targets, results, allowed, out)
    failures, findings, differences = judge(cases, args.targets, results, allowed, args.sut)

    print(f"\nDifferences in verdict (accept/reject/hang) between targets: {len(differences)}", file=out)
    for d in differences:
        print("  " + d, file=out)
    print("\nPer target: accepted / rejected / hang (of cases)", file=out)
    for n in names:
        v = [results[(n, c.name)].verdict for c in cases]
        closed_rej = sum(1 for c in cases if results[(n, c.name)].verdict == "reject"
                         and results[(n, c.name)].closed)
        print(f"  {n:<10} {v.count('accept'):>3} / {v.count('reject'):>3} / {v.count('hang'):>3}"
              f"   (rejects that closed: {closed_rej})", file=out)
    print(f"\nFindings (reported, not failing): {len(findings)}", file=out)
    for f in findings:
        print("  " + f, file=out)
    for d in dead:
        print(f"  {d}", file=out)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"cases": [{"name": c.name, "expect": c.expect, "max": c.max, "results": {
                n: {"statuses": results[(n, c.name)].statuses, "end": results[(n, c.name)].ending,
                    "verdict": results[(n, c.name)].verdict} for n in names}} for c in cases],
                "failures": [line for _, line in failures], "findings": findings}, f, indent=1)
    if args.sut not in names:
        print(f"\nno target named {args.sut}: nothing judged, comparison only", file=out)
        return 0
    failures += [("(after the run)", "(e) " + d) for d in dead if d.startswith(args.sut + " ")]
    failed = {name for name, _ in failures}
    print(f"\nFailures for {args.sut}: {len(failures)}", file=out)
    for _, f in failures:
        print("  " + f, file=out)
    print(f"adversarial: {len(cases) - len(failed)} passed, {len(failed)} failed", file=out)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
