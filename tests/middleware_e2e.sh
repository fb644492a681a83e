#!/usr/bin/env bash
# End-to-end tests of the built-in middleware (waitless/web/: serve_static, compression, cors, rate_limit,
# bearer_jwt, basic_auth, request_timeout, healthz/readyz) with curl and Python sockets against
# tests/middleware_test_server.cpp on a loopback port; each header checked exactly. Then the seeds'
# streaming example: a ~200 MB file through gzip to the client byte for byte in bounded memory, reading
# stopped while the client does not read, and stopped when it disconnects.
# Usage: tests/middleware_e2e.sh [BUILD_DIR]   (default: build). Prints PASS/FAIL per case.
set -u
cd "$(dirname "$0")/.."
. tests/lib.sh
e2e_setup mw "${1:-build}"
# The value of header $1 in the response head on stdin ("" when absent).
field() { tr -d '\r' | awk -v n="$(echo "$1" | tr 'A-Z' 'a-z')" -F': ' 'tolower($1) == n { sub(/^[^:]*: /, ""); print; exit }'; }
code() { curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$@"; }
head_of() { curl -s -D - -o /dev/null --max-time 10 "$@"; }

need_binaries middleware_test_server
SECRET=e2e-secret-0123456789abcdef0123456789
mkdir -p "$TMP/site/sub"
printf 'hello, static\n' >"$TMP/site/hello.txt"
printf '<h1>home</h1>' >"$TMP/site/index.html"
printf 'SECRET=1' >"$TMP/site/.env"
printf 'top-secret-bytes' >"$TMP/secret.txt"
ln -s "$TMP/secret.txt" "$TMP/site/escape.txt"
python3 -c 'import sys; sys.stdout.write("".join("<p>row %d of a page that compresses</p>\n" % i for i in range(2000)))' >"$TMP/site/page.html"
seq 1 24000000 >"$TMP/big.txt"  # ~200 MB
BIG_SIZE=$(stat -c %s "$TMP/big.txt")

PORT=$(free_port)
"$BUILD/middleware_test_server" "$PORT" "$TMP" "$SECRET" >"$TMP/server.log" 2>&1 &
PID=$!
for _ in $(seq 1 100); do
  curl -s -o /dev/null "http://127.0.0.1:$PORT/healthz" && break
  sleep 0.05
done
URL="http://127.0.0.1:$PORT"

# ---- health
check "healthz" "ok" "$(curl -s --max-time 5 "$URL/healthz")"
check "readyz" "ready" "$(curl -s --max-time 5 "$URL/readyz")"
check "readyz 200" "200" "$(code "$URL/readyz")"

# ---- static files
h=$(head_of "$URL/static/hello.txt")
check "static 200" "hello, static" "$(curl -s --max-time 5 "$URL/static/hello.txt")"
check "static Content-Type" "text/plain; charset=utf-8" "$(echo "$h" | field Content-Type)"
check "static Content-Length" "14" "$(echo "$h" | field Content-Length)"
check "static Cache-Control" "public, max-age=3600" "$(echo "$h" | field Cache-Control)"
check "static Accept-Ranges" "bytes" "$(echo "$h" | field Accept-Ranges)"
check "static small: no coding, Vary" "|Accept-Encoding" \
  "$(head_of -H 'Accept-Encoding: gzip' "$URL/static/hello.txt" | { x=$(cat); echo "$(echo "$x" | field Content-Encoding)|$(echo "$x" | field Vary)"; })"
etag=$(echo "$h" | field ETag)
lm=$(echo "$h" | field Last-Modified)
check "static 304 If-None-Match" "304" "$(code -H "If-None-Match: $etag" "$URL/static/hello.txt")"
check "static 304 If-Modified-Since" "304" "$(code -H "If-Modified-Since: $lm" "$URL/static/hello.txt")"
check "static 200 other ETag" "200" "$(code -H 'If-None-Match: "x"' "$URL/static/hello.txt")"
check "static range 206" "206" "$(code -r 0-4 "$URL/static/hello.txt")"
check "static range body" "hello" "$(curl -s -r 0-4 --max-time 5 "$URL/static/hello.txt")"
check "static Content-Range" "bytes 0-4/14" "$(head_of -r 0-4 "$URL/static/hello.txt" | field Content-Range)"
check "static 416" "416|bytes */14" \
  "$(head_of -r 20-30 "$URL/static/hello.txt" | { x=$(cat); echo "$(echo "$x" | head -1 | awk '{print $2}')|$(echo "$x" | field Content-Range)"; })"
check "static HEAD" "200|14|" "$(curl -s -I --max-time 5 "$URL/static/hello.txt" | { x=$(cat); echo "$(echo "$x" | head -1 | awk '{print $2}')|$(echo "$x" | field Content-Length)|"; })"
check "static index.html" "<h1>home</h1>" "$(curl -s --max-time 5 "$URL/static/")"
check "static dir redirect" "301 /static/sub/" \
  "$(head_of "$URL/static/sub" | { x=$(cat); echo "$(echo "$x" | head -1 | awk '{print $2}') $(echo "$x" | field Location)"; })"
check "traversal .." "403" "$(code --path-as-is "$URL/static/../secret.txt")"
check "traversal %2e%2e%2f" "403" "$(code --path-as-is "$URL/static/%2e%2e%2fsecret.txt")"
check "traversal %2e%2e/" "403" "$(code --path-as-is "$URL/static/%2e%2e/secret.txt")"
check "traversal double encoding" "403" "$(code --path-as-is "$URL/static/%252e%252e%252fsecret.txt")"
check "traversal backslash" "403" "$(code --path-as-is "$URL/static/..%5csecret.txt")"
check "symlink outside the root" "403" "$(code "$URL/static/escape.txt")"
check "NUL in the path" "404" "$(code "$URL/static/hello.txt%00.html")"
check "dotfile refused" "404" "$(code "$URL/static/.env")"
check "not found" "404" "$(code "$URL/static/missing.txt")"
body=$(curl -s --path-as-is --max-time 5 "$URL/static/../secret.txt")
case "$body" in *top-secret*) failed "nothing of the secret leaks" ;; *) pass "nothing of the secret leaks" ;; esac

