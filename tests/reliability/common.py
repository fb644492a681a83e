"""Shared pieces of the reliability suite: servers it starts (and always kills), /proc measurements, a
raw-socket HTTP/1.1 client, and the result rows the table is made of. Standard library only.

Every process started through `spawn()` is registered and killed (SIGKILL to its process group) by
`kill_all()`, which main.py runs from `finally`, from atexit and from its SIGTERM/SIGINT handlers.
"""
import os
import resource
import signal
import socket
import subprocess
import threading
import time

HOST = "127.0.0.1"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")

_children = []  # every Popen started by spawn(), killed by kill_all()


def spawn(argv, nofile=None, log=None, address_space=None, **kw):
    """Starts argv in its own process group (so a kill takes its children too), optionally under
    RLIMIT_NOFILE=nofile and RLIMIT_AS=address_space bytes (soft and hard). Registered for kill_all()."""
    def limits():
        if nofile is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
        if address_space is not None:
            resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))
    out = open(log, "wb") if log else subprocess.DEVNULL
    kw.setdefault("stdout", out)
    kw.setdefault("stderr", subprocess.STDOUT if log else subprocess.DEVNULL)
    p = subprocess.Popen(argv, preexec_fn=limits, start_new_session=True, **kw)
    if log:
        out.close()
    _children.append(p)
    if os.environ.get("RELIABILITY_PIDS"):  # run.sh's trap kills these too, should this driver be killed
        with open(os.environ["RELIABILITY_PIDS"], "a") as f:
            f.write(f"{p.pid}\n")
    return p


def kill_all():
    for p in _children:
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except OSError:
                pass
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
    _children.clear()


def free_port():
    s = socket.socket()
    s.bind((HOST, 0))
    port = s.getsockname()[1]
    s.close()
    return port


# ---- /proc ------------------------------------------------------------------------------------------------

def rss_kb(pid):
    """Resident set size (VmRSS) in kB, 0 once the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds(pid):
    """utime + stime of the whole process (all threads), in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # fields 14 and 15 of proc(5), after the comm


def vm_kb(pid, field):
    """A Vm* line of /proc/PID/status (VmData, VmSize...) in kB, 0 once the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def fd_count(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1


def server_queues(port):
    """(connections, unread bytes, unsent bytes) summed over the established server-side sockets of
    127.0.0.1:port, from `ss` (Recv-Q: received, not read by the server; Send-Q: written, not acked)."""
    try:
        out = subprocess.run(["ss", "-tnH", "state", "established", "sport", "=", f":{port}"],
                             capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return (0, 0, 0)
    n = rq = sq = 0
    for line in out.splitlines():
        f = line.split()
        if len(f) >= 2 and f[0].isdigit():
            n, rq, sq = n + 1, rq + int(f[0]), sq + int(f[1])
    return (n, rq, sq)


class RssSampler:
    """Samples a process's VmRSS every `period` seconds in a thread: before (at start), peak, last."""

    def __init__(self, pid, period=0.05, fds=False):
        self.pid, self.period, self.fds = pid, period, fds
        self.before = rss_kb(pid)
        self.peak = self.before
        self.last = self.before
        self.peak_fds = fd_count(pid) if fds else -1
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self):
        while not self._stop.is_set():
            v = rss_kb(self.pid)
            if v:
                self.last = v
                self.peak = max(self.peak, v)
            if self.fds:
                self.peak_fds = max(self.peak_fds, fd_count(self.pid))
            self._stop.wait(self.period)

    def stop(self):
        self._stop.set()
        self._t.join()
        self.last = rss_kb(self.pid) or self.last
        self.peak = max(self.peak, self.last)
        return self


def mb(kb):
    return f"{kb / 1024:.1f}"


# ---- the server under test ----------------------------------------------------------------------------------

