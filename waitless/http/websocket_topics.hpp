// WebSocket topics (pub/sub within one process) and the per-loop state of WebSockets.
//
//   ws.subscribe("room");                       // on the WebSocket's loop
//   http::publish("room", "hello");             // any thread: every subscriber on every loop
//
// publish() frames the message once into a refcounted buffer (SharedFrame); each loop that has
// WebSockets gets the same buffer (the caller's loop directly, the others through Loop::post, so a loop's
// subscribers receive one publisher's messages in the order published), and each subscriber's transport
// sends from it: the bytes are copied only for a subscriber whose kernel buffer is full (into its queue).
// Published messages are sent uncompressed (one frame serves every subscriber, whatever it negotiated).
//
// WsLoop is the per-loop part: the list of the loop's WebSockets, the once-a-second sweep (idle pings,
// close timeouts) and the loop's topics. It exists while its loop has a WebSocket and goes away with the
// last one, taking its timer with it (an idle loop can end).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "waitless/base/intrusive_list.hpp"
#include "waitless/http/websocket.hpp"
#include "waitless/loop/timer.hpp"

namespace waitless::http {

// Publishes `message` to every subscriber of `topic` on every loop of the process. Any thread. Returns the
// number of subscribers on the calling thread's loop that were sent it (the other loops deliver later).
std::size_t publish(std::string_view topic, std::string_view message, bool binary = false);
// The same with a frame made by frame_message() (to publish one message to several topics).
std::size_t publish_frame(std::string_view topic, const SharedFrame& frame, bool binary);
// Subscribers of `topic` on the calling thread's loop.
std::size_t subscriber_count(std::string_view topic);

// Across processes. A forwarder (data::RedisTopics installs one) is called on the publishing thread, after
// the local delivery, with every message published by publish() or publish_frame(); it carries them to the
// other processes, whose adapter delivers them with publish_local() (which never calls the forwarder, so a
// message crosses once). At most one forwarder per process: installing one when another is set fails
// (returns false); nullptr removes it. The function must be callable from any thread.
using PublishForwarder = std::function<void(std::string_view topic, std::string_view message, bool binary)>;
bool set_publish_forwarder(std::shared_ptr<const PublishForwarder> forwarder);
// publish() to this process's subscribers only: for messages that came from another process.
std::size_t publish_local(std::string_view topic, std::string_view message, bool binary = false);

namespace detail {

struct WsTopic {
  std::string name;
  std::vector<WebSocket*> members;  // null: left during a delivery (compacted after it)
  uint32_t delivering = 0;
  bool holes = false;
};

struct WsLoop {
  explicit WsLoop(Loop& loop);
  ~WsLoop();
  WsLoop(const WsLoop&) = delete;
  WsLoop& operator=(const WsLoop&) = delete;

  // The calling thread's state for `loop`, created on first use.
  static WsLoop& get(Loop& loop);
  // The state for `loop` if it exists on this thread.
  static WsLoop* find(const Loop* loop) noexcept;

  void add(WebSocket& ws) noexcept;
  // Deletes this state when it was the last WebSocket (not during a sweep or delivery: then at its end).
  void remove(WebSocket& ws) noexcept;

  WsTopic& topic(std::string_view name);
  void leave(WsTopic& t, WebSocket& ws) noexcept;
  std::size_t deliver(std::string_view topic, const SharedFrame& frame, bool binary) noexcept;

  // Corking (as uWebSockets does): while a connection's input is processed (WebSocket::on_bytes), the data
  // frames sent on any WebSocket of the loop collect per connection in `corked`; uncork() writes each
  // connection's bytes with one write. So an echo of N messages read at once, or N publishes to a room,
  // cost one write per connection instead of N. Control frames, and any write while not corked, first
  // flush the connection's corked bytes (order is kept). Holds `busy` (this state outlives the flush).
  void cork() noexcept {
    ++busy;
    ++cork_depth;
  }
  void uncork() noexcept;
  struct Corked {
    WebSocket* ws;  // null: the connection was destroyed (its bytes are dropped)
    std::string bytes;
  };
  std::vector<Corked> corked;
  uint32_t cork_depth = 0;

  Loop& loop;
  IntrusiveList<WebSocket, WsLoopTag> sockets;
  std::size_t count = 0;
  Timer sweep;
  std::unordered_map<std::string_view, std::unique_ptr<WsTopic>> topics;  // keys view WsTopic::name
  uint32_t busy = 0;  // inside a sweep or a delivery: deletion waits

 private:
  void on_sweep() noexcept;
  void tidy(WsTopic& t) noexcept;  // compacts holes, forgets an empty topic
  void maybe_delete() noexcept;
};

}  // namespace detail
}  // namespace waitless::http
