"""Test 5: the keep-alive race at shutdown. 64 keep-alive clients each send one request at a time, back to
back: the next request is written the instant the previous response is complete, so at any moment many
connections are idle at the server with their next request on its way. SIGTERM (nginx: QUIT, its graceful
stop) arrives in the middle. Every request is classified:

- complete: its whole response arrived;
- LOST: written on a connection whose previous response did not say `Connection: close` (every connection
  here was opened and served before the signal), and no complete response came back (EOF, reset, part of
  a response, or nothing by the end of the run);
- a connection whose last response said `Connection: close` gets no further request (the client obeys),
  and one that is closed while no request is outstanding loses nothing.

A server that closes its idle keep-alive connections at once on shutdown loses the requests already on
their way, up to one per connection: the client wrote them before it could see the close. waitless keeps
reading idle connections for a grace period (ServerOptions::shutdown_idle_grace, 1 s in hello) and answers
such a request with `Connection: close`; it must lose none and exit within EXIT_BOUND_S.

The same client runs against nginx (1 worker, keep-alive, SIGQUIT) and Node's `http` server
(node_race_server.js: server.close() + closeIdleConnections() on SIGTERM, as Node documents a graceful
stop); their counts are printed beside ours as figures, not checks: only waitless fails the suite.
"""
import os
import selectors
import shutil
import signal
import socket
import time

from common import Row, free_port, get, parse_one, spawn

CONNS = 64
REQ = b"GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n"
TERM_AT = 1.5  # seconds of load before the signal
EXIT_BOUND_S = 5.0  # hello: 1 s grace, 25 s deadline; nothing here is slow
RUN_BOUND_S = 8.0  # after the signal, the client stops waiting (what is still outstanding is lost)
HERE = os.path.dirname(os.path.abspath(__file__))


class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.s.setblocking(False)
        self.buf = b""
        self.outstanding = None  # when the request waiting for its response was written (None: none)
        self.closing = False  # the last response said Connection: close: nothing more is written


