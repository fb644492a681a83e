#include "waitless/net/tls_layer.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

#include "waitless/net/socket_test_support.hpp"
#include "waitless/net/test_support.hpp"
#include "waitless/net/tls_test_support.hpp"

namespace waitless::net {
namespace {

using test::expect_empty;
using test::run_until;
using test::TestCerts;

struct Probe : TransportHandler {
  std::string received;
  int eofs = 0;
  std::error_code error;
  bool on_bytes(const char* data, std::size_t size) noexcept override {
    received.append(data, size);
    return true;
  }
  bool on_eof() noexcept override {
    ++eofs;
    return true;
  }
  bool on_writable(std::size_t) noexcept override { return true; }
  bool on_error(std::error_code ec) noexcept override {
    error = ec;
    return true;
  }
};

// One end of a TLS connection: its transport, its layer, what it received.
struct End {
  Probe probe;
  Transport transport;
  std::unique_ptr<TlsLayer> tls;
  End(Loop& loop, int fd) : transport(loop, fd, &probe) {}
};

std::shared_ptr<TlsContext> server_context(const char* cert = "server",
                                           std::vector<TlsCertificate> extra = {}) {
  const auto& c = TestCerts::get();
  TlsServerConfig config;
  config.certificate = {c.path((std::string(cert) + ".crt").c_str()),
                        c.path((std::string(cert) + ".key").c_str())};
  config.extra = std::move(extra);
  auto ctx = TlsContext::server(config);
  EXPECT_TRUE(ctx.ok());
  return ctx ? ctx.value() : nullptr;
}

std::shared_ptr<TlsContext> client_context(bool insecure = false) {
  TlsClientConfig config;
  config.ca_file = TestCerts::get().path("ca.crt");
  config.insecure = insecure;
  auto ctx = TlsContext::client(config);
  EXPECT_TRUE(ctx.ok());
  return ctx ? ctx.value() : nullptr;
}

// A connected pair over loopback with both layers in place and reading; the client's hello is out.
struct Pair {
  std::unique_ptr<End> client, server;
  Pair(Loop& loop, TlsContext& sctx, TlsContext& cctx, std::string_view name = "localhost",
       std::string_view session_key = {}) {
    auto [c, s] = test::loopback_tcp_pair();
    client = std::make_unique<End>(loop, c);
    server = std::make_unique<End>(loop, s);
    auto sl = TlsLayer::server(sctx, server->transport, server->probe);
    auto cl = TlsLayer::client(cctx, client->transport, client->probe, name, session_key);
    EXPECT_TRUE(sl.ok() && cl.ok());
    if (!sl || !cl) return;
    server->tls = std::move(sl.value());
    client->tls = std::move(cl.value());
    EXPECT_FALSE(server->transport.start());
    EXPECT_FALSE(client->transport.start());
    EXPECT_FALSE(client->tls->start_handshake());
  }
  bool connected() const {
    return client->tls && client->tls->handshake_done() && server->tls->handshake_done();
  }
};

std::string peer_common_name(const TlsLayer& layer) {
  X509* cert = SSL_get1_peer_certificate(layer.native());
  if (!cert) return {};
  char buf[256] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, buf, sizeof buf);
  X509_free(cert);
  return buf;
}

class TlsLayerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(TestCerts::get().ok()) << "openssl could not make the test certificates";
  }
};

