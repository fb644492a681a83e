#!/usr/bin/env python3
"""An upstream for tests/proxy_e2e.sh: a keep-alive HTTP/1.1 server that answers its own id.

usage: upstream.py PORT ID LOGFILE [CERT KEY]     (with CERT and KEY: HTTPS)
  GET /          -> the id (text/plain)
  GET /healthz   -> "ok"
  GET /echo      -> the request's header fields as received, one "Name: value" per line
  GET /hop       -> "hop", with hop-by-hop fields in the response (Connection: X-Hop, X-Hop, Keep-Alive)
  GET /big?n=N   -> N bytes; writes "big-done N" to LOGFILE once the last byte is in the socket
  POST|PUT /sum  -> "<bytes> <sha256 hex> <chunked|length>" of the request body (Content-Length or chunked)
  GET /cached/...?cc=V -> "<id> #<n>" (n: requests for that path so far), with Cache-Control: V
"""
import hashlib
import ssl
import sys
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

PORT, ID, LOG = int(sys.argv[1]), sys.argv[2], sys.argv[3]
SEEN = Counter()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: no delayed-ACK stalls

    def log_message(self, *args):
        pass

    def reply(self, body, extra=()):
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def do_GET(self):
        url = urlparse(self.path)
        if url.path == "/echo":
            self.reply("".join(f"{k}: {v}\n" for k, v in self.headers.items()))
        elif url.path == "/hop":
            self.reply("hop", [("Connection", "X-Hop"), ("X-Hop", "1"), ("Keep-Alive", "timeout=5"), ("X-Kept", "2")])
        elif url.path == "/big":
            n = int(parse_qs(url.query).get("n", ["1048576"])[0])
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(n))
            self.end_headers()
            chunk = b"x" * 65536
            left = n
            while left > 0:
                self.wfile.write(chunk[: min(left, len(chunk))])
                left -= min(left, len(chunk))
            self.wfile.flush()
            with open(LOG, "a") as f:
                f.write(f"big-done {n}\n")
        elif url.path.startswith("/cached"):
            SEEN[url.path] += 1
            cc = parse_qs(url.query).get("cc", [])
            self.reply(f"{ID} #{SEEN[url.path]}", [("Cache-Control", cc[0])] if cc else [])
        elif url.path == "/healthz":
            self.reply("ok")
        else:
            self.reply(ID)

    do_HEAD = do_GET

    def read_body(self):
        """Yields the request body's pieces, de-chunked."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailer fields
                    return
                left = size
                while left > 0:
                    piece = self.rfile.read(min(left, 65536))
                    if not piece:
                        raise ConnectionError("body cut short")
                    left -= len(piece)
                    yield piece
                self.rfile.readline()  # the CRLF after the chunk
        else:
            left = int(self.headers.get("Content-Length", "0"))
            while left > 0:
                piece = self.rfile.read(min(left, 65536))
                if not piece:
                    raise ConnectionError("body cut short")
                left -= len(piece)
                yield piece

    def do_POST(self):
        digest, n = hashlib.sha256(), 0
        for piece in self.read_body():
            digest.update(piece)
            n += len(piece)
        chunked = self.headers.get("Transfer-Encoding", "").lower() == "chunked"
        self.reply(f"{n} {digest.hexdigest()} {'chunked' if chunked else 'length'}")

    do_PUT = do_POST


ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer.allow_reuse_address = True
ThreadingHTTPServer.request_queue_size = 128
server = ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
if len(sys.argv) > 5:
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(sys.argv[4], sys.argv[5])
    server.socket = tls.wrap_socket(server.socket, server_side=True)
print(f"upstream {ID} on {PORT}", flush=True)
server.serve_forever()
