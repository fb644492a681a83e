#include "waitless/http/websocket.hpp"

#include <openssl/rand.h>

#include <exception>

#include "waitless/base/log.hpp"
#include "waitless/http/websocket_topics.hpp"
#include "waitless/loop/deadline.hpp"

namespace waitless::http {

namespace {
constexpr int64_t kLingerNs = 2'000'000'000;  // how long a finished connection drains the peer's input
constexpr std::size_t kKeepScratch = 1u << 20;

// Per thread (reads and sends never nest within one connection's call): the frame being written and the
// inflated message being delivered.
std::string& frame_scratch() {
  thread_local std::string s;
  return s;
}
std::string& deflate_scratch() {
  thread_local std::string s;
  return s;
}
std::string& inflate_scratch() {
  thread_local std::string s;
  return s;
}
void trim_scratch(std::string& s) {
  if (s.capacity() > kKeepScratch) std::string().swap(s);
}

// User callbacks run inside noexcept paths: an exception is logged, never thrown through the loop.
template <typename F, typename... Args>
void call(const F& f, Args&&... args) noexcept {
  if (!f) return;
  try {
    f(std::forward<Args>(args)...);
  } catch (const std::exception& e) {
    log::error("websocket: a handler threw: {}", e.what());
  } catch (...) {
    log::error("websocket: a handler threw a non-std exception");
  }
}
}  // namespace

struct WebSocket::DeflateState {
  DeflateState(const ws::DeflateParams& p, bool client, const ws::DeflateOptions& o)
      : deflater(client ? p.client_max_window_bits : p.server_max_window_bits,
                 client ? p.client_no_context_takeover : p.server_no_context_takeover, o.level, o.mem_level),
        inflater(client ? p.server_max_window_bits : p.client_max_window_bits,
                 client ? p.server_no_context_takeover : p.client_no_context_takeover),
        threshold(o.threshold) {}
  ws::MessageDeflater deflater;
  ws::MessageInflater inflater;
  std::size_t threshold;
};

SharedFrame frame_message(std::string_view message, bool binary) {
  auto f = std::make_shared<std::string>();
  ws::append_frame(*f, binary ? ws::Opcode::binary : ws::Opcode::text, message);
  return f;
}

WebSocket::Entry::~Entry() {
  if (--w->depth_ == 0 && w->gone()) delete w;
}

WebSocket::WebSocket(Loop& loop, int fd, std::shared_ptr<const WebSocketConfig> config, Setup setup)
    : transport_(loop, fd, this),
      parser_({.server = !setup.client,
               .rsv1_allowed = setup.deflate.has_value(),
               .max_message_size = config->options.max_message_size}),
      config_(std::move(config)),
      user_data_(std::move(setup.user_data)),
      client_(setup.client) {
  if (!setup.protocol.empty()) protocol_ = std::make_unique<const std::string>(std::move(setup.protocol));
  if (setup.deflate) {
    deflate_ = std::make_unique<DeflateState>(*setup.deflate, client_, config_->options.handshake.deflate);
  }
}

WebSocket::~WebSocket() {
  if (cork_slot_) home_->corked[cork_slot_ - 1].ws = nullptr;  // its bytes are dropped with the connection
  leave_topics();
  leave_server();
  transport_.close();
  if (home_) home_->remove(*this);
}

WebSocket* WebSocket::start(Upgraded up, std::shared_ptr<const WebSocketConfig> config, Setup setup) {
  auto* w = new WebSocket(*up.loop, up.fd, std::move(config), std::move(setup));
  bool alive;
  {
    Entry guard(w);
    w->home_ = &detail::WsLoop::get(*up.loop);
    w->home_->add(*w);
    const bool shutting_down = w->join_server(up.server);
    w->tls_ = std::move(up.tls);  // over TLS: the session goes on here, bytes in and out are plaintext
    if (w->tls_) w->tls_->rebind(w->transport_, *w);
    if (w->transport_.start()) {
      log::error("websocket: cannot watch fd {}", up.fd);
      w->terminate();
    } else if (up.unsent.empty() || w->write_raw(up.unsent, true)) {
      w->refresh_idle();
      call(w->config_->handlers.open, *w);
      if (shutting_down) w->close(ws::close_code::going_away, "server shutting down");
      if (!up.received.empty() && w->state_ != State::ended)
        w->process(up.received.data(), up.received.size());
    }
    alive = w->state_ != State::ended;
  }
  return alive ? w : nullptr;
}

// ---- input ------------------------------------------------------------------------------------------------

void WebSocket::refresh_idle() noexcept {
  ping_sent_ = false;
  if (state_ == State::open && config_->options.idle_timeout.count() > 0) {
    transport_.set_deadline(loop().now() + to_ns(config_->options.idle_timeout));
  }
}

bool WebSocket::on_bytes(const char* data, std::size_t size) noexcept {
  Entry guard(this);
  refresh_idle();
  // Whatever the messages of this read make the loop send (echoes, publishes to many subscribers) leaves
  // as one write per connection at the end, not one write per message.
  detail::WsLoop* home = home_;
  home->cork();
  process(data, size);
  home->uncork();
  return !gone();
}

void WebSocket::process(const char* data, std::size_t size) noexcept {
  while (size > 0 && state_ != State::ended) {
    std::size_t used = 0;
    ws::FrameParser::Event ev;
    try {
      ev = parser_.next(data, size, &used);
    } catch (...) {  // bad_alloc assembling a message
      fail(ws::close_code::internal_error, "out of memory");
      return;
    }
    data += used;
    size -= used;
    switch (ev) {
      case ws::FrameParser::Event::need_more:
        return;
      case ws::FrameParser::Event::message:
        on_message(parser_.message());
        break;
      case ws::FrameParser::Event::control:
        on_control(parser_.message());
        break;
      case ws::FrameParser::Event::error:
        log::debug("websocket: fd {}: {} {}", transport_.fd(), parser_.error_code(), parser_.error_reason());
        fail(parser_.error_code(), parser_.error_reason());
        return;
    }
  }
}

void WebSocket::on_message(const ws::FrameParser::Message& m) noexcept {
  if (state_ != State::open) return;  // after our close frame, data is discarded (RFC 6455 1.4)
  std::string_view payload = m.payload;
  if (m.compressed) {
    std::string& out = inflate_scratch();
    ws::MessageInflater::Status st;
    try {
      st = deflate_->inflater.inflate(payload, out, config_->options.max_message_size);
    } catch (...) {
      st = ws::MessageInflater::Status::too_big;
    }
    if (st == ws::MessageInflater::Status::too_big) {
      fail(ws::close_code::message_too_big, "message too big once inflated");
      return;
    }
    if (st != ws::MessageInflater::Status::ok) {
      fail(ws::close_code::invalid_payload, "invalid compressed data");
      return;
    }
    payload = out;
    if (m.opcode == ws::Opcode::text && !ws::is_valid_utf8(payload)) {
      fail(ws::close_code::invalid_payload, "invalid UTF-8 in a text message");
      return;
    }
  }
  call(config_->handlers.message, *this, payload, m.opcode == ws::Opcode::binary);
  if (m.compressed) trim_scratch(inflate_scratch());
}

void WebSocket::on_control(const ws::FrameParser::Message& m) noexcept {
  switch (m.opcode) {
    case ws::Opcode::ping:
      if (state_ != State::open) return;
      if (!write_frame(ws::Opcode::pong, m.payload, false)) return;
      call(config_->handlers.ping, *this, m.payload);
      return;
    case ws::Opcode::pong:
      if (state_ == State::open) call(config_->handlers.pong, *this, m.payload);
      return;
    case ws::Opcode::close: {
      const ws::ClosePayload c = ws::parse_close_payload(m.payload);
      if (c.error) {
        fail(c.error, c.error == ws::close_code::invalid_payload ? "invalid UTF-8 in a close reason"
                                                                 : "invalid close frame");
        return;
      }
      if (state_ == State::open) {
        // The peer began the close: answer with its code (RFC 6455 5.5.1), then our side is done.
        const std::string echo = ws::close_payload(c.code == ws::close_code::no_status ? 0 : c.code, {});
        if (!write_frame(ws::Opcode::close, echo, false)) return;
      }
      const std::string reason(c.reason);  // the parser's buffer is reused by the next frame
      report_close(c.code, reason);
      finish_transport();
      return;
    }
    default:
      return;
  }
}

bool WebSocket::on_eof() noexcept {
  Entry guard(this);
  report_close(ws::close_code::abnormal, "connection ended without a close frame");
  transport_.close();
  return !gone();
}

bool WebSocket::on_error(std::error_code ec) noexcept {
  Entry guard(this);
  log::debug("websocket: fd {}: {}", transport_.fd(), ec.message());
  report_close(ws::close_code::abnormal, "connection failed");
  transport_.close();
  return false;
}

bool WebSocket::on_hangup() noexcept {
  Entry guard(this);
  report_close(ws::close_code::abnormal, "connection ended without a close frame");
  transport_.close();
  return false;
}

bool WebSocket::on_closed() noexcept {
  Entry guard(this);
  report_close(ws::close_code::abnormal, "connection ended without a close frame");
  return false;
}

bool WebSocket::on_writable(std::size_t queued) noexcept {
  Entry guard(this);
  if (backpressured_ && queued <= config_->options.high_water / 2) {
    backpressured_ = false;
    if (state_ == State::open) call(config_->handlers.drain, *this);
  }
  return !gone();
}

// ---- output -----------------------------------------------------------------------------------------------

bool WebSocket::write_raw(std::string_view bytes, bool wire) noexcept {
  if (cork_slot_ && !flush_cork()) return false;  // corked bytes go first
  if (std::error_code ec = tls_ && !wire ? tls_->write(bytes) : transport_.write(bytes)) {
    report_close(ws::close_code::abnormal, "connection failed");
    transport_.close();
    return false;
  }
  return true;
}

bool WebSocket::write_data(std::string_view bytes) noexcept {
  if (home_ && home_->cork_depth > 0) {
    try {
      if (!cork_slot_) {
        home_->corked.push_back({this, {}});
        cork_slot_ = static_cast<uint32_t>(home_->corked.size());
      }
      home_->corked[cork_slot_ - 1].bytes.append(bytes);
      return true;
    } catch (...) {  // out of memory: write at once instead (after what is corked)
    }
  }
  return write_raw(bytes);
}

bool WebSocket::flush_cork() noexcept {
  std::string bytes = std::move(home_->corked[cork_slot_ - 1].bytes);
  cork_slot_ = 0;
  return write_raw(bytes);
}

std::size_t WebSocket::corked_size() const noexcept {
  return cork_slot_ ? home_->corked[cork_slot_ - 1].bytes.size() : 0;
}

bool WebSocket::write_frame(ws::Opcode op, std::string_view payload, bool compress) noexcept {
  try {
    bool rsv1 = false;
    if (compress) {
      std::string& c = deflate_scratch();
      c.clear();
      if (deflate_->deflater.compress(payload, c)) {
        payload = c;
        rsv1 = true;
      }
    }
    uint8_t mask[4];
    if (client_ && RAND_bytes(mask, 4) != 1) {
      for (uint8_t& b : mask) b = static_cast<uint8_t>(std::rand());
    }
    uint8_t header[ws::kMaxHeaderSize];
    const std::size_t h = ws::write_header(header, op, payload.size(), true, rsv1, client_ ? mask : nullptr);
    if (!client_ && payload.size() >= 16 * 1024) {
      // Large and not masked: two writes rather than a copy (the header usually joins the payload in the
      // socket's buffer before the segment leaves, TCP_NODELAY notwithstanding).
      return write_raw({reinterpret_cast<const char*>(header), h}) && write_raw(payload);
    }
    std::string& out = frame_scratch();
    out.assign(reinterpret_cast<const char*>(header), h);
    out.append(payload);
    if (client_) ws::mask_payload(out.data() + h, payload.size(), mask);
    const bool ok = ws::is_control(op) ? write_raw(out) : write_data(out);
    trim_scratch(out);
    if (compress) trim_scratch(deflate_scratch());
    return ok;
  } catch (...) {
    report_close(ws::close_code::internal_error, "out of memory");
    transport_.close();
    return false;
  }
}

bool WebSocket::over_limit(std::size_t adding) noexcept {
  const std::size_t queued = buffered_amount();
  if (queued == 0 || queued + adding <= config_->options.max_backpressure) return false;
  switch (config_->options.slow_consumer) {
    case SlowConsumerPolicy::drop:
      break;
    // The peer is not reading: no close handshake to wait for. The close frame follows the queue, which
    // has the lingering close's 2 s to leave.
    case SlowConsumerPolicy::close_policy_violation:
      fail(ws::close_code::policy_violation, "slow consumer");
      break;
    case SlowConsumerPolicy::close_try_again_later:
      fail(ws::close_code::try_again_later, "slow consumer");
      break;
  }
  return true;
}

SendStatus WebSocket::after_send() noexcept {
  if (state_ != State::open) return SendStatus::closed;
  if (buffered_amount() > config_->options.high_water) {
    backpressured_ = true;
    return SendStatus::backpressure;
  }
  return SendStatus::sent;
}

SendStatus WebSocket::send(std::string_view message, bool binary) {
  Entry guard(this);
  if (state_ != State::open) return SendStatus::closed;
  if (over_limit(message.size())) return state_ == State::open ? SendStatus::dropped : SendStatus::closed;
  const bool compress = deflate_ && message.size() >= deflate_->threshold;
  if (!write_frame(binary ? ws::Opcode::binary : ws::Opcode::text, message, compress))
    return SendStatus::closed;
  return after_send();
}

SendStatus WebSocket::send_frame(const SharedFrame& frame, bool binary) {
  Entry guard(this);
  if (state_ != State::open) return SendStatus::closed;
  if (client_) {
    // A client masks: send the payload as a message of its own.
    const auto len7 = static_cast<uint8_t>((*frame)[1]) & 0x7f;
    const std::size_t skip = len7 < 126 ? 2 : len7 == 126 ? 4 : 10;
    return send(std::string_view(*frame).substr(skip), binary);
  }
  if (over_limit(frame->size())) return state_ == State::open ? SendStatus::dropped : SendStatus::closed;
  if (!write_data(*frame)) return SendStatus::closed;
  return after_send();
}

SendStatus WebSocket::ping(std::string_view payload) {
  Entry guard(this);
  if (state_ != State::open) return SendStatus::closed;
  if (payload.size() > 125) return SendStatus::dropped;
  if (!write_frame(ws::Opcode::ping, payload, false)) return SendStatus::closed;
  return after_send();
}

SendStatus WebSocket::pong(std::string_view payload) {
  Entry guard(this);
  if (state_ != State::open) return SendStatus::closed;
  if (payload.size() > 125) return SendStatus::dropped;
  if (!write_frame(ws::Opcode::pong, payload, false)) return SendStatus::closed;
  return after_send();
}

// ---- closing ----------------------------------------------------------------------------------------------

void WebSocket::close(uint16_t code, std::string_view reason) {
  Entry guard(this);
  if (state_ != State::open) return;
  if (code != 0 && !ws::is_valid_close_code(code)) code = ws::close_code::internal_error;
  if (!write_frame(ws::Opcode::close, ws::close_payload(code, reason), false)) return;
  state_ = State::closing;
  transport_.set_deadline(loop().now() + to_ns(config_->options.close_timeout));
}

void WebSocket::terminate() noexcept {
  Entry guard(this);
  report_close(ws::close_code::abnormal, "terminated");
  transport_.close();
}

void WebSocket::fail(uint16_t code, std::string_view reason) noexcept {
  if (state_ == State::ended) return;
  if (state_ == State::open) {
    if (!write_frame(ws::Opcode::close, ws::close_payload(code, reason), false)) return;
  }
  report_close(code, reason);
  finish_transport();
}

void WebSocket::report_close(uint16_t code, std::string_view reason) noexcept {
  if (reported_) return;
  reported_ = true;
  state_ = State::ended;
  leave_topics();
  leave_server();
  call(config_->handlers.close, *this, code, reason);
}

void WebSocket::finish_transport() noexcept {
  if (!transport_.is_open() || transport_.lingering()) return;
  // The server closes the TCP connection first (RFC 6455 7.1.1); either side drains what the peer still
  // sends until its FIN, so that our close frame is not lost to a reset.
  const int64_t deadline = loop().now() + kLingerNs;  // over TLS, close_notify first
  if (!(tls_ ? tls_->close_lingering(deadline) : transport_.close_lingering(deadline))) transport_.close();
}

void WebSocket::on_server_shutdown() noexcept {
  Entry guard(this);
  close(ws::close_code::going_away, "server shutting down");
}

void WebSocket::on_server_abort() noexcept {
  Entry guard(this);
  terminate();
  leave_server();
}

void WebSocket::on_sweep(int64_t now) noexcept {
  Entry guard(this);
  if (!transport_.is_open() || !transport_.expired(now)) return;
  switch (state_) {
    case State::ended:  // lingering: the peer did not close its side in time
      transport_.close();
      return;
    case State::closing:
      report_close(ws::close_code::abnormal, "close handshake timed out");
      transport_.close();
      return;
    case State::open:
      if (!ping_sent_) {
        if (ping() == SendStatus::closed) return;
        ping_sent_ = true;
        transport_.set_deadline(now + to_ns(config_->options.idle_timeout));
        return;
      }
      fail(ws::close_code::going_away, "idle timeout");
      return;
  }
}

// ---- topics -----------------------------------------------------------------------------------------------

bool WebSocket::subscribe(std::string_view topic) {
  if (state_ == State::ended || !home_ || is_subscribed(topic)) return false;
  if (!topics_) topics_ = std::make_unique<std::vector<detail::WsTopic*>>();
  detail::WsTopic& t = home_->topic(topic);
  topics_->push_back(&t);
  t.members.push_back(this);
  return true;
}

bool WebSocket::unsubscribe(std::string_view topic) {
  if (!topics_) return false;
  std::vector<detail::WsTopic*>& topics = *topics_;
  for (std::size_t i = 0; i < topics.size(); ++i) {
    if (topics[i]->name == topic) {
      detail::WsTopic* t = topics[i];
      topics.erase(topics.begin() + static_cast<std::ptrdiff_t>(i));
      home_->leave(*t, *this);
      return true;
    }
  }
  return false;
}

bool WebSocket::is_subscribed(std::string_view topic) const noexcept {
  if (!topics_) return false;
  for (const detail::WsTopic* t : *topics_) {
    if (t->name == topic) return true;
  }
  return false;
}

void WebSocket::leave_topics() noexcept {
  if (!topics_) return;
  while (!topics_->empty()) {
    detail::WsTopic* t = topics_->back();
    topics_->pop_back();
    home_->leave(*t, *this);
  }
  topics_.reset();
}

}  // namespace waitless::http