TEST_F(TlsLayerTest, HandshakeAlpnDataBothWaysAndCloseNotify) {
  Loop loop;
  {
    auto sctx = server_context();
    auto cctx = client_context();
    Pair p(loop, *sctx, *cctx);
    // The client writes before the handshake is done: it waits in the layer and leaves after it.
    ASSERT_FALSE(p.client->tls->write("early bytes"));
    EXPECT_EQ(p.client->tls->queued(), std::string_view("early bytes").size());
    ASSERT_TRUE(run_until(loop, [&] { return p.server->probe.received == "early bytes"; }));
    ASSERT_TRUE(p.connected());
    EXPECT_EQ(p.client->tls->alpn(), "http/1.1");
    EXPECT_EQ(p.server->tls->alpn(), "http/1.1");
    EXPECT_EQ(p.client->tls->version(), "TLSv1.3");
    EXPECT_EQ(peer_common_name(*p.client->tls), "localhost");
    // 1 MiB back: more than one record, more than one plaintext buffer, in order.
    std::string big(1 << 20, 'x');
    for (std::size_t i = 0; i < big.size(); i += 997) big[i] = static_cast<char>('a' + i % 26);
    ASSERT_FALSE(p.server->tls->write(big));
    ASSERT_TRUE(run_until(loop, [&] { return p.client->probe.received.size() >= big.size(); }));
    EXPECT_TRUE(p.client->probe.received == big);
    // close_notify then FIN: the server sees one end of stream, and knows it was a clean one.
    ASSERT_FALSE(p.client->tls->shutdown());
    ASSERT_TRUE(run_until(loop, [&] { return p.server->probe.eofs > 0; }));
    EXPECT_EQ(p.server->probe.eofs, 1);
    EXPECT_TRUE(p.server->tls->close_notify_received());
    EXPECT_FALSE(p.server->probe.error);
    EXPECT_EQ(p.client->tls->write("after"), make_error_code(Error::closed));
  }
  expect_empty(loop);
}

// A protocol switch over TLS: the server's transport gives its fd up (with the ciphertext it still had
// queued), a new Transport of the same fd takes the layer, and the session goes on both ways there.
TEST_F(TlsLayerTest, TheLayerMovesToANewTransportOfTheSameFd) {
  Loop loop;
  {
    auto sctx = server_context();
    auto cctx = client_context();
    Pair p(loop, *sctx, *cctx);
    ASSERT_FALSE(p.client->tls->write("before"));
    ASSERT_TRUE(run_until(loop, [&] { return p.server->probe.received == "before"; }));
    ASSERT_FALSE(p.server->tls->write("answer"));
    const std::string unsent(p.server->transport.unsent());  // empty here (loopback takes it): kept anyway
    const int fd = p.server->transport.release();
    ASSERT_GE(fd, 0);
    End moved(loop, fd);
    moved.tls = std::move(p.server->tls);
    moved.tls->rebind(moved.transport, moved.probe);
    ASSERT_FALSE(moved.transport.write(unsent));
    ASSERT_FALSE(moved.transport.start());
    ASSERT_TRUE(run_until(loop, [&] { return p.client->probe.received == "answer"; }));
    ASSERT_FALSE(p.client->tls->write("after the move"));
    ASSERT_TRUE(run_until(loop, [&] { return moved.probe.received == "after the move"; }));
    ASSERT_FALSE(moved.tls->write("back"));
    ASSERT_TRUE(run_until(loop, [&] { return p.client->probe.received == "answerback"; }));
    // Its close_notify comes from the new transport too.
    ASSERT_FALSE(moved.tls->shutdown());
    ASSERT_TRUE(run_until(loop, [&] { return p.client->probe.eofs > 0; }));
    EXPECT_TRUE(p.client->tls->close_notify_received());
    EXPECT_FALSE(p.client->probe.error);
    EXPECT_FALSE(moved.probe.error);
    EXPECT_TRUE(p.server->probe.received == "before");  // the old owner heard nothing more
  }
  expect_empty(loop);
}

TEST_F(TlsLayerTest, SniPicksTheCertificateThatCoversTheName) {
  Loop loop;
  {
    const auto& c = TestCerts::get();
    auto sctx = server_context("server", {{c.path("other.crt"), c.path("other.key")}});
    auto cctx = client_context();
    Pair a(loop, *sctx, *cctx, "other.test");
    Pair b(loop, *sctx, *cctx, "api.other.test");  // the wildcard
    Pair d(loop, *sctx, *cctx, "localhost");       // the default
    ASSERT_TRUE(run_until(loop, [&] { return a.connected() && b.connected() && d.connected(); }));
    EXPECT_EQ(peer_common_name(*a.client->tls), "other.test");
    EXPECT_EQ(peer_common_name(*b.client->tls), "other.test");
    EXPECT_EQ(peer_common_name(*d.client->tls), "localhost");
  }
  expect_empty(loop);
}

