// ClientCore and Pool (internal): what a Client owns. Options, one Pool per origin, the resolver, spare
// connection objects and the metrics. Reference-counted by the Client, each request in flight and each
// open ClientStream, so destroying a Client while requests run leaves them a valid core: they end with
// Error::closed and give their connections back to nobody (closed).
//
// Slots: pool.open counts the slots taken (a connection connecting, busy or idle, or a slot handed to a
// waiter that will open one), never more than max_connections_per_origin. A slot or connection given back
// goes to the first waiter if there is one (FIFO, directly: a newcomer never overtakes a waiter), else the
// connection goes idle (most recently used first) or the slot is freed.
#pragma once
#include <coroutine>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "waitless/base/cancel.hpp"
#include "waitless/base/intrusive_list.hpp"
#include "waitless/http/client.hpp"
#include "waitless/http/client_connection.hpp"
#include "waitless/loop/timer.hpp"
#include "waitless/net/dns.hpp"
#include "waitless/net/socket_address.hpp"

namespace waitless::http::detail {

struct WaiterTag;

// A request waiting for a connection of a full pool. Handed a reusable connection or a slot to open one
// (with ec = {}), or failed with Error::cancelled / timed_out / closed.
struct PoolWaiter : ListHook<WaiterTag> {
  std::coroutine_handle<> handle;
  Loop* loop = nullptr;
  std::error_code ec;
  ClientConnection* conn = nullptr;
  bool slot = false;
  bool taken = false;  // conn / slot moved to a lease
  CancelCallback cancel;
  std::optional<Timer> timer;
  // Resumes the waiter (as a microtask) with `e`.
  void wake(std::error_code e) noexcept;
};

struct Pool {
  std::string key;  // "host:port", "https://host:port" (also the TLS session cache's key)
  std::string host;
  uint16_t port = 0;
  bool tls = false;
  bool numeric = false;  // host is an IP literal: `address` is where to connect, no DNS
  net::SocketAddress address;
  IntrusiveList<ClientConnection, IdleTag> idle;  // most recently used first
  IntrusiveList<PoolWaiter, WaiterTag> waiters;   // FIFO
  std::size_t open = 0;
  std::size_t idle_count = 0;
  std::size_t waiting = 0;
};

class ClientCore {
 public:
  ClientCore(Loop& loop, ClientOptions options);
  ~ClientCore();
  ClientCore(const ClientCore&) = delete;
  ClientCore& operator=(const ClientCore&) = delete;

  void add_ref() noexcept { ++refs_; }
  void release() noexcept {
    if (--refs_ == 0) delete this;
  }

  Loop& loop() const noexcept { return loop_; }
  const ClientOptions& options() const noexcept { return options_; }
  ClientMetrics& counters() noexcept { return metrics_; }
  ClientMetrics metrics() const noexcept;
  bool closed() const noexcept { return closed_; }

  Pool& pool_for(std::string_view host, uint16_t port, bool tls = false);
  // The client TLS context for https (options.tls, or the default one made at first use).
  Result<net::TlsContext*> tls_context();
  // A reusable idle connection of `pool`, or null.
  ClientConnection* take_idle(Pool& pool) noexcept;
  // Takes a slot if the pool has room and nobody waits.
  bool try_slot(Pool& pool) noexcept;
  // A connection after its response: to the first waiter, to the idle list, or closed (slot freed).
  void give_back(Pool& pool, ClientConnection* c) noexcept;
  // Closes the connection and frees its slot.
  void discard(Pool& pool, ClientConnection* c) noexcept;
  // A slot without a connection: to the first waiter, or freed.
  void free_slot(Pool& pool) noexcept;
  // An idle connection died (server close, stray bytes, idle timeout): out of the pool, closed, freed.
  void idle_dead(ClientConnection& c) noexcept;
  // A closed connection object for `pool` (a spare one if any).
  ClientConnection* new_connection(Pool& pool);
  // Closes a connection for good (kept as a spare object, or deleted).
  void recycle(ClientConnection* c) noexcept;
  Result<net::dns::Resolver*> resolver();

  void close_idle() noexcept;
  // The Client is gone: idle connections closed, waiters and operations in flight fail with Error::closed.
  void shutdown() noexcept;

 private:
  static constexpr std::size_t kMaxSpares = 8;
  static constexpr std::size_t kPrunePools = 256;  // empty pools are dropped once there are more than this
  void maybe_prune(Pool& pool) noexcept;

  Loop& loop_;
  ClientOptions options_;
  uint32_t refs_ = 1;
  bool closed_ = false;
  ClientMetrics metrics_;
  std::unordered_map<std::string, std::unique_ptr<Pool>> pools_;
  Pool* last_ = nullptr;  // the last pool looked up: most programs talk to one origin at a time
  std::string key_;       // scratch for lookups
  std::unique_ptr<net::dns::Resolver> resolver_;
  std::shared_ptr<net::TlsContext> tls_;
  IntrusiveList<ClientConnection, AllTag> all_;      // every connection object that is not a spare
  IntrusiveList<ClientConnection, IdleTag> spares_;  // closed objects kept for reuse (buffers warm)
  std::size_t spare_count_ = 0;
};

// co_await: waits in `pool`'s queue until handed a connection or a slot, the deadline (absolute ns, 0:
// none) passes (Error::timed_out), or the token fires (Error::cancelled).
class PoolWaitAwaiter {
 public:
  PoolWaitAwaiter(ClientCore& core, Pool& pool, int64_t deadline) noexcept
      : core_(core), pool_(pool), deadline_(deadline) {}
  PoolWaitAwaiter(const PoolWaitAwaiter&) = delete;
  PoolWaitAwaiter& operator=(const PoolWaitAwaiter&) = delete;
  // A frame destroyed while waiting leaves the queue; one destroyed after being handed a connection or a
  // slot gives it back.
  ~PoolWaitAwaiter();

  bool await_ready() const noexcept { return false; }
  template <typename P>
  bool await_suspend(std::coroutine_handle<P> h) {
    CancelToken token = waitless::detail::token_of(h);
    if (token.cancelled()) {
      w_.ec = Error::cancelled;
      return false;
    }
    suspend(h, waitless::detail::loop_of(h), token);
    return true;
  }
  std::error_code await_resume() const noexcept { return w_.ec; }
  // After success: moves the connection or slot into `lease`.
  void take(Lease& lease) noexcept;

 private:
  void suspend(std::coroutine_handle<> h, Loop& loop, const CancelToken& token);
  ClientCore& core_;
  Pool& pool_;
  int64_t deadline_;
  PoolWaiter w_;
};

}  // namespace waitless::http::detail
