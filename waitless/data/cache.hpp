// Cache: an in-memory LRU with TTLs and a bound in bytes, with single-flight loading and an optional
// Redis second level, on one loop.
//
//   data::Cache cache(loop, {.max_bytes = 64 << 20});
//   Result<std::string> user = co_await cache.get_or_load("user:42", 30s, [&]() -> Task<Result<std::string>>
//   {
//     co_return co_await load_user_json(42);                 // runs only on a miss
//   });
//
// Single-flight: concurrent misses for one key run one loader; the others await its result (no stampede
// on the database when a hot key expires). The result, value or error, goes to every waiter; errors are
// not cached (the next call loads again). A waiter whose task is cancelled leaves with Error::cancelled;
// the loader goes on for the others (it runs under the cache's own token, not the first caller's), and
// its value is cached. A loader that throws: the exception is rethrown to every waiter.
//
// Values are byte strings (what a second level can store too). The byte bound counts each entry's key
// twice (list and index), its value and a fixed overhead; the least recently used entries are evicted to
// stay within it; an entry larger than the whole bound is returned but not stored. Expiry is lazy (an
// expired entry is dropped when looked up or evicted) on the loop's cached clock.
//
// Second level: with `redis`, a local miss asks Redis (GET prefix+key) before the loader, and a loaded
// value is stored there (SET prefix+key value PX ttl), so several processes share loads. Redis failures
// fall back to the loader (counted in stats().redis_errors). The RedisClient must outlive the cache.
//
// Destroying the cache cancels the loaders in flight (their waiters get what the loader then returns,
// usually Error::cancelled); their frames hold the cache's shared state until they finish.
#pragma once
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "waitless/async/sync.hpp"
#include "waitless/async/task.hpp"
#include "waitless/base/cancel.hpp"
#include "waitless/base/result.hpp"
#include "waitless/data/redis_client.hpp"
#include "waitless/loop/loop.hpp"

namespace waitless::data {

struct CacheOptions {
  std::size_t max_bytes = std::size_t{64} << 20;
  RedisClient* redis = nullptr;         // optional second level
  std::string redis_prefix = "cache:";  // key prefix in Redis
};

struct CacheStats {
  uint64_t hits = 0;         // get / get_or_load answered from memory
  uint64_t misses = 0;       // ... not in memory (or expired)
  uint64_t loads = 0;        // loader runs (one per flight that Redis did not answer)
  uint64_t load_errors = 0;  // loader runs that failed or threw
  uint64_t coalesced = 0;    // misses that joined a flight already running
  uint64_t redis_hits = 0;
  uint64_t redis_errors = 0;
  uint64_t evictions = 0;    // entries dropped for the byte bound
  uint64_t expirations = 0;  // entries found expired
};

class Cache {
 public:
  using Loader = std::function<Task<Result<std::string>>()>;
  static constexpr std::size_t kEntryOverhead = 96;  // list node, index node, Entry fields (estimate)

  explicit Cache(Loop& loop, CacheOptions options = {});
  ~Cache();
  Cache(const Cache&) = delete;
  Cache& operator=(const Cache&) = delete;

  // From memory only. ttl <= 0: no expiry (only the LRU bound removes it).
  std::optional<std::string> get(std::string_view key);
  void put(std::string key, std::string value, Duration ttl);
  bool erase(std::string_view key);
  void clear() noexcept;

  // The value (memory, then Redis, then `loader`), or the loader's error.
  Task<Result<std::string>> get_or_load(std::string key, Duration ttl, Loader loader);

  std::size_t size() const noexcept;
  std::size_t bytes() const noexcept;
  std::size_t flights() const noexcept;
  const CacheStats& stats() const noexcept;

 private:
  struct Core;
  struct Flight;
  static Task<> load(std::shared_ptr<Core> core, std::string key, Duration ttl, Loader loader,
                     std::shared_ptr<Flight> flight);
  std::shared_ptr<Core> core_;
};

}  // namespace waitless::data
