#!/usr/bin/env bash
# The installed package as a user meets it (docs/package.md): `cmake --install BUILD --prefix P` into a
# temp dir, then each of examples/{hello,crud,static} configured and built as a project outside this tree
# against P (find_package(waitless) through CMAKE_PREFIX_PATH), run on a free loopback port and checked
# with curl (exact bodies and statuses), then stopped with SIGTERM (exit 0: graceful). hello is also
# built with a plain compiler line from `pkg-config --cflags --libs waitless`.
#
# Build directories: the consumer uses BUILD's compiler (a Release library holds clang's ThinLTO
# bitcode; cmake/WaitlessInstall.cmake). A sanitized BUILD (build-asan) is tested too, not skipped: the
# package exports its -fsanitize link flag, so the examples link the sanitizer runtime the library calls,
# and this checks that export (the examples themselves are compiled without instrumentation; ASAN_OPTIONS
# from `make asan` apply, so a leak at exit fails the run). LTO links keep a ThinLTO cache in
# BUILD/package_e2e.thinlto (like ccache for the compiles: warm runs relink in seconds).
# Usage: tests/package_e2e.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
case "$BUILD" in /*) ;; *) BUILD="$PWD/$BUILD" ;; esac
fail() { echo "package_e2e: FAIL: $*" >&2; exit 1; }
[ -f "$BUILD/CMakeCache.txt" ] || fail "$BUILD is not a configured build directory"
[ -f "$BUILD/libwaitless.a" ] || fail "$BUILD/libwaitless.a missing (build first)"
for t in curl pkg-config python3 gzip; do command -v $t >/dev/null || fail "$t missing"; done
TMP=$(mktemp -d /tmp/waitless-package.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT

PREFIX=$TMP/prefix
# ccache rewrites paths under the temp dir as relative ones, so a new temp dir still hits the cache.
export CCACHE_BASEDIR=$TMP
cmake --install "$BUILD" --prefix "$PREFIX" >/dev/null
[ -f "$PREFIX/lib/cmake/waitless/waitlessConfigVersion.cmake" ] || fail "no CMake package installed"
[ -f "$PREFIX/include/waitless/web/app.hpp" ] || fail "public headers not installed"
if find "$PREFIX/include" -name '*test_support.hpp' -o -name 'test_client.hpp' | grep -q .; then
  fail "test headers installed"
fi

export PKG_CONFIG_PATH=$PREFIX/lib/pkgconfig
CXX=$(pkg-config --variable=cxx waitless)  # the compiler that built the library
[ -x "$CXX" ] || fail "the package's compiler is not here: '$CXX'"
LINK_FLAGS=""
LD_PATH=$(grep -o -- '--ld-path=[^ ]*' "$PREFIX/lib/pkgconfig/waitless.pc" || true)
if [ -n "$LD_PATH" ]; then  # LTO bitcode, linked by lld (see the file comment)
  LINK_FLAGS="$LD_PATH -Wl,--thinlto-cache-dir=$BUILD/package_e2e.thinlto"
fi
build_example() {  # NAME
  cmake -S "examples/$1" -B "$TMP/$1" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$PREFIX" \
    -DCMAKE_CXX_COMPILER="$CXX" -DCMAKE_CXX_COMPILER_LAUNCHER=ccache \
    -DCMAKE_EXE_LINKER_FLAGS="$LINK_FLAGS" >"$TMP/$1.configure.log" 2>&1 ||
    { cat "$TMP/$1.configure.log"; fail "configuring examples/$1"; }
  cmake --build "$TMP/$1" >"$TMP/$1.build.log" 2>&1 || { cat "$TMP/$1.build.log"; fail "building examples/$1"; }
}

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }
SERVER=""
URL=""
start() {  # NAME LOG BINARY ARGS...: starts it on a free port, waits until it answers
  local name=$1 log=$2
  shift 2
  local p
  p=$(port)
  PORT=$p "$@" >"$log" 2>&1 &
  SERVER=$!
  PIDS+=("$SERVER")
  URL="http://127.0.0.1:$p"
  for _ in $(seq 1 200); do
    curl -s -o /dev/null "$URL/" && return 0
    kill -0 "$SERVER" 2>/dev/null || { cat "$log"; fail "$name exited at start"; }
    sleep 0.05
  done
  fail "$name does not answer on $URL"
}
stop() {  # NAME LOG: SIGTERM, graceful shutdown must end with exit 0
  kill -TERM "$SERVER"
  local rc=0
  wait "$SERVER" || rc=$?
  [ "$rc" -eq 0 ] || { cat "$2"; fail "$1 exited with $rc after SIGTERM"; }
}
# expect NAME STATUS BODY CURL_ARGS...: the status and the exact body.
expect() {
  local name=$1 status=$2 body=$3
  shift 3
  local got
  got=$(curl -s -w '\n%{http_code}' "$@")
  if [ "${got##*$'\n'}" != "$status" ] || [ "${got%$'\n'*}" != "$body" ]; then
    fail "$name: curl $*: expected $status '$body', got ${got##*$'\n'} '${got%$'\n'*}'"
  fi
}
JSON=(-H 'Content-Type: application/json')

# ---- hello
build_example hello
start hello "$TMP/hello.log" "$TMP/hello/hello"
expect hello 200 $'Hello, world!\n' "$URL/"
expect hello 200 '{"id":7,"name":"user 7"}' "$URL/users/7"
expect hello 400 '{"type":"about:blank","title":"Bad Request","status":400,"detail":"route parameter '"'id'"': route parameter does not convert","instance":"/users/x"}' "$URL/users/x"
curl -s -D - -o /dev/null "$URL/users/8" | grep -qi '^Server-Timing: total;dur=' || fail "hello: no Server-Timing"
# The access log's writer thread writes within a few ms (log_sink.hpp): poll for the line.
for _ in $(seq 1 100); do grep -q '"GET /users/7 HTTP/1.1" 200 24 ' "$TMP/hello.log" && break; sleep 0.02; done
grep -q '"GET /users/7 HTTP/1.1" 200 24 ' "$TMP/hello.log" || { cat "$TMP/hello.log"; fail "hello: no access log line"; }
stop hello "$TMP/hello.log"

# ---- crud
build_example crud
start crud "$TMP/crud.log" "$TMP/crud/crud"
B="$URL/items"
problem() { echo '{"type":"about:blank","title":"'"$1"'","status":'"$2"',"detail":"'"$3"'","instance":"'"$4"'"}'; }
expect crud 200 '[]' "$B"
expect crud 201 '{"id":1,"name":"pen","price_cents":150}' "${JSON[@]}" -d '{"name":"pen","price_cents":150}' "$B"
curl -s -D - -o /dev/null "${JSON[@]}" -d '{"name":"ink","price_cents":0}' "$B" | grep -q '^Location: /items/2' ||
  fail "crud: no Location"
expect crud 200 '{"id":1,"name":"pen","price_cents":150}' "$B/1"
expect crud 200 '[{"id":1,"name":"pen","price_cents":150},{"id":2,"name":"ink","price_cents":0}]' "$B"
expect crud 404 "$(problem 'Not Found' 404 'no item 9' /items/9)" "$B/9"
expect crud 400 "$(problem 'Bad Request' 400 "route parameter 'id': route parameter does not convert" /items/abc)" "$B/abc"
expect crud 422 "$(problem 'Unprocessable Content' 422 'name must have 1 to 100 characters' /items)" \
  "${JSON[@]}" -d '{"name":"","price_cents":1}' "$B"
expect crud 422 "$(problem 'Unprocessable Content' 422 'price_cents must be >= 0' /items)" \
  "${JSON[@]}" -d '{"name":"a","price_cents":-1}' "$B"
expect crud 400 "$(problem 'Bad Request' 400 'the JSON body does not fit: array size does not match target size' /items)" \
  "${JSON[@]}" -d '{"name":"a"}' "$B"
expect crud 400 "$(problem 'Bad Request' 400 'invalid JSON at line 1, column 13: incomplete JSON' /items)" \
  "${JSON[@]}" -d '{"name":"a",' "$B"
expect crud 415 "$(problem 'Unsupported Media Type' 415 'expected a json body, got application/x-www-form-urlencoded' /items)" \
  -d 'name=a' "$B"
expect crud 200 '{"id":1,"name":"pencil","price_cents":200}' -X PUT "${JSON[@]}" -d '{"name":"pencil","price_cents":200}' "$B/1"
expect crud 404 "$(problem 'Not Found' 404 'no item 5' /items/5)" -X PUT "${JSON[@]}" -d '{"name":"x","price_cents":1}' "$B/5"
expect crud 204 '' -X DELETE "$B/1"
expect crud 404 "$(problem 'Not Found' 404 'no item 1' /items/1)" -X DELETE "$B/1"
expect crud 200 '[{"id":2,"name":"ink","price_cents":0}]' "$B"
stop crud "$TMP/crud.log"

# ---- static
build_example static
ROOT=$TMP/root
mkdir -p "$ROOT/css"
printf '<!doctype html><p>home</p>\n' >"$ROOT/index.html"
python3 -c 'import sys; sys.stdout.write("body { margin: 0 }\n" * 400)' >"$ROOT/css/site.css"  # 7.6 KB
start static "$TMP/static.log" "$TMP/static/static" "$ROOT"
expect static 200 $'<!doctype html><p>home</p>\n' "$URL/"
expect static 404 '{"type":"about:blank","title":"Not Found","status":404,"detail":"no route for GET /missing.txt","instance":"/missing.txt"}' "$URL/missing.txt"
H=$(curl -s -D - -o "$TMP/site.css.gz" -H 'Accept-Encoding: gzip' "$URL/css/site.css")
grep -qi '^Content-Encoding: gzip' <<<"$H" || fail "static: no gzip: $H"
grep -qi '^Vary: Accept-Encoding' <<<"$H" || fail "static: no Vary"
gzip -dc "$TMP/site.css.gz" | cmp -s - "$ROOT/css/site.css" || fail "static: gzip body differs from the file"
if curl -V | grep -qi brotli; then
  H=$(curl -s -D - -o "$TMP/site.css.br" --compressed -H 'Accept-Encoding: br' "$URL/css/site.css")
  grep -qi '^Content-Encoding: br' <<<"$H" || fail "static: no brotli: $H"
  cmp -s "$TMP/site.css.br" "$ROOT/css/site.css" || fail "static: brotli body differs from the file"
fi
ETAG=$(curl -s -D - -o /dev/null "$URL/index.html" | sed -n 's/^ETag: *//Ip' | tr -d '\r')
[ -n "$ETAG" ] || fail "static: no ETag"
expect static 304 '' -H "If-None-Match: $ETAG" "$URL/index.html"
expect static 206 '<!doctype' -H 'Range: bytes=0-8' "$URL/index.html"
stop static "$TMP/static.log"

# ---- hello with a plain compiler line from pkg-config
FLAGS=$(pkg-config --cflags --libs waitless) || fail "pkg-config --cflags --libs waitless"
# shellcheck disable=SC2086  # FLAGS is a list of flags
# Compile and link apart so that ccache can cache the compile (the flags are pkg-config's either way).
{ ccache "$CXX" -O1 -c -o "$TMP/hello-pc.o" examples/hello/main.cpp $FLAGS &&
  "$CXX" -o "$TMP/hello-pc" "$TMP/hello-pc.o" $FLAGS $LINK_FLAGS; } >"$TMP/pc.log" 2>&1 ||
  { cat "$TMP/pc.log"; fail "building hello from pkg-config's line: $CXX ... $FLAGS"; }
start hello-pc "$TMP/hello-pc.log" "$TMP/hello-pc"
expect hello-pc 200 '{"id":3,"name":"user 3"}' "$URL/users/3"
stop hello-pc "$TMP/hello-pc.log"
echo "package_e2e: ok (3 examples from the CMake package, 1 from pkg-config; prefix removed)"
