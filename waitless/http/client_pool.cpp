#include "waitless/http/client_pool.hpp"

#include <charconv>
#include <utility>

#include "waitless/loop/deadline.hpp"

namespace waitless::http::detail {

// ---- Lease ----------------------------------------------------------------------------------------------

Lease::Lease(ClientCore* c, Pool* p) noexcept : core(c), pool(p) { core->add_ref(); }

Lease::Lease(Lease&& o) noexcept
    : core(std::exchange(o.core, nullptr)),
      pool(std::exchange(o.pool, nullptr)),
      conn(std::exchange(o.conn, nullptr)),
      slot(std::exchange(o.slot, false)) {}

Lease::~Lease() {
  reset();
  if (core) core->release();
}

Lease& Lease::operator=(Lease&& o) noexcept {
  if (this != &o) {
    reset();
    if (core) core->release();
    core = std::exchange(o.core, nullptr);
    pool = std::exchange(o.pool, nullptr);
    conn = std::exchange(o.conn, nullptr);
    slot = std::exchange(o.slot, false);
  }
  return *this;
}

void Lease::reset() noexcept {
  if (!core) return;
  if (ClientConnection* c = std::exchange(conn, nullptr)) {
    slot = false;
    if (c->reusable() && !core->closed()) {
      core->give_back(*pool, c);
    } else {
      core->discard(*pool, c);
    }
  } else if (slot) {
    slot = false;
    core->free_slot(*pool);
  }
  // The core reference goes with the last use of this lease object (its destructor or reassignment).
}

void Lease::drop_connection() noexcept {
  if (ClientConnection* c = std::exchange(conn, nullptr)) core->recycle(c);
}

// ---- waiting for a connection
// ------------------------------------------------------------------------------

void PoolWaiter::wake(std::error_code e) noexcept {
  ec = e;
  cancel.detach();
  timer.reset();  // safe inside the timer's own callback (Timer::fire checks)
  loop->queue_resume(handle);
}

void PoolWaitAwaiter::suspend(std::coroutine_handle<> h, Loop& loop, const CancelToken& token) {
  w_.handle = h;
  w_.loop = &loop;
  pool_.waiters.push_back(w_);
  ++pool_.waiting;
  auto leave = [this](Error e) {
    IntrusiveList<PoolWaiter, WaiterTag>::remove(w_);
    --pool_.waiting;
    w_.wake(e);
  };
  if (token.can_be_cancelled()) w_.cancel.attach(token, [leave] { leave(Error::cancelled); });
  if (deadline_ != 0) {
    w_.timer.emplace(loop);
    w_.timer->mark_internal();
    (void)w_.timer->start(Duration(std::max<int64_t>(deadline_ - loop.now(), 0)),
                          [leave] { leave(Error::timed_out); });
  }
}

void PoolWaitAwaiter::take(Lease& lease) noexcept {
  w_.taken = true;
  lease.slot = w_.slot;
  lease.conn = w_.conn;
}

PoolWaitAwaiter::~PoolWaitAwaiter() {
  if (static_cast<ListHook<WaiterTag>&>(w_).in_list()) {
    IntrusiveList<PoolWaiter, WaiterTag>::remove(w_);
    --pool_.waiting;
  } else if (!w_.taken) {
    if (w_.conn) {
      core_.give_back(pool_, w_.conn);
    } else if (w_.slot) {
      core_.free_slot(pool_);
    }
  }
}

// ---- ClientCore -----------------------------------------------------------------------------------------

ClientCore::ClientCore(Loop& loop, ClientOptions options) : loop_(loop), options_(std::move(options)) {
  if (options_.max_connections_per_origin == 0) options_.max_connections_per_origin = 1;
}

ClientCore::~ClientCore() {
  while (ClientConnection* c = spares_.pop_front()) delete c;
  // Leases hold references: nothing else can be left here.
}

ClientMetrics ClientCore::metrics() const noexcept {
  ClientMetrics m = metrics_;
  m.open_connections = m.idle_connections = m.queued = 0;
  for (const auto& [key, p] : pools_) {
    m.open_connections += p->open;
    m.idle_connections += p->idle_count;
    m.queued += p->waiting;
  }
  return m;
}

Pool& ClientCore::pool_for(std::string_view host, uint16_t port, bool tls) {
  if (last_ && last_->port == port && last_->tls == tls && last_->host == host) return *last_;
  char digits[8];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, port);
  key_.assign(tls ? "https://" : "");
  key_.append(host);
  key_ += ':';
  key_.append(digits, end);
  auto it = pools_.find(key_);
  if (it == pools_.end()) {
    auto p = std::make_unique<Pool>();
    p->key = key_;
    p->host = std::string(host);
    p->port = port;
    p->tls = tls;
    if (auto a = net::SocketAddress::parse(host, port)) {
      p->numeric = true;
      p->address = *a;
    }
    it = pools_.emplace(key_, std::move(p)).first;
  }
  last_ = it->second.get();
  return *last_;
}

