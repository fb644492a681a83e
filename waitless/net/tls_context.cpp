#include "waitless/net/tls_context.hpp"

#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cstring>

#include "waitless/base/log.hpp"

namespace waitless::net {
namespace {

class TlsCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "tls"; }
  std::string message(int code) const override {
    switch (static_cast<TlsError>(code)) {
      case TlsError::ok:
        return "ok";
      case TlsError::config:
        return "TLS certificate, key or CA file unusable";
      case TlsError::handshake_failed:
        return "TLS handshake failed";
      case TlsError::certificate_verify:
        return "TLS peer certificate verification failed";
      case TlsError::bad_record:
        return "bad TLS record";
      case TlsError::truncated:
        return "TLS stream truncated (no close_notify)";
      case TlsError::handshake_timeout:
        return "TLS handshake timed out";
    }
    return "unknown TLS error";
  }
};

constexpr unsigned char kAlpnHttp11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
constexpr unsigned char kSessionIdContext[] = "waitless";

struct CtxDeleter {
  void operator()(SSL_CTX* c) const noexcept { SSL_CTX_free(c); }
};
using CtxPtr = std::unique_ptr<SSL_CTX, CtxDeleter>;

int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                unsigned inlen, void*) {
  unsigned char* chosen = nullptr;
  if (SSL_select_next_proto(&chosen, outlen, kAlpnHttp11, sizeof kAlpnHttp11, in, inlen) !=
      OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_NOACK;  // no common protocol: go on without ALPN (HTTP/1.1 anyway)
  }
  *out = chosen;
  return SSL_TLSEXT_ERR_OK;
}

// What both roles share: versions, suites, options.
CtxPtr base_context(bool server, const std::string& ciphers) {
  CtxPtr ctx(SSL_CTX_new(server ? TLS_server_method() : TLS_client_method()));
  if (!ctx) return nullptr;
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  SSL_CTX_set_max_proto_version(ctx.get(), TLS1_3_VERSION);
  SSL_CTX_set_options(ctx.get(),
                      SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  // Idle connections give their record buffers back (tens of KiB each otherwise).
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_RELEASE_BUFFERS);
  if (SSL_CTX_set_cipher_list(ctx.get(), ciphers.c_str()) != 1) return nullptr;
  return ctx;
}

}  // namespace

const std::error_category& tls_category() noexcept {
  static const TlsCategory category;
  return category;
}

std::string TlsContext::last_error_text() {
  std::string text;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!text.empty()) text += "; ";
    text += buf;
  }
  return text.empty() ? std::string("no OpenSSL error queued") : text;
}

// One set of certificates: the default context and one per SNI certificate (with its leaf, to match names).
struct TlsContext::Generation {
  CtxPtr main;
  struct Named {
    CtxPtr ctx;
    X509* leaf;  // owned by ctx
  };
  std::vector<Named> named;
};

// What an SSL keeps while it lives (its ex_data): the generation it was made from (its SNI contexts stay
// valid through a reload mid-handshake) and, for a client, where its session goes.
struct TlsContext::Pin {
  std::shared_ptr<Generation> generation;
  std::weak_ptr<TlsContext> owner;
  std::string session_key;
};

int TlsContext::pin_index() {
  static const int index = SSL_get_ex_new_index(
      0, nullptr, nullptr, nullptr,
      [](void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) { delete static_cast<Pin*>(ptr); });
  return index;
}

TlsContext::~TlsContext() {
  for (auto& [key, session] : sessions_) SSL_SESSION_free(session);
}

Result<std::shared_ptr<TlsContext>> TlsContext::server(TlsServerConfig config) {
  std::shared_ptr<TlsContext> ctx(new TlsContext(true));
  ctx->server_config_ = std::move(config);
  if (RAND_bytes(ctx->ticket_keys_, sizeof ctx->ticket_keys_) != 1) return make_error_code(TlsError::config);
  auto gen = ctx->build();
  if (!gen) return gen.error();
  ctx->current_ = std::move(gen.value());
  return ctx;
}