class Hello:
    """`waitless hello` on a free loopback port, one loop thread unless told otherwise."""

    def __init__(self, ctx, nofile=None, threads=1, cpu=None, address_space=None, env=None):
        self.port = free_port()
        self.log = os.path.join(ctx.tmp, f"hello-{self.port}.log")
        pin = ["taskset", "-c", str(cpu)] if cpu is not None else []  # exec's hello: the pid stays the same
        self.proc = spawn([*pin, ctx.waitless, "hello", "--port", str(self.port), "--threads", str(threads)],
                          nofile=nofile, address_space=address_space, log=self.log,
                          **({"env": env} if env is not None else {}))
        self.pid = self.proc.pid
        deadline = time.monotonic() + 10
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"hello exited with {self.proc.returncode}: {self.log_tail()}")
            try:
                if get(self.port, timeout=1)[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("hello did not answer within 10 s")
            time.sleep(0.05)
        time.sleep(0.1)  # the readiness probe's connection closes: fd counts start from the idle server

    def alive(self):
        return self.proc.poll() is None

    def rss(self):
        return rss_kb(self.pid)

    def log_tail(self, n=5):
        try:
            with open(self.log, errors="replace") as f:
                return " | ".join(f.read().splitlines()[-n:])
        except OSError:
            return ""

    def stop(self):
        """SIGTERM, then SIGKILL if it has not exited within 10 s. Returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.pid, signal.SIGKILL)
                self.proc.wait()
        return self.proc.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


# ---- a raw-socket HTTP/1.1 client ---------------------------------------------------------------------------

class Truncated(Exception):
    """The connection ended inside a response (some of it had arrived)."""


class Reader:
    """Parses responses (Content-Length or chunked bodies) from a socket. `got_bytes` tells whether any byte of
    the response being read has arrived, which separates a truncated response from one never started."""

    def __init__(self, sock):
        self.s = sock
        self.buf = b""

    def _fill(self):
        d = self.s.recv(65536)
        if not d:
            raise EOFError("connection closed")
        self.buf += d

    def response(self, head_only=False):
        """(status, {lower-name: value}, body). EOFError (or a socket error) before any byte of it;
        Truncated after some bytes. A socket.timeout leaves the bytes received so far buffered for the
        next call."""
        started = bool(self.buf)
        try:
            while b"\r\n\r\n" not in self.buf:
                self._fill()
                started = True
            end = self.buf.index(b"\r\n\r\n") + 4
            lines = self.buf[:end - 4].decode("latin-1").split("\r\n")
            status = int(lines[0].split(" ")[1])
            headers = {}
            for line in lines[1:]:
                k, v = line.split(":", 1)
                headers[k.strip().lower()] = v.strip()
            if head_only or status < 200 or status in (204, 304):
                self.buf = self.buf[end:]
                return status, headers, b""
            if headers.get("transfer-encoding", "").lower() == "chunked":
                body, pos = b"", end
                while True:
                    while b"\r\n" not in self.buf[pos:]:
                        self._fill()
                    eol = self.buf.index(b"\r\n", pos)
                    size = int(self.buf[pos:eol].split(b";")[0], 16)
                    while len(self.buf) < eol + 2 + size + 2:
                        self._fill()
                    body += self.buf[eol + 2:eol + 2 + size]
                    pos = eol + 2 + size + 2
                    if size == 0:
                        self.buf = self.buf[pos:]
                        return status, headers, body
            n = int(headers.get("content-length", "0"))
            while len(self.buf) < end + n:
                self._fill()
            body, self.buf = self.buf[end:end + n], self.buf[end + n:]
            return status, headers, body
        except socket.timeout:
            raise
        except (EOFError, OSError) as e:
            if started:
                raise Truncated(f"{type(e).__name__}: {e} after {len(self.buf)} bytes") from e
            raise


# What a client call may end with when the server closes, resets or is gone.
NET_ERRORS = (OSError, EOFError, Truncated)


def connect(port, timeout=5, src=None):
    s = socket.socket()
    s.settimeout(timeout)
    if src:
        s.bind((src, 0))
    s.connect((HOST, port))
    return s


def get(port, path="/plaintext", timeout=5, close=True):
    """One GET on a fresh connection: (status, seconds)."""
    t0 = time.monotonic()
    s = connect(port, timeout)
    try:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n{'Connection: close' if close else ''}\r\n\r\n"
                  .encode())
        status = Reader(s).response()[0]
        return status, time.monotonic() - t0
    finally:
        s.close()


def parse_one(buf):
    """(length of the first complete response in buf, it says Connection: close) or (0, False). For the
    shutdown tests' non-blocking clients: Content-Length bodies only (what hello, nginx and Node send)."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return 0, False
    n = 0
    close = False
    for line in buf[:end].lower().split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip() == b"content-length":
            n = int(value)
        elif name.strip() == b"connection":
            close = b"close" in value
    if len(buf) < end + 4 + n:
        return 0, False
    return end + 4 + n, close


def closed_within(sock, seconds):
    """True if the peer closes (EOF or reset) within `seconds`, discarding whatever arrives first."""
    deadline = time.monotonic() + seconds
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        sock.settimeout(left)
        try:
            if not sock.recv(65536):
                return True
        except socket.timeout:
            return False
        except OSError:
            return True


def percentile(values, p):
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, int(len(v) * p / 100))]


# ---- results ------------------------------------------------------------------------------------------------

class Row:
    """One line of the table: a test, its checks (name -> passed) and the figure it measured."""

    def __init__(self, test):
        self.test = test
        self.checks = []  # (name, ok, detail)
        self.figure = ""

    def check(self, name, ok, detail=""):
        self.checks.append((name, bool(ok), detail))
        print(f"  {'PASS' if ok else 'FAIL'} {self.test}: {name}{' (' + detail + ')' if detail else ''}",
              flush=True)
        return ok

    @property
    def cases(self):
        return len(self.checks)

    @property
    def passed(self):
        return sum(1 for _, ok, _ in self.checks if ok)
