#include "waitless/proxy/tunnel.hpp"

#include <algorithm>
#include <optional>
#include <string>
#include <utility>

#include "waitless/base/log.hpp"
#include "waitless/loop/timer.hpp"
#include "waitless/net/tls_layer.hpp"
#include "waitless/net/transport.hpp"

namespace waitless::proxy {

namespace {

thread_local TunnelStats tl_stats;

class Tunnel;

// One connection of the tunnel, plain or TLS: what it reads goes to the other side. With a TLS layer, the
// layer is the transport's handler and this side the layer's owner: bytes in and out are plaintext here,
// and queued() counts the ciphertext waiting in the transport.
class Side final : public net::TransportHandler {
 public:
  Side(Tunnel& t, Loop& loop, http::Upgraded& up) noexcept
      : tunnel_(t), transport_(std::in_place, loop, up.fd, this), tls_(std::move(up.tls)) {
    up.fd = -1;  // the transport owns it now
    if (tls_) tls_->rebind(*transport_, *this);
  }

  std::error_code write(std::string_view bytes) noexcept {
    return tls_ ? tls_->write(bytes) : transport_->write(bytes);
  }
  std::size_t queued() const noexcept { return tls_ ? tls_->queued() : transport_->queued(); }
  // Half-close: close_notify first over TLS, then FIN once the queue is out.
  std::error_code shutdown() noexcept { return tls_ ? tls_->shutdown() : transport_->shutdown(); }

  bool wants_bytes() noexcept override;
  bool on_bytes(const char* data, std::size_t size) noexcept override;
  bool on_eof() noexcept override;
  bool on_writable(std::size_t queued) noexcept override;
  bool on_error(std::error_code ec) noexcept override;

  Tunnel& tunnel_;
  Side* peer = nullptr;
  std::optional<net::Transport> transport_;
  std::unique_ptr<net::TlsLayer> tls_;  // null: plaintext
  bool eof = false;  // the peer of this socket sent FIN (passed on as a FIN to the other side)
};

class Tunnel final : public http::UpgradedSession {
 public:
  Tunnel(Loop& loop, http::Upgraded& client, http::Upgraded& upstream, const TunnelOptions& o,
         std::function<void()> on_close)
      : loop_(loop),
        options_(o),
        on_close_(std::move(on_close)),
        client_(*this, loop, client),
        upstream_(*this, loop, upstream),
        timer_(loop) {
    client_.peer = &upstream_;
    upstream_.peer = &client_;
    ++tl_stats.open;
  }
  ~Tunnel() {
    --tl_stats.open;
    if (on_close_) on_close_();
  }

  std::error_code start(const http::Upgraded& c, const http::Upgraded& u, http::detail::ServerLoop* server) {
    // What each side still owes the other: the end of the 101 toward the client, then the upstream's first
    // bytes; toward the upstream, the rest of its request, then what the client sent behind its head. The
    // unsent bytes are already for the wire (ciphertext under TLS): they go to the transport as they are,
    // before anything the layer encrypts.
    std::error_code ec = send_wire(client_, c.unsent);
    if (!ec) ec = send(client_, u.received);
    if (!ec) ec = send_wire(upstream_, u.unsent);
    if (!ec) ec = send(upstream_, c.received);
    if (!ec) ec = client_.transport_->start();
    if (!ec) ec = upstream_.transport_->start();
    if (ec) return ec;
    touch();
    if (options_.idle_timeout > Duration::zero()) arm(options_.idle_timeout.count());
    if (join_server(server)) on_server_shutdown();
    return {};
  }

  std::error_code send(Side& to, std::string_view bytes) noexcept {
    if (bytes.empty()) return {};
    std::error_code ec = to.write(bytes);
    tl_stats.max_queued = std::max(tl_stats.max_queued, to.queued());
    return ec;
  }
  std::error_code send_wire(Side& to, std::string_view bytes) noexcept {
    return bytes.empty() ? std::error_code() : to.transport_->write(bytes);
  }

