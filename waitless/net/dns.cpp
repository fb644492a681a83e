#include "waitless/net/dns.hpp"

#include <ares.h>

#include <algorithm>
#include <cctype>
#include <mutex>
#include <utility>

#include "waitless/base/log.hpp"
#include "waitless/loop/io_watcher.hpp"

namespace waitless::net::dns {

// One c-ares lookup, shared by every awaiter of the same cache key while it is in flight. Owned by c-ares
// from ares_getaddrinfo until its callback, which deletes it. An awaiter that stops waiting (cancelled,
// timed out, destroyed) removes itself from `waiters`; a query left with none still runs (a late answer
// only fills the cache) until the last waiter of any query leaves and ares_cancel ends them all.
struct Query {
  Resolver* resolver;
  std::vector<ResolveAwaiter*> waiters;  // each counted in live_queries_ and as a pending request
  std::string name;  // as the first awaiter spelled it (the key folds case and a trailing dot)
  std::string key;
  Family family;
};

struct Resolver::Impl {
  ares_channel channel = nullptr;
  // c-ares' sockets, watched while c-ares asks (sock_state_cb); they come and go with queries.
  std::unordered_map<int, std::unique_ptr<IoWatcher>> sockets;
  std::optional<Timer> timer;  // c-ares' next timeout; exists only while a query is in flight
};

namespace {

class DnsCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "dns"; }
  std::string message(int code) const override { return ares_strerror(code); }
  std::error_condition default_error_condition(int code) const noexcept override {
    if (code == ARES_ETIMEOUT) return std::errc::timed_out;
    if (code == ARES_ECANCELLED) return std::errc::operation_canceled;
    return {code, *this};
  }
};

std::error_code status_code(int status) noexcept {
  switch (status) {
    case ARES_ETIMEOUT:
      return Error::timed_out;
    case ARES_ECANCELLED:
      return Error::cancelled;
    case ARES_EDESTRUCTION:
      return Error::closed;
    case ARES_ENODATA:  // the name exists but has no address of the asked family
      return dns_errc::not_found;
    default:
      return {status, dns_category()};
  }
}

int ares_family(Family f) noexcept {
  switch (f) {
    case Family::ipv4:
      return AF_INET;
    case Family::ipv6:
      return AF_INET6;
    case Family::any:
      break;
  }
  return AF_UNSPEC;
}

bool family_matches(Family f, const SocketAddress& a) noexcept {
  return f == Family::any || (f == Family::ipv4 && a.is_ipv4()) || (f == Family::ipv6 && a.is_ipv6());
}

// "127.0.0.1", "::1" or "[::1]" is answered without a query. Returns false for anything else.
bool numeric(std::string_view name, SocketAddress& out) {
  if (name.size() >= 2 && name.front() == '[' && name.back() == ']') name = name.substr(1, name.size() - 2);
  auto addr = SocketAddress::parse(name, 0);
  if (!addr) return false;
  out = *addr;
  return true;
}

ResolveAwaiter numeric_answer(const SocketAddress& addr, Family family) {
  if (!family_matches(family, addr)) return ResolveAwaiter(ResolveAwaiter::Value(dns_errc::not_found));
  return ResolveAwaiter(ResolveAwaiter::Value(std::vector<SocketAddress>{addr}));
}

std::string cache_key(std::string_view name, Family family) {
  std::string key;
  key.reserve(name.size() + 2);
  for (char c : name) key.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  if (!key.empty() && key.back() == '.') key.pop_back();  // "a.example." and "a.example" are one name
  key.push_back('/');
  key.push_back(static_cast<char>('0' + static_cast<int>(family)));
  return key;
}

void library_init() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (int s = ares_library_init(ARES_LIB_INIT_ALL); s != ARES_SUCCESS)
      log::error("ares_library_init: {}", ares_strerror(s));
  });
}

}  // namespace

const std::error_category& dns_category() noexcept {
  static const DnsCategory category;
  return category;
}

// ---- ResolveAwaiter -------------------------------------------------------------------------------------

ResolveAwaiter::ResolveAwaiter(Resolver* resolver, std::string name, ResolveOptions options)
    : resolver_(resolver), name_(std::move(name)), options_(options) {}

ResolveAwaiter::ResolveAwaiter(Value ready) : result_(std::move(ready)) {}

