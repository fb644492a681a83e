// ServerConnection, the switch of protocols (upgrade.hpp): the 101 head goes out as the exchange's whole
// response, nothing more is parsed, and a microtask hands the socket over once the handler's call (and the
// parse loop that may have called it) has returned, so that every byte received after the head is in
// ConnState::in by then. Over TLS the layer goes with the fd: those bytes are plaintext already, and a
// partial record waits in the layer's session.
#include "waitless/http/server_connection.hpp"
#include "waitless/http/server_loop.hpp"

#include <memory>

#include "waitless/base/log.hpp"

namespace waitless::http::detail {

std::error_code ServerConnection::switch_protocols(Exchange& ex, std::string_view head, UpgradeSink sink) {
  Entry guard(this);
  if (closed() || phase_ >= Phase::lingering || upgrade_) return Error::closed;
  if (ex.fast || !st_ || &ex != st_->inflight.front() || ex.res.headers_sent() || !ex.body_done ||
      st_->body_ex == &ex) {
    return Error::invalid_argument;
  }
  upgrade_ = new UpgradeSink(std::move(sink));
  output_for(ex)->append(head);
  ex.mark_switched();
  enter(Phase::no_input);  // the bytes after the head belong to the new protocol: parse nothing more
  advance();               // the exchange's response is complete: it leaves the in-flight list
  if (sl_.batching != this && !closed()) (void)flush(false);
  ++depth_;  // pinned until the handover
  sl_.loop().queue_microtask([this] { hand_over(); });
  return {};
}

void ServerConnection::hand_over() noexcept {
  Entry guard(this);
  --depth_;
  std::unique_ptr<UpgradeSink> sink(std::exchange(upgrade_, nullptr));
  Upgraded up;
  if (!closed() && flush(false)) {
    up.loop = &sl_.loop();
    up.server = &sl_;
    up.unsent.assign(transport_.unsent());  // ciphertext under TLS: for the wire as it is
    if (st_ && st_->in_off < st_->in.size()) up.received.assign(st_->in, st_->in_off);
    up.fd = transport_.release();
    up.tls = std::move(tls_);  // the session leaves with the fd (null: plaintext)
  }
  close_now();  // the transport gave its fd up: nothing is closed on the wire
  try {
    if (up.fd < 0) {
      (*sink)(Error::closed);
    } else {
      (*sink)(std::move(up));
    }
  } catch (...) {
    // The sink owns the fd once called; an exception cannot cross the loop.
    log::error("http: the upgrade's new protocol failed to take the connection");
  }
}

}  // namespace waitless::http::detail
