#include "waitless/net/tls_layer.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <cstring>

#include "waitless/base/error.hpp"
#include "waitless/base/log.hpp"

namespace waitless::net {
namespace {

// The plaintext buffer of this thread (one loop per thread; reads never nest, as with the transport's).
thread_local char* tl_plaintext = nullptr;

char* plaintext_buffer() {
  if (tl_plaintext) return tl_plaintext;
  struct Owner {
    std::unique_ptr<char[]> buffer = std::make_unique<char[]>(TlsLayer::kPlaintextBufferSize);
  };
  thread_local Owner owner;
  tl_plaintext = owner.buffer.get();
  return tl_plaintext;
}

constexpr std::string_view kPlainHttpAnswer =
    "HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: 40\r\n\r\n"
    "This port speaks HTTPS: use https://.\r\n\r\n";

}  // namespace

TlsLayer::TlsLayer(Transport& transport, TransportHandler& owner, SSL* ssl, bool server) noexcept
    : transport_(&transport), owner_(&owner), ssl_(ssl), server_(server) {}

TlsLayer::~TlsLayer() { SSL_free(ssl_); }

void TlsLayer::rebind(Transport& transport, TransportHandler& owner) noexcept {
  transport_ = &transport;
  owner_ = &owner;
  transport.set_handler(this);
}

// One BIO method for both directions: reads serve the current on_bytes call's ciphertext, writes go to the
// transport. Made once per process.
BIO_METHOD* TlsLayer::bio_method() {
  static BIO_METHOD* const method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "waitless transport");
    BIO_meth_set_read_ex(m, &TlsLayer::bio_read);
    BIO_meth_set_write_ex(m, &TlsLayer::bio_write);
    BIO_meth_set_ctrl(m, [](BIO*, int cmd, long, void*) -> long {
      // FLUSH: every write already went to the transport. Nothing else is asked of a source/sink here.
      return cmd == BIO_CTRL_FLUSH ? 1 : 0;
    });
    BIO_meth_set_create(m, [](BIO* b) {
      BIO_set_init(b, 1);
      return 1;
    });
    return m;
  }();
  return method;
}

std::error_code TlsLayer::init_bios() noexcept {
  BIO* rbio = BIO_new(bio_method());
  BIO* wbio = BIO_new(bio_method());
  if (!rbio || !wbio) {
    BIO_free(rbio);
    BIO_free(wbio);
    return make_error_code(TlsError::config);
  }
  BIO_set_data(rbio, this);
  BIO_set_data(wbio, this);
  SSL_set_bio(ssl_, rbio, wbio);  // the SSL owns them from here
  transport_->set_handler(this);
  return {};
}

Result<std::unique_ptr<TlsLayer>> TlsLayer::server(TlsContext& context, Transport& transport,
                                                   TransportHandler& owner) {
  if (!context.is_server()) return Error::invalid_argument;
  auto ssl = context.new_session();
  if (!ssl) return ssl.error();
  std::unique_ptr<TlsLayer> layer(new TlsLayer(transport, owner, ssl.value(), true));
  if (auto ec = layer->init_bios()) return ec;
  return layer;
}

Result<std::unique_ptr<TlsLayer>> TlsLayer::client(TlsContext& context, Transport& transport,
                                                   TransportHandler& owner, std::string_view peer_name,
                                                   std::string_view session_key) {
  if (context.is_server()) return Error::invalid_argument;
  auto ssl = context.new_session(peer_name, session_key);
  if (!ssl) return ssl.error();
  std::unique_ptr<TlsLayer> layer(new TlsLayer(transport, owner, ssl.value(), false));
  if (auto ec = layer->init_bios()) return ec;
  return layer;
}

// ---- BIOs -------------------------------------------------------------------------------------------------

int TlsLayer::bio_read(BIO* bio, char* out, std::size_t size, std::size_t* read) {
  auto* self = static_cast<TlsLayer*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  if (self->in_size_ == 0) {
    BIO_set_retry_read(bio);  // more ciphertext comes with the next read of the transport
    *read = 0;
    return 0;
  }
  const std::size_t n = std::min(size, self->in_size_);
  std::memcpy(out, self->in_, n);
  self->in_ += n;
  self->in_size_ -= n;
  *read = n;
  return 1;
}

int TlsLayer::bio_write(BIO* bio, const char* data, std::size_t size, std::size_t* written) {
  auto* self = static_cast<TlsLayer*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  // The transport takes everything (sent or queued): no retry, ever. Its error fails the SSL call.
  if (std::error_code ec = self->transport_->write(data, size)) {
    self->write_error_ = ec;
    *written = 0;
    return 0;
  }
  *written = size;
  return 1;
}

// ---- handshake and reading
// ----------------------------------------------------------------------------------

std::error_code TlsLayer::start_handshake() noexcept {
  if (server_ || handshake_started_) return {};
  handshake_started_ = true;
  const int r = SSL_do_handshake(ssl_);  // writes the ClientHello, then wants the answer
  if (r == 1) return {};
  const int e = SSL_get_error(ssl_, r);
  if (e == SSL_ERROR_WANT_READ) return {};
  return failure(r);
}

bool TlsLayer::on_connected() noexcept {
  if (std::error_code ec = start_handshake()) return fail(ec);
  return owner_->on_connected();
}

std::error_code TlsLayer::failure(int ret) noexcept {
  const int e = SSL_get_error(ssl_, ret);
  if (write_error_) return std::exchange(write_error_, {});
  std::error_code ec;
  if (!handshake_done_) {
    ec = SSL_get_verify_result(ssl_) != X509_V_OK ? make_error_code(TlsError::certificate_verify)
                                                  : make_error_code(TlsError::handshake_failed);
  } else {
    ec = make_error_code(TlsError::bad_record);
  }
  if (e == SSL_ERROR_SSL || e == SSL_ERROR_SYSCALL) {
    log::debug("tls: fd {}: {}: {}", transport_->fd(), ec.message(), TlsContext::last_error_text());
  }
  ERR_clear_error();
  return ec;
}

