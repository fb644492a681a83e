#!/usr/bin/env bash
# End-to-end TLS: `waitless hello --tls-cert/--tls-key` and the test server over HTTPS (tests/http_test_server.cpp
# with a certificate and an SNI certificate), certificates made at test time (tests/tls_certs.sh), driven by
# curl (https, --http1.1, ALPN, SNI via --resolve, keep-alive, 50 MB both ways), Python's ssl (pipelined
# requests, a connection that outlives a reload) and Node's https module. SIGHUP reloads the certificate.
# Prints PASS/FAIL per case; exits non-zero if any case failed.
# Usage: tests/tls_e2e.sh [BUILD_DIR]   (default: build)
set -u
cd "$(dirname "$0")/.."
. tests/lib.sh
e2e_setup tls "${1:-build}"
wait_tls() {  # PID PORT
  for _ in $(seq 1 100); do
    kill -0 "$1" 2>/dev/null || return 1
    curl -sk -o /dev/null "https://127.0.0.1:$2/plaintext" && return 0
    sleep 0.05
  done
  return 1
}

need_binaries waitless http_test_server
tests/tls_certs.sh "$TMP/certs" || { failed "setup" "openssl could not make the certificates"; exit 1; }
C=$TMP/certs
cp "$C/server.crt" "$TMP/live.crt"
cp "$C/server.key" "$TMP/live.key"

HELLO=$(free_port)
"$BUILD/waitless" hello --port "$HELLO" --threads 1 --tls-cert "$TMP/live.crt" --tls-key "$TMP/live.key" \
  >"$TMP/hello.log" 2>&1 &
HELLO_PID=$!
PIDS+=($HELLO_PID)
TEST=$(free_port)
"$BUILD/http_test_server" "$TEST" "$C/server.crt" "$C/server.key" "$C/other.crt" "$C/other.key" \
  >"$TMP/test.log" 2>&1 &
TEST_PID=$!
PIDS+=($TEST_PID)
if ! wait_tls $HELLO_PID "$HELLO" || ! wait_tls $TEST_PID "$TEST"; then
  failed "setup" "servers did not start"; cat "$TMP/hello.log" "$TMP/test.log"
  exit 1
fi
CURL=(curl -sS --max-time 20 --cacert "$C/ca.crt")

# --- hello over https: verified against the CA, HTTP/1.1 chosen by ALPN, TLS 1.3
out=$("${CURL[@]}" -v --http1.1 "https://localhost:$HELLO/plaintext" 2>"$TMP/v.log")
check "hello https body" "Hello, World!" "$out"
grep -q "ALPN: server accepted http/1.1" "$TMP/v.log" && pass "alpn http/1.1" || failed "alpn http/1.1" "$(grep -i alpn "$TMP/v.log")"
grep -q "TLSv1.3" "$TMP/v.log" && pass "tls 1.3" || failed "tls 1.3"
out=$("${CURL[@]}" --tlsv1.2 --tls-max 1.2 "https://127.0.0.1:$HELLO/json")
check "tls 1.2 and the IP SAN" '{"message":"Hello, World!"}' "$out"
# TLS 1.1 offered by a client that allows it (security level 0): the server answers alert 70.
echo | timeout 5 openssl s_client -connect "127.0.0.1:$HELLO" -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0' 2>&1 |
  grep -q "alert protocol version" && pass "tls 1.1 refused by the server" || failed "tls 1.1 refused by the server"
curl -s --max-time 5 -o /dev/null "https://localhost:$HELLO/plaintext"  # no CA given: the system store
check "unknown CA refused by curl" 60 $?

# --- keep-alive: three URLs on one connection
n=$("${CURL[@]}" -o /dev/null -o /dev/null -o /dev/null -w '%{num_connects}' \
  "https://localhost:$HELLO/plaintext" "https://localhost:$HELLO/plaintext" "https://localhost:$HELLO/json")
check "keep-alive: one connect for three requests" "100" "$n"

# --- a plaintext request on the TLS port: a clean 400, and the server goes on
out=$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HELLO/plaintext")
check "plain http to the TLS port" 400 "$out"

# --- SNI: the second certificate for other.test (and the wildcard), the default for localhost
out=$("${CURL[@]}" --resolve "other.test:$TEST:127.0.0.1" "https://other.test:$TEST/plaintext")
check "sni other.test" "Hello, World!" "$out"
out=$("${CURL[@]}" --resolve "api.other.test:$TEST:127.0.0.1" "https://api.other.test:$TEST/plaintext")
check "sni *.other.test" "Hello, World!" "$out"
out=$("${CURL[@]}" -w '%{ssl_verify_result}' -o /dev/null "https://localhost:$TEST/plaintext")
check "sni default certificate" 0 "$out"