Result<std::shared_ptr<TlsContext>> TlsContext::client(TlsClientConfig config) {
  std::shared_ptr<TlsContext> ctx(new TlsContext(false));
  ctx->client_config_ = std::move(config);
  auto gen = ctx->build();
  if (!gen) return gen.error();
  ctx->current_ = std::move(gen.value());
  return ctx;
}

Result<std::shared_ptr<TlsContext::Generation>> TlsContext::build() const {
  auto gen = std::make_shared<Generation>();
  const auto fail = [](std::string_view what, const std::string& file) {
    log::error("tls: {} {}: {}", what, file, last_error_text());
    return make_error_code(TlsError::config);
  };
  if (!server_) {
    const TlsClientConfig& c = client_config_;
    gen->main = base_context(false, c.ciphers);
    if (!gen->main) return fail("client context", c.ciphers);
    if (c.insecure) {
      SSL_CTX_set_verify(gen->main.get(), SSL_VERIFY_NONE, nullptr);
    } else {
      SSL_CTX_set_verify(gen->main.get(), SSL_VERIFY_PEER, nullptr);
      const int ok = c.ca_file.empty()
                         ? SSL_CTX_set_default_verify_paths(gen->main.get())
                         : SSL_CTX_load_verify_locations(gen->main.get(), c.ca_file.c_str(), nullptr);
      if (ok != 1) return fail("CA file", c.ca_file.empty() ? std::string("(system store)") : c.ca_file);
    }
    SSL_CTX_set_alpn_protos(gen->main.get(), kAlpnHttp11, sizeof kAlpnHttp11);
    // Sessions are kept by us, per host:port (the built-in client cache is keyed by nothing useful).
    SSL_CTX_set_session_cache_mode(gen->main.get(), SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(gen->main.get(), &TlsContext::on_new_session);
    return gen;
  }
  const TlsServerConfig& c = server_config_;
  auto make = [&](const TlsCertificate& cert) -> Result<CtxPtr> {
    CtxPtr ctx = base_context(true, c.ciphers);
    if (!ctx) return fail("server context", c.ciphers);
    if (SSL_CTX_use_certificate_chain_file(ctx.get(), cert.cert_file.c_str()) != 1)
      return fail("certificate", cert.cert_file);
    if (SSL_CTX_use_PrivateKey_file(ctx.get(), cert.key_file.c_str(), SSL_FILETYPE_PEM) != 1)
      return fail("private key", cert.key_file);
    if (SSL_CTX_check_private_key(ctx.get()) != 1)
      return fail("key does not match certificate", cert.key_file);
    SSL_CTX_set_alpn_select_cb(ctx.get(), select_alpn, nullptr);
    SSL_CTX_set_session_id_context(ctx.get(), kSessionIdContext, sizeof kSessionIdContext - 1);
    SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_SERVER);
    SSL_CTX_sess_set_cache_size(ctx.get(), static_cast<long>(c.session_cache_size));
    // The same ticket keys in every context and generation: a ticket from before an SNI switch or a
    // reload still resumes.
    if (SSL_CTX_set_tlsext_ticket_keys(ctx.get(), const_cast<unsigned char*>(ticket_keys_),
                                       sizeof ticket_keys_) != 1) {
      return fail("ticket keys", cert.cert_file);
    }
    SSL_CTX_set_tlsext_servername_callback(ctx.get(), &TlsContext::on_servername);
    return ctx;
  };
  auto main = make(c.certificate);
  if (!main) return main.error();
  gen->main = std::move(main.value());
  for (const TlsCertificate& cert : c.extra) {
    auto ctx = make(cert);
    if (!ctx) return ctx.error();
    X509* leaf = SSL_CTX_get0_certificate(ctx.value().get());
    gen->named.push_back({std::move(ctx.value()), leaf});
  }
  return gen;
}

std::shared_ptr<TlsContext::Generation> TlsContext::current() const {
  std::lock_guard lock(mutex_);
  return current_;
}

