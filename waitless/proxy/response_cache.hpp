// ResponseCache: the small response cache of a route (RouteSpec::cache, docs/proxy.md), a shared cache in
// the sense of RFC 9111, on one loop, over data::Cache (LRU bounded in bytes, TTL).
//
// A request (plan()): GET and HEAD are looked up, by key = Host (lower case) + target (path and query);
// `Cache-Control: no-cache` (or `Pragma: no-cache` without Cache-Control) skips the lookup, `no-store` skips
// the lookup and the store; a request with `Range` is neither served nor stored. HEAD is served from a
// stored GET response, and is never stored itself. Any other method invalidates the key (RFC 9111 4.4)
// and goes to the upstream.
//
// A hit (serve()): the stored status, fields and body, with `Age` (the upstream's Age when stored, plus the
// whole seconds since) and `X-Cache: HIT`. Every other answer of the route says `X-Cache: MISS`.
//
// A response is stored (record()) when the request was a GET that may be stored, its status is one RFC 9111
// lets a cache reuse (200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501; also 302 and 307 with an
// explicit max-age/s-maxage), and its Cache-Control allows it: `no-store`, `no-cache` (any form) and
// `private` are never stored (this cache does not revalidate); freshness is `s-maxage`, else `max-age`, else
// `default_ttl` (0: not stored), minus the upstream's `Age`; a response with `Expires` but neither max-age
// nor s-maxage is not stored (Expires is not read); nor one with `Set-Cookie` (one client's cookie must not
// reach another), nor `Vary: *`. A request with `Authorization` is stored only when the response says
// `public`, `s-maxage` or `must-revalidate` (RFC 9111 3.5). `Vary`: the values of the request fields it
// names become part of the key (a marker under the base key lists the names). The body is recorded while it
// streams to the client; past max_entry_bytes (or a Content-Length above it) recording stops and the
// response is not stored: a big response is never buffered for the cache.
//
// Single-flight: the first miss of a key on a loop leads (CachePlan::flight); later misses of the same key
// wait for the leader's request to end (at most kFlightWait, as nginx's proxy_cache_lock_timeout), then
// look again: a stored response is a hit, else they go to the upstream themselves.
//
// Per loop: each loop has its own cache of max_bytes (with N threads, up to N × max_bytes). The counters
// (CacheCounters) are shared by the loops and rendered by metrics.hpp. A reload keeps a route's entries
// when its host, prefix and cache section are unchanged.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "waitless/async/sync.hpp"
#include "waitless/async/task.hpp"
#include "waitless/data/cache.hpp"
#include "waitless/http/header_map.hpp"
#include "waitless/http/request.hpp"
#include "waitless/http/response.hpp"
#include "waitless/loop/loop.hpp"
#include "waitless/proxy/config.hpp"

namespace waitless::proxy {

// One route's counters, shared by every loop.
struct CacheCounters {
  explicit CacheCounters(const CacheSpec& s) : spec(s) {}
  CacheSpec spec;
  std::atomic<uint64_t> hits{0};       // answered from the cache
  std::atomic<uint64_t> misses{0};     // looked up, not found (or stale): went to the upstream
  std::atomic<uint64_t> stores{0};     // responses stored
  std::atomic<uint64_t> coalesced{0};  // misses that waited for another request of the same key
  std::atomic<int64_t> bytes{0};       // held now, every loop (data::Cache's accounting)
};

// One counters object per route of `config` (null where the route has no cache), taking over the previous
// one of a route with the same host, prefix and cache section.
std::vector<std::shared_ptr<CacheCounters>> make_cache_counters(
    const ProxyConfig& config, const ProxyConfig* previous_config,
    const std::vector<std::shared_ptr<CacheCounters>>* previous);

// Cache-Control directives this cache reads (response or request).
struct CacheControl {
  bool no_store = false, no_cache = false, is_private = false, is_public = false, must_revalidate = false;
  int64_t max_age = -1, s_maxage = -1;  // seconds; -1: absent
};
CacheControl parse_cache_control(std::string_view value) noexcept;

class ResponseCache;

// A leader's claim on a key: while it lives, other misses of the key wait; its end wakes them.
class CacheFlight {
 public:
  CacheFlight(std::shared_ptr<ResponseCache> cache, std::string key);
  ~CacheFlight();
  CacheFlight(const CacheFlight&) = delete;
  CacheFlight& operator=(const CacheFlight&) = delete;