ResolveAwaiter::~ResolveAwaiter() {
  // The awaiting frame was destroyed while the lookup was in flight: the answer has nowhere to go.
  if (query_) resolver_->orphan(std::exchange(query_, nullptr), this);
}

bool ResolveAwaiter::start(std::coroutine_handle<> h, Loop&, const CancelToken& token) {
  if (token.cancelled()) {
    result_.emplace(Error::cancelled);
    return false;
  }
  awaiting_ = h;
  resolver_->join(this);
  if (result_) return false;  // answered inside ares_getaddrinfo (/etc/hosts, a bad name...)
  suspended_ = true;
  Loop& loop = resolver_->loop();
  if (options_.timeout > Duration::zero()) {
    timer_.emplace(loop);
    (void)timer_->start(options_.timeout, [this] { abandon(Error::timed_out); });
  }
  cancel_.attach(token, [this] { abandon(Error::cancelled); });
  return true;
}

void ResolveAwaiter::complete(Value v) noexcept {
  query_ = nullptr;
  result_.emplace(std::move(v));
  if (timer_) (void)timer_->stop();
  cancel_.detach();
  // Resumed as a microtask: this runs inside c-ares' callback, which must not meet user code.
  if (suspended_) resolver_->loop().queue_resume(awaiting_);
}

void ResolveAwaiter::abandon(std::error_code ec) noexcept {
  if (result_) return;
  if (query_) resolver_->orphan(std::exchange(query_, nullptr), this);
  result_.emplace(ec);
  if (timer_) (void)timer_->stop();
  cancel_.detach();
  resolver_->loop().queue_resume(awaiting_);
}

// ---- Resolver -------------------------------------------------------------------------------------------

Resolver::Resolver(Loop& loop, const ResolverOptions& options)
    : loop_(&loop), options_(options), impl_(std::make_unique<Impl>()) {}

Result<std::unique_ptr<Resolver>> Resolver::create(Loop& loop, ResolverOptions options) {
  library_init();
  if (options.tries < 1 || options.timeout <= Duration::zero()) return Error::invalid_argument;
  std::string csv;
  for (const std::string& s : options.servers) {
    auto addr = SocketAddress::parse_endpoint(s);
    if (!addr) return Error::invalid_argument;
    if (!csv.empty()) csv += ',';
    uint16_t port = addr->port() ? addr->port() : 53;
    csv += addr->is_ipv6() ? "[" + addr->host() + "]:" + std::to_string(port)
                           : addr->host() + ":" + std::to_string(port);
  }
  std::unique_ptr<Resolver> r(new Resolver(loop, options));

  ares_options o{};
  int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_LOOKUPS;
  o.sock_state_cb = [](void* data, ares_socket_t fd, int readable, int writable) {
    auto* self = static_cast<Resolver*>(data);
    auto& sockets = self->impl_->sockets;
    if (!readable && !writable) {
      sockets.erase(fd);
      return;
    }
    auto& w = sockets[fd];
    if (!w) {
      w = std::make_unique<IoWatcher>(*self->loop_, fd, [self, fd](unsigned ev) {
        bool in = ev & (io::readable | io::error | io::hangup);
        bool out = ev & (io::writable | io::error | io::hangup);
        ares_process_fd(self->impl_->channel, in ? fd : ARES_SOCKET_BAD, out ? fd : ARES_SOCKET_BAD);
        self->reschedule();
      });
      w->unref();  // the lookups in flight are what keeps the loop alive (pending requests)
    }
    if (auto ec = w->start((readable ? io::readable : 0u) | (writable ? io::writable : 0u)))
      log::error("dns: cannot watch c-ares socket {}: {}", fd, ec.message());
  };
  o.sock_state_cb_data = r.get();
  o.timeout =
      static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(options.timeout).count());
  if (o.timeout < 1) o.timeout = 1;
  o.tries = options.tries;
  char lookups_fb[] = "fb", lookups_b[] = "b";
  o.lookups = options.hosts_file ? lookups_fb : lookups_b;
  if (!options.search_domains) {
    mask |= ARES_OPT_DOMAINS;
    o.domains = nullptr;
    o.ndomains = 0;
  }
  if (int s = ares_init_options(&r->impl_->channel, &o, mask); s != ARES_SUCCESS) {
    r->impl_->channel = nullptr;
    return std::error_code(s, dns_category());
  }
  if (!csv.empty()) {
    if (int s = ares_set_servers_ports_csv(r->impl_->channel, csv.c_str()); s != ARES_SUCCESS)
      return std::error_code(s, dns_category());
  }
  return r;
}

