// The client speaking https:// to a real waitless Server over TLS on the same loop: verification on by
// default (CA file, host name, IP literal), insecure for throwaway certificates, keep-alive reuse, large
// bodies both ways, a TLS client against a plaintext port.
#include <gtest/gtest.h>

#include <string>

#include "waitless/http/client.hpp"
#include "waitless/http/client_test_support.hpp"
#include "waitless/net/tls_test_support.hpp"

namespace waitless::http {
namespace {

using net::test::TestCerts;
using testing::run_bounded;
using testing::TestServer;

Task<> echo(Request& req, Response& res) {
  auto body = co_await req.body();
  (void)res.send(std::string(req.method()) + " " + (body ? std::string(*body) : std::string("?")));
}

// A Server on the test loop speaking TLS with `cert` (server: localhost and 127.0.0.1). Its destructor
// shuts it down and runs the loop until it is gone (one at a time on a loop).
class TlsServer {
 public:
  TlsServer(Loop& loop, const char* cert = "server") : loop_(loop) {
    const auto& c = TestCerts::get();
    ServerOptions options;
    options.limits.max_body_size = 8 << 20;
    server_.emplace(echo, options);
    auto tls = net::TlsContext::server({.certificate = {c.path((std::string(cert) + ".crt").c_str()),
                                                        c.path((std::string(cert) + ".key").c_str())}});
    EXPECT_TRUE(tls.ok());
    auto port = server_->attach(loop, net::ListenOptions{}, tls.value());
    EXPECT_TRUE(port.ok());
    port_ = port.value_or(0);
  }
  ~TlsServer() {
    server_->shutdown(std::chrono::milliseconds(200));
    loop_.run();
  }
  std::string url(std::string_view host = "localhost", std::string_view path = "/") const {
    return "https://" + std::string(host) + ":" + std::to_string(port_) + std::string(path);
  }

 private:
  Loop& loop_;
  std::optional<Server> server_;
  uint16_t port_ = 0;
};

ClientOptions trusting(bool insecure = false) {
  ClientOptions o;
  o.tls = net::TlsContext::client({.ca_file = TestCerts::get().path("ca.crt"), .insecure = insecure}).value();
  return o;
}

class HttpClientTls : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(TestCerts::get().ok()); }
};

TEST_F(HttpClientTls, GetsPostsAndReusesTheConnection) {
  Loop loop;
  {
    TlsServer server(loop);
    Client client(loop, trusting());
    for (int i = 0; i < 3; ++i) {
      auto r = run_bounded(loop, client.get(server.url()));
      ASSERT_TRUE(r.ok()) << r.error().message();
      EXPECT_EQ(r->status, 200);
      EXPECT_EQ(r->body, "GET ");
    }
    EXPECT_EQ(client.metrics().connections_opened, 1u);
    EXPECT_EQ(client.metrics().connections_reused, 2u);
    // Large bodies each way: sent from the request's memory through the layer, the echo collected.
    std::string big(3 << 20, 'x');
    for (std::size_t i = 0; i < big.size(); i += 4096) big[i] = static_cast<char>('a' + (i / 4096) % 26);
    auto large =
        run_bounded(loop, [](Client& c, std::string url, std::string body) -> Task<Result<ClientResponse>> {
          ClientRequest req{.method = "PUT", .url = url, .body = std::move(body)};
          co_return co_await c.request(std::move(req));
        }(client, server.url(), big));
    ASSERT_TRUE(large.ok()) << large.error().message();
    EXPECT_TRUE(large->body == "PUT " + big);
    // The IP literal is checked against the certificate's IP SAN; the origin is another pool.
    auto by_ip = run_bounded(loop, client.get(server.url("127.0.0.1")));
    ASSERT_TRUE(by_ip.ok()) << by_ip.error().message();
    EXPECT_EQ(client.metrics().connections_opened, 2u);
  }
  net::test::expect_empty(loop);
}

TEST_F(HttpClientTls, VerificationIsOnByDefault) {
  Loop loop;
  {
    {
      TlsServer server(loop);
      Client system_store(loop);  // the throwaway CA is not in the system's store
      auto r = run_bounded(loop, system_store.get(server.url()));
      ASSERT_FALSE(r.ok());
      EXPECT_EQ(r.error(), make_error_code(net::TlsError::certificate_verify));
    }
    TlsServer expired(loop, "expired");  // one server at a time: each one's end runs the loop empty
    Client client(loop, trusting());
    auto old = run_bounded(loop, client.get(expired.url()));
    ASSERT_FALSE(old.ok());
    EXPECT_EQ(old.error(), make_error_code(net::TlsError::certificate_verify));
    Client lax(loop, trusting(true));
    auto ok = run_bounded(loop, lax.get(expired.url()));
    ASSERT_TRUE(ok.ok()) << ok.error().message();
    EXPECT_EQ(ok->status, 200);
  }
  net::test::expect_empty(loop);
}

TEST_F(HttpClientTls, HttpsToAPlaintextPortFailsCleanly) {
  Loop loop;
  {
    TestServer plain(loop, [](Request&, Response& res) { (void)res.send("plain"); });
    Client client(loop, trusting());
    auto r = run_bounded(loop, client.get("https://127.0.0.1:" + std::to_string(plain.port()) + "/"));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error(), make_error_code(net::TlsError::handshake_failed));
    auto still = run_bounded(loop, client.get(plain.url()));  // http:// to the same port: another pool
    ASSERT_TRUE(still.ok()) << still.error().message();
    EXPECT_EQ(still->body, "plain");
  }
  net::test::expect_empty(loop);
}

}  // namespace
}  // namespace waitless::http