# --- 50 MB each way
BIG=$((50 * 1024 * 1024))
"${CURL[@]}" -o "$TMP/down" "https://localhost:$TEST/bytes?$BIG"
size=$(stat -c %s "$TMP/down" 2>/dev/null || echo 0)
check "50 MB download size" "$BIG" "$size"
check "50 MB download content" "abcdefghijklmnopqrstuvwxyzabc" "$(head -c 29 "$TMP/down")"
expected=$(python3 -c "
import zlib
chunk = bytes(ord('a') + i % 26 for i in range(65536))
crc = 0
for _ in range($BIG // 65536): crc = zlib.crc32(chunk, crc)
print('bytes=$BIG crc32=%08x' % crc)")
up=$("${CURL[@]}" --data-binary @"$TMP/down" -H 'Content-Type: application/octet-stream' \
  "https://localhost:$TEST/upload")
check "50 MB upload" "$expected" "$up"
rm -f "$TMP/down"

# --- pipelined requests in one TLS write, and a connection that outlives a reload (Python's ssl)
cat >"$TMP/peer.py" <<'PY'
import socket, ssl, sys, time
port, ca, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = ssl.create_default_context(cafile=ca)
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10), server_hostname="localhost")
def responses(n):
    buf, got = b"", 0
    while got < n:
        data = s.recv(65536)
        if not data: break
        buf += data
        got = buf.count(b"Hello, World!")
    return got
if mode == "pipeline":
    s.sendall(b"GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n" * 20)
    print(responses(20))
else:  # hold: one request, wait for the reload (a file appears), another on the same connection
    s.sendall(b"GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n")
    first = responses(1)
    open(sys.argv[4] + ".ready", "w").close()
    for _ in range(200):
        try:
            open(sys.argv[4]).close(); break
        except OSError: time.sleep(0.05)
    s.sendall(b"GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n")
    print(first + responses(1))
PY
check "20 pipelined requests in one write" 20 "$(python3 "$TMP/peer.py" "$HELLO" "$C/ca.crt" pipeline)"

# --- SIGHUP: the new certificate for new connections, the old connection goes on
python3 "$TMP/peer.py" "$HELLO" "$C/ca.crt" hold "$TMP/reloaded" >"$TMP/hold.out" 2>&1 &
HOLD_PID=$!
for _ in $(seq 1 100); do [ -e "$TMP/reloaded.ready" ] && break; sleep 0.05; done
"${CURL[@]}" -o /dev/null --resolve "other.test:$HELLO:127.0.0.1" "https://other.test:$HELLO/plaintext" 2>/dev/null \
  && failed "before reload: other.test not served" || pass "before reload: other.test not served"
cp "$C/other.crt" "$TMP/live.crt"
cp "$C/other.key" "$TMP/live.key"
kill -HUP $HELLO_PID
ok=
for _ in $(seq 1 50); do
  "${CURL[@]}" -o /dev/null --resolve "other.test:$HELLO:127.0.0.1" "https://other.test:$HELLO/plaintext" 2>/dev/null \
    && { ok=1; break; }
  sleep 0.1
done
[ -n "$ok" ] && pass "after SIGHUP: the new certificate" || failed "after SIGHUP: the new certificate"
grep -q "TLS certificates reloaded" "$TMP/hello.log" && pass "reload logged" || failed "reload logged"
touch "$TMP/reloaded"
wait $HOLD_PID
check "a connection from before the reload keeps working" 2 "$(cat "$TMP/hold.out")"
# A reload that cannot read its files keeps the current certificate.
rm -f "$TMP/live.key"
kill -HUP $HELLO_PID
sleep 0.3
out=$("${CURL[@]}" --resolve "other.test:$HELLO:127.0.0.1" "https://other.test:$HELLO/plaintext" 2>&1)
check "a failed reload keeps serving" "Hello, World!" "$out"
kill -0 $HELLO_PID 2>/dev/null && pass "hello still running" || failed "hello still running"

# --- Node's https as the client: keep-alive agent, 30 GETs, a 5 MB POST
if command -v node >/dev/null; then
  cat >"$TMP/peer.js" <<'JS'
const https = require('https'), fs = require('fs');
const [port, ca] = [Number(process.argv[2]), fs.readFileSync(process.argv[3])];
const agent = new https.Agent({ keepAlive: true, maxSockets: 2, ca });
const req = (opts, body) => new Promise((resolve, reject) => {
  const r = https.request({ host: 'localhost', port, agent, ...opts }, (res) => {
    const parts = []; res.on('data', (d) => parts.push(d));
    res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(parts).toString(),
                                   reused: res.req.reusedSocket }));
  });
  r.on('error', reject); r.end(body);
});
(async () => {
  let ok = 0, reused = 0;
  for (let i = 0; i < 30; i++) {
    const r = await req({ path: '/plaintext' });
    if (r.status === 200 && r.body === 'Hello, World!') ok++;
    if (r.reused) reused++;
  }
  const up = await req({ method: 'POST', path: '/upload' }, Buffer.alloc(5 << 20, 'z'));
  console.log(`${ok} ${reused > 20 ? 'reused' : 'not-reused:' + reused} ${up.body.trim().split(' ')[0]}`);
  agent.destroy();
})().catch((e) => { console.log('error ' + e.message); process.exit(1); });
JS
  out=$(timeout 20 node "$TMP/peer.js" "$TEST" "$C/ca.crt" 2>&1)
  check "node https: 30 GETs on kept-alive sockets, a 5 MB POST" "30 reused bytes=5242880" "$out"
else
  failed "node https" "node is not installed"
fi

kill -0 $TEST_PID 2>/dev/null && pass "test server still running" || failed "test server still running"
echo "tls_e2e: $fail failed"
[ "$fail" -eq 0 ]
