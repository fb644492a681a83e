#include "waitless/data/cache.hpp"

#include <system_error>

#include "waitless/base/log.hpp"

namespace waitless::data {

namespace {
struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};
}  // namespace

struct Cache::Flight {
  Event done;
  std::optional<Result<std::string>> result;
  std::exception_ptr exception;
};

struct Cache::Core {
  struct Entry {
    std::string key;
    std::string value;
    int64_t expires;  // loop time in ns; 0: never
    std::size_t bytes;
  };
  using List = std::list<Entry>;  // front: most recently used

  Core(Loop& l, CacheOptions o) : loop(l), options(std::move(o)) {}

  std::size_t cost(std::string_view key, std::string_view value) const noexcept {
    return 2 * key.size() + value.size() + kEntryOverhead;
  }

  // The live entry for `key`, made most recent; an expired one is dropped.
  Entry* find(std::string_view key) {
    auto it = index.find(key);
    if (it == index.end()) return nullptr;
    List::iterator e = it->second;
    if (e->expires != 0 && loop.now() >= e->expires) {
      ++stats.expirations;
      remove(it);
      return nullptr;
    }
    lru.splice(lru.begin(), lru, e);
    return &*e;
  }

  void remove(std::unordered_map<std::string, List::iterator, StringHash, std::equal_to<>>::iterator it) {
    bytes -= it->second->bytes;
    lru.erase(it->second);
    index.erase(it);
  }

  void insert(std::string key, std::string value, Duration ttl) {
    if (auto it = index.find(key); it != index.end()) remove(it);
    const std::size_t b = cost(key, value);
    if (b > options.max_bytes) return;  // larger than the whole cache: returned, not stored
    const int64_t expires = ttl > Duration::zero() ? loop.now() + ttl.count() : 0;
    lru.push_front(Entry{key, std::move(value), expires, b});
    index.emplace(std::move(key), lru.begin());
    bytes += b;
    while (bytes > options.max_bytes && !lru.empty()) {
      ++stats.evictions;
      remove(index.find(lru.back().key));
    }
  }

  Loop& loop;
  CacheOptions options;
  List lru;
  std::unordered_map<std::string, List::iterator, StringHash, std::equal_to<>> index;
  std::unordered_map<std::string, std::shared_ptr<Flight>, StringHash, std::equal_to<>> flights;
  std::size_t bytes = 0;
  CacheStats stats;
  CancelSource stop;  // the loaders' token: cancelled when the cache goes
  bool closed = false;
};

Cache::Cache(Loop& loop, CacheOptions options) : core_(std::make_shared<Core>(loop, std::move(options))) {}

Cache::~Cache() {
  core_->closed = true;
  core_->stop.cancel();
}

std::optional<std::string> Cache::get(std::string_view key) {
  if (Core::Entry* e = core_->find(key)) {
    ++core_->stats.hits;
    return e->value;
  }
  ++core_->stats.misses;
  return std::nullopt;
}

void Cache::put(std::string key, std::string value, Duration ttl) {
  core_->insert(std::move(key), std::move(value), ttl);
}

bool Cache::erase(std::string_view key) {
  auto it = core_->index.find(key);
  if (it == core_->index.end()) return false;
  core_->remove(it);
  return true;
}

void Cache::clear() noexcept {
  core_->lru.clear();
  core_->index.clear();
  core_->bytes = 0;
}

std::size_t Cache::size() const noexcept { return core_->index.size(); }
std::size_t Cache::bytes() const noexcept { return core_->bytes; }
std::size_t Cache::flights() const noexcept { return core_->flights.size(); }
const CacheStats& Cache::stats() const noexcept { return core_->stats; }

Task<Result<std::string>> Cache::get_or_load(std::string key, Duration ttl, Loader loader) {
  if (std::optional<std::string> v = get(key)) co_return std::move(*v);
  std::shared_ptr<Flight> flight;
  if (auto it = core_->flights.find(key); it != core_->flights.end()) {
    flight = it->second;
    ++core_->stats.coalesced;
  } else {
    flight = std::make_shared<Flight>();
    core_->flights.emplace(key, flight);
    // Detached, under the cache's token: no caller's cancellation stops it. It runs until its first
    // wait now, so a loader that completes at once has set the result before we look.
    spawn(load(core_, key, ttl, std::move(loader), flight), core_->stop.token());
  }
  if (!flight->result && !flight->exception) {
    if (std::error_code ec = co_await flight->done.wait()) co_return ec;  // this waiter only
  }
  if (flight->exception) std::rethrow_exception(flight->exception);
  co_return *flight->result;
}

Task<> Cache::load(std::shared_ptr<Core> core, std::string key, Duration ttl, Loader loader,
                   std::shared_ptr<Flight> flight) {
  std::optional<Result<std::string>> result;
  RedisClient* redis = core->options.redis;
  const std::string redis_key = redis ? core->options.redis_prefix + key : std::string();
  if (redis) {
    Result<std::optional<std::string>> r = co_await redis->get(redis_key);
    if (!r) {
      ++core->stats.redis_errors;
      log::debug("cache: redis GET {}: {}", redis_key, r.error().message());
    } else if (*r) {
      ++core->stats.redis_hits;
      result.emplace(std::move(**r));
    }
  }
  if (!result && !core->closed) {
    ++core->stats.loads;
    try {
      result.emplace(co_await loader());
    } catch (...) {
      flight->exception = std::current_exception();
      ++core->stats.load_errors;
    }
    if (result && !*result) ++core->stats.load_errors;
    if (redis && result && *result && !core->closed) {
      Result<void> stored = co_await redis->set(redis_key, **result, ttl);
      if (!stored) ++core->stats.redis_errors;
    }
  }
  if (!result && !flight->exception) result.emplace(Error::cancelled);  // the cache went before the load
  if (result && *result && !core->closed) core->insert(key, **result, ttl);
  flight->result = std::move(result);
  if (auto it = core->flights.find(key); it != core->flights.end() && it->second == flight)
    core->flights.erase(it);
  flight->done.set();
}

}  // namespace waitless::data
