"""Test 2: floods against `waitless hello`, memory measured before and after each.

- pipelining without reading: clients write GET requests as fast as the socket takes them and never read.
  The server must stop reading once a connection's unsent output passes write_high_water (256 KiB), so
  the clients' writes stall (nothing accepted in the last second) and RSS stays flat.
- connection churn: 10 000 connections opened and closed (answered request, no request, reset mid-way).
- oversized heads: 431 every time (414 for the long request target, RFC 9112 3), then the connection closed.
- a 10 GB body (Content-Length: 10737418240) trickled, a chunked body past the 1 MiB limit, and a 10 GB
  body blasted: 413 at once / when the limit is crossed, then closed, no memory growth.
"""
import socket
import struct
import threading
import time

from common import (NET_ERRORS, Hello, Reader, Row, RssSampler, closed_within, connect, fd_count, get, mb,
                    server_queues)

REQ = b"GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n"


def wait_fds(pid, target, seconds=10):
    deadline = time.monotonic() + seconds
    while fd_count(pid) > target and time.monotonic() < deadline:
        time.sleep(0.05)
    return fd_count(pid)


def pipeline_flood(ctx):
    # Until the writers have stalled for a second (at least `least` s, at most `most` s: a slow, e.g.
    # sanitized, server takes longer to fill its socket buffers and reach its high-water mark).
    conns, least, most = 4, (3 if ctx.quick else 6), 12
    row = Row(f"flood: pipelining without reading ({conns} conns, {least}..{most} s)")
    with Hello(ctx) as srv:
        base_fds = fd_count(srv.pid)
        sampler = RssSampler(srv.pid)
        socks = [connect(srv.port, timeout=0.1) for _ in range(conns)]
        sent = [0] * conns
        timeline = []  # total bytes accepted by the kernel, sampled every 0.25 s
        payload = REQ * 2000
        stop = threading.Event()

        def writer(i):
            s, off = socks[i], 0
            while not stop.is_set():
                try:
                    n = s.send(payload[off:] or payload)
                    off = (off + n) % len(payload)
                    sent[i] += n
                except socket.timeout:
                    pass
                except OSError:
                    return
        threads = [threading.Thread(target=writer, args=(i,), daemon=True) for i in range(conns)]
        for t in threads:
            t.start()
        t0 = time.monotonic()
        served_during = None
        while True:
            time.sleep(0.25)
            timeline.append(sum(sent))
            elapsed = time.monotonic() - t0
            if served_during is None and elapsed > least / 2:
                try:
                    served_during = get(srv.port, timeout=5)[0] == 200
                except NET_ERRORS:
                    served_during = False
            stalled = len(timeline) > 4 and timeline[-1] == timeline[-5]
            if (elapsed >= least and stalled) or elapsed >= most:
                break
        secs = time.monotonic() - t0
        stop.set()
        for t in threads:
            t.join()
        peak = sampler.stop().peak
        _, unread, unsent = server_queues(srv.port)
        last_second = timeline[-1] - timeline[-5]
        total = timeline[-1]
        row.check("the writers stalled (server stopped reading)", last_second == 0,
                  f"{total / 1e6:.1f} MB = {total // len(REQ)} requests accepted in {secs:.1f} s, "
                  f"{last_second} bytes in the last second; server sockets: {unread / 1e6:.1f} MB "
                  f"received and left unread, {unsent / 1e6:.1f} MB of responses unsent")
        row.check("RSS flat while flooded", peak - sampler.before < 16 * 1024 * ctx.mem_factor,
                  f"before {mb(sampler.before)} MB, peak {mb(peak)} MB")
        row.check("other clients served during the flood", served_during)
        for s in socks:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.close()
        end_fds = wait_fds(srv.pid, base_fds)
        time.sleep(0.3)
        after = srv.rss()
        row.check("flood connections released", end_fds <= base_fds, f"fds {base_fds} -> {end_fds}")
        row.figure = (f"RSS {mb(sampler.before)}/{mb(peak)}/{mb(after)} MB, stalled after "
                      f"{total / 1e6:.1f} MB sent ({unread / 1e6:.1f} MB left unread, {unsent / 1e6:.1f} MB unsent "
                      f"in the server's socket buffers)")
    return row


