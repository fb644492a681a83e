// DNS on the loop: c-ares with its sockets in the loop's poller and its timeouts on a loop Timer, so a
// lookup never occupies a thread (libuv's getaddrinfo on the shared pool is the mistake we avoid).
//
//   auto addrs = co_await dns::resolve(loop, "example.com");          // the loop's default resolver
//   auto r = dns::Resolver::create(loop, {.servers = {"127.0.0.1:5353"}});
//   auto addrs = co_await (*r)->resolve("test.example", {.family = dns::Family::ipv4});
//
// What a lookup does, in order: a numeric host ("127.0.0.1", "::1", "[::1]") is answered at once without
// a query; a fresh cache entry is answered at once; a lookup of the same name and family as one already
// in flight joins it (one query, every lookup gets its own copy of the answer); otherwise c-ares looks in
// /etc/hosts and then asks the servers (from /etc/resolv.conf, with its search list and options, unless
// the resolver was given explicit servers). Answers are cached for their TTL (capped by max_ttl) in a
// bounded LRU per resolver; answers with TTL 0 (and /etc/hosts entries) are not cached. "Not found"
// (NXDOMAIN, or no address of the asked family) is cached too, for negative_ttl (capped by max_ttl; 0
// disables it), so a repeated lookup of a missing name answers not_found at once; other errors (timeouts,
// refused, server failure...) are never cached. A lookup that stops waiting (cancelled, its own timeout,
// its awaiter destroyed) leaves the others that joined its query waiting.
//
// Results: Result<std::vector<SocketAddress>> with port 0 (set the port yourself). Errors are values:
//   dns_errc::not_found    NXDOMAIN, or no address of the asked family
//   Error::timed_out       the servers did not answer (c-ares' tries × timeout) or options.timeout passed
//   Error::cancelled       the awaiting task's token fired
//   Error::closed          the resolver was destroyed while the lookup was in flight
//   other dns_errc values  c-ares' status (bad name, refused, server failure...), message from ares_strerror
//
// A lookup in flight counts as one of the loop's pending requests (it keeps run() going); the resolver's
// sockets and timer are internal, unreferenced handles that exist only while queries are in flight, so an
// idle resolver leaves the loop empty.
#pragma once
#include <coroutine>
#include <cstdint>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <vector>

#include "waitless/async/task.hpp"
#include "waitless/base/result.hpp"
#include "waitless/loop/loop.hpp"
#include "waitless/loop/timer.hpp"
#include "waitless/net/socket_address.hpp"

struct ares_addrinfo;  // c-ares' result type; ares.h stays out of this header

namespace waitless::net::dns {

enum class Family { any, ipv4, ipv6 };

// c-ares status codes as a std::error_code category (values are ARES_* statuses).
enum class dns_errc { not_found = 4 /* ARES_ENOTFOUND */ };
const std::error_category& dns_category() noexcept;
inline std::error_code make_error_code(dns_errc e) noexcept { return {static_cast<int>(e), dns_category()}; }

struct ResolveOptions {
  Family family = Family::any;
  Duration timeout = Duration::zero();  // 0: the resolver's own (tries × per-try timeout)
};

struct ResolverOptions {
  // "ip", "ip:port" or "[ipv6]:port". Empty: the servers of /etc/resolv.conf.
  std::vector<std::string> servers = {};
  Duration timeout = std::chrono::seconds(5);  // per try, as resolv.conf's "timeout"
  int tries = 2;
  std::size_t cache_size = 1000;                    // entries; 0 disables the cache
  Duration max_ttl = std::chrono::minutes(5);       // cap on how long an answer is kept
  Duration negative_ttl = std::chrono::seconds(5);  // how long "not found" is kept; 0: not cached
  bool search_domains = true;                       // apply resolv.conf's search list to short names
  bool hosts_file = true;                           // look in /etc/hosts before asking servers ("fb")
};

class Resolver;
struct Query;

// What co_await resolver.resolve(...) suspends on. Completes at once for numeric hosts and cache hits.
class [[nodiscard]] ResolveAwaiter {
 public:
  using Value = Result<std::vector<SocketAddress>>;
  ResolveAwaiter(Resolver* resolver, std::string name, ResolveOptions options);
  explicit ResolveAwaiter(Value ready);
  ResolveAwaiter(ResolveAwaiter&&) = delete;
  ~ResolveAwaiter();