Result<net::TlsContext*> ClientCore::tls_context() {
  if (!tls_) {
    if (options_.tls) {
      tls_ = options_.tls;
    } else {
      auto made = net::TlsContext::client();
      if (!made) return made.error();
      tls_ = std::move(made.value());
    }
  }
  return tls_.get();
}

ClientConnection* ClientCore::take_idle(Pool& pool) noexcept {
  ClientConnection* c = pool.idle.pop_front();
  if (c) --pool.idle_count;
  return c;
}

bool ClientCore::try_slot(Pool& pool) noexcept {
  if (closed_ || pool.open >= options_.max_connections_per_origin || !pool.waiters.empty()) return false;
  ++pool.open;
  return true;
}

void ClientCore::give_back(Pool& pool, ClientConnection* c) noexcept {
  if (PoolWaiter* w = pool.waiters.pop_front()) {
    --pool.waiting;
    w->conn = c;
    w->slot = true;
    w->wake({});
    return;
  }
  const int64_t deadline =
      options_.idle_timeout > Duration::zero() ? loop_.now() + to_ns(options_.idle_timeout) : 0;
  if (closed_ || !options_.keep_alive || !c->go_idle(deadline)) {
    discard(pool, c);
    return;
  }
  pool.idle.push_front(*c);
  ++pool.idle_count;
}

void ClientCore::discard(Pool& pool, ClientConnection* c) noexcept {
  recycle(c);
  free_slot(pool);
}

void ClientCore::free_slot(Pool& pool) noexcept {
  if (!closed_) {
    if (PoolWaiter* w = pool.waiters.pop_front()) {
      --pool.waiting;
      w->slot = true;
      w->wake({});
      return;
    }
  }
  --pool.open;
  maybe_prune(pool);
}

void ClientCore::idle_dead(ClientConnection& c) noexcept {
  Pool& pool = *c.pool;
  IntrusiveList<ClientConnection, IdleTag>::remove(c);
  --pool.idle_count;
  discard(pool, &c);
}

void ClientCore::maybe_prune(Pool& pool) noexcept {
  if (pool.open != 0 || !pool.waiters.empty() || pools_.size() <= kPrunePools) return;
  auto it = pools_.find(pool.key);
  if (it == pools_.end()) return;
  if (last_ == &pool) last_ = nullptr;
  pools_.erase(it);
}

ClientConnection* ClientCore::new_connection(Pool& pool) {
  ClientConnection* c = spares_.pop_front();
  if (c) {
    --spare_count_;
  } else {
    c = new ClientConnection(*this, options_.limits);
  }
  all_.push_back(*c);
  c->pool = &pool;
  return c;
}

void ClientCore::recycle(ClientConnection* c) noexcept {
  c->close();
  IntrusiveList<ClientConnection, AllTag>::remove(*c);
  c->pool = nullptr;
  if (!closed_ && spare_count_ < kMaxSpares) {
    spares_.push_front(*c);
    ++spare_count_;
  } else {
    delete c;
  }
}

Result<net::dns::Resolver*> ClientCore::resolver() {
  if (closed_) return Error::closed;
  if (!resolver_) {
    auto r = net::dns::Resolver::create(loop_, options_.resolver);
    if (!r) return r.error();
    resolver_ = std::move(*r);
  }
  return resolver_.get();
}

void ClientCore::close_idle() noexcept {
  for (auto& [key, p] : pools_) {
    while (ClientConnection* c = take_idle(*p)) discard(*p, c);
  }
}

void ClientCore::shutdown() noexcept {
  closed_ = true;
  // Pools are not pruned while closed_ (free_slot skips waiters, maybe_prune may erase): collect first.
  for (auto& [key, p] : pools_) {
    while (PoolWaiter* w = p->waiters.pop_front()) {
      --p->waiting;
      w->wake(Error::closed);
    }
    while (ClientConnection* c = take_idle(*p)) {
      recycle(c);
      --p->open;
    }
  }
  // Connections held by requests: their operation (if any) completes with Error::closed; their lease
  // then gives them back to nobody.
  all_.for_each([](ClientConnection& c) { c.close(); });
  resolver_.reset();  // lookups in flight complete with Error::closed
  while (ClientConnection* c = spares_.pop_front()) delete c;
  spare_count_ = 0;
}

}  // namespace waitless::http::detail
