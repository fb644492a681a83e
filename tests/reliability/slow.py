"""Test 1: slow clients. slowhttptest (slow headers -H, slow body -B, slow read -X) against `waitless hello`
while a legitimate client keeps asking for /plaintext on fresh connections (about 50 requests/s: a client,
not a load generator). The legitimate client must get every answer (its p99 is the figure), the attack
must really hold its connections (else the test proves nothing), RSS must stay bounded, and once the
attack ends every attack connection must be gone and the server must answer.

hello's timeouts are the defaults (headers 60 s, body 30 s) and hello has no flag to shorten them, so the
attack (-l seconds) ends before the server times any attack connection out: this checks that the server
serves others while holding them, not that it evicts them (see README: a needed option).
"""
import shutil
import socket
import threading
import time

from common import (NET_ERRORS, Hello, Reader, Row, RssSampler, closed_within, connect, fd_count, get, mb,
                    percentile, spawn)

MODES = {
    # flag: (label, extra slowhttptest arguments)
    "H": ("slow headers", []),
    "B": ("slow body", ["-s", "65536"]),  # POST with Content-Length 64 KiB, within hello's 1 MiB body limit
    # Slow read: 10 pipelined GETs per connection (slowhttptest's maximum), a 16..64-byte receive window,
    # 16 bytes read per second.
    "X": ("slow read", ["-k", "10", "-n", "1", "-w", "16", "-y", "64", "-z", "16"]),
}
# RSS growth allowed during the attack: 512 connections x 64 KiB, far above what a connection holding a
# partial request (parser arena, a few KiB) or 64 small queued responses needs, far below unbounded growth.
RSS_GROWTH_LIMIT_KB = 32 * 1024


class LegitClient(threading.Thread):
    """GET /plaintext on a fresh connection every `period` seconds until stopped: latencies and failures."""

    def __init__(self, port, period=0.02):
        super().__init__(daemon=True)
        self.port, self.period = port, period
        self.latencies, self.failures = [], []
        self.stop_flag = threading.Event()

    def run(self):
        while not self.stop_flag.is_set():
            try:
                status, secs = get(self.port, timeout=5)
                if status == 200:
                    self.latencies.append(secs)
                else:
                    self.failures.append(f"status {status}")
            except Exception as e:  # noqa: BLE001 - every failure counts the same
                self.failures.append(f"{type(e).__name__}: {e}")
            self.stop_flag.wait(self.period)

    def stop(self):
        self.stop_flag.set()
        self.join()


def slow_attack(ctx, flag):
    label, extra = MODES[flag]
    conns = 500
    seconds = 20 if not ctx.quick else 10
    row = Row(f"{label} (-{flag} -c {conns} -l {seconds})")
    if not shutil.which("slowhttptest"):
        row.check("slowhttptest installed", False, "apt-get install slowhttptest")
        return row
    with Hello(ctx) as srv:
        base_fds = fd_count(srv.pid)
        quiet = LegitClient(srv.port)  # the same client without an attack: the p99 to compare with
        quiet.start()
        time.sleep(3)
        quiet.stop()
        quiet_p99 = percentile(quiet.latencies, 99) * 1000
        quiet_p50 = percentile(quiet.latencies, 50) * 1000
        sampler = RssSampler(srv.pid, fds=True)
        legit = LegitClient(srv.port)
        legit.start()
        attack = spawn(["slowhttptest", f"-{flag}", "-c", str(conns), "-r", "250", "-l", str(seconds), "-i", "2",
                        "-p", "5", "-u", f"http://127.0.0.1:{srv.port}/plaintext", *extra],
                       log=f"{ctx.tmp}/slowhttptest-{flag}.log")
        try:
            attack.wait(timeout=seconds + 30)
        except Exception:  # noqa: BLE001 - it is killed below either way
            pass
        legit.stop()
        sampler.stop()
        # The attack's connections are closed when slowhttptest exits: the server must notice every one.
        deadline = time.monotonic() + 10
        while fd_count(srv.pid) > base_fds and time.monotonic() < deadline:
            time.sleep(0.1)
        end_fds = fd_count(srv.pid)
        time.sleep(0.5)
        after = srv.rss()
        held = sampler.peak_fds - base_fds
        row.check("the attack held its connections", held >= conns * 0.8, f"{held} connections at peak")
        n, nf = len(legit.latencies), len(legit.failures)
        p99 = percentile(legit.latencies, 99) * 1000
        p50 = percentile(legit.latencies, 50) * 1000
        row.check("the legitimate client got every answer", n > 0 and nf == 0,
                  f"{n} answered, {nf} failed" + (f": {legit.failures[0]}" if nf else ""))
        growth = sampler.peak - sampler.before
        row.check("RSS bounded during the attack", growth < RSS_GROWTH_LIMIT_KB * ctx.mem_factor,
                  f"before {mb(sampler.before)} MB, peak {mb(sampler.peak)} MB, after {mb(after)} MB")
        row.check("attack connections closed after it ends", end_fds <= base_fds,
                  f"fds {base_fds} before, {end_fds} after")
        try:
            ok = srv.alive() and get(srv.port)[0] == 200
        except NET_ERRORS:
            ok = False
        row.check("serves normally afterwards", ok)
        row.figure = (f"p50/p99 {p50:.1f}/{p99:.1f} ms (n={n}; {quiet_p50:.1f}/{quiet_p99:.1f} ms without "
                      f"attack), {held} attack conns, "
                      f"RSS {mb(sampler.before)}/"
                      f"{mb(sampler.peak)}/{mb(after)} MB")
    return row