def pipeline_flood_many(ctx):
    """Many connections pipelining without reading, each with a 4 KiB receive window: what one connection
    may hold in user space is bounded (write_high_water 256 KiB of output, plus the unparsed rest of one
    64 KiB read and the response being appended), so RSS grows by about that much per connection and no
    more; there is no server-wide cap, so the total is N times that."""
    conns, seconds = 100, 8
    row = Row(f"flood: {conns} conns pipelining without reading")
    with Hello(ctx) as srv:
        before = srv.rss()
        payload = REQ * 2000
        socks = []
        for _ in range(conns):
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.connect(("127.0.0.1", srv.port))
            s.setblocking(False)
            socks.append(s)
        t0, last_progress = time.monotonic(), time.monotonic()
        while time.monotonic() - t0 < seconds and time.monotonic() - last_progress < 1.0:
            progress = 0
            for s in socks:
                try:
                    progress += s.send(payload)
                except BlockingIOError:
                    pass
            if progress:
                last_progress = time.monotonic()
            else:
                time.sleep(0.05)
        time.sleep(0.5)
        peak = srv.rss()
        _, unread, unsent = server_queues(srv.port)
        per_conn = (peak - before) * 1024 / conns
        bound = 512 * 1024 * ctx.mem_factor
        row.check("user-space memory per flooding connection bounded", per_conn < bound,
                  f"{per_conn / 1024:.0f} KiB per connection (bound {bound // 1024} KiB), RSS {mb(before)} -> "
                  f"{mb(peak)} MB; kernel: {unread / 1e6:.0f} MB unread, {unsent / 1e6:.0f} MB unsent")
        for s in socks:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.close()
        time.sleep(0.5)
        after = srv.rss()
        try:
            ok = get(srv.port)[0] == 200
        except NET_ERRORS:
            ok = False
        row.check("serves normally afterwards", ok)
        row.figure = (f"{per_conn / 1024:.0f} KiB/conn user space, RSS {mb(before)}/{mb(peak)}/{mb(after)} MB "
                      f"(no server-wide cap: N x that)")
    return row


