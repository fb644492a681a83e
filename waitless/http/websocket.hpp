// WebSocket (RFC 6455, permessage-deflate RFC 7692): one connection on a net::Transport, server or client
// side. The server side starts from an upgrade request:
//
//   auto chat = std::make_shared<http::WebSocketConfig>();
//   chat->handlers.open = [](WebSocket& ws) { ws.subscribe("room"); };
//   chat->handlers.message = [](WebSocket& ws, std::string_view msg, bool binary) { ws.send(msg, binary); };
//   chat->handlers.close = [](WebSocket& ws, uint16_t code, std::string_view reason) { ... };
//   Server server([chat](Request& req, Response& res) { (void)accept_websocket(req, res, chat); });
//
// accept_websocket validates the handshake (an invalid one is answered 400/403/405/426 there), writes the
// 101 and hands the socket over (upgrade.hpp): the HTTP connection stops parsing and the bytes it already
// received after the head become the WebSocket's first input. Then `open` runs.
//
// Lifetime: the WebSocket owns itself. A WebSocket& is valid from `open` until `close` returns; `close`
// runs exactly once (the peer's code and reason; 1006 when the connection ended without a close frame; the
// code we sent when we failed the connection). Callbacks may call anything, including close() and
// terminate(), on this or any other WebSocket of the loop.
//
// Sending: send() frames the message (compressed when permessage-deflate was agreed and the message is at
// least DeflateOptions::threshold bytes) and hands it to the transport, which sends what the kernel takes
// and queues the rest. buffered_amount() is the queue. Past high_water, send() says `backpressure` and
// `drain` runs once the queue is back under half of it. A send that would take the queue past
// max_backpressure applies the slow-consumer policy: drop the message (`dropped`), or close the
// connection with 1008 (policy violation) or 1013 (try again later).
//
// Receiving: fragments are assembled (control frames may come between them), pings are answered with a
// pong, every violation closes with its code (websocket_frame.hpp), a message over max_message_size (after
// inflating, too: a zip bomb stops at the cap) closes with 1009.
//
// Liveness: no byte from the peer for idle_timeout sends a ping; still nothing after another idle_timeout
// closes with 1001. A close we sent that is not answered within close_timeout ends the connection. The
// checks run from one sweep per loop per second (no timer per connection).
//
// TLS (wss://): a connection upgraded on a TLS listener (or by connect_websocket over wss://) brings its
// TLS layer (upgrade.hpp); the WebSocket rebinds it to its transport and frames go through it. Nothing
// else changes: buffered_amount() and backpressure count the ciphertext queued, a close sends close_notify
// before the FIN.
//
// Shutdown: a server's graceful shutdown closes every WebSocket with 1001 and waits for the close
// handshakes (up to its deadline).
//
// Topics: subscribe("room") on a WebSocket; publish("room", msg) (websocket_topics.hpp) reaches the
// subscribers on every loop of the process, framing the message once.
//
// Memory: an idle connection is this object (a few hundred bytes, see bench/websocket_memory_bench.sh); no
// read or write buffer is held at rest, nor any zlib state without context takeover.
#pragma once
#include <any>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "waitless/base/intrusive_list.hpp"
#include "waitless/http/upgrade.hpp"
#include "waitless/http/websocket_deflate.hpp"
#include "waitless/http/websocket_frame.hpp"
#include "waitless/http/websocket_handshake.hpp"
#include "waitless/net/tls_layer.hpp"
#include "waitless/net/transport.hpp"

