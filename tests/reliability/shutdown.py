"""Test 4: zero-loss shutdown. SIGTERM reaches `waitless hello` (one loop) in the middle of a bounded load:
wrk -t1 -c64 keeps the server busy (so requests are queued in its sockets when the signal arrives), and a
python3 client on 32 more keep-alive connections, which sends requests back to back (one at a time on 24
of them, 16 or 512 pipelined at a time on the others: see depth_of), classifies every request it sent:

- complete: its whole response arrived;
- truncated: part of a response, then EOF or a reset: FAILURE (a response that started must complete);
- dropped: fully written before SIGTERM was sent, and the connection closed or reset without its response
  and without a `Connection: close` response announcing the close: FAILURE. On loopback a completed send()
  has put the request in the server's socket buffer, so it was in flight when the signal arrived, and a
  graceful shutdown finishes requests in flight;
- after close: pipelined behind a response that said Connection: close, never answered: allowed (the
  server announced it; the client retries);
- pipelined unanswered: on a pipelining connection, requests still outstanding when the server closed
  during the shutdown: allowed (RFC 9112 9.3.2: the client retries the unanswered requests of a pipeline;
  the server stops reading at its write high-water mark, so some were never read), counted;
- dropped in the grace: on a one-at-a-time connection opened before SIGTERM, written after SIGTERM but
  within GRACE_S of it, closed without its response and without a `Connection: close` response announcing
  the close: FAILURE. This is the keep-alive race (the client sent its next request as the shutdown began):
  the server keeps reading idle connections for its shutdown grace (ServerOptions::shutdown_idle_grace,
  1 s in hello) and answers such a request with Connection: close (see also race.py);
- unanswered: written after SIGTERM on a pipelining connection, on one opened after SIGTERM, or after the
  grace, closed without a byte of answer: counted, not a failure (pipelined requests past the server's
  high-water mark are never read; a connection that was never accepted cannot be answered; after the grace
  the race is every server's, and the client must retry);
- refused: connect() refused once the listener is closed: expected.

wrk's own error counts are reported too (connect errors after the listener closed are expected; read
errors are resets). The process must exit 0 within 5 s (hello's deadline is 25 s; nothing here is slow).
"""
import errno
import os
import re
import selectors
import shutil
import signal
import socket
import time

from common import Hello, Row, parse_one, spawn

REQ = b"GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n"
EXIT_BOUND_S = 5.0
GRACE_S = 1.0  # hello's shutdown_idle_grace (the ServerOptions default)


def depth_of(i):
    """Requests per batch on connection i: most send one at a time; some pipeline 16 or 512; connections
    0 and 16 pipeline 4096 (about 530 KB of responses, past the server's 256 KiB write high-water mark) and
    read slowly (SLOW_READ bytes every SLOW_PERIOD s), so the server holds queued output and unread requests
    for them when the signal arrives."""
    return 4096 if i % 16 == 0 else 512 if i % 8 == 0 else 16 if i % 8 == 4 else 1


SLOW_READ, SLOW_PERIOD = 32 * 1024, 0.01


class Conn:
    def __init__(self, port, sel, depth):
        self.port, self.sel, self.depth = port, sel, depth
        self.slow = depth >= 4096
        self.paused_until = None  # a slow reader between reads: unregistered until then
        self.open()

    def open(self):
        self.s = socket.socket()
        self.s.setblocking(False)
        if self.slow:  # a small window: the responses pile up in the server, not in this kernel
            self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
        self.opened_at = time.monotonic()
        err = self.s.connect_ex(("127.0.0.1", self.port))
        self.connect_error = None if err in (errno.EINPROGRESS, 0) else err
        self.connecting = self.connect_error is None
        self.buf = b""
        self.out = b""
        self.sent_at = []  # per request of the batch: when its last byte was written (None: not yet)
        self.head = 0
        self.got = 0  # bytes of the current response received
        self.closing = False  # a response said Connection: close
        if self.connecting:
            self.queue_batch()
            self.sel.register(self.s, selectors.EVENT_READ | selectors.EVENT_WRITE, self)

    def queue_batch(self):
        self.out = REQ * self.depth
        self.sent_at = [None] * self.depth
        self.head = 0  # sent_at[head:] are the requests not answered yet

    def close(self):
        self.paused_until = None
        try:
            self.sel.unregister(self.s)
        except (KeyError, ValueError):
            pass
        self.s.close()