uint64_t TlsContext::generation() const {
  std::lock_guard lock(mutex_);
  return generation_;
}

std::error_code TlsContext::reload() {
  auto gen = build();
  if (!gen) return gen.error();
  std::lock_guard lock(mutex_);
  current_ = std::move(gen.value());  // connections made before keep theirs (their Pin)
  ++generation_;
  return {};
}

int TlsContext::on_servername(SSL* ssl, int*, void*) {
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  auto* pin = static_cast<Pin*>(SSL_get_ex_data(ssl, pin_index()));
  if (!name || !pin) return SSL_TLSEXT_ERR_OK;  // no SNI: the default certificate
  for (const Generation::Named& n : pin->generation->named) {
    if (X509_check_host(n.leaf, name, std::strlen(name), 0, nullptr) == 1) {
      SSL_set_SSL_CTX(ssl, n.ctx.get());
      break;
    }
  }
  return SSL_TLSEXT_ERR_OK;
}

Result<SSL*> TlsContext::new_session(std::string_view peer_name, std::string_view session_key) {
  auto* pin = new Pin{current(), weak_from_this(), std::string(session_key)};
  SSL* ssl = SSL_new(pin->generation->main.get());
  if (!ssl) {
    delete pin;
    log::error("tls: SSL_new: {}", last_error_text());
    return make_error_code(TlsError::config);
  }
  SSL_set_ex_data(ssl, pin_index(), pin);  // freed with the SSL
  if (server_) {
    SSL_set_accept_state(ssl);
    return ssl;
  }
  SSL_set_connect_state(ssl);
  if (!peer_name.empty()) {
    const std::string name(peer_name);
    const bool is_ip = [&] {
      ASN1_OCTET_STRING* ip = a2i_IPADDRESS(name.c_str());
      if (ip) ASN1_OCTET_STRING_free(ip);
      return ip != nullptr;
    }();
    if (!is_ip) SSL_set_tlsext_host_name(ssl, name.c_str());  // SNI carries DNS names only
    if (!client_config_.insecure) {
      X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
      const int ok =
          is_ip ? X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str()) : SSL_set1_host(ssl, name.c_str());
      if (ok != 1) {
        SSL_free(ssl);
        return make_error_code(TlsError::config);
      }
    }
  }
  if (!session_key.empty()) {
    std::lock_guard lock(mutex_);
    if (auto it = sessions_.find(session_key); it != sessions_.end()) SSL_set_session(ssl, it->second);
  }
  return ssl;
}

int TlsContext::on_new_session(SSL* ssl, SSL_SESSION* session) {
  auto* pin = static_cast<Pin*>(SSL_get_ex_data(ssl, pin_index()));
  if (!pin || pin->session_key.empty()) return 0;
  auto owner = pin->owner.lock();
  if (!owner) return 0;
  // A copy: the connection's own session is marked not resumable if the connection ends without
  // close_notify (SSL_free of an unfinished connection), which an HTTP connection often does.
  SSL_SESSION* copy = SSL_SESSION_dup(session);
  if (!copy) return 0;
  std::lock_guard lock(owner->mutex_);
  auto it = owner->sessions_.find(pin->session_key);
  if (it != owner->sessions_.end()) {
    SSL_SESSION_free(it->second);
    it->second = copy;
    return 0;  // OpenSSL keeps its reference to `session`
  }
  if (owner->sessions_.size() >= std::max<std::size_t>(1, owner->client_config_.session_cache_entries)) {
    auto oldest = owner->sessions_.find(owner->session_order_.front());
    if (oldest != owner->sessions_.end()) {
      SSL_SESSION_free(oldest->second);
      owner->sessions_.erase(oldest);
    }
    owner->session_order_.erase(owner->session_order_.begin());
  }
  owner->sessions_.emplace(pin->session_key, copy);
  owner->session_order_.push_back(pin->session_key);
  return 0;
}

}  // namespace waitless::net