Resolver::~Resolver() {
  if (impl_->channel) {
    // Every query in flight gets ARES_EDESTRUCTION: its awaiter completes with Error::closed.
    ares_destroy(impl_->channel);
    impl_->channel = nullptr;
  }
  impl_->sockets.clear();
  impl_->timer.reset();
}

ResolveAwaiter Resolver::resolve(std::string name, ResolveOptions options) {
  if (name.empty()) return ResolveAwaiter(ResolveAwaiter::Value(Error::invalid_argument));
  if (SocketAddress addr; numeric(name, addr)) return numeric_answer(addr, options.family);
  if (const auto* hit = cache_find(cache_key(name, options.family))) {
    ++cache_hits_;
    if (hit->empty()) return ResolveAwaiter(ResolveAwaiter::Value(dns_errc::not_found));
    return ResolveAwaiter(ResolveAwaiter::Value(*hit));
  }
  return ResolveAwaiter(this, std::move(name), options);
}

void Resolver::join(ResolveAwaiter* w) {
  ++live_queries_;
  loop_->add_pending_request();
  std::string key = cache_key(w->name_, w->options_.family);
  if (auto it = in_flight_.find(key); it != in_flight_.end()) {
    it->second->waiters.push_back(w);
    w->query_ = it->second;
    return;
  }
  auto* q = new Query{this, {w}, w->name_, std::move(key), w->options_.family};
  w->query_ = q;
  // In the map before c-ares sees it: an answer given inside ares_getaddrinfo (/etc/hosts, a bad name)
  // calls query_done, which erases it and deletes q, before ares_getaddrinfo returns.
  in_flight_.emplace(q->key, q);
  ++lookups_;
  ares_addrinfo_hints hints{};
  hints.ai_family = ares_family(q->family);
  hints.ai_socktype = SOCK_STREAM;  // one entry per address, not one per socket type
  ares_getaddrinfo(
      impl_->channel, q->name.c_str(), nullptr, &hints,
      [](void* arg, int status, int, ares_addrinfo* ai) {
        auto* query = static_cast<Query*>(arg);
        query->resolver->query_done(query, status, ai);
      },
      q);
  reschedule();
}

