#include "waitless/http/websocket_topics.hpp"

#include <algorithm>
#include <mutex>

#include "waitless/base/log.hpp"

namespace waitless::http {
namespace detail {

namespace {

// The process's loops that have WebSockets, for publish() from any thread.
struct Registry {
  std::mutex mutex;
  struct Entry {
    const Loop* loop;
    LoopRemote remote;
  };
  std::vector<Entry> loops;
  std::shared_ptr<const PublishForwarder> forwarder;
};
Registry& registry() {
  static Registry* r = new Registry();  // never destroyed: loops may outlive static destruction order
  return *r;
}

// This thread's states (one per loop run on this thread; usually one).
std::vector<WsLoop*>& thread_loops() {
  thread_local std::vector<WsLoop*> v;
  return v;
}

}  // namespace

WsLoop::WsLoop(Loop& l) : loop(l), sweep(l) {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  r.loops.push_back({&loop, loop.remote()});
}

WsLoop::~WsLoop() {
  {
    Registry& r = registry();
    std::lock_guard lock(r.mutex);
    std::erase_if(r.loops, [this](const Registry::Entry& e) { return e.loop == &loop; });
  }
  std::erase(thread_loops(), this);
}

WsLoop* WsLoop::find(const Loop* l) noexcept {
  for (WsLoop* w : thread_loops()) {
    if (&w->loop == l) return w;
  }
  return nullptr;
}

WsLoop& WsLoop::get(Loop& l) {
  if (WsLoop* w = find(&l)) return *w;
  auto* w = new WsLoop(l);
  thread_loops().push_back(w);
  // The sweep does not keep the loop alive: the connections' watchers do.
  (void)w->sweep.start(
      std::chrono::seconds(1), [w] { w->on_sweep(); }, std::chrono::seconds(1));
  w->sweep.unref();
  return *w;
}

void WsLoop::add(WebSocket& ws) noexcept {
  sockets.push_back(ws);
  ++count;
}

void WsLoop::remove(WebSocket& ws) noexcept {
  IntrusiveList<WebSocket, WsLoopTag>::remove(ws);
  --count;
  maybe_delete();
}

void WsLoop::maybe_delete() noexcept {
  if (count == 0 && busy == 0 && topics.empty()) delete this;
}

// Each socket leaves the pending list before its turn: a callback may end any socket (unlinking it
// from whichever list holds it) without invalidating the walk.
void WsLoop::on_sweep() noexcept {
  ++busy;
  const int64_t now = loop.now();
  IntrusiveList<WebSocket, WsLoopTag> pending;
  sockets.splice_to(pending);
  while (WebSocket* ws = pending.pop_front()) {
    sockets.push_back(*ws);
    ws->on_sweep(now);
  }
  --busy;
  maybe_delete();
}

void WsLoop::uncork() noexcept {
  if (--cork_depth == 0) {
    // Writes here are not corked: one that a callback makes on a connection still listed flushes that
    // connection's bytes first, and the walk then finds its slot released.
    for (std::size_t i = 0; i < corked.size(); ++i) {
      WebSocket* ws = corked[i].ws;
      if (!ws || ws->cork_slot_ != i + 1) continue;
      WebSocket::Entry guard(ws);
      (void)ws->flush_cork();
    }
    corked.clear();
  }
  --busy;
  maybe_delete();
}

WsTopic& WsLoop::topic(std::string_view name) {
  auto it = topics.find(name);
  if (it != topics.end()) return *it->second;
  auto t = std::make_unique<WsTopic>();
  t->name.assign(name);
  WsTopic& ref = *t;
  topics.emplace(std::string_view(ref.name), std::move(t));
  return ref;
}

void WsLoop::leave(WsTopic& t, WebSocket& ws) noexcept {
  auto it = std::find(t.members.begin(), t.members.end(), &ws);
  if (it == t.members.end()) return;
  if (t.delivering) {
    *it = nullptr;  // the delivery's walk must not shift
    t.holes = true;
    return;
  }
  *it = t.members.back();
  t.members.pop_back();
  tidy(t);
}

void WsLoop::tidy(WsTopic& t) noexcept {
  if (t.delivering) return;
  if (t.holes) {
    std::erase(t.members, nullptr);
    t.holes = false;
  }
  if (t.members.empty()) topics.erase(std::string_view(t.name));  // destroys t
}

std::size_t WsLoop::deliver(std::string_view name, const SharedFrame& frame, bool binary) noexcept {
  auto it = topics.find(name);
  if (it == topics.end()) return 0;
  WsTopic& t = *it->second;
  ++busy;
  ++t.delivering;
  std::size_t sent = 0;
  // Members subscribed during the walk get the next message, not this one.
  const std::size_t n = t.members.size();
  for (std::size_t i = 0; i < n; ++i) {
    if (WebSocket* ws = t.members[i]) {
      SendStatus s;
      try {
        s = ws->send_frame(frame, binary);
      } catch (...) {
        s = SendStatus::closed;
      }
      if (s == SendStatus::sent || s == SendStatus::backpressure) ++sent;
    }
  }
  --t.delivering;
  tidy(t);
  --busy;
  maybe_delete();
  return sent;
}

}  // namespace detail

namespace {

// The local delivery of publish_frame(); returns the subscribers reached on the calling thread's loop.
std::size_t deliver_everywhere(std::string_view topic, const SharedFrame& frame, bool binary,
                               std::vector<detail::Registry::Entry>& targets) {
  std::size_t local = 0;
  for (const auto& e : targets) {
    if (detail::WsLoop* here = detail::WsLoop::find(e.loop)) {
      local += here->deliver(topic, frame, binary);
      continue;
    }
    // Another loop: the same bytes, delivered there (if it still has WebSockets when the work runs).
    const Loop* target = e.loop;
    (void)e.remote.post([target, name = std::string(topic), frame, binary] {
      if (detail::WsLoop* w = detail::WsLoop::find(target)) (void)w->deliver(name, frame, binary);
    });
  }
  return local;
}

// The payload of a frame made by frame_message(): an unmasked, uncompressed server frame, so the header
// is 2 bytes plus the extended length (2 or 8 bytes).
std::string_view frame_payload(const SharedFrame& frame) noexcept {
  const std::string& f = *frame;
  if (f.size() < 2) return {};
  const unsigned len7 = static_cast<unsigned char>(f[1]) & 0x7f;
  const std::size_t header = len7 == 126 ? 4 : len7 == 127 ? 10 : 2;
  return header <= f.size() ? std::string_view(f).substr(header) : std::string_view();
}

std::size_t publish_impl(std::string_view topic, const SharedFrame& frame, bool binary, bool forward,
                         std::string_view message) {
  std::vector<detail::Registry::Entry> targets;
  std::shared_ptr<const PublishForwarder> forwarder;
  {
    detail::Registry& r = detail::registry();
    std::lock_guard lock(r.mutex);
    targets = r.loops;
    if (forward) forwarder = r.forwarder;
  }
  const std::size_t local = deliver_everywhere(topic, frame, binary, targets);
  if (forwarder) (*forwarder)(topic, message, binary);
  return local;
}

}  // namespace

std::size_t publish_frame(std::string_view topic, const SharedFrame& frame, bool binary) {
  return publish_impl(topic, frame, binary, true, frame_payload(frame));
}

std::size_t publish(std::string_view topic, std::string_view message, bool binary) {
  return publish_impl(topic, frame_message(message, binary), binary, true, message);
}

std::size_t publish_local(std::string_view topic, std::string_view message, bool binary) {
  return publish_impl(topic, frame_message(message, binary), binary, false, message);
}

bool set_publish_forwarder(std::shared_ptr<const PublishForwarder> forwarder) {
  detail::Registry& r = detail::registry();
  std::lock_guard lock(r.mutex);
  if (forwarder && r.forwarder) return false;
  r.forwarder = std::move(forwarder);
  return true;
}

std::size_t subscriber_count(std::string_view topic) {
  std::size_t n = 0;
  for (detail::WsLoop* w : detail::thread_loops()) {
    auto it = w->topics.find(topic);
    if (it != w->topics.end())
      n += it->second->members.size() - static_cast<std::size_t>(std::count(
                                            it->second->members.begin(), it->second->members.end(), nullptr));
  }
  return n;
}

}  // namespace waitless::http