 private:
  std::shared_ptr<ResponseCache> cache_;
  std::string key_;
};

// What to do with one request.
struct CachePlan {
  bool enabled = false;  // the route has a cache
  bool lookup = false;
  bool store = false;
  std::string key;
  std::unique_ptr<CacheFlight> flight;  // this request leads the key's flight (held to the request's end)
};

// Records a response's body while it streams; commit() stores it if it stayed within the bounds.
class CacheRecorder {
 public:
  CacheRecorder() = default;
  bool active() const noexcept { return cache_ != nullptr; }
  void add(std::string_view piece);
  void commit();

 private:
  friend class ResponseCache;
  std::shared_ptr<ResponseCache> cache_;
  std::string key_;         // the full key (with the Vary values)
  std::string base_key_;    // the base key, for the Vary marker
  std::string vary_names_;  // "" or the marker's names, "\n"-separated, lower case
  std::string entry_;       // the serialized head, then the body
  Duration ttl_{};
  uint64_t limit_ = 0;  // entry_'s largest size
};

class ResponseCache : public std::enable_shared_from_this<ResponseCache> {
 public:
  ResponseCache(Loop& loop, std::shared_ptr<CacheCounters> counters);

  static constexpr Duration kFlightWait = std::chrono::seconds(5);

  CachePlan plan(const http::Request& req);
  // A fresh stored response for the plan's key, sent on `res` (true); after waiting for the key's flight if
  // another request leads one. Else false (counted as a miss; the plan may now lead the key's flight).
  Task<bool> serve(const http::Request& req, CachePlan& plan, std::string_view via, http::Response& res);
  // After the upstream's head went onto `res` (X-Cache: MISS is added here): a recorder if the response may
  // be stored, else an inactive one.
  CacheRecorder record(const http::Request& req, const CachePlan& plan, int status,
                       const http::HeaderMap& headers, http::Response& res);

  const std::shared_ptr<CacheCounters>& counters() const noexcept { return counters_; }
  data::Cache& store() noexcept { return cache_; }
  // Empties it (a reload dropped the route's cache; recorders still running may put an entry back).
  void drop() noexcept;

 private:
  friend class CacheRecorder;
  friend class CacheFlight;
  bool answer(const http::Request& req, const CachePlan& plan, std::string_view via, http::Response& res);
  void put(std::string key, std::string value, Duration ttl);
  void sync_bytes() noexcept;

  Loop& loop_;
  std::shared_ptr<CacheCounters> counters_;
  data::Cache cache_;
  int64_t bytes_seen_ = 0;  // cache_.bytes() last added to counters_->bytes
  std::unordered_map<std::string, std::shared_ptr<Event>> flights_;  // key -> set when its leader ends
};

// The caches of one loop, per route of the current snapshot.
class ResponseCaches {
 public:
  // Follows a new snapshot's counters: a route keeping its counters object keeps its entries.
  void refresh(Loop& loop, const std::vector<std::shared_ptr<CacheCounters>>& counters);
  // The route's cache (null: none). Held by the request to its end (a reload may drop it meanwhile).
  std::shared_ptr<ResponseCache> for_route(std::size_t route) const noexcept {
    return route < caches_.size() ? caches_[route] : nullptr;
  }

 private:
  std::vector<std::shared_ptr<ResponseCache>> caches_;
};

}  // namespace waitless::proxy