# ---- compression
for enc in gzip br; do
  h=$(head_of -H "Accept-Encoding: $enc" "$URL/static/page.html")
  check "$enc Content-Encoding" "$enc" "$(echo "$h" | field Content-Encoding)"
  check "$enc Vary" "Accept-Encoding" "$(echo "$h" | field Vary)"
  check "$enc no Content-Length" "" "$(echo "$h" | field Content-Length)"
  check "$enc weak ETag" "W/" "$(echo "$h" | field ETag | cut -c1-2)"
  check "$enc decodes to the file" "$(md5sum <"$TMP/site/page.html" | cut -d' ' -f1)" \
    "$(curl -s --compressed -H "Accept-Encoding: $enc" --max-time 5 "$URL/static/page.html" | md5sum | cut -d' ' -f1)"
done
check "q-values: gzip over br;q=0.1" "gzip" \
  "$(head_of -H 'Accept-Encoding: br;q=0.1, gzip;q=0.9' "$URL/static/page.html" | field Content-Encoding)"
check "identity when refused" "" "$(head_of -H 'Accept-Encoding: gzip;q=0, br;q=0' "$URL/static/page.html" | field Content-Encoding)"
check "no Accept-Encoding: identity" "" "$(head_of "$URL/static/page.html" | field Content-Encoding)"

# ---- CORS
h=$(head_of -X OPTIONS -H 'Origin: https://app.example' -H 'Access-Control-Request-Method: PUT' \
  -H 'Access-Control-Request-Headers: X-Token' "$URL/api/data")
check "preflight status" "204" "$(echo "$h" | head -1 | awk '{print $2}')"
check "preflight Allow-Origin" "https://app.example" "$(echo "$h" | field Access-Control-Allow-Origin)"
check "preflight Allow-Credentials" "true" "$(echo "$h" | field Access-Control-Allow-Credentials)"
check "preflight Allow-Methods" "GET, HEAD, PUT, PATCH, POST, DELETE" "$(echo "$h" | field Access-Control-Allow-Methods)"
check "preflight Allow-Headers" "X-Token" "$(echo "$h" | field Access-Control-Allow-Headers)"
check "preflight Max-Age" "600" "$(echo "$h" | field Access-Control-Max-Age)"
check "preflight Vary" "Origin, Access-Control-Request-Headers" "$(echo "$h" | field Vary)"
h=$(head_of -H 'Origin: https://app.example' "$URL/api/data")
check "CORS simple request" "https://app.example|Origin" \
  "$(echo "$(echo "$h" | field Access-Control-Allow-Origin)|$(echo "$h" | field Vary)")"
