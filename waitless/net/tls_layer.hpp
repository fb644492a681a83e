// TlsLayer: TLS between a socket Transport and its owner (the seam described in transport.hpp). It is the
// transport's TransportHandler and offers its owner the transport's calls and callbacks, carrying
// plaintext where the transport carries ciphertext. OpenSSL never sees the socket:
//   reading   the transport's bytes (its shared receive buffer) are what a custom read BIO hands OpenSSL,
//             SSL_read decrypts into a per-thread 64 KiB plaintext buffer, passed up through on_bytes.
//             Every byte of a read is consumed before on_bytes returns (OpenSSL keeps a partial record
//             in its own buffer, freed when empty: SSL_MODE_RELEASE_BUFFERS), so nothing is buffered here
//             and an idle connection holds no buffer. The owner may get the plaintext of the whole read
//             even if its wants_bytes() turned false meanwhile (at most one read, 64 KiB, as with the
//             transport's own multi-read rounds); its backpressure then stops the next read as before.
//   writing   SSL_write's records go through a custom write BIO straight into Transport::write(): sent at
//             once or queued in the transport (its pooled queue), so queued(), on_writable and the owner's
//             high/low-water marks work on the ciphertext as they did on plaintext. Nothing is copied
//             here once the handshake is done; before it (a client that writes its request at once) the
//             plaintext waits in `early_`, counted by queued(), sent when the handshake completes.
//   ending    shutdown() and close_lingering() send close_notify first, then do what the transport does.
//             A peer's close_notify is on_eof for the owner; a FIN without it is on_eof too (HTTP frames
//             its own messages), and close_notify_received() tells an owner that must know (a body
//             delimited by the end of the connection).
//   errors    TlsError values (tls_context.hpp) through on_error, after which the transport is closed: a
//             record that does not decrypt, a failed handshake, a failed verification. A peer speaking
//             plain HTTP to a TLS port gets a plain "400" and a close rather than silence.
//   timeouts  none here: the owner's deadline (Transport::set_deadline, its sweep) covers the handshake.
//
// Role: server layers wait for the ClientHello; client layers send theirs from start_handshake() (called
// by on_connected, or by the owner when the connect finished at once).
//
// Protocol switches (HTTP's Upgrade: WebSocket, the proxy's tunnel): the session lives here, not in the fd,
// so the layer leaves with the fd. The old owner releases its transport (Transport::release: the fd, and the
// ciphertext still queued, which the new owner writes first, as it is), gives the layer away, and the new
// owner makes a Transport of the fd and calls rebind(): reading and writing go on in the same session
// (nothing is lost: every record read was decrypted and passed up before, a partial one waits in OpenSSL).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>

#include "waitless/base/result.hpp"
#include "waitless/net/tls_context.hpp"
#include "waitless/net/transport.hpp"

struct bio_st;
struct bio_method_st;

namespace waitless::net {

class TlsLayer final : public TransportHandler {
 public:
  static constexpr std::size_t kPlaintextBufferSize = 64 * 1024;

  // A layer for `transport` (which must not have started reading yet), reporting to `owner`; it becomes
  // the transport's handler. Client: `peer_name` is verified and sent as SNI, `session_key` keys reuse.
  static Result<std::unique_ptr<TlsLayer>> server(TlsContext& context, Transport& transport,
                                                  TransportHandler& owner);
  static Result<std::unique_ptr<TlsLayer>> client(TlsContext& context, Transport& transport,
                                                  TransportHandler& owner, std::string_view peer_name,
                                                  std::string_view session_key = {});
  ~TlsLayer();
  TlsLayer(const TlsLayer&) = delete;
  TlsLayer& operator=(const TlsLayer&) = delete;

  // Moves the layer onto `transport` (a new Transport of the same fd, after the old one's release(); not
  // reading yet) reporting to `owner`: the session goes on there. Outside any callback of the old transport.
  void rebind(Transport& transport, TransportHandler& owner) noexcept;

  // Client: sends the ClientHello (once; later calls do nothing). Errors are returned, not reported.
  std::error_code start_handshake() noexcept;

  // As Transport::write / write_now, with plaintext.
  std::error_code write(const char* data, std::size_t size) noexcept;
  std::error_code write(std::string_view data) noexcept { return write(data.data(), data.size()); }
  bool write_now(const char* data, std::size_t size) noexcept {
    return !write(data, size) && transport_->is_open() && queued() == 0;
  }
  std::size_t queued() const noexcept { return transport_->queued() + early_.size(); }
  std::error_code shutdown() noexcept;
  bool close_lingering(int64_t deadline) noexcept;

  bool handshake_done() const noexcept { return handshake_done_; }
  bool session_reused() const noexcept;
  bool close_notify_received() const noexcept { return peer_closed_; }
  // The protocol ALPN chose ("http/1.1"), empty if none.
  std::string_view alpn() const noexcept;
  // The TLS version negotiated ("TLSv1.3"), the certificate's subject the server presented (tests, logs).
  std::string_view version() const noexcept;
  ssl_st* native() const noexcept { return ssl_; }

 private:
  TlsLayer(Transport& transport, TransportHandler& owner, ssl_st* ssl, bool server) noexcept;
  std::error_code init_bios() noexcept;
  // Runs the handshake and reads with what the read BIO holds; false if a callback returned false.
  bool pump() noexcept;
  bool finish_handshake() noexcept;
  // Maps an OpenSSL failure (SSL_get_error of `ret`) to an error code.
  std::error_code failure(int ret) noexcept;
  // Reports `ec` to the owner after closing the transport (the owner's on_error contract).
  bool fail(std::error_code ec) noexcept;
  bool answer_plain_http() noexcept;

  // TransportHandler (from the transport).
  bool wants_bytes() noexcept override { return owner_->wants_bytes(); }
  bool on_bytes(const char* data, std::size_t size) noexcept override;
  bool on_eof() noexcept override;
  bool on_writable(std::size_t queued) noexcept override;
  bool on_error(std::error_code ec) noexcept override { return owner_->on_error(ec); }
  bool on_hangup() noexcept override { return owner_->on_hangup(); }
  bool on_closed() noexcept override { return owner_->on_closed(); }
  bool on_connected() noexcept override;

  // The BIOs' method and callbacks.
  static bio_method_st* bio_method();
  static int bio_read(bio_st* bio, char* out, std::size_t size, std::size_t* read);
  static int bio_write(bio_st* bio, const char* data, std::size_t size, std::size_t* written);

  Transport* transport_;     // never null; changed only by rebind()
  TransportHandler* owner_;  // never null; changed only by rebind()
  ssl_st* ssl_;
  const char* in_ = nullptr;  // the ciphertext of the current on_bytes call not yet taken by OpenSSL
  std::size_t in_size_ = 0;
  std::string early_;            // plaintext written before the handshake completed (client)
  std::error_code write_error_;  // what Transport::write returned inside a BIO write
  bool server_;
  bool handshake_started_ = false;
  bool handshake_done_ = false;
  bool peer_closed_ = false;  // close_notify received
  bool eof_reported_ = false;
  bool failed_ = false;
};

}  // namespace waitless::net