namespace waitless::http {

class Request;
class Response;
class WebSocket;

namespace detail {
struct WsLoopTag;
struct WsLoop;
struct WsTopic;
}  // namespace detail

enum class SendStatus : uint8_t {
  sent,          // handed to the transport; buffered_amount() is under high_water
  backpressure,  // handed to the transport, but the queue is past high_water: wait for `drain`
  dropped,       // not sent: the slow-consumer policy is `drop` and the queue is past max_backpressure
  closed,        // not sent: the connection is closing or closed (or was just closed by the policy)
};

enum class SlowConsumerPolicy : uint8_t {
  close_policy_violation,  // close with 1008
  close_try_again_later,   // close with 1013
  drop,                    // drop the message
};

struct WebSocketHandlers {
  std::function<void(WebSocket&)> open;
  std::function<void(WebSocket&, std::string_view message, bool binary)> message;
  std::function<void(WebSocket&, uint16_t code, std::string_view reason)> close;
  std::function<void(WebSocket&)> drain;
  std::function<void(WebSocket&, std::string_view payload)> ping;  // after the automatic pong
  std::function<void(WebSocket&, std::string_view payload)> pong;
};

struct WebSocketOptions {
  ws::HandshakeOptions handshake;                  // subprotocols, Origin check, permessage-deflate
  uint64_t max_message_size = 16u << 20;           // 1009 past it (inflated size for compressed messages)
  std::chrono::milliseconds idle_timeout{60'000};  // 0: none
  std::chrono::milliseconds close_timeout{5'000};
  std::size_t high_water = 64 * 1024;
  std::size_t max_backpressure = 4u << 20;
  SlowConsumerPolicy slow_consumer = SlowConsumerPolicy::close_policy_violation;
};

// Shared by every connection accepted with it (a route): immutable once connections use it.
struct WebSocketConfig {
  WebSocketHandlers handlers;
  WebSocketOptions options;
};

// A message framed once for many connections (publish): unmasked, uncompressed, refcounted.
using SharedFrame = std::shared_ptr<const std::string>;
SharedFrame frame_message(std::string_view message, bool binary);

// In a handler for an upgrade request: validates the opening handshake; if it is valid, answers 101 and
// switches the connection to a WebSocket whose `open` runs once the handler's call has returned. An
// invalid handshake is answered (400/403/405/426 with the reason) and its error returned
// (Error::protocol_error, or Error::invalid_argument / Error::closed from switch_protocols).
// `user_data` becomes the WebSocket's user_data(). `extra_headers`: "Name: value\r\n" lines for the 101
// (cookies...).
std::error_code accept_websocket(Request& req, Response& res, std::shared_ptr<const WebSocketConfig> config,
                                 std::any user_data = {}, std::string_view extra_headers = {});

class WebSocket final : public UpgradedSession,
                        public ListHook<detail::WsLoopTag>,
                        private net::TransportHandler {
 public:
  // The connection of an upgrade (server side, from accept_websocket) or of a client handshake (client
  // side): takes `up.fd`, sends `up.unsent`, joins the server, runs `open`, then parses `up.received`.
  // Returns null only when `open` (or the first input) already ended the connection.
  struct Setup {
    bool client = false;
    std::string protocol;
    std::optional<ws::DeflateParams> deflate;
    std::any user_data;
  };
  static WebSocket* start(Upgraded up, std::shared_ptr<const WebSocketConfig> config, Setup setup);

  WebSocket(const WebSocket&) = delete;
  WebSocket& operator=(const WebSocket&) = delete;

  SendStatus send(std::string_view message, bool binary = false);
  SendStatus send_text(std::string_view message) { return send(message, false); }
  SendStatus send_binary(std::string_view message) { return send(message, true); }
  // A frame from frame_message(): its bytes are written as they are (server side only; a client must
  // mask, so it sends a copy).
  SendStatus send_frame(const SharedFrame& frame, bool binary);
  SendStatus ping(std::string_view payload = {});
  SendStatus pong(std::string_view payload = {});
  // Starts the close handshake (code 0: a close frame without a code). Reading goes on until the peer's
  // close frame; then `close` runs with it. Nothing more can be sent.
  void close(uint16_t code = ws::close_code::normal, std::string_view reason = {});
  // Ends the connection now, without a handshake (`close` runs with 1006).
  void terminate() noexcept;

  bool is_open() const noexcept { return state_ == State::open; }
  // Bytes not yet taken by the kernel: the transport's queue and this loop turn's corked bytes.
  std::size_t buffered_amount() const noexcept {
    return (tls_ ? tls_->queued() : transport_.queued()) + corked_size();
  }
  std::string_view protocol() const noexcept {
    return protocol_ ? std::string_view(*protocol_) : std::string_view();
  }
  bool compression() const noexcept { return deflate_ != nullptr; }
  bool client_side() const noexcept { return client_; }
  Loop& loop() const noexcept { return transport_.loop(); }
  std::any& user_data() noexcept { return user_data_; }
  const std::shared_ptr<const WebSocketConfig>& config() const noexcept { return config_; }

  // Topics of this loop's publish (websocket_topics.hpp). False if already subscribed / not subscribed.
  bool subscribe(std::string_view topic);
  bool unsubscribe(std::string_view topic);
  bool is_subscribed(std::string_view topic) const noexcept;

  // The loop's sweep (once a second): idle pings and closes, close timeouts, lingering ends.
  void on_sweep(int64_t now) noexcept;

 private:
  friend struct detail::WsLoop;
  enum class State : uint8_t {
    open,     // messages flow
    closing,  // we sent a close frame; waiting for the peer's
    ended,    // `close` ran; the transport may still linger (FIN sent, draining input)
  };
  struct Entry {
    explicit Entry(WebSocket* w) noexcept : w(w) { ++w->depth_; }
    ~Entry();
    WebSocket* w;
  };
  struct DeflateState;

  WebSocket(Loop& loop, int fd, std::shared_ptr<const WebSocketConfig> config, Setup setup);
  ~WebSocket();

  // net::TransportHandler
  bool on_bytes(const char* data, std::size_t size) noexcept override;
  bool on_eof() noexcept override;
  bool on_writable(std::size_t queued) noexcept override;
  bool on_error(std::error_code ec) noexcept override;
  bool on_hangup() noexcept override;
  bool on_closed() noexcept override;
  // UpgradedSession
  void on_server_shutdown() noexcept override;
  void on_server_abort() noexcept override;

  void process(const char* data, std::size_t size) noexcept;
  void on_message(const ws::FrameParser::Message& m) noexcept;
  void on_control(const ws::FrameParser::Message& m) noexcept;
  // Protocol violation (or local limit): send a close frame with `code`, report it, close.
  void fail(uint16_t code, std::string_view reason) noexcept;
  // Runs the `close` handler once, leaves topics and the server.
  void report_close(uint16_t code, std::string_view reason) noexcept;
  // Our side is done: FIN after the queue, drain the peer's input for a moment (or close at once).
  void finish_transport() noexcept;
  // Frames and writes; false if the transport failed (the connection is then ended).
  bool write_frame(ws::Opcode op, std::string_view payload, bool compressed) noexcept;
  // `wire`: the bytes are for the wire as they are (the 101's unsent end, ciphertext over TLS).
  bool write_raw(std::string_view bytes, bool wire = false) noexcept;
  // A data frame's bytes: corked while the loop is corked (websocket_topics.hpp), else write_raw.
  bool write_data(std::string_view bytes) noexcept;
  // Writes this connection's corked bytes now (they precede anything written after them).
  bool flush_cork() noexcept;
  std::size_t corked_size() const noexcept;
  SendStatus after_send() noexcept;
  bool over_limit(std::size_t adding) noexcept;
  void leave_topics() noexcept;
  void refresh_idle() noexcept;
  bool gone() const noexcept { return state_ == State::ended && !transport_.is_open(); }

  net::Transport transport_;
  std::unique_ptr<net::TlsLayer> tls_;  // wss: between transport_ and this (upgrade.hpp); null for ws
  ws::FrameParser parser_;
  std::shared_ptr<const WebSocketConfig> config_;
  std::unique_ptr<DeflateState> deflate_;
  std::any user_data_;
  // Both rare, so held through a pointer: an idle connection pays 8 bytes for each, not 32 and 24.
  std::unique_ptr<const std::string> protocol_;
  std::unique_ptr<std::vector<detail::WsTopic*>> topics_;
  detail::WsLoop* home_ = nullptr;
  uint32_t depth_ = 0;
  uint32_t cork_slot_ = 0;  // 1 + this connection's index in home_->corked while it has corked bytes
  State state_ = State::open;
  bool client_ = false;
  bool ping_sent_ = false;      // the idle ping is out: the next expiry closes
  bool backpressured_ = false;  // a send reported backpressure: `drain` is owed
  bool reported_ = false;
};

}  // namespace waitless::http
