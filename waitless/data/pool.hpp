// Pool<T>: a connection pool on one loop (no lock anywhere: one pool per loop, as one loop per thread).
//
//   Pool<pg::Connection> pool(pg::connector(conninfo), {.min = 2, .max = 16});
//   Result<Pool<pg::Connection>::Handle> db = co_await pool.acquire();
//   if (!db) co_return db.error();              // DbError::pool_timeout, circuit_open... (HTTP 503)
//   auto rows = co_await (*db)->query("SELECT ...", id);
//   // ~Handle returns the connection (or destroys it if it broke, or after handle.discard())
//
// What it does:
// - Size: between `min` (kept open in the background) and `max` (open + being connected + in use).
// - acquire(): an idle connection (the most recently returned: its socket and caches are warm) that
//   passes validation; else a new connection if below max; else waits, FIFO, until one is returned or a
//   slot frees. The whole call has one deadline, `acquire_timeout`: past it, DbError::pool_timeout. The
//   awaiting task's cancellation ends the wait with Error::cancelled.
// - Validation on borrow and on return: `validate(conn)` (by default conn.is_usable() when T has it):
//   a connection whose server went away is destroyed, never handed out.
// - Idle timeout: idle connections beyond `min` are closed after `idle_timeout`.
// - Refill: whenever fewer than `min` connections exist, a background task reconnects with exponential
//   backoff and jitter (a random delay in [d/2, d], d doubling from backoff_initial to backoff_max).
// - Circuit breaker: after `breaker_threshold` consecutive connect failures the circuit opens: for
//   `breaker_cooldown` no connect is tried and acquire() fails at once with DbError::circuit_open (unless
//   an idle connection is there). Then it half-opens: one connect (the probe) is allowed; success closes
//   the circuit, failure reopens it for another cooldown.
// - A maintenance timer (unreferenced: it never keeps the loop alive) runs every `maintenance_interval`:
//   it drops broken idle connections, applies the idle timeout and starts the refill. So after the
//   server comes back, the pool is whole again within about interval + backoff_max + connect time.
// - Metrics: size, idle, in use, connecting, waiting, and the time acquire() waited.
// Lifetime: the pool's state is shared with its handles and background tasks; destroying the Pool closes
// it (idle connections destroyed, waiters fail with DbError::pool_closed, the refill is cancelled) and a
// connection returned later is destroyed. Handles and tasks belong to the pool's loop's thread.
#pragma once
#include <algorithm>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "waitless/async/sleep.hpp"
#include "waitless/async/task.hpp"
#include "waitless/async/timeout.hpp"
#include "waitless/base/cancel.hpp"
#include "waitless/base/intrusive_list.hpp"
#include "waitless/base/log.hpp"
#include "waitless/base/result.hpp"
#include "waitless/data/db_error.hpp"
#include "waitless/loop/timer.hpp"

namespace waitless::data {

struct PoolOptions {
  std::size_t min = 0;
  std::size_t max = 10;
  Duration acquire_timeout = std::chrono::seconds(5);  // the whole acquire(): waiting and connecting
  Duration connect_timeout = std::chrono::seconds(5);  // one background connect
  Duration idle_timeout = std::chrono::seconds(30);
  Duration maintenance_interval = std::chrono::milliseconds(250);
  Duration backoff_initial = std::chrono::milliseconds(25);
  Duration backoff_max = std::chrono::milliseconds(500);
  unsigned breaker_threshold = 5;  // consecutive connect failures that open the circuit; 0: never opens
  Duration breaker_cooldown = std::chrono::milliseconds(500);
};

enum class BreakerState : uint8_t { closed, open, half_open };

struct PoolMetrics {
  std::size_t size = 0;  // open connections: idle + in use
  std::size_t idle = 0;
  std::size_t in_use = 0;
  std::size_t connecting = 0;  // connects in flight (an acquirer's or the refill's)
  std::size_t waiting = 0;     // acquirers waiting for a connection
  uint64_t acquired = 0;       // successful acquire() calls
  uint64_t timeouts = 0;       // acquire() calls that ended with pool_timeout
  uint64_t connects = 0;       // connections established
  uint64_t connect_failures = 0;
  uint64_t discarded = 0;    // connections destroyed because they broke, failed validation or idled out
  int64_t last_wait_ns = 0;  // how long the most recent successful acquire() took
  int64_t max_wait_ns = 0;
  int64_t total_wait_ns = 0;  // over `acquired` calls
  BreakerState breaker = BreakerState::closed;
};

namespace detail {

// Attempt n (from 0) of a reconnect waits a random time in [d/2, d], d = min(initial * 2^n, max).
inline Duration backoff_delay(Duration initial, Duration max, unsigned attempt) noexcept {
  thread_local std::minstd_rand rng{std::random_device{}()};
  Duration d = initial;
  for (unsigned i = 0; i < attempt && d < max; ++i) d *= 2;
  d = std::min(d, max);
  const auto half = d.count() / 2;
  std::uniform_int_distribution<int64_t> jitter(0, std::max<int64_t>(half, 0));
  return Duration(d.count() - half + jitter(rng));
}

// The default validation: T::is_usable() if T has it, else every connection is usable.
template <typename T>
bool default_usable(T& conn) {
  if constexpr (requires(T & t) {
                  { t.is_usable() } -> std::convertible_to<bool>;
                }) {
    return conn.is_usable();
  } else {
    (void)conn;
    return true;
  }
}

}  // namespace detail

template <typename T>
class Pool {
 public:
  using Factory = std::function<Task<Result<std::unique_ptr<T>>>()>;
  using Validator = std::function<bool(T&)>;