h=$(head_of -H 'Origin: https://evil.example' "$URL/api/data")
check "CORS other origin: no Allow-Origin" "|Origin" \
  "$(echo "$(echo "$h" | field Access-Control-Allow-Origin)|$(echo "$h" | field Vary)")"

# ---- rate limit: 3 a minute, a token every 20 s
for i in 1 2 3; do
  h=$(head_of "$URL/limited")
  check "rate limit request $i" "200 $((3 - i))" "$(echo "$h" | head -1 | awk '{print $2}') $(echo "$h" | field RateLimit-Remaining)"
done
h=$(head_of "$URL/limited")
check "rate limit 429" "429" "$(echo "$h" | head -1 | awk '{print $2}')"
check "Retry-After" "20" "$(echo "$h" | field Retry-After)"
check "RateLimit-Limit" "3" "$(echo "$h" | field RateLimit-Limit)"
check "RateLimit-Policy" "3;w=60" "$(echo "$h" | field RateLimit-Policy)"
check "RateLimit-Reset" "60" "$(echo "$h" | field RateLimit-Reset)"

# ---- JWT: tokens made here with Python's hmac (an independent HS256)
jwt() {  # CLAIMS_JSON [ALG] [KEY]
  python3 - "$1" "${2:-HS256}" "${3:-$SECRET}" <<'PY'
import base64, hashlib, hmac, json, sys
b = lambda x: base64.urlsafe_b64encode(x).rstrip(b"=").decode()
head = b(json.dumps({"alg": sys.argv[2], "typ": "JWT"}).encode())
body = b(sys.argv[1].encode())
sig = "" if sys.argv[2] == "none" else b(hmac.new(sys.argv[3].encode(), (head + "." + body).encode(), hashlib.sha256).digest())
print(head + "." + body + "." + sig)
PY
}
now=$(date +%s)
claims() { echo "{\"sub\":\"alice\",\"iss\":\"waitless-e2e\",\"aud\":\"api\",\"exp\":$1}"; }
check "JWT valid" "alice" "$(curl -s --max-time 5 -H "Authorization: Bearer $(jwt "$(claims $((now + 300)))")" "$URL/jwt/me")"
h=$(head_of "$URL/jwt/me")
check "JWT missing: 401" "401" "$(echo "$h" | head -1 | awk '{print $2}')"
check "JWT missing: challenge" 'Bearer realm="api"' "$(echo "$h" | field WWW-Authenticate)"
h=$(head_of -H "Authorization: Bearer $(jwt "$(claims $((now - 300)))")" "$URL/jwt/me")
check "JWT expired: 401" "401" "$(echo "$h" | head -1 | awk '{print $2}')"
case "$(echo "$h" | field WWW-Authenticate)" in
  'Bearer realm="api", error="invalid_token", error_description="'*) pass "JWT expired: invalid_token" ;;
  *) failed "JWT expired: invalid_token" "$(echo "$h" | field WWW-Authenticate)" ;;
esac
check "JWT wrong signature" "401" "$(code -H "Authorization: Bearer $(jwt "$(claims $((now + 300)))" HS256 wrong-key-0123456789abcdef0123456789)" "$URL/jwt/me")"
check "JWT alg none" "401" "$(code -H "Authorization: Bearer $(jwt "$(claims $((now + 300)))" none)" "$URL/jwt/me")"
check "JWT alg HS512" "401" "$(code -H "Authorization: Bearer $(jwt "$(claims $((now + 300)))" HS512)" "$URL/jwt/me")"
check "JWT wrong audience" "401" "$(code -H "Authorization: Bearer $(jwt "{\"sub\":\"a\",\"iss\":\"waitless-e2e\",\"aud\":\"x\",\"exp\":$((now + 300))}")" "$URL/jwt/me")"
check "JWT garbage" "401" "$(code -H 'Authorization: Bearer a.b.c' "$URL/jwt/me")"

# ---- Basic
check "Basic valid" "admin" "$(curl -s --max-time 5 -u 'admin:open sesame' "$URL/basic/me")"
h=$(head_of -u 'admin:wrong' "$URL/basic/me")
check "Basic wrong: 401" "401" "$(echo "$h" | head -1 | awk '{print $2}')"
check "Basic challenge" 'Basic realm="e2e", charset="UTF-8"' "$(echo "$h" | field WWW-Authenticate)"

