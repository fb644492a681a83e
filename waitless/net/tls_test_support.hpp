// Helpers for the TLS tests (header only; not part of the library): throwaway certificates made with the
// `openssl` command once per test process, in a temp dir removed at exit. The same recipe as
// tests/tls_certs.sh (which the end-to-end scripts use):
//   ca.crt        a CA
//   server.*      localhost and 127.0.0.1, signed by the CA
//   other.*       other.test and *.other.test (the SNI certificate), signed by the CA
//   expired.*     localhost, valid in January 2020 only
// and RawEnd, one end of a connection (plain or TLS) that a test drives by hand.
#pragma once
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "waitless/net/socket_address.hpp"
#include "waitless/net/tls_layer.hpp"
#include "waitless/net/transport.hpp"

namespace waitless::net::test {

inline constexpr const char* kMakeCertsScript = R"(set -e
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
key ca.key
openssl req -x509 -new -key ca.key -out ca.crt -days 3 -subj /CN=waitless-test-ca \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
printf '[ca]\ndefault_ca = testca\n[testca]\ndir = .\ndatabase = index.txt\nnew_certs_dir = .\nserial = serial\ndefault_md = sha256\npolicy = anything\ncopy_extensions = copy\nunique_subject = no\n[anything]\ncommonName = supplied\n' > ca.cnf
: > index.txt; echo 01 > serial
issue() {
  key "$1.key"
  openssl req -new -key "$1.key" -out "$1.csr" -subj "/CN=$2" -addext "subjectAltName=$3" 2>/dev/null
  if [ -n "${4:-}" ]; then dates="-startdate $4 -enddate $5"; else dates="-days 2"; fi
  openssl ca -batch -notext -config ca.cnf -cert ca.crt -keyfile ca.key -in "$1.csr" -out "$1.crt" $dates 2>/dev/null
}
issue server localhost DNS:localhost,IP:127.0.0.1
issue other other.test DNS:other.test,DNS:*.other.test
issue expired localhost DNS:localhost,IP:127.0.0.1 20200101000000Z 20200102000000Z
)";

class TestCerts {
 public:
  static const TestCerts& get() {
    static TestCerts certs;
    return certs;
  }
  std::string path(const char* name) const { return dir_ + "/" + name; }
  bool ok() const { return ok_; }

 private:
  TestCerts() {
    char tmpl[] = "/tmp/waitless-tls-test.XXXXXX";
    if (!::mkdtemp(tmpl)) return;
    dir_ = tmpl;
    const std::string script = dir_ + "/make.sh";
    FILE* f = std::fopen(script.c_str(), "w");
    if (!f) return;
    std::fputs(kMakeCertsScript, f);
    std::fclose(f);
    ok_ = std::system(("cd " + dir_ + " && sh make.sh").c_str()) == 0;
  }
  ~TestCerts() {
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }
  std::string dir_;
  bool ok_ = false;
};

// A server context with server.crt (localhost, 127.0.0.1), and a client context trusting ca.crt.
inline std::shared_ptr<TlsContext> server_tls() {
  const auto& c = TestCerts::get();
  auto ctx = TlsContext::server({.certificate = {c.path("server.crt"), c.path("server.key")}});
  EXPECT_TRUE(ctx.ok());
  return ctx ? ctx.value() : nullptr;
}

inline std::shared_ptr<TlsContext> client_tls() {
  TlsClientConfig config;
  config.ca_file = TestCerts::get().path("ca.crt");
  auto ctx = TlsContext::client(config);
  EXPECT_TRUE(ctx.ok());
  return ctx ? ctx.value() : nullptr;
}

// One end of a raw connection, plain or TLS: writes what the test says, keeps what it reads, reads only
// while `reading` (the test's backpressure).
class RawEnd final : public TransportHandler {
 public:
  // The new owner of a connection that switched protocols (http::Upgraded's parts): its fd, its TLS layer
  // (or null), the wire's bytes not sent yet, the plaintext already read.
  RawEnd(Loop& loop, int fd, std::unique_ptr<TlsLayer> tls, std::string_view unsent, std::string read,
         bool reading)
      : transport_(std::in_place, loop, fd, this), tls_(std::move(tls)), reading_(reading) {
    received = std::move(read);
    if (tls_) tls_->rebind(*transport_, *this);
    if (!unsent.empty()) EXPECT_FALSE(transport_->write(unsent));  // the wire's bytes, as they are
    EXPECT_FALSE(transport_->start());
    connected = true;
  }
  // A client of 127.0.0.1:port, over TLS (verifying "localhost") with `tls`.
  RawEnd(Loop& loop, uint16_t port, TlsContext* tls) {
    auto address = SocketAddress::parse("127.0.0.1", port);
    EXPECT_TRUE(address.ok());
    auto c = Transport::start_connect(*address);
    EXPECT_TRUE(c.ok());
    if (!c) return;
    transport_.emplace(loop, c->fd, this);
    if (tls) {
      auto layer = TlsLayer::client(*tls, *transport_, *this, "localhost");
      EXPECT_TRUE(layer.ok());
      if (layer) tls_ = std::move(*layer);
    }
    if (c->done) {
      (void)on_connected();
      if (tls_) EXPECT_FALSE(tls_->start_handshake());
    } else {
      EXPECT_FALSE(transport_->await_connected());
    }
  }
  ~RawEnd() { close(); }

  std::error_code write(std::string_view bytes) {
    return tls_ ? tls_->write(bytes) : transport_->write(bytes);
  }
  std::size_t queued() const { return tls_ ? tls_->queued() : transport_->queued(); }
  std::error_code shutdown() { return tls_ ? tls_->shutdown() : transport_->shutdown(); }
  void close() {
    if (transport_) transport_->close();
  }
  void set_reading(bool on) {
    reading_ = on;
    if (on) EXPECT_FALSE(transport_->resume());
  }

  std::string received;
  bool connected = false;
  bool eof = false;
  std::error_code error;

 private:
  bool wants_bytes() noexcept override { return reading_; }
  bool on_bytes(const char* data, std::size_t size) noexcept override {
    received.append(data, size);
    return true;
  }
  bool on_eof() noexcept override {
    eof = true;
    return true;
  }
  bool on_writable(std::size_t) noexcept override { return true; }
  bool on_error(std::error_code ec) noexcept override {
    error = ec;
    return true;
  }
  bool on_hangup() noexcept override {
    eof = true;
    return true;
  }
  bool on_connected() noexcept override {
    connected = true;
    EXPECT_FALSE(transport_->start());
    return true;
  }

  std::optional<Transport> transport_;
  std::unique_ptr<TlsLayer> tls_;
  bool reading_ = true;
};

}  // namespace waitless::net::test