 private:
  struct Core;

 public:
  // A borrowed connection. Destroying it (or release()) returns the connection; after discard() the
  // connection is destroyed instead (use it when the connection's state is unknown).
  class Handle {
   public:
    Handle() = default;
    Handle(Handle&& o) noexcept = default;
    Handle& operator=(Handle&& o) noexcept {
      if (this != &o) {
        release();
        core_ = std::move(o.core_);
        conn_ = std::move(o.conn_);
        discard_ = o.discard_;
      }
      return *this;
    }
    ~Handle() { release(); }

    T& operator*() const noexcept { return *conn_; }
    T* operator->() const noexcept { return conn_.get(); }
    T* get() const noexcept { return conn_.get(); }
    explicit operator bool() const noexcept { return conn_ != nullptr; }
    void discard() noexcept { discard_ = true; }
    void release() noexcept {
      if (conn_) core_->give_back(std::move(conn_), discard_);
      core_.reset();
    }

   private:
    friend class Pool;
    Handle(std::shared_ptr<Core> core, std::unique_ptr<T> conn) noexcept
        : core_(std::move(core)), conn_(std::move(conn)) {}
    std::shared_ptr<Core> core_;
    std::unique_ptr<T> conn_;
    bool discard_ = false;
  };

  // Create the pool on the loop it serves (the running one, else this thread's current loop).
  explicit Pool(Factory factory, PoolOptions options = {}, Validator validate = {})
      : core_(std::make_shared<Core>(std::move(factory), options, std::move(validate))) {
    core_->start();
  }
  ~Pool() { close(); }
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  // Borrows a connection; see the header comment for the order of choices and the errors.
  Task<Result<Handle>> acquire() { return acquire_in(core_); }
  // Closes the pool now (idempotent); the destructor does it too.
  void close() noexcept { core_->close(); }

  PoolMetrics metrics() const noexcept {
    PoolMetrics m = core_->metrics;
    m.idle = core_->idle.size();
    m.in_use = core_->in_use;
    m.connecting = core_->connecting;
    m.size = m.idle + m.in_use;
    m.waiting = core_->waiting;
    m.breaker = core_->breaker;
    return m;
  }
  const PoolOptions& options() const noexcept { return core_->opt; }

 private:
  // One acquirer waiting for a connection to be returned or a slot to free. Woken one at a time, FIFO;
  // a woken waiter re-checks the pool (a newcomer may have taken the connection meanwhile) and waits again.
  struct SlotWait : ListHook<> {
    explicit SlotWait(Core& c) noexcept : core(c) {}
    SlotWait(const SlotWait&) = delete;
    SlotWait& operator=(const SlotWait&) = delete;
    ~SlotWait() {
      // Woken but destroyed before it resumed: pass the wake-up on so it is not lost.
      if (woken && !resumed && !core.closed) core.notify_one();
    }
    bool await_ready() const noexcept { return false; }
    template <typename P>
    void await_suspend(std::coroutine_handle<P> awaiting) {
      loop = &waitless::detail::loop_of(awaiting);
      handle = awaiting;
      CancelToken token = waitless::detail::token_of(awaiting);
      if (token.cancelled() || core.closed) {
        result = core.closed ? make_error_code(DbError::pool_closed) : make_error_code(Error::cancelled);
        woken = true;
        loop->queue_resume(awaiting);
        return;
      }
      core.waiters.push_back(*this);
      cancel.attach(token, [this] {
        unlink_from_list();
        result = Error::cancelled;
        woken = true;
        loop->queue_resume(handle);
      });
    }
    std::error_code await_resume() noexcept {
      resumed = true;
      return result;
    }
    void wake(std::error_code ec) {
      cancel.detach();
      result = ec;
      woken = true;
      loop->queue_resume(handle);
    }