class Peer:
    """A server process on a free port: waitless hello, nginx or Node, each pinned like hello in test 4."""

    def __init__(self, ctx, kind, cpu):
        self.kind, self.port = kind, free_port()
        pin = ["taskset", "-c", str(cpu)] if cpu is not None else []  # exec's the server: same pid
        log = os.path.join(ctx.tmp, f"race-{kind}-{self.port}.log")
        self.log = log
        if kind == "waitless":
            argv = [ctx.waitless, "hello", "--port", str(self.port), "--threads", "1"]
            self.stop_signal = signal.SIGTERM
        elif kind == "nginx":
            argv = [nginx_binary(), "-p", self.nginx_conf(ctx), "-c", "nginx.conf", "-e", log + ".error"]
            self.stop_signal = signal.SIGQUIT  # graceful shutdown (TERM is nginx's fast one)
        else:
            argv = [shutil.which("node") or "node", os.path.join(HERE, "node_race_server.js"), str(self.port)]
            self.stop_signal = signal.SIGTERM
        self.proc = spawn([*pin, *argv], log=log)
        deadline = time.monotonic() + 10
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{kind} exited with {self.proc.returncode}: {self.log_tail()}")
            try:
                if get(self.port, timeout=1)[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{kind} did not answer within 10 s: {self.log_tail()}")
            time.sleep(0.05)

    def nginx_conf(self, ctx):
        prefix = os.path.join(ctx.tmp, f"nginx-race-{self.port}")
        os.makedirs(prefix, exist_ok=True)
        user = "user root;\n" if os.getuid() == 0 else ""  # else the worker runs as nobody: no way into tmp
        with open(os.path.join(prefix, "nginx.conf"), "w") as f:
            f.write(f"""{user}worker_processes 1;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {prefix}/body;
  proxy_temp_path {prefix}/proxy;
  fastcgi_temp_path {prefix}/fastcgi;
  uwsgi_temp_path {prefix}/uwsgi;
  scgi_temp_path {prefix}/scgi;
  default_type text/plain;
  keepalive_timeout 65s;
  keepalive_requests 1000000;  # a busy keep-alive connection, never closed for its request count
  server {{
    listen 127.0.0.1:{self.port};
    location / {{ return 200 "Hello, World!"; }}
  }}
}}
""")
        return prefix

    def log_tail(self, n=5):
        lines = []
        for path in (self.log, self.log + ".error"):
            try:
                with open(path, errors="replace") as f:
                    lines += f.read().splitlines()[-n:]
            except OSError:
                pass
        return " | ".join(lines)


def nginx_binary():
    return shutil.which("nginx") or "/usr/sbin/nginx"


def drive(peer, counts, examples):
    """Runs the clients, signals the server at TERM_AT; returns seconds from the signal to the exit, or None."""
    sel = selectors.DefaultSelector()
    conns = [Conn(peer.port) for _ in range(CONNS)]
    t0 = time.monotonic()
    term = None
    exit_s = None

    def write(c):
        try:
            c.s.send(REQ)  # 37 bytes on an idle connection: the kernel takes them whole
        except OSError as e:
            c.outstanding = time.monotonic()
            ended(c, type(e).__name__)
            return
        c.outstanding = time.monotonic()
        counts["written"] += 1
        if term is not None:
            counts["written after the signal"] += 1

    def ended(c, how):
        if c.outstanding is not None:
            counts["lost"] += 1
            if len(examples) < 3:
                after = f"{c.outstanding - term:+.4f} s from the signal" if term is not None else "before it"
                examples.append(f"written {after}, then {how}" + (f" after {len(c.buf)} bytes" if c.buf else ""))
        try:
            sel.unregister(c.s)
        except (KeyError, ValueError):
            pass
        c.s.close()
        conns.remove(c)

    for c in conns:
        sel.register(c.s, selectors.EVENT_READ, c)
        write(c)
    while conns:
        now = time.monotonic()
        if term is None and now - t0 >= TERM_AT:
            os.kill(peer.proc.pid, peer.stop_signal)
            term = now
        if term is not None:
            if exit_s is None and peer.proc.poll() is not None:
                exit_s = now - term
            if now - term > RUN_BOUND_S:
                for c in list(conns):
                    ended(c, "no answer by the end of the run")
                break
        for key, _ in sel.select(timeout=0.01):
            c = key.data
            try:
                d = c.s.recv(65536)
            except BlockingIOError:
                continue
            except OSError as e:
                ended(c, type(e).__name__)
                continue
            if not d:
                ended(c, "EOF")
                continue
            c.buf += d
            n, close = parse_one(c.buf)
            if not n:
                continue
            c.buf = c.buf[n:]
            c.outstanding = None
            counts["complete"] += 1
            if term is not None:
                counts["answered after the signal"] += 1
            if close:
                counts["Connection: close"] += 1
                c.closing = True
            elif c.buf:
                ended(c, "bytes after the response")  # not expected: one request at a time
            else:
                write(c)
    sel.close()
    if exit_s is None and term is not None:
        try:
            peer.proc.wait(timeout=max(0.0, EXIT_BOUND_S - (time.monotonic() - term)))
            exit_s = time.monotonic() - term
        except Exception:  # noqa: BLE001 - reported as "did not exit" below
            pass
    return exit_s


def one(ctx, kind, rounds):
    """(counts summed over the rounds, exit seconds per round (None: did not exit), exit codes, examples)."""
    ncpu = os.cpu_count() or 1
    counts = dict.fromkeys(["written", "complete", "lost", "written after the signal",
                            "answered after the signal", "Connection: close"], 0)
    exits, codes, examples = [], [], []
    old_affinity = os.sched_getaffinity(0)
    try:
        for _ in range(rounds):
            # The server has CPU 0, this client CPU 1 (as in test 4).
            peer = Peer(ctx, kind, 0 if ncpu > 1 else None)
            if ncpu > 1:
                os.sched_setaffinity(0, {1})
            try:
                exits.append(drive(peer, counts, examples))
            finally:
                os.sched_setaffinity(0, old_affinity)
                codes.append(peer.proc.poll())
                if peer.proc.poll() is None:
                    os.killpg(peer.proc.pid, signal.SIGKILL)
                    peer.proc.wait()
    finally:
        os.sched_setaffinity(0, old_affinity)
    return counts, exits, codes, examples


def figure(counts, exits, rounds):
    ms = ", ".join("no exit" if e is None else f"{e * 1000:.0f}" for e in exits)
    return (f"{counts['lost']} lost of {counts['written after the signal']} written after the signal "
            f"({rounds} rounds x {CONNS} conns; {counts['complete']} complete, "
            f"{counts['Connection: close']} Connection: close); exit ms {ms}")


def run(ctx):
    rounds = 2 if ctx.quick else 3
    rows = []
    counts, exits, codes, examples = one(ctx, "waitless", rounds)
    print(f"    waitless: {counts}; exits {exits}; codes {codes}")
    row = Row(f"keep-alive race at SIGTERM: waitless ({CONNS} conns, x{rounds})")
    row.check("requests were written after the signal (the race was exercised)",
              counts["written after the signal"] > 0,
              f"{counts['written after the signal']} written after the signal, "
              f"{counts['Connection: close']} answered with Connection: close")
    row.check("no request lost", counts["lost"] == 0,
              f"{counts['lost']} lost" + (f": {examples}" if examples else ""))
    row.check("process exited 0 within the bound",
              all(e is not None and e <= EXIT_BOUND_S for e in exits) and all(c == 0 for c in codes),
              f"exit codes {codes}, seconds {[e if e is None else round(e, 3) for e in exits]}")
    row.figure = figure(counts, exits, rounds)
    rows.append(row)
    if ctx.quick:
        return rows
    # The peers: their losses are figures; a peer that cannot run is a failed setup check.
    for kind, how in (("nginx", "QUIT"), ("node", "close + closeIdleConnections")):
        row = Row(f"keep-alive race: {kind} ({how}) for comparison")
        binary = nginx_binary() if kind == "nginx" else shutil.which("node")
        if not binary or not os.path.exists(binary):
            row.check("peer installed (scripts/deps.sh)", False, f"{kind} not found")
            rows.append(row)
            continue
        try:
            counts, exits, codes, examples = one(ctx, kind, rounds)
        except (OSError, RuntimeError) as e:
            row.check("peer started", False, f"{type(e).__name__}: {e}")
            rows.append(row)
            continue
        print(f"    {kind}: {counts}; exits {exits}; codes {codes}; e.g. {examples}")
        row.check("peer ran (its losses are reported, not checked)", counts["complete"] > 0,
                  f"{counts['complete']} complete")
        row.figure = figure(counts, exits, rounds)
        rows.append(row)
    return rows