TEST_F(TlsLayerTest, VerificationFailuresAreTypedErrors) {
  Loop loop;
  {
    auto sctx = server_context();
    auto expired = server_context("expired");
    auto cctx = client_context();
    Pair wrong_name(loop, *sctx, *cctx, "not-this-host.test");
    Pair old(loop, *expired, *cctx, "localhost");
    Pair by_ip(loop, *sctx, *cctx, "127.0.0.1");  // an IP literal is checked against the IP SAN
    ASSERT_TRUE(run_until(loop, [&] {
      return wrong_name.client->probe.error && old.client->probe.error && by_ip.connected();
    }));
    EXPECT_EQ(wrong_name.client->probe.error, make_error_code(TlsError::certificate_verify));
    EXPECT_EQ(old.client->probe.error, make_error_code(TlsError::certificate_verify));
    // The server learns of it from the client's alert.
    ASSERT_TRUE(
        run_until(loop, [&] { return wrong_name.server->probe.error || wrong_name.server->probe.eofs; }));
    // Without verification the expired certificate is accepted (tests against throwaway certificates).
    auto insecure = client_context(true);
    Pair lax(loop, *expired, *insecure, "localhost");
    ASSERT_TRUE(run_until(loop, [&] { return lax.connected(); }));
  }
  expect_empty(loop);
}

TEST_F(TlsLayerTest, SessionsResume) {
  Loop loop;
  {
    auto sctx = server_context();
    auto cctx = client_context();
    {
      Pair first(loop, *sctx, *cctx, "localhost", "localhost:443");
      ASSERT_FALSE(first.client->tls->write("ping"));
      ASSERT_TRUE(run_until(loop, [&] { return first.server->probe.received == "ping"; }));
      ASSERT_FALSE(first.server->tls->write("pong"));  // the client reads the tickets with this
      ASSERT_TRUE(run_until(loop, [&] { return first.client->probe.received == "pong"; }));
      EXPECT_FALSE(first.client->tls->session_reused());
    }
    Pair second(loop, *sctx, *cctx, "localhost", "localhost:443");
    ASSERT_TRUE(run_until(loop, [&] { return second.connected(); }));
    EXPECT_TRUE(second.client->tls->session_reused());
    EXPECT_TRUE(second.server->tls->session_reused());
    Pair other_key(loop, *sctx, *cctx, "localhost", "elsewhere:443");
    ASSERT_TRUE(run_until(loop, [&] { return other_key.connected(); }));
    EXPECT_FALSE(other_key.client->tls->session_reused());
  }
  expect_empty(loop);
}

// reload() swaps the certificate for new handshakes; a connection made before goes on with its own.
TEST_F(TlsLayerTest, ReloadSwapsCertificatesForNewConnectionsOnly) {
  Loop loop;
  {
    const auto& c = TestCerts::get();
    const std::string live_crt = c.path("live.crt"), live_key = c.path("live.key");
    namespace fs = std::filesystem;
    fs::copy_file(c.path("server.crt"), live_crt, fs::copy_options::overwrite_existing);
    fs::copy_file(c.path("server.key"), live_key, fs::copy_options::overwrite_existing);
    auto sctx = TlsContext::server({.certificate = {live_crt, live_key}}).value();
    auto cctx = client_context(true);
    Pair old(loop, *sctx, *cctx);
    ASSERT_TRUE(run_until(loop, [&] { return old.connected(); }));
    EXPECT_EQ(peer_common_name(*old.client->tls), "localhost");

    fs::copy_file(c.path("other.crt"), live_crt, fs::copy_options::overwrite_existing);
    fs::copy_file(c.path("other.key"), live_key, fs::copy_options::overwrite_existing);
    ASSERT_FALSE(sctx->reload());
    EXPECT_EQ(sctx->generation(), 1u);
    Pair fresh(loop, *sctx, *cctx);
    ASSERT_TRUE(run_until(loop, [&] { return fresh.connected(); }));
    EXPECT_EQ(peer_common_name(*fresh.client->tls), "other.test");

    ASSERT_FALSE(old.client->tls->write("still here"));
    ASSERT_TRUE(run_until(loop, [&] { return old.server->probe.received == "still here"; }));
    ASSERT_FALSE(old.server->tls->write("and answered"));
    ASSERT_TRUE(run_until(loop, [&] { return old.client->probe.received == "and answered"; }));

    // A reload that cannot read its files changes nothing.
    fs::remove(live_key);
    EXPECT_EQ(sctx->reload(), make_error_code(TlsError::config));
    EXPECT_EQ(sctx->generation(), 1u);
    Pair after(loop, *sctx, *cctx);
    ASSERT_TRUE(run_until(loop, [&] { return after.connected(); }));
    EXPECT_EQ(peer_common_name(*after.client->tls), "other.test");
  }
  expect_empty(loop);
}