    Core& core;
    Loop* loop = nullptr;
    std::coroutine_handle<> handle;
    std::error_code result;
    bool woken = false;
    bool resumed = false;
    CancelCallback cancel;
  };

  struct Idle {
    std::unique_ptr<T> conn;
    int64_t since_ns;
  };

  struct Core : std::enable_shared_from_this<Core> {
    Core(Factory f, const PoolOptions& o, Validator v)
        : loop(&waitless::detail::loop_here()), factory(std::move(f)), validate(std::move(v)), opt(o) {
      opt.max = std::max<std::size_t>(opt.max, 1);
      opt.min = std::min(opt.min, opt.max);
    }
    ~Core() { waiters.clear(); }

    void start() {
      sweep.emplace(*loop);
      const Duration every = std::max(opt.maintenance_interval, Duration(std::chrono::milliseconds(1)));
      (void)sweep->start(
          every, [this] { maintain(); }, every);
      sweep->unref();
      maybe_refill();
    }

    std::size_t total() const noexcept { return idle.size() + in_use + connecting; }
    bool usable(T& conn) { return validate ? validate(conn) : detail::default_usable(conn); }

    // The most recently returned idle connection that passes validation; broken ones are destroyed.
    std::unique_ptr<T> take_idle() {
      while (!idle.empty()) {
        std::unique_ptr<T> conn = std::move(idle.back().conn);
        idle.pop_back();
        if (usable(*conn)) return conn;
        ++metrics.discarded;
      }
      return nullptr;
    }

    void give_back(std::unique_ptr<T> conn, bool discard) noexcept {
      --in_use;
      if (closed || discard || !usable(*conn)) {
        conn.reset();
        ++metrics.discarded;
        maybe_refill();
      } else {
        idle.push_back({std::move(conn), loop->now()});
      }
      notify_one();
    }

    void notify_one() noexcept {
      if (SlotWait* w = waiters.pop_front()) w->wake({});
    }

    // Whether a connect may start now, as the circuit breaker says. In half-open state one connect (the
    // probe) at a time is allowed.
    bool may_connect() noexcept {
      if (breaker == BreakerState::open) {
        if (loop->now() < open_until) return false;
        breaker = BreakerState::half_open;
        probing = false;
      }
      if (breaker == BreakerState::half_open) {
        if (probing) return false;
        probing = true;
      }
      return true;
    }
    void connect_finished(bool ok) noexcept {
      probing = false;
      if (ok) {
        ++metrics.connects;
        failures = 0;
        breaker = BreakerState::closed;
        return;
      }
      ++metrics.connect_failures;
      ++failures;
      if (breaker == BreakerState::half_open ||
          (opt.breaker_threshold && failures >= opt.breaker_threshold)) {
        if (breaker == BreakerState::closed)
          log::warn("db pool: circuit open after {} connect failures", failures);
        breaker = BreakerState::open;
        open_until = loop->now() + opt.breaker_cooldown.count();
      }
    }

    void maybe_refill() {
      if (closed || refilling || total() >= opt.min) return;
      refilling = true;
      Loop::Scope scope(*loop);
      spawn(refill(this->shared_from_this()), background.token());
    }

    void maintain() noexcept {
      if (closed) return;
      const int64_t now = loop->now();
      // Idle connections beyond `min` may be closed for idling; the oldest (front) go first.
      std::size_t closable = total() > opt.min ? total() - opt.min : 0;
      std::vector<Idle> kept;
      kept.reserve(idle.size());
      for (Idle& e : idle) {
        const bool expired = now - e.since_ns >= opt.idle_timeout.count();
        if (!usable(*e.conn)) {
          ++metrics.discarded;
        } else if (expired && closable > 0) {
          --closable;
          ++metrics.discarded;
        } else {
          kept.push_back(std::move(e));
        }
      }
      idle = std::move(kept);
      maybe_refill();
      if (!waiters.empty() && (!idle.empty() || total() < opt.max)) notify_one();
    }

    void close() noexcept {
      if (closed) return;
      closed = true;
      sweep.reset();
      idle.clear();
      while (SlotWait* w = waiters.pop_front()) w->wake(DbError::pool_closed);
      background.cancel();
    }

    Loop* loop;
    Factory factory;
    Validator validate;
    PoolOptions opt;
    std::vector<Idle> idle;  // back: most recently returned
    IntrusiveList<SlotWait> waiters;
    std::size_t waiting = 0;
    std::size_t in_use = 0;
    std::size_t connecting = 0;
    bool closed = false;
    bool refilling = false;
    bool probing = false;
    BreakerState breaker = BreakerState::closed;
    unsigned failures = 0;  // consecutive
    int64_t open_until = 0;
    PoolMetrics metrics;
    CancelSource background;  // the refill task's token
    std::optional<Timer> sweep;
  };