def drive(srv, conns, depth_of, seconds, term_at, counts, examples):
    """The python client: returns (seconds from SIGTERM to exit or None, when SIGTERM was sent)."""
    sel = selectors.DefaultSelector()
    pool = [Conn(srv.port, sel, depth_of(i)) for i in range(conns)]
    t0 = time.monotonic()
    term = None
    exit_s = None

    def ended(c, how):
        """The connection ended (EOF or error): classify what it still had outstanding; maybe reconnect."""
        outstanding = c.sent_at[c.head:]
        if c.got > 0:
            counts["truncated"] += 1
            outstanding = outstanding[1:]
            if len(examples) < 5:
                examples.append(f"truncated after {c.got} bytes ({how})")
        for t in outstanding:
            if c.closing:
                counts["after close"] += 1
            elif t is None:
                counts["unsent"] += 1
            elif c.depth > 1 and term is not None and t < term:
                counts["pipelined unanswered"] += 1
            elif term is None or t < term:
                counts["dropped"] += 1
                if len(examples) < 5:
                    examples.append(f"dropped ({how}): written {(term or t) - t:.4f} s before SIGTERM, "
                                    f"{len(outstanding)} outstanding on the connection")
            elif c.depth == 1 and c.opened_at < term and t - term < GRACE_S:
                counts["dropped in grace"] += 1
                if len(examples) < 5:
                    examples.append(f"dropped in the grace ({how}): written {t - term:.4f} s after SIGTERM")
            else:
                counts["unanswered"] += 1
        c.close()
        if term is None or time.monotonic() - term < 1.0:
            if term is not None:  # after the signal a reconnect only probes the listener: one request
                c.depth, c.slow = 1, False
            c.open()  # like wrk: reconnect; refused once the listener is closed
            if c.connect_error is not None:
                counts["refused"] += 1

    while time.monotonic() - t0 < seconds:
        if term is None and time.monotonic() - t0 >= term_at:
            os.kill(srv.pid, signal.SIGTERM)
            term = time.monotonic()
        if exit_s is None and term is not None and srv.proc.poll() is not None:
            exit_s = time.monotonic() - term
        now = time.monotonic()
        for c in pool:
            if c.paused_until is not None and now >= c.paused_until:
                c.paused_until = None
                sel.register(c.s, (selectors.EVENT_READ | selectors.EVENT_WRITE) if c.out else selectors.EVENT_READ, c)
        if not sel.get_map():
            if term is not None and all(c.paused_until is None for c in pool):
                break
            time.sleep(0.001)
            continue
        for key, ev in sel.select(timeout=0.01):
            c = key.data
            try:
                if c.connecting:
                    err = c.s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if err:
                        c.close()
                        counts["refused"] += 1
                        continue
                    c.connecting = False
                if ev & selectors.EVENT_WRITE and c.out:
                    before = len(c.out)
                    n = c.s.send(c.out)
                    c.out = c.out[n:]
                    done = (len(REQ) * c.depth - len(c.out)) // len(REQ)  # requests written in full
                    now = time.monotonic()
                    for i in range((len(REQ) * c.depth - before) // len(REQ), done):
                        c.sent_at[i] = now
                    if not c.out:
                        sel.modify(c.s, selectors.EVENT_READ, c)
                if not ev & selectors.EVENT_READ:
                    continue
                # Responses are read while requests are still being written: a client that only reads
                # once it has written everything deadlocks against a server that stops reading at its
                # high-water mark.
                d = c.s.recv(SLOW_READ if c.slow else 65536)
                if not d:
                    ended(c, "EOF")
                    continue
                if c.slow:
                    sel.unregister(c.s)
                    c.paused_until = time.monotonic() + SLOW_PERIOD
                c.buf += d
                c.got += len(d)
                while c.head < len(c.sent_at):
                    n, close = parse_one(c.buf)
                    if not n:
                        break
                    c.buf = c.buf[n:]
                    c.got = len(c.buf)
                    t = c.sent_at[c.head]
                    c.head += 1
                    counts["complete"] += 1
                    if term is not None and t is not None and t < term:
                        counts["finished in shutdown"] += 1
                    if close:
                        counts["Connection: close"] += 1
                        c.closing = True
                if c.head == len(c.sent_at) and not c.closing:
                    c.queue_batch()
                    if c.paused_until is None:
                        sel.modify(c.s, selectors.EVENT_READ | selectors.EVENT_WRITE, c)
                    else:  # registered again for writing when its pause ends
                        c.paused_until = time.monotonic()
            except OSError as e:
                if isinstance(e, ConnectionRefusedError) and c.connecting:
                    c.close()
                    counts["refused"] += 1
                else:
                    ended(c, type(e).__name__)
    for c in pool:
        c.close()
    return exit_s, term


def run(ctx):
    conns, seconds, term_at = 32, 10.0 if not ctx.quick else 6.0, 3.0
    wrk = shutil.which("wrk")
    row = Row(f"zero-loss shutdown ({conns} conns{' + wrk -c64' if wrk else ''}, SIGTERM at {term_at:.0f} s)")
    counts = dict.fromkeys(["complete", "finished in shutdown", "truncated", "dropped", "dropped in grace",
                            "after close", "pipelined unanswered", "unanswered", "unsent", "refused",
                            "Connection: close"], 0)
    examples = []
    # The server and wrk share CPU 0, the python client has CPU 1: the server answers slower than the
    # client asks, so the client's requests wait in the server's sockets when SIGTERM arrives.
    ncpu = os.cpu_count() or 1
    srv = Hello(ctx, cpu=0 if ncpu > 1 else None)
    old_affinity = os.sched_getaffinity(0)
    if ncpu > 1:
        os.sched_setaffinity(0, {1})
    load = None
    if wrk:
        load = spawn([*(["taskset", "-c", "0"] if ncpu > 1 else []), wrk, "-t1", "-c64", f"-d{seconds:.0f}s",
                      f"http://127.0.0.1:{srv.port}/plaintext"], log=f"{ctx.tmp}/wrk-shutdown.log")
        time.sleep(0.3)
    try:
        exit_s, term = drive(srv, conns, depth_of, seconds, term_at, counts, examples)
    finally:
        os.sched_setaffinity(0, old_affinity)
    if exit_s is None and term is not None:
        try:
            srv.proc.wait(timeout=max(0.0, EXIT_BOUND_S - (time.monotonic() - term)))
            exit_s = time.monotonic() - term
        except Exception:  # noqa: BLE001 - reported as "did not exit" below
            pass
    code = srv.proc.poll()
    srv.stop()  # SIGKILL if it is still there
    wrk_errors = "no wrk"
    if load:
        try:
            load.wait(timeout=seconds + 10)
        except Exception:  # noqa: BLE001 - killed by the driver's kill_all
            pass
        with open(f"{ctx.tmp}/wrk-shutdown.log", errors="replace") as f:
            out = f.read()
        m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
        reqs = re.search(r"(\d+) requests in", out)
        wrk_errors = (f"wrk: {reqs.group(1) if reqs else '?'} requests, "
                      + (f"connect {m.group(1)} / read {m.group(2)} / write {m.group(3)} / timeout {m.group(4)}"
                         if m else "no socket errors"))
    print(f"    client: {counts}; {wrk_errors}")
    row.check("requests completed before and during the shutdown", counts["complete"] > 1000,
              f"{counts['complete']} complete")
    row.check("requests in flight at SIGTERM were answered", counts["finished in shutdown"] > 0,
              f"{counts['finished in shutdown']} requests written before SIGTERM answered after it")
    row.check("no truncated response", counts["truncated"] == 0, f"{counts['truncated']} truncated")
    row.check("no request in flight at SIGTERM dropped", counts["dropped"] == 0,
              f"{counts['dropped']} dropped" + (f": {examples}" if examples else ""))
    row.check("no request written during the grace dropped", counts["dropped in grace"] == 0,
              f"{counts['dropped in grace']} dropped in the grace")
    row.check("process exited 0 within the bound", exit_s is not None and exit_s <= EXIT_BOUND_S and code == 0,
              f"exit code {code} after {exit_s if exit_s is None else round(exit_s, 3)} s")
    row.figure = (f"{counts['complete']} complete ({counts['finished in shutdown']} in flight at SIGTERM), "
                  f"{counts['truncated']} truncated, {counts['dropped']} dropped, "
                  f"{counts['dropped in grace']} dropped in the grace, "
                  f"{counts['after close']} after close, {counts['unanswered']} unanswered after SIGTERM "
                  f"(allowed), "
                  f"{counts['refused']} refused, exit {exit_s if exit_s is None else round(exit_s * 1000)} ms; "
                  f"{wrk_errors}")
    return [row]
