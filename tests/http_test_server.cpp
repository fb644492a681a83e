// Test-only HTTP server for tests/http_e2e.sh (built by that script against the build's library; never
// part of `waitless`). Routes:
//   POST /upload      streams the body (co_await req.read()), answers "bytes=N crc32=H" (zlib crc32, hex);
//                     its body limit is raised to 256 MiB for this route only
//   POST /echo        the whole body (co_await req.body(), default 1 MiB limit) echoed back
//   POST /continue    waits 100 ms before asking for the body (Expect: 100-continue is answered then)
//   GET  /q?...       the query string, after an optional async delay of ?ms=N first
//   GET  /plaintext   "Hello, World!"
//   GET  /bytes?N     N bytes ('a'..'z' repeated), streamed with backpressure (res.write + drain)
// usage: http_test_server PORT [CERT KEY [SNI_CERT SNI_KEY]]
//   with CERT and KEY: HTTPS only (tests/tls_e2e.sh); SNI_CERT for the names it covers
#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <zlib.h>

#include "waitless/async/sleep.hpp"
#include "waitless/http/server.hpp"

using namespace waitless;
using namespace std::chrono_literals;

namespace {

Task<> handle(http::Request& req, http::Response& res) {
  const std::string_view path = req.path();
  if (path == "/upload") {
    req.set_body_limit(256u << 20);
    uint64_t bytes = 0;
    uLong crc = crc32(0L, Z_NULL, 0);
    for (;;) {
      auto piece = co_await req.read();
      if (!piece) {
        (void)res.send(400, "read failed: " + piece.error().message() + "\n");
        co_return;
      }
      if (piece->empty()) break;
      crc = crc32(crc, reinterpret_cast<const Bytef*>(piece->data()), static_cast<uInt>(piece->size()));
      bytes += piece->size();
    }
    char out[96];
    std::snprintf(out, sizeof out, "bytes=%" PRIu64 " crc32=%08lx\n", bytes, static_cast<unsigned long>(crc));
    (void)res.send(out);
  } else if (path == "/echo" || path == "/continue") {
    if (path == "/continue") co_await sleep(100ms);
    auto body = co_await req.body();
    if (!body) co_return;  // the server answers (413 over the limit)
    (void)res.set_content_type("application/octet-stream");
    (void)res.send(*body);
  } else if (path == "/q") {
    std::string_view q = req.query();
    if (q.rfind("ms=", 0) == 0) co_await sleep(std::chrono::milliseconds(std::atoi(q.data() + 3)));
    (void)res.send(std::string(q));
  } else if (path == "/bytes") {
    const uint64_t total = std::strtoull(std::string(req.query()).c_str(), nullptr, 10);
    (void)res.set_content_type("application/octet-stream");
    (void)res.set_content_length(total);
    std::string chunk(64 * 1024, 'a');
    for (std::size_t i = 0; i < chunk.size(); ++i) chunk[i] = static_cast<char>('a' + i % 26);
    for (uint64_t sent = 0; sent < total;) {
      const std::size_t n = static_cast<std::size_t>(std::min<uint64_t>(chunk.size(), total - sent));
      if (res.write(std::string_view(chunk).substr(0, n))) co_return;
      sent += n;
      if (res.needs_drain() && co_await res.drain()) co_return;
    }
    (void)res.end();
  } else if (path == "/plaintext") {
    (void)res.set_content_type("text/plain");
    (void)res.send("Hello, World!");
  } else {
    (void)res.send(404, "Not Found\n", "text/plain");
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: http_test_server PORT\n");
    return 2;
  }
  http::Server server(handle);
  http::ListenConfig config;
  config.threads = 1;
  if (argc >= 4) {
    net::TlsServerConfig tls_config{.certificate = {argv[2], argv[3]}};
    if (argc >= 6) tls_config.extra.push_back({argv[4], argv[5]});
    auto tls = net::TlsContext::server(tls_config);
    if (!tls) {
      std::fprintf(stderr, "http_test_server: TLS: %s\n", tls.error().message().c_str());
      return 1;
    }
    config.tls = std::move(tls.value());
  }
  auto port = server.listen(static_cast<uint16_t>(std::atoi(argv[1])), config);
  if (!port) {
    std::fprintf(stderr, "http_test_server: %s\n", port.error().message().c_str());
    return 1;
  }
  std::printf("listening on %u\n", unsigned(port.value()));
  std::fflush(stdout);
  return server.wait();
}