TEST_F(TlsLayerTest, PlainHttpToTheTlsPortGetsA400AndAnError) {
  Loop loop;
  {
    auto sctx = server_context();
    auto [c, s] = test::loopback_tcp_pair();
    End server(loop, s);
    server.tls = TlsLayer::server(*sctx, server.transport, server.probe).value();
    ASSERT_FALSE(server.transport.start());
    const std::string request = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
    ASSERT_EQ(::write(c, request.data(), request.size()), static_cast<ssize_t>(request.size()));
    ASSERT_TRUE(run_until(loop, [&] { return bool(server.probe.error); }));
    EXPECT_EQ(server.probe.error, make_error_code(TlsError::handshake_failed));
    EXPECT_FALSE(server.transport.is_open());
    // The server is done with it: read what it said, blocking (bounded by a receive timeout).
    ::fcntl(c, F_SETFL, ::fcntl(c, F_GETFL) & ~O_NONBLOCK);
    timeval tv{2, 0};
    ::setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    std::string got;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(c, buf, sizeof buf)) > 0) got.append(buf, static_cast<std::size_t>(n));
    EXPECT_EQ(got.rfind("HTTP/1.1 400 Bad Request\r\n", 0), 0u) << got;
    ::close(c);
  }
  expect_empty(loop);
}

TEST_F(TlsLayerTest, GarbageAndTruncatedRecordsAreErrors) {
  Loop loop;
  {
    auto sctx = server_context();
    auto cctx = client_context();
    Pair garbage(loop, *sctx, *cctx), truncated(loop, *sctx, *cctx);
    ASSERT_TRUE(run_until(loop, [&] { return garbage.connected() && truncated.connected(); }));
    // An application-data record of 64 bytes that do not decrypt.
    std::string record = "\x17\x03\x03";
    record += '\0';
    record += '\x40';
    record += std::string(64, '\x5a');
    ASSERT_EQ(::write(garbage.client->transport.fd(), record.data(), record.size()),
              static_cast<ssize_t>(record.size()));
    // A record header announcing 256 bytes, 10 of them, then FIN.
    std::string partial = "\x17\x03\x03";
    partial += '\x01';
    partial += '\0';
    partial += std::string(10, 'q');
    ASSERT_EQ(::write(truncated.client->transport.fd(), partial.data(), partial.size()),
              static_cast<ssize_t>(partial.size()));
    ::shutdown(truncated.client->transport.fd(), SHUT_WR);
    ASSERT_TRUE(
        run_until(loop, [&] { return garbage.server->probe.error && truncated.server->probe.error; }));
    EXPECT_EQ(garbage.server->probe.error, make_error_code(TlsError::bad_record));
    EXPECT_EQ(truncated.server->probe.error, make_error_code(TlsError::truncated));
    EXPECT_TRUE(garbage.server->probe.received.empty());
    EXPECT_FALSE(garbage.server->transport.is_open());
  }
  expect_empty(loop);
}

TEST_F(TlsLayerTest, ContextsRefuseUnusableFiles) {
  const auto& c = TestCerts::get();
  EXPECT_EQ(TlsContext::server({.certificate = {c.path("missing.crt"), c.path("server.key")}}).error(),
            make_error_code(TlsError::config));
  EXPECT_EQ(TlsContext::server({.certificate = {c.path("server.crt"), c.path("other.key")}}).error(),
            make_error_code(TlsError::config));
  EXPECT_EQ(TlsContext::client({.ca_file = c.path("missing-ca.crt")}).error(),
            make_error_code(TlsError::config));
  // A client context cannot serve and a server context cannot connect.
  Loop loop;
  {
    auto [a, b] = test::loopback_tcp_pair();
    End end(loop, a);
    ::close(b);
    auto cctx = client_context();
    EXPECT_EQ(TlsLayer::server(*cctx, end.transport, end.probe).error(),
              make_error_code(Error::invalid_argument));
  }
  expect_empty(loop);
}

}  // namespace
}  // namespace waitless::net