void Resolver::query_done(Query* q, int status, ares_addrinfo* ai) noexcept {
  if (auto it = in_flight_.find(q->key); it != in_flight_.end() && it->second == q) in_flight_.erase(it);
  std::optional<ResolveAwaiter::Value> value;
  if (status == ARES_SUCCESS) {
    std::vector<SocketAddress> addrs;
    int ttl = -1;
    for (ares_addrinfo_node* n = ai ? ai->nodes : nullptr; n; n = n->ai_next) {
      auto a = SocketAddress::from_sockaddr(n->ai_addr, n->ai_addrlen);
      if (!a || !family_matches(q->family, *a)) continue;
      a->set_port(0);
      if (std::find(addrs.begin(), addrs.end(), *a) != addrs.end()) continue;
      addrs.push_back(*a);
      ttl = ttl < 0 ? n->ai_ttl : std::min(ttl, n->ai_ttl);
    }
    if (addrs.empty()) {
      value.emplace(dns_errc::not_found);
    } else {
      if (ttl > 0) cache_put(q->key, addrs, static_cast<int64_t>(ttl) * 1'000'000'000);
      value.emplace(std::move(addrs));
    }
  } else {
    value.emplace(status_code(status));
  }
  if (ai) ares_freeaddrinfo(ai);
  // Negative caching: only "not found" is an answer about the name; timeouts, refusals, server failures
  // and cancellations say nothing about it and are never cached.
  if (!value->ok() && value->error() == dns_errc::not_found)
    cache_put(q->key, {}, options_.negative_ttl.count());
  // complete() only stores, stops the awaiter's timer and queues its resumption: no user code runs here,
  // so no waiter can leave (or join) while the list is walked.
  std::vector<ResolveAwaiter*> waiters = std::move(q->waiters);
  for (std::size_t i = 0; i < waiters.size(); ++i) {
    --live_queries_;
    loop_->remove_pending_request();
    waiters[i]->complete(i + 1 == waiters.size() ? std::move(*value) : ResolveAwaiter::Value(*value));
  }
  delete q;
}

void Resolver::orphan(Query* q, ResolveAwaiter* w) noexcept {
  auto it = std::find(q->waiters.begin(), q->waiters.end(), w);
  if (it == q->waiters.end()) return;  // not waiting (cannot happen: query_ is cleared on completion)
  q->waiters.erase(it);
  --live_queries_;
  loop_->remove_pending_request();
  // c-ares cancels only a whole channel: do it once no lookup has a waiter left, so abandoned queries do
  // not hold sockets and timers on the loop until the servers answer or time out.
  if (live_queries_ == 0 && impl_->channel) {
    ares_cancel(impl_->channel);  // calls back every query (ARES_ECANCELLED), each deletes itself
    reschedule();
  }
}

void Resolver::reschedule() noexcept {
  timeval tv{};
  if (!impl_->channel || !ares_timeout(impl_->channel, nullptr, &tv)) {
    impl_->timer.reset();  // no query in flight: no handle left on the loop
    return;
  }
  if (!impl_->timer) {
    impl_->timer.emplace(*loop_);
    impl_->timer->unref();
  }
  // ares_timeout truncates to whole milliseconds: a deadline less than 1 ms away reads as 0, and firing at
  // 0 would find nothing expired yet and spin until it is. Wait at least 1 ms.
  Duration wait = std::chrono::seconds(tv.tv_sec) + std::chrono::microseconds(tv.tv_usec);
  (void)impl_->timer->start(std::max<Duration>(wait, std::chrono::milliseconds(1)), [this] {
    ares_process_fd(impl_->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    reschedule();
  });
}

// ---- cache ----------------------------------------------------------------------------------------------

const std::vector<SocketAddress>* Resolver::cache_find(const std::string& key) noexcept {
  auto it = index_.find(key);
  if (it == index_.end()) return nullptr;
  if (it->second->expires_ns <= loop_->now()) {
    lru_.erase(it->second);
    index_.erase(it);
    return nullptr;
  }
  lru_.splice(lru_.begin(), lru_, it->second);
  return &it->second->addresses;
}

void Resolver::cache_put(const std::string& key, std::vector<SocketAddress> addresses, int64_t ttl_ns) {
  if (options_.cache_size == 0) return;
  ttl_ns = std::min<int64_t>(ttl_ns, options_.max_ttl.count());
  if (ttl_ns <= 0) return;
  int64_t expires = loop_->now() + ttl_ns;
  if (auto it = index_.find(key); it != index_.end()) {
    it->second->addresses = std::move(addresses);
    it->second->expires_ns = expires;
    lru_.splice(lru_.begin(), lru_, it->second);
    return;
  }
  while (lru_.size() >= options_.cache_size) {
    index_.erase(lru_.back().key);
    lru_.pop_back();
  }
  lru_.push_front(CacheEntry{key, std::move(addresses), expires});
  index_.emplace(key, lru_.begin());
}

void Resolver::clear_cache() noexcept {
  lru_.clear();
  index_.clear();
}

// ---- default resolver per loop --------------------------------------------------------------------------

ResolveAwaiter resolve(Loop& loop, std::string_view name, ResolveOptions options) {
  if (name.empty()) return ResolveAwaiter(ResolveAwaiter::Value(Error::invalid_argument));
  if (SocketAddress addr; numeric(name, addr)) return numeric_answer(addr, options.family);
  // Keyed by loop address: a resolver holds no handle while idle, so one left behind by a destroyed loop
  // is inert, and a new loop at the same address may reuse it.
  thread_local std::vector<std::pair<Loop*, std::unique_ptr<Resolver>>> resolvers;
  for (auto& [l, r] : resolvers) {
    if (l == &loop) return r->resolve(std::string(name), options);
  }
  auto r = Resolver::create(loop);
  if (!r) return ResolveAwaiter(ResolveAwaiter::Value(r.error()));
  resolvers.emplace_back(&loop, std::move(*r));
  return resolvers.back().second->resolve(std::string(name), options);
}

}  // namespace waitless::net::dns