def churn(ctx):
    n, workers = 10000, 4
    row = Row(f"flood: {n} connections opened and closed")
    with Hello(ctx) as srv:
        base_fds = fd_count(srv.pid)
        before = srv.rss()
        counts = {"answered": 0, "bad": 0, "silent": 0, "reset": 0, "error": 0}
        lock = threading.Lock()

        def worker(w):
            src = f"127.0.0.{10 + w}"  # a source address per worker: no shortage of ephemeral ports
            local = {k: 0 for k in counts}
            for i in range(w, n, workers):
                try:
                    s = connect(srv.port, timeout=5, src=src)
                    kind = i % 3
                    if kind == 0:  # a request, its answer, an orderly close
                        s.sendall(REQ)
                        local["answered" if Reader(s).response()[0] == 200 else "bad"] += 1
                    elif kind == 1:  # connect and close without a word
                        local["silent"] += 1
                    else:  # a request, then a reset without reading the answer
                        s.sendall(REQ)
                        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                        local["reset"] += 1
                    s.close()
                except NET_ERRORS as e:  # noqa: PERF203
                    local["error"] += 1
                    if local["error"] == 1:
                        print(f"    churn error: {type(e).__name__}: {e}")
            with lock:
                for k, v in local.items():
                    counts[k] += v
        t0 = time.monotonic()
        threads = [threading.Thread(target=worker, args=(w,), daemon=True) for w in range(workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        secs = time.monotonic() - t0
        end_fds = wait_fds(srv.pid, base_fds)
        after = srv.rss()
        expect_answered = len(range(0, n, 3))
        row.check("every request answered, no connect error",
                  counts["answered"] == expect_answered and counts["error"] == 0 and counts["bad"] == 0,
                  f"{counts} in {secs:.1f} s")
        row.check("every connection released (no fd leak)", end_fds <= base_fds, f"fds {base_fds} -> {end_fds}")
        row.check("RSS back near where it was", after - before < 4 * 1024 * ctx.mem_factor,
                  f"{mb(before)} -> {mb(after)} MB")
        try:
            ok = get(srv.port)[0] == 200
        except NET_ERRORS:
            ok = False
        row.check("serves normally afterwards", ok)
        row.figure = f"{n / secs:.0f} conn/s, RSS {mb(before)}/{mb(after)} MB, fds {base_fds}/{end_fds}"
    return row


def oversized_heads(ctx):
    rounds = 30 if ctx.quick else 100
    heads = {  # name: bytes; the status each must get is in `want`
        "one 20 KB header": b"GET /plaintext HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n",
        "101 headers": b"GET /plaintext HTTP/1.1\r\nHost: x\r\n"
                       + b"".join(b"X-H%d: v\r\n" % i for i in range(100)) + b"\r\n",
        "17 KB request target": b"GET /" + b"p" * 17000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        "16 KB + 1 head, trickled": None,  # built below: exactly one byte over, sent in 1 KiB pieces
    }
    pre = b"GET /plaintext HTTP/1.1\r\nHost: x\r\nX-Pad: "
    heads["16 KB + 1 head, trickled"] = pre + b"b" * (16 * 1024 + 1 - len(pre) - 4) + b"\r\n\r\n"
    want = {name: 414 if "target" in name else 431 for name in heads}
    row = Row(f"flood: oversized heads ({len(heads)} kinds x {rounds})")
    with Hello(ctx) as srv:
        base_fds = fd_count(srv.pid)
        before = srv.rss()
        for name, data in heads.items():
            got, closed, other = 0, 0, []
            for _ in range(rounds):
                s = connect(srv.port, timeout=5)
                try:
                    if "trickled" in name:
                        for off in range(0, len(data), 1024):
                            s.sendall(data[off:off + 1024])
                    else:
                        s.sendall(data)
                except OSError:
                    pass  # the server may answer and close before it has everything
                try:
                    status = Reader(s).response()[0]
                    got += status == want[name]
                    if status != want[name] and len(other) < 3:
                        other.append(status)
                except NET_ERRORS as e:
                    if len(other) < 3:
                        other.append(type(e).__name__)
                closed += closed_within(s, 5)
                s.close()
            row.check(f"{name}: {want[name]} then closed", got == rounds and closed == rounds,
                      f"{got}/{rounds} x {want[name]}, {closed}/{rounds} closed"
                      + (f", other: {other}" if other else ""))
        end_fds = wait_fds(srv.pid, base_fds)
        after = srv.rss()
        row.check("no memory or fd growth", after - before < 4 * 1024 * ctx.mem_factor and end_fds <= base_fds,
                  f"RSS {mb(before)} -> {mb(after)} MB, fds {base_fds} -> {end_fds}")
        row.figure = f"RSS {mb(before)}/{mb(after)} MB"
    return row


def big_bodies(ctx):
    row = Row("flood: 10 GB body (Content-Length 10737418240)")
    with Hello(ctx) as srv:
        base_fds = fd_count(srv.pid)
        sampler = RssSampler(srv.pid)
        figures = []

        def attempt(name, head, piece, interval, limit_s=8):
            """Sends head, then `piece` every `interval` s until the server answers and closes (or limit_s):
            (status or error, seconds to the answer, body bytes sent before it, closed, seconds to close)."""
            s = connect(srv.port, timeout=interval or 0.05)
            s.sendall(head)
            reader, status, t_answer, sent_before = Reader(s), None, None, 0
            t0, sent = time.monotonic(), 0
            closed_at = None
            while time.monotonic() - t0 < limit_s:
                if status is None:
                    try:
                        status = reader.response()[0]
                        t_answer, sent_before = time.monotonic() - t0, sent
                    except socket.timeout:
                        pass
                    except NET_ERRORS as e:
                        status, t_answer, closed_at = type(e).__name__, time.monotonic() - t0, time.monotonic()
                        break
                else:
                    try:
                        if not s.recv(65536):
                            closed_at = time.monotonic()
                            break
                    except socket.timeout:
                        pass
                    except OSError:
                        closed_at = time.monotonic()
                        break
                try:
                    sent += s.send(piece)
                except socket.timeout:
                    pass
                except OSError:
                    pass  # the server closed: the next recv tells
                if interval:
                    time.sleep(interval)
            s.close()
            close_s = closed_at - t0 if closed_at else None
            return status, t_answer, sent_before, close_s

        cases = [
            ("Content-Length 10 GB, trickled 1 KiB / 20 ms, expect 413 at once",
             b"POST /plaintext HTTP/1.1\r\nHost: x\r\nContent-Length: 10737418240\r\n\r\n", b"x" * 1024, 0.02,
             lambda sb: sb == 0),
            ("Content-Length 10 GB, blasted, expect 413 at once",
             b"POST /plaintext HTTP/1.1\r\nHost: x\r\nContent-Length: 10737418240\r\n\r\n", b"x" * 65536, 0,
             lambda sb: sb <= 1 << 20),
            ("chunked, 64 KiB chunks past the 1 MiB limit, expect 413 when crossed",
             b"POST /plaintext HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
             b"10000\r\n" + b"c" * 65536 + b"\r\n", 0.005, lambda sb: (1 << 20) <= sb <= 8 << 20),
        ]
        for name, head, piece, interval, sent_ok in cases:
            status, t_answer, sent_before, close_s = attempt(name, head, piece, interval)
            row.check(name, status == 413 and sent_ok(sent_before) and close_s is not None,
                      f"status {status} after {t_answer if t_answer is None else round(t_answer, 3)} s and "
                      f"{sent_before} body bytes, closed after {close_s if close_s is None else round(close_s, 2)} s")
            figures.append(f"{t_answer * 1000:.0f} ms" if isinstance(t_answer, float) else "-")
        sampler.stop()
        end_fds = wait_fds(srv.pid, base_fds)
        after = srv.rss()
        grew = sampler.peak - sampler.before
        row.check("no memory growth", grew < 4 * 1024 * ctx.mem_factor and end_fds <= base_fds,
                  f"RSS before {mb(sampler.before)} MB, peak {mb(sampler.peak)} MB, after {mb(after)} MB, "
                  f"fds {base_fds} -> {end_fds}")
        row.figure = (f"413 after {'/'.join(figures)}, RSS {mb(sampler.before)}/{mb(sampler.peak)}/"
                      f"{mb(after)} MB")
    return row


def run(ctx):
    rows = [pipeline_flood(ctx)]
    if not ctx.quick:
        rows += [pipeline_flood_many(ctx), churn(ctx)]
    rows += [oversized_heads(ctx), big_bodies(ctx)]
    return rows