// The owner hears of it first and closes as it does on any transport error (its state follows); a transport
// it left open is closed here, so reading and writing have stopped either way.
bool TlsLayer::fail(std::error_code ec) noexcept {
  failed_ = true;
  if (!owner_->on_error(ec)) return false;
  transport_->close();
  return true;
}

bool TlsLayer::answer_plain_http() noexcept {
  failed_ = true;
  ERR_clear_error();
  (void)transport_->write(kPlainHttpAnswer);
  if (transport_->queued() == 0) (void)transport_->shutdown();
  return fail(make_error_code(TlsError::handshake_failed));
}

bool TlsLayer::on_bytes(const char* data, std::size_t size) noexcept {
  if (failed_) return true;
  in_ = data;
  in_size_ = size;
  const bool alive = pump();
  if (alive) {
    in_ = nullptr;
    in_size_ = 0;
  }
  return alive;
}

bool TlsLayer::finish_handshake() noexcept {
  const int r = SSL_do_handshake(ssl_);
  if (r != 1) {
    if (SSL_get_error(ssl_, r) == SSL_ERROR_WANT_READ) return true;
    if (server_ && ERR_GET_REASON(ERR_peek_error()) == SSL_R_HTTP_REQUEST) return answer_plain_http();
    return fail(failure(r));
  }
  handshake_done_ = true;
  if (!early_.empty()) {
    std::string early = std::move(early_);
    early_.clear();
    if (std::error_code ec = write(early.data(), early.size())) return fail(ec);
    // What queued() counted moved to the transport (or the kernel): the owner learns it as from the
    // transport, or it would wait for an on_writable that never comes.
    if (!owner_->on_writable(queued())) return false;
  }
  return true;
}

bool TlsLayer::pump() noexcept {
  if (!handshake_done_) {
    handshake_started_ = true;
    if (!finish_handshake()) return false;
    if (failed_ || !handshake_done_) return true;  // failed (the owner lived) or waiting for more
  }
  char* buf = plaintext_buffer();
  std::size_t have = 0;
  for (;;) {
    std::size_t n = 0;
    const int r = SSL_read_ex(ssl_, buf + have, kPlaintextBufferSize - have, &n);
    if (r == 1) {
      have += n;
      if (have == kPlaintextBufferSize) {
        if (!owner_->on_bytes(buf, have)) return false;
        have = 0;
        if (failed_ || !transport_->is_open()) return true;
      }
      continue;
    }
    const int e = SSL_get_error(ssl_, r);
    if (e == SSL_ERROR_WANT_READ) break;
    if (e == SSL_ERROR_ZERO_RETURN) {  // close_notify: the peer's end of stream
      peer_closed_ = true;
      if (have > 0 && !owner_->on_bytes(buf, have)) return false;
      if (eof_reported_ || failed_ || !transport_->is_open()) return true;
      eof_reported_ = true;
      return owner_->on_eof();
    }
    if (have > 0 && !owner_->on_bytes(buf, have)) return false;
    if (failed_ || !transport_->is_open()) return true;
    return fail(failure(r));
  }
  if (have > 0) return owner_->on_bytes(buf, have);
  return true;
}

bool TlsLayer::on_eof() noexcept {
  if (eof_reported_ || failed_) return true;
  // A FIN in the middle of a record: the stream was cut (a FIN between records is a plain end).
  if (handshake_done_ && !peer_closed_ && SSL_has_pending(ssl_))
    return fail(make_error_code(TlsError::truncated));
  eof_reported_ = true;
  return owner_->on_eof();
}

bool TlsLayer::on_writable(std::size_t) noexcept { return owner_->on_writable(queued()); }

// ---- writing and ending
// -------------------------------------------------------------------------------------

std::error_code TlsLayer::write(const char* data, std::size_t size) noexcept {
  if (failed_ || !transport_->is_open() || transport_->shut_down()) return Error::closed;
  if (size == 0) return {};
  if (!handshake_done_) {
    early_.append(data, size);  // bounded by the owner's backpressure: queued() counts it
    return {};
  }
  std::size_t written = 0;
  const int r = SSL_write_ex(ssl_, data, size, &written);
  if (r == 1) return {};
  return failure(r);
}

std::error_code TlsLayer::shutdown() noexcept {
  if (failed_ || !transport_->is_open()) return Error::closed;
  if (handshake_done_ && !transport_->shut_down()) {
    (void)SSL_shutdown(ssl_);  // close_notify, written through the BIO
    ERR_clear_error();
  }
  return transport_->shutdown();
}

bool TlsLayer::close_lingering(int64_t deadline) noexcept {
  if (handshake_done_ && !failed_ && transport_->is_open() && !transport_->shut_down()) {
    (void)SSL_shutdown(ssl_);
    ERR_clear_error();
  }
  return transport_->close_lingering(deadline);
}

// ---- state
// --------------------------------------------------------------------------------------------------

bool TlsLayer::session_reused() const noexcept { return SSL_session_reused(ssl_) == 1; }

std::string_view TlsLayer::alpn() const noexcept {
  const unsigned char* p = nullptr;
  unsigned len = 0;
  SSL_get0_alpn_selected(ssl_, &p, &len);
  return p ? std::string_view(reinterpret_cast<const char*>(p), len) : std::string_view();
}

std::string_view TlsLayer::version() const noexcept { return SSL_get_version(ssl_); }

}  // namespace waitless::net