# ---- request timeout (100 ms on a handler that sleeps 10 s)
start=$(date +%s%N)
check "timeout 503" "503" "$(code "$URL/timeout")"
ms=$((($(date +%s%N) - start) / 1000000))
if [ "$ms" -lt 5000 ]; then pass "timeout answered early (${ms} ms)"; else failed "timeout answered early" "${ms} ms"; fi

# ---- streaming: ~200 MB through gzip, byte for byte, bounded memory
start=$(date +%s.%N)
got=$(curl -s --max-time 120 -H 'Accept-Encoding: gzip' "$URL/stream" | gunzip | md5sum | cut -d' ' -f1)
end=$(date +%s.%N)
check "stream: 200 MB through gzip byte for byte" "$(md5sum <"$TMP/big.txt" | cut -d' ' -f1)" "$got"
hwm_kb=$(awk '/VmHWM/ {print $2}' "/proc/$PID/status")
echo "middleware_e2e: $BIG_SIZE bytes through gzip in $(python3 -c "print(round($end - $start, 2))") s, server peak RSS ${hwm_kb} KiB"
if nm "$BUILD/middleware_test_server" 2>/dev/null | grep -q __asan_init; then
  echo "middleware_e2e: peak RSS not checked under AddressSanitizer"
elif [ "$hwm_kb" -lt $((64 * 1024)) ]; then pass "stream in bounded memory (${hwm_kb} KiB peak)"; else
  failed "stream in bounded memory" "peak RSS ${hwm_kb} KiB"; fi

# A client that stops reading, then disconnects.
curl -s -o /dev/null -X POST --max-time 5 "$URL/stream/reset"
out=$(python3 - "$PORT" "$BIG_SIZE" <<'PY'
import json, socket, sys, time, urllib.request
port, size = int(sys.argv[1]), int(sys.argv[2])
def progress():
    with urllib.request.urlopen("http://127.0.0.1:%d/stream/progress" % port, timeout=5) as r:
        return json.load(r)
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
s.connect(("127.0.0.1", port))
s.sendall(b"GET /stream HTTP/1.1\r\nHost: t\r\nAccept-Encoding: gzip\r\n\r\n")
s.recv(4096)
# Wait for the reading to stop (the socket buffers fill first: slower on a loaded machine), then check it
# stays stopped for a second more.
a, b = -1, progress()["read"]
for _ in range(30):
    if a == b:
        break
    time.sleep(0.5)
    a, b = b, progress()["read"]
time.sleep(1.0)
c = progress()["read"]
stalled = "stalled" if a == b == c and c < size else "not stalled (%d, %d, %d of %d)" % (a, b, c, size)
b = c
s.close()
ended = "not ended"
for _ in range(150):
    p = progress()
    if p["gone"] == 1 and p["ended"] == 1:
        ended = "ended" if p["read"] < size else "ended after reading everything"
        break
    time.sleep(0.1)
print("%s|%s|%d" % (stalled, ended, b))
PY
)
check "slow client: the file is not read ahead" "stalled" "$(echo "$out" | cut -d'|' -f1)"
check "client gone: the stream stops" "ended" "$(echo "$out" | cut -d'|' -f2)"
echo "middleware_e2e: a client that does not read held the server at $(echo "$out" | cut -d'|' -f3) bytes read of $BIG_SIZE"

# ---- readiness during a graceful shutdown: a kept-alive connection asks again after SIGTERM
out=$(python3 - "$PORT" "$PID" <<'PY'
import os, signal, socket, sys
port, pid = int(sys.argv[1]), int(sys.argv[2])
s = socket.create_connection(("127.0.0.1", port), timeout=5)
def ask():
    s.sendall(b"GET /readyz HTTP/1.1\r\nHost: t\r\n\r\n")
    data = b""
    while b"\r\n\r\n" not in data or not data.rstrip().endswith((b"ready", b"down")):
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    return data.split(b" ", 2)[1].decode() if data else "none"
first = ask()
os.kill(pid, signal.SIGTERM)
import time; time.sleep(0.2)
print(first + " " + ask())
PY
)
check "readyz 200, then 503 once SIGTERM arrived" "200 503" "$out"
for _ in $(seq 1 100); do kill -0 "$PID" 2>/dev/null || break; sleep 0.05; done
if kill -0 "$PID" 2>/dev/null; then failed "graceful exit on SIGTERM"; else pass "graceful exit on SIGTERM"; fi
PID=
[ "$fail" -eq 0 ]
