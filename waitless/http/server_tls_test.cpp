// The HTTP server over TLS, against a blocking OpenSSL client on its own thread (the test's peer: it owns
// its socket, as curl would; the library never hands OpenSSL a socket).
#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <thread>

#include "waitless/http/server.hpp"
#include "waitless/http/test_client.hpp"
#include "waitless/net/tls_test_support.hpp"
#include "waitless/net/transport.hpp"

namespace waitless::http {
namespace {

using namespace std::chrono_literals;
using net::test::TestCerts;
using testing::get;
using testing::TestClient;

// A blocking TLS client: TestClient's socket (timeouts set), OpenSSL on top.
class TlsTestClient {
 public:
  explicit TlsTestClient(uint16_t port, SSL_SESSION* session = nullptr) : tcp_(port) {
    ctx_ = SSL_CTX_new(TLS_client_method());
    SSL_CTX_load_verify_locations(ctx_, TestCerts::get().path("ca.crt").c_str(), nullptr);
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    ssl_ = SSL_new(ctx_);
    SSL_set1_host(ssl_, "localhost");
    SSL_set_tlsext_host_name(ssl_, "localhost");
    if (session) SSL_set_session(ssl_, session);
    SSL_set_fd(ssl_, tcp_.fd());
    ok_ = tcp_.connected() && SSL_connect(ssl_) == 1;
  }
  ~TlsTestClient() {
    if (ok_) (void)SSL_shutdown(ssl_);  // close_notify: a session of an unfinished connection never resumes
    SSL_free(ssl_);
    SSL_CTX_free(ctx_);
  }
  bool ok() const { return ok_; }
  SSL* ssl() { return ssl_; }
  bool send(std::string_view data) {
    while (!data.empty()) {
      std::size_t n = 0;
      if (SSL_write_ex(ssl_, data.data(), data.size(), &n) != 1) return false;
      data.remove_prefix(n);
    }
    return true;
  }
  // The next response (Content-Length framed), or nullopt.
  std::optional<testing::TestResponse> read_response() {
    std::size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (!fill()) return std::nullopt;
    }
    testing::TestResponse r;
    r.raw_head = buf_.substr(0, end + 4);
    buf_.erase(0, end + 4);
    r.status = std::atoi(r.raw_head.c_str() + 9);
    const auto cl = r.raw_head.find("Content-Length: ");
    const std::size_t len =
        cl == std::string::npos ? 0 : std::strtoul(r.raw_head.c_str() + cl + 16, nullptr, 10);
    while (buf_.size() < len) {
      if (!fill()) return std::nullopt;
    }
    r.body = buf_.substr(0, len);
    buf_.erase(0, len);
    return r;
  }
  // True once the server closed (close_notify or FIN) within the socket's timeout.
  bool closed() {
    char tmp[4096];
    std::size_t n = 0;
    while (SSL_read_ex(ssl_, tmp, sizeof tmp, &n) == 1) {
    }
    const int e = SSL_get_error(ssl_, 0);
    ERR_clear_error();
    return e == SSL_ERROR_ZERO_RETURN || e == SSL_ERROR_SYSCALL || e == SSL_ERROR_SSL;
  }