  bool await_ready() const noexcept { return result_.has_value(); }
  template <typename P>
  bool await_suspend(std::coroutine_handle<P> awaiting) {
    return start(awaiting, detail::loop_of(awaiting), detail::token_of(awaiting));
  }
  Value await_resume() { return std::move(*result_); }

 private:
  friend class Resolver;
  bool start(std::coroutine_handle<> h, Loop& loop, const CancelToken& token);
  void complete(Value v) noexcept;            // from the query: store, detach, resume (if suspended)
  void abandon(std::error_code ec) noexcept;  // cancel or own timeout: detach from the query, resume

  Resolver* resolver_ = nullptr;
  std::string name_;
  ResolveOptions options_;
  std::optional<Value> result_;
  Query* query_ = nullptr;  // the query this awaiter waits on (shared with lookups that joined it)
  std::coroutine_handle<> awaiting_;
  bool suspended_ = false;
  std::optional<Timer> timer_;
  CancelCallback cancel_;
};

class Resolver {
 public:
  // Error: the dns_errc of ares_init_options / ares_set_servers_ports_csv, or Error::invalid_argument for
  // a server that is not an ip[:port].
  static Result<std::unique_ptr<Resolver>> create(Loop& loop, ResolverOptions options = {});
  ~Resolver();
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  ResolveAwaiter resolve(std::string name, ResolveOptions options = {});

  Loop& loop() const noexcept { return *loop_; }
  void clear_cache() noexcept;
  std::size_t cache_entries() const noexcept { return lru_.size(); }
  uint64_t cache_hits() const noexcept { return cache_hits_; }
  // Queries handed to c-ares (not cached, numeric or joined to one in flight).
  uint64_t lookups_started() const noexcept { return lookups_; }

 private:
  friend class ResolveAwaiter;
  struct Impl;
  struct CacheEntry {
    std::string key;
    std::vector<SocketAddress> addresses;  // empty: a cached "not found"
    int64_t expires_ns;
  };
  explicit Resolver(Loop& loop, const ResolverOptions& options);

  const std::vector<SocketAddress>* cache_find(const std::string& key) noexcept;
  void cache_put(const std::string& key, std::vector<SocketAddress> addresses, int64_t ttl_ns);
  void join(ResolveAwaiter* w);  // joins the query in flight for w's key, or starts one
  void query_done(Query* q, int status, ::ares_addrinfo* ai) noexcept;
  void orphan(Query* q, ResolveAwaiter* w) noexcept;  // w stops waiting on q
  void reschedule() noexcept;

  Loop* loop_;
  ResolverOptions options_;
  std::unique_ptr<Impl> impl_;
  std::list<CacheEntry> lru_;  // most recently used first
  std::unordered_map<std::string, std::list<CacheEntry>::iterator> index_;
  uint64_t cache_hits_ = 0;
  uint64_t lookups_ = 0;
  // Queries in flight by cache key, from before ares_getaddrinfo until their callback; a query whose
  // awaiters all left stays here (and joinable) until c-ares answers or ares_cancel ends it.
  std::unordered_map<std::string, Query*> in_flight_;
  std::size_t live_queries_ = 0;  // awaiters still waiting on a query (each one a pending request)
};

// A lookup on `loop`'s default resolver (created on first use with default ResolverOptions; one per loop,
// kept for the thread's lifetime). Numeric hosts never create it.
ResolveAwaiter resolve(Loop& loop, std::string_view name, ResolveOptions options = {});

}  // namespace waitless::net::dns

template <>
struct std::is_error_code_enum<waitless::net::dns::dns_errc> : std::true_type {};
