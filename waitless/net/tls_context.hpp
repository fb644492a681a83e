// TlsContext: the configuration a TLS layer (tls_layer.hpp) makes its sessions from. OpenSSL 3 underneath;
// the socket is never OpenSSL's (memory BIOs, see transport.hpp's seam), this file only decides what a
// handshake offers and accepts.
//
// Defaults (one place to read them): TLS 1.2 and 1.3 only; for TLS 1.2 only forward-secret AEAD suites
// (ECDHE with AES-GCM or ChaCha20-Poly1305), the server's order preferred; TLS 1.3's own suites; no
// renegotiation, no compression. ALPN: a server picks "http/1.1" when the client offers it (and goes on
// without ALPN otherwise: HTTP/1.1 is what it speaks either way); a client offers "http/1.1".
//
// Server: a default certificate chain + key (PEM files) and any number of others chosen by SNI: a client
// naming a host that one of them covers (its subjectAltName DNS names, wildcards as X509_check_host reads
// them) gets that one; every other client, the default. Resumption: a session cache and session tickets,
// whose keys are made once per context and kept across reload(), so a client resumes after a reload too.
// reload() reads every file again and swaps the whole set at once for the handshakes that begin after it;
// a connection already established keeps what it negotiated (its SSL holds its own references). A reload
// that fails (a missing file, a key that does not match its certificate) changes nothing and says why.
//
// Client: verification on by default, against the system's store or the given CA file, and the peer's
// name checked (DNS name, or IP address for a literal); `insecure` turns both off (tests against
// throwaway certificates). Session reuse: the last session each host:port gave is kept (a bounded cache)
// and offered on the next connection to it.
//
// Thread-safety: one context serves every loop of a server. The current set of certificates is read under
// a mutex once per new connection; the SSL_CTX objects themselves are thread-safe in OpenSSL 3.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "waitless/base/result.hpp"

struct ssl_st;
struct ssl_ctx_st;
struct ssl_session_st;

namespace waitless::net {

// TLS failures as values (the tls category). Handshake failures keep OpenSSL's reason in the log line
// written where they happen; the error code says which kind it was.
enum class TlsError {
  ok = 0,
  config,              // a certificate, key or CA file could not be used
  handshake_failed,    // the peer and we could not agree (versions, suites, not TLS at all)
  certificate_verify,  // the peer's certificate failed verification (chain, name, dates)
  bad_record,          // a record that does not decrypt or parse: garbage or tampering
  truncated,           // the connection ended without close_notify in the middle of the stream
  handshake_timeout,   // the handshake did not finish in time
};
const std::error_category& tls_category() noexcept;
inline std::error_code make_error_code(TlsError e) noexcept { return {static_cast<int>(e), tls_category()}; }

struct TlsCertificate {
  std::string cert_file;  // PEM: the leaf first, then its intermediates
  std::string key_file;   // PEM private key
};

struct TlsServerConfig {
  TlsCertificate certificate;         // the default
  std::vector<TlsCertificate> extra;  // chosen by SNI when the name matches one of theirs
  // OpenSSL cipher list for TLS 1.2 (TLS 1.3 suites are not configurable here: all are sound).
  std::string ciphers = "ECDHE+AESGCM:ECDHE+CHACHA20";
  std::size_t session_cache_size = 20'000;
};

struct TlsClientConfig {
  std::string ca_file;    // PEM bundle to trust; empty: the system's default store
  bool insecure = false;  // no verification at all (tests only)
  std::string ciphers = "ECDHE+AESGCM:ECDHE+CHACHA20";
  std::size_t session_cache_entries = 256;  // host:port entries kept for reuse
};

class TlsContext : public std::enable_shared_from_this<TlsContext> {
 public:
  static Result<std::shared_ptr<TlsContext>> server(TlsServerConfig config);
  static Result<std::shared_ptr<TlsContext>> client(TlsClientConfig config = {});
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  bool is_server() const noexcept { return server_; }

  // Server: reads the certificate files again (the same paths) and uses them for new handshakes.
  std::error_code reload();
  // How many reloads took effect (tests, logs).
  uint64_t generation() const;

  // A new SSL for one connection, in the right role. `peer_name` (client only): the host to verify and to
  // send as SNI (not sent for an IP literal); `session_key` (client only): the key of the session cache,
  // usually "host:port" (empty: no reuse); a session the server gives (TLS 1.3: after the handshake) is
  // kept under it and offered by the next session made with it. Owned by the caller (SSL_free).
  Result<ssl_st*> new_session(std::string_view peer_name = {}, std::string_view session_key = {});
  // The last OpenSSL error of this thread as text (and clears the queue): for log lines.
  static std::string last_error_text();

 private:
  struct Generation;
  TlsContext(bool server) noexcept : server_(server) {}
  Result<std::shared_ptr<Generation>> build() const;
  std::shared_ptr<Generation> current() const;
  struct Pin;
  static int on_servername(ssl_st* ssl, int* alert, void* arg);
  static int on_new_session(ssl_st* ssl, ssl_session_st* session);
  static int pin_index();

  bool server_;
  TlsServerConfig server_config_;
  TlsClientConfig client_config_;
  unsigned char ticket_keys_[80]{};  // made once; every generation uses them (resumption across reload)
  mutable std::mutex mutex_;
  std::shared_ptr<Generation> current_;
  uint64_t generation_ = 0;
  // Client session reuse: session_key -> session (owned references), bounded, oldest insertion dropped.
  std::map<std::string, ssl_session_st*, std::less<>> sessions_;
  std::vector<std::string> session_order_;
};

}  // namespace waitless::net

template <>
struct std::is_error_code_enum<waitless::net::TlsError> : std::true_type {};