 private:
  bool fill() {
    char tmp[65536];
    std::size_t n = 0;
    if (SSL_read_ex(ssl_, tmp, sizeof tmp, &n) != 1) return false;
    buf_.append(tmp, n);
    return true;
  }
  TestClient tcp_;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  bool ok_ = false;
  std::string buf_;
};

void handler(Request& req, Response& res) {
  if (req.method() == "POST") {
    (void)res.send(200, std::to_string(req.body_view().size()) + " bytes", "text/plain");
  } else if (req.path() == "/big") {
    (void)res.send(200, std::string(3 << 20, 'b'), "application/octet-stream");
  } else {
    (void)res.send(200, "Hello, TLS!", "text/plain");
  }
}

// Serves `handler` over TLS on a test loop while `client` runs on its own thread, then shuts down and
// checks the loop ends empty.
template <typename H = decltype(&handler)>
void serve_tls(const std::function<void(uint16_t)>& client, ServerOptions options = {}, H&& h = &handler) {
  ASSERT_TRUE(TestCerts::get().ok());
  const auto& c = TestCerts::get();
  auto tls = net::TlsContext::server({.certificate = {c.path("server.crt"), c.path("server.key")}});
  ASSERT_TRUE(tls.ok());
  Loop loop;
  {
    options.limits.max_body_size = 8 << 20;
    Server server(std::forward<H>(h), options);
    auto port = server.attach(loop, net::ListenOptions{}, tls.value());
    ASSERT_TRUE(port.ok()) << port.error().message();
    std::thread t([&] {
      client(port.value());
      server.shutdown(2000ms);
    });
    loop.run();
    t.join();
  }
  EXPECT_EQ(loop.handle_count(), 0u);
  EXPECT_FALSE(loop.alive());
}

TEST(HttpServerTls, KeepAliveRequestsBigBodiesBothWaysAndResumption) {
  serve_tls([](uint16_t port) {
    SSL_SESSION* session = nullptr;
    {
      TlsTestClient c(port);
      ASSERT_TRUE(c.ok());
      for (int i = 0; i < 3; ++i) {
        ASSERT_TRUE(c.send(get("/")));
        auto r = c.read_response();
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 200);
        EXPECT_EQ(r->body, "Hello, TLS!");
      }
      // Two pipelined requests in one write.
      ASSERT_TRUE(c.send(get("/") + get("/")));
      EXPECT_TRUE(c.read_response());
      EXPECT_TRUE(c.read_response());
      ASSERT_TRUE(c.send(get("/big")));
      auto big = c.read_response();
      ASSERT_TRUE(big);
      EXPECT_EQ(big->body.size(), std::size_t{3} << 20);
      const std::string body(5 << 20, 'u');
      ASSERT_TRUE(c.send("POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: " + std::to_string(body.size()) +
                         "\r\n\r\n" + body));
      auto up = c.read_response();
      ASSERT_TRUE(up);
      EXPECT_EQ(up->body, std::to_string(body.size()) + " bytes");
      const unsigned char* alpn = nullptr;
      unsigned alpn_len = 0;
      SSL_get0_alpn_selected(c.ssl(), &alpn, &alpn_len);
      EXPECT_EQ(alpn_len, 0u);  // this client offered none: none chosen, HTTP/1.1 all the same
      session = SSL_get1_session(c.ssl());
    }
    TlsTestClient again(port, session);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(SSL_session_reused(again.ssl()), 1);
    ASSERT_TRUE(again.send(get("/")));
    EXPECT_TRUE(again.read_response());
    SSL_SESSION_free(session);
  });
}

TEST(HttpServerTls, PlaintextClientGetsA400AndTheServerGoesOn) {
  serve_tls([](uint16_t port) {
    TestClient plain(port);
    ASSERT_TRUE(plain.send(get("/")));
    auto r = plain.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400);
    EXPECT_TRUE(plain.closed_within(2000));
    TlsTestClient c(port);
    ASSERT_TRUE(c.ok());
    ASSERT_TRUE(c.send(get("/")));
    EXPECT_TRUE(c.read_response());
  });
}

TEST(HttpServerTls, StalledHandshakeIsClosedAtItsDeadline) {
  ServerOptions options;
  options.limits.tls_handshake_timeout = 300ms;
  serve_tls(
      [](uint16_t port) {
        TestClient silent(port);  // connects, says nothing
        TestClient half(port);    // the first bytes of a ClientHello, then nothing
        ASSERT_TRUE(half.send(std::string_view("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11)));
        // The sweep runs once a second: closed within about 1.3 s, well inside 4 s.
        EXPECT_TRUE(silent.closed_within(4000));
        EXPECT_TRUE(half.closed_within(4000));
        TlsTestClient c(port);  // the server goes on
        ASSERT_TRUE(c.ok());
      },
      options);
}

}  // namespace
}  // namespace waitless::http

namespace waitless::http {
namespace {

// A file body cannot go by sendfile over TLS (OpenSSL must see the bytes): write_file says so and sends
// nothing, and the handler writes the bytes instead; the client gets the whole file.
TEST(HttpServerTls, AFileBodyIsWrittenNotSentByTheKernel) {
  char path[] = "/tmp/waitless-tls-file-XXXXXX";
  const int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  std::string data;
  for (int i = 0; data.size() < 300000; ++i) data += std::to_string(i) + ";";
  ASSERT_EQ(::write(fd, data.data(), data.size()), static_cast<ssize_t>(data.size()));
  std::error_code refused;
  const uint64_t before = net::Transport::file_bytes_sent();
  auto file_handler = [&](Request&, Response& res) -> Task<> {
    (void)res.set_content_length(data.size());
    auto sent = res.write_file(fd, 0, data.size());
    if (!sent) refused = sent.error();
    if (sent && *sent > 0) co_return;  // (would be a bug: the test fails below)
    for (std::size_t at = 0; at < data.size(); at += 65536) {
      if (res.write(std::string_view(data).substr(at, 65536))) co_return;
      if (res.needs_drain() && co_await res.drain()) co_return;
    }
    (void)res.end();
  };
  serve_tls(
      [&](uint16_t port) {
        TlsTestClient c(port);
        ASSERT_TRUE(c.ok());
        ASSERT_TRUE(c.send(get("/file")));
        auto r = c.read_response();
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 200);
        EXPECT_TRUE(r->body == data);
      },
      {}, file_handler);
  EXPECT_EQ(refused, std::errc::operation_not_supported);
  EXPECT_EQ(net::Transport::file_bytes_sent(), before);
  ::close(fd);
  ::unlink(path);
}

}  // namespace
}  // namespace waitless::http