  static Task<std::error_code> wait_slot(Core* core) { co_return co_await SlotWait(*core); }

  // Counts something in flight in the pool's metrics for a scope; the decrement also runs when the frame
  // holding it is destroyed mid-wait, so no count (and no half-open probe) is left stuck.
  struct InFlight {
    InFlight(std::size_t& n, bool* probe = nullptr) noexcept : count(n), probing(probe) { ++count; }
    InFlight(const InFlight&) = delete;
    InFlight& operator=(const InFlight&) = delete;
    ~InFlight() { end(); }
    void end() noexcept {
      if (ended) return;
      ended = true;
      --count;
      if (probing) *probing = false;
    }
    std::size_t& count;
    bool* probing;
    bool ended = false;
  };

  // One connect through the factory with a deadline; exceptions from the factory become connect_failed.
  static Task<Result<std::unique_ptr<T>>> connect_one(std::shared_ptr<Core> core, Duration timeout) {
    InFlight connecting(core->connecting, &core->probing);
    Result<std::unique_ptr<T>> out = make_error_code(DbError::connect_failed);
    try {
      auto r = co_await with_timeout(core->factory(), timeout);
      if (!r) {
        out = r.error() == Error::timed_out ? make_error_code(DbError::connect_failed) : r.error();
      } else {
        out = std::move(*r);
      }
    } catch (const std::exception& e) {
      log::error("db pool: connection factory threw: {}", e.what());
    }
    connecting.end();
    const bool ok = out.ok() && out.value() != nullptr;
    if (out.ok() && !ok) out = make_error_code(DbError::connect_failed);
    core->connect_finished(ok);
    if (core->closed && ok) out = make_error_code(DbError::pool_closed);
    co_return out;
  }

  static Task<void> refill(std::shared_ptr<Core> core) {
    unsigned attempt = 0;
    while (!core->closed && core->total() < core->opt.min) {
      if (!core->may_connect()) {
        const Duration wait(std::max<int64_t>(core->open_until - core->loop->now(), 1'000'000));
        if (co_await sleep(wait)) break;
        continue;
      }
      auto r = co_await connect_one(core, core->opt.connect_timeout);
      if (r) {
        attempt = 0;
        core->idle.push_back({std::move(*r), core->loop->now()});
        core->notify_one();
        continue;
      }
      if (core->closed || r.error() == Error::cancelled) break;
      const Duration delay =
          detail::backoff_delay(core->opt.backoff_initial, core->opt.backoff_max, attempt++);
      if (co_await sleep(delay)) break;
    }
    core->refilling = false;
  }

  static void record_wait(Core& core, int64_t start) noexcept {
    const int64_t waited = core.loop->now() - start;
    ++core.metrics.acquired;
    core.metrics.last_wait_ns = waited;
    core.metrics.max_wait_ns = std::max(core.metrics.max_wait_ns, waited);
    core.metrics.total_wait_ns += waited;
  }

  static Task<Result<Handle>> acquire_in(std::shared_ptr<Core> core) {
    Core& c = *core;
    c.loop->update_time();
    const int64_t start = c.loop->now();
    const int64_t deadline = start + c.opt.acquire_timeout.count();
    while (true) {
      if (c.closed) co_return make_error_code(DbError::pool_closed);
      if (std::unique_ptr<T> conn = c.take_idle()) {
        ++c.in_use;
        record_wait(c, start);
        co_return Handle(core, std::move(conn));
      }
      c.loop->update_time();
      const int64_t remaining = deadline - c.loop->now();
      if (remaining <= 0) break;
      if (c.total() < c.opt.max) {
        if (!c.may_connect()) co_return make_error_code(DbError::circuit_open);
        auto r = co_await connect_one(core, Duration(remaining));
        if (!r) {
          c.maybe_refill();
          c.notify_one();  // the slot this connect held is free again
          co_return r.error();
        }
        ++c.in_use;
        record_wait(c, start);
        co_return Handle(core, std::move(*r));
      }
      InFlight waiting(c.waiting);
      std::error_code ec = co_await with_timeout(wait_slot(&c), Duration(remaining));
      waiting.end();
      if (ec == Error::timed_out) break;
      if (ec) {
        c.notify_one();  // a wake-up this waiter may have received goes to the next one
        co_return ec;
      }
    }
    ++c.metrics.timeouts;
    c.notify_one();
    co_return make_error_code(DbError::pool_timeout);
  }

  std::shared_ptr<Core> core_;
};

}  // namespace waitless::data