  // Bytes `from` read: on to its peer; reading stops while the peer's queue is over the high-water mark.
  bool forward(Side& from, const char* data, std::size_t size) noexcept {
    touch();
    if (send(*from.peer, {data, size})) return finish();
    if (from.peer->queued() > options_.high_water) from.transport_->pause();
    return true;
  }

  bool on_eof(Side& from) noexcept {
    from.eof = true;
    if (from.peer->shutdown()) return finish();  // (close_notify and) FIN once its queue is sent
    return maybe_done();
  }

  bool on_writable(Side& to, std::size_t queued) noexcept {
    touch();
    Side& reader = *to.peer;
    if (queued <= options_.low_water && reader.transport_->paused() && !reader.eof) {
      if (reader.transport_->resume()) return finish();
    }
    return maybe_done();
  }

  // Both directions ended and everything was sent: close.
  bool maybe_done() noexcept {
    if (client_.eof && upstream_.eof && client_.queued() == 0 && upstream_.queued() == 0) {
      return finish();
    }
    return true;
  }

  // Closes both sockets now and frees the tunnel once the current callback has returned. Returns false
  // (for the transport callbacks: their owner is going).
  bool finish() noexcept {
    if (finished_) return false;
    finished_ = true;
    client_.transport_->close();
    upstream_.transport_->close();
    (void)timer_.stop();
    leave_server();
    loop_.queue_microtask([this] { delete this; });
    return false;
  }

  void on_server_shutdown() noexcept override {
    // Half-close both ways: each peer sees the end of its stream and closes its side.
    if (client_.shutdown() || upstream_.shutdown()) (void)finish();
  }
  void on_server_abort() noexcept override { (void)finish(); }
  std::size_t high_water() const noexcept { return options_.high_water; }

 private:
  void touch() noexcept { last_ = loop_.now(); }
  void arm(int64_t in_ns) {
    (void)timer_.start(Duration(std::max<int64_t>(in_ns, 0)), [this] { on_timer(); });
  }
  void on_timer() {
    const int64_t idle = options_.idle_timeout.count();
    const int64_t quiet = loop_.now() - last_;
    if (quiet >= idle) {
      log::debug("proxy: tunnel idle for {} ms: closed", quiet / 1'000'000);
      (void)finish();
      return;
    }
    arm(idle - quiet);
  }

  Loop& loop_;
  TunnelOptions options_;
  std::function<void()> on_close_;
  Side client_;
  Side upstream_;
  Timer timer_;
  int64_t last_ = 0;
  bool finished_ = false;
};

bool Side::wants_bytes() noexcept {
  return !eof && peer->transport_->is_open() && peer->queued() <= tunnel_.high_water();
}
bool Side::on_bytes(const char* data, std::size_t size) noexcept {
  return tunnel_.forward(*this, data, size);
}
bool Side::on_eof() noexcept { return tunnel_.on_eof(*this); }
bool Side::on_writable(std::size_t queued) noexcept { return tunnel_.on_writable(*this, queued); }
bool Side::on_error(std::error_code ec) noexcept {
  log::debug("proxy: tunnel closed: {}", ec.message());
  return tunnel_.finish();
}

}  // namespace

std::error_code start_tunnel(http::Upgraded client, http::Upgraded upstream, const TunnelOptions& options,
                             std::function<void()> on_close) {
  Loop& loop = client.loop ? *client.loop : Loop::current();
  auto* t = new Tunnel(loop, client, upstream, options, std::move(on_close));
  if (std::error_code ec = t->start(client, upstream, client.server)) {
    (void)t->finish();  // closes both fds; frees the tunnel from a microtask
    return ec;
  }
  return {};
}

TunnelStats tunnel_stats() noexcept { return tl_stats; }
void reset_tunnel_stats() noexcept { tl_stats.max_queued = 0; }

}  // namespace waitless::proxy
