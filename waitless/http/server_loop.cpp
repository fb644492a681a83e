#include "waitless/http/server_loop.hpp"

#include <algorithm>
#include <cstring>

#include "waitless/base/log.hpp"
#include "waitless/base/syscall.hpp"

namespace waitless::http::detail {

namespace {
constexpr std::size_t kMaxFreeStates = 256;
constexpr std::size_t kMaxFreeExchanges = 1024;

}  // namespace

ServerLoop::ServerLoop(Loop& loop, std::shared_ptr<const ServerConfig> config)
    : loop_(loop), config_(std::move(config)), tick_(loop), deadline_timer_(loop), grace_timer_(loop) {
  refresh_date();
  free_exchanges_.reserve(kMaxFreeExchanges);
  fast_.fast = true;
}

ServerLoop::~ServerLoop() {
  listener_.reset();
  stop_tick();
  shutting_down_ = true;
  done_ = nullptr;
  while (ServerConnection* c = conns_.front()) c->abort();  // unlinks itself
  abort_sessions();
  // Handlers still running after their connection closed: they delete their exchange when they end.
  while (Exchange* ex = orphans_.pop_front()) ex->owner = nullptr;
  while (ConnState* st = free_states_) {
    free_states_ = st->next_free;
    delete st;
  }
  for (Exchange* ex : free_exchanges_) delete ex;
}

Result<uint16_t> ServerLoop::listen(const net::ListenOptions& options, std::shared_ptr<net::TlsContext> tls) {
  if (shutting_down_) return Error::closed;
  if (tls && !tls->is_server()) return Error::invalid_argument;
  tls_ = std::move(tls);
  auto listener = net::TcpListener::listen(loop_, options, [this](int fd) { adopt(fd); });
  if (!listener) return listener.error();
  listener_ = std::move(listener.value());
  start_tick();
  return listener_->port();
}

// The once-a-second tick (Date, deadlines) turns over with the wall-clock second, when the Date changes.
void ServerLoop::start_tick() {
  if (tick_.running()) return;
  refresh_date();
  if (auto ec = tick_.start([this] { on_tick(); }))
    log::error("http: no once-a-second tick: {}", ec.message());
}

void ServerLoop::stop_tick() noexcept { tick_.stop(); }

void ServerLoop::adopt(int fd) {
  if (shutting_down_) {
    sys::close(fd);
    return;
  }
  ServerConnection::start(*this, fd);
}

Result<net::SocketAddress> ServerLoop::peer_of(int fd) {
  if (fd >= 0 && static_cast<std::size_t>(fd) < peers_.size() && peers_[fd].len != 0)
    return net::SocketAddress::from_sockaddr(&peers_[fd].addr.sa, peers_[fd].len);
  auto peer = net::SocketAddress::peer_of(fd);
  if (!peer || fd < 0 || !(peer->is_ipv4() || peer->is_ipv6()) || peer->size() > sizeof(PeerSlot::addr))
    return peer;
  try {
    if (static_cast<std::size_t>(fd) >= peers_.size()) peers_.resize(static_cast<std::size_t>(fd) + 1);
  } catch (...) {
    return peer;  // not kept: asked again next time
  }
  std::memcpy(&peers_[fd].addr, peer->data(), peer->size());
  peers_[fd].len = peer->size();
  return peer;
}

void ServerLoop::refresh_date() noexcept {
  if (!date_.refresh() && !prefix_200_.empty()) return;
  prefix_200_.assign("HTTP/1.1 200 OK\r\n");
  prefix_200_.append(config_->server_line);
  prefix_200_.append(date_.line());
}

void ServerLoop::on_tick() noexcept {
  refresh_date();
  const int64_t now = loop_.now();
  conns_.for_each([now](ServerConnection& c) { c.on_sweep(now); });
}

void ServerLoop::shutdown(std::chrono::milliseconds deadline, std::function<void()> done) {
  if (done) done_ = std::move(done);
  if (!shutting_down_) {
    shutting_down_ = true;
    listener_.reset();  // stop accepting; the kernel refuses new connections from here on
    conns_.for_each([](ServerConnection& c) { c.begin_drain(); });
    tell_sessions();
    // A timer, not the once-a-second sweep: the grace ends within a millisecond or so of its value.
    const auto grace = std::min(config_->options.shutdown_idle_grace, deadline);
    if (grace.count() > 0) {
      (void)grace_timer_.start(grace, [this] { end_grace(); });
    } else {
      end_grace();
    }
  }
  if (!finished()) {
    // Whatever is still open at the deadline is closed, its handlers cancelled (an earlier deadline wins).
    if (!deadline_timer_.pending() || deadline_timer_.due_in() > deadline.count() * 1'000'000) {
      (void)deadline_timer_.start(deadline, [this] {
        (void)grace_timer_.stop();
        conns_.for_each([](ServerConnection& c) { c.abort(); });
        abort_sessions();
        check_done();
      });
    }
  }
  check_done();
}

void ServerLoop::end_grace() noexcept {
  conns_.for_each([](ServerConnection& c) { c.end_grace(); });
  check_done();
}

void ServerLoop::check_done() noexcept {
  if (!finished()) return;
  stop_tick();
  (void)deadline_timer_.stop();
  (void)grace_timer_.stop();
  if (auto done = std::move(done_)) {
    done_ = nullptr;
    done();
  }
}

// Sessions may end (and unlink) one another inside these calls: each is moved out of the list before its
// call, so iteration never holds a pointer a callback may free.
void ServerLoop::tell_sessions() noexcept {
  IntrusiveList<UpgradedSession, SessionTag> pending;
  sessions_.splice_to(pending);
  while (UpgradedSession* s = pending.pop_front()) {
    sessions_.push_back(*s);
    s->on_server_shutdown();
  }
}

void ServerLoop::abort_sessions() noexcept {
  while (UpgradedSession* s = sessions_.front()) {
    s->on_server_abort();
    if (sessions_.front() == s) session_left(*s);  // it must leave; never loop on one that did not
  }
}

void ServerLoop::session_joined(UpgradedSession& s) noexcept { sessions_.push_back(s); }

void ServerLoop::session_left(UpgradedSession& s) noexcept {
  IntrusiveList<UpgradedSession, SessionTag>::remove(s);
  if (shutting_down_) check_done();
}

void ServerLoop::connection_opened(ServerConnection& c) noexcept {
  conns_.push_back(c);
  ++connections_;
}

void ServerLoop::connection_closed(ServerConnection& c) noexcept {
  IntrusiveList<ServerConnection, ConnListTag>::remove(c);
  --connections_;
  if (shutting_down_) check_done();
}

ConnState* ServerLoop::acquire_state() {
  ConnState* st = free_states_;
  if (st) {
    free_states_ = st->next_free;
    --free_state_count_;
    st->next_free = nullptr;
    // A parser put back between two messages is as good as new (llhttp is in its start state): the
    // common keep-alive read skips the reset.
    if (!st->parser.between_messages()) st->parser.reset();
  } else {
    st = new ConnState(limits());
  }
  return st;
}

void ServerLoop::release_state(ConnState* st) noexcept {
  st->inflight.clear();
  st->live.clear();
  st->inflight_count = 0;
  st->newest = nullptr;
  st->body_ex = nullptr;
  st->discard = false;
  st->in_off = 0;
  // A state that buffered a burst gives the memory back rather than keeping it in the pool.
  if (st->out.capacity() > 64 * 1024) st->out.release();
  if (st->in.capacity() > 64 * 1024) std::string().swap(st->in);
  st->out.clear();
  st->in.clear();
  if (st->parser.arena_capacity() > 16 * 1024) st->parser.release_memory();
  if (free_state_count_ >= kMaxFreeStates) {
    delete st;
    return;
  }
  st->next_free = free_states_;
  free_states_ = st;
  ++free_state_count_;
}

Exchange* ServerLoop::acquire_exchange() {
  ++exchanges_out_;
  if (free_exchanges_.empty()) return new Exchange(this);
  Exchange* ex = free_exchanges_.back();
  free_exchanges_.pop_back();
  return ex;
}

void ServerLoop::release_exchange(Exchange* ex) noexcept {
  ex->clear();
  --exchanges_out_;
  if (free_exchanges_.size() >= kMaxFreeExchanges) {
    delete ex;
  } else {
    free_exchanges_.push_back(ex);  // capacity reserved up front and kept: no allocation after warm-up
  }
  if (shutting_down_) check_done();
}

}  // namespace waitless::http::detail