class TimeoutProbes:
    """The server's own defence against slow clients is its timeouts. hello cannot shorten them, so they are
    probed at their defaults on a server of their own while the attacks run (about 75 s in all): a head
    trickled one header every 5 s (408 at headers_timeout, 60 s), a body that stops (408 at body_timeout,
    30 s) and an idle keep-alive connection (closed without a word at keep_alive_timeout, 65 s). The
    server's sweep runs once a second: an answer within [limit, limit + 3 s] is on time."""

    LIMITS = {"headers": 60.0, "body": 30.0, "keep-alive": 65.0}

    def __init__(self, ctx):
        self.srv = Hello(ctx)
        self.t0 = time.monotonic()
        self.results = {}
        self.threads = [threading.Thread(target=getattr(self, f"_{k.replace('-', '_')}"), daemon=True)
                        for k in self.LIMITS]
        for t in self.threads:
            t.start()

    def _wait_answer(self, name, s, started, trickle=None):
        """Waits up to limit + 10 s for a response or a close; trickle() is called every 5 s meanwhile."""
        s.settimeout(0.5)
        reader = Reader(s)
        next_trickle = started + 5
        while time.monotonic() - started < self.LIMITS[name] + 10:
            try:
                status = reader.response()[0]
                self.results[name] = (status, time.monotonic() - started, closed_within(s, 5))
                return
            except socket.timeout:
                pass
            except NET_ERRORS as e:
                self.results[name] = (type(e).__name__, time.monotonic() - started, True)
                return
            if trickle and time.monotonic() >= next_trickle:
                next_trickle += 5
                try:
                    trickle()
                except OSError:
                    pass
        self.results[name] = ("no answer", time.monotonic() - started, False)

    def _headers(self):
        s = connect(self.srv.port)
        s.sendall(b"GET /plaintext HTTP/1.1\r\nHost: x\r\n")
        started = time.monotonic()
        n = [0]

        def more():
            n[0] += 1
            s.sendall(b"X-Slow-%d: v\r\n" % n[0])
        self._wait_answer("headers", s, started, more)
        s.close()

    def _body(self):
        s = connect(self.srv.port)
        s.sendall(b"POST /plaintext HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789")
        self._wait_answer("body", s, time.monotonic())
        s.close()

    def _keep_alive(self):
        s = connect(self.srv.port)
        s.sendall(b"GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n")
        reader = Reader(s)
        try:
            reader.response()
        except NET_ERRORS as e:
            self.results["keep-alive"] = (f"first request failed: {e}", 0, False)
            return
        started = time.monotonic()
        closed = closed_within(s, self.LIMITS["keep-alive"] + 10)
        self.results["keep-alive"] = ("closed" if closed else "still open", time.monotonic() - started, closed)
        s.close()

    def finish(self):
        for t in self.threads:
            t.join(timeout=max(0.0, 80 - (time.monotonic() - self.t0)))
        row = Row("timeouts at their defaults (headers 60 s, body 30 s, keep-alive 65 s)")
        figure = []
        for name, limit in self.LIMITS.items():
            status, secs, closed = self.results.get(name, ("not finished", 0.0, False))
            want = "closed" if name == "keep-alive" else 408
            on_time = limit - 0.5 <= secs <= limit + 3
            row.check(f"{name}: {want} at {limit:.0f} s, then closed", status == want and closed and on_time,
                      f"{status} after {secs:.1f} s, closed {closed}")
            figure.append(f"{name} {status} at {secs:.1f} s")
        row.figure = ", ".join(figure) + "; hello has no flag to shorten them"
        self.srv.stop()
        return row


def run(ctx):
    probes = TimeoutProbes(ctx)
    rows = [slow_attack(ctx, f) for f in ("H", "B", "X")]
    rows.append(probes.finish())
    return rows
