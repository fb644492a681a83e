#include "waitless/loop/loop.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "waitless/base/block_cache.hpp"
#include "waitless/loop/io_watcher.hpp"
#include "waitless/loop/test_support.hpp"
#include "waitless/loop/timer.hpp"

namespace waitless {
namespace {

using waitless::test::expect_empty;

TEST(Loop, EmptyLoopReturnsAtOnce) {
  Loop loop;
  EXPECT_FALSE(loop.run());
  expect_empty(loop);
}

// Node's classic: inside an I/O callback, microtasks run first, then the immediate, then the 0 ms timer.
// Code that runs on a loop and makes a Timer without naming a loop gets that loop, not the thread's
// default one (which would never run it).
TEST(Loop, CurrentIsTheRunningLoopElseTheThreadDefault) {
  Loop& fallback = Loop::current();
  Loop loop;
  EXPECT_NE(&fallback, &loop);
  bool fired = false;
  loop.set_immediate([&] {
    EXPECT_EQ(&Loop::current(), &loop);
    auto* timer = new Timer();  // on `loop`: it fires there, then is freed there
    EXPECT_EQ(&timer->loop(), &loop);
    (void)timer->start(std::chrono::milliseconds(1), [&fired, timer] {
      fired = true;
      (void)timer->close([timer] { delete timer; });
    });
  });
  loop.run();
  EXPECT_TRUE(fired);
  EXPECT_EQ(&Loop::current(), &fallback);
  EXPECT_EQ(loop.handle_count(), 0u);
}

// While a loop is current, its thread keeps every small block freed (a burst of coroutine frames or pool
// jobs serves the next one without malloc); once it is not, the cache is capped again. On a thread of its
// own, whose cache starts empty.
TEST(Loop, AScopeKeepsABurstOfFreedBlocksForTheNext) {
  if (!detail::block_cache_enabled()) GTEST_SKIP() << "no cache under AddressSanitizer";
  std::thread([] {
    constexpr std::size_t kBurst = 3 * detail::kKeepPerClass;
    std::vector<void*> blocks;
    for (std::size_t i = 0; i < kBurst; ++i) blocks.push_back(detail::allocate_block(96));
    Loop loop;
    {
      Loop::Scope scope(loop);
      for (std::size_t i = 0; i < kBurst / 2; ++i) detail::free_block(blocks[i], 96);
      EXPECT_EQ(detail::cached_blocks(), kBurst / 2);
    }
    for (std::size_t i = kBurst / 2; i < kBurst; ++i) detail::free_block(blocks[i], 96);
    EXPECT_EQ(detail::cached_blocks(), kBurst / 2);  // no loop: nothing more kept beyond the cap
  }).join();
}

TEST(Loop, ImmediateBeforeZeroTimerInsideIoCallback) {
  Loop loop;
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
  ASSERT_EQ(write(fds[1], "x", 1), 1);
  std::string order;
  Timer timer(loop);
  IoWatcher w(loop, fds[0], [&](unsigned) {
    w.stop();
    (void)timer.start(0ms, [&] { order += "timer,"; });
    loop.set_immediate([&] { order += "immediate,"; });
    loop.queue_microtask([&] { order += "microtask,"; });
    order += "io,";
  });
  ASSERT_FALSE(w.start(io::readable));
  loop.run();
  EXPECT_EQ(order, "io,microtask,immediate,timer,");
  close(fds[0]);
  close(fds[1]);
}

TEST(Loop, PhaseOrderTimersPendingPollImmediatesClose) {
  Loop loop;
  std::string order;
  Timer t(loop);
  Timer closer(loop);
  (void)t.start(0ms, [&] {
    order += "timer,";
    loop.defer([&] { order += "pending,"; });
    loop.set_immediate([&] { order += "immediate,"; });
    (void)closer.close([&] { order += "close,"; });
  });
  loop.run();
  EXPECT_EQ(order, "timer,pending,immediate,close,");
}

TEST(Loop, MicrotasksDrainAfterEveryCallback) {
  Loop loop;
  std::string order;
  loop.set_immediate([&] {
    order += "a,";
    loop.queue_microtask([&] {
      order += "ma,";
      loop.queue_microtask([&] { order += "ma2,"; });
    });
  });
  loop.set_immediate([&] { order += "b,"; });
  loop.run();
  EXPECT_EQ(order, "a,ma,ma2,b,");
}

TEST(Loop, SelfReschedulingImmediateDoesNotStarveTimers) {
  Loop loop;
  int immediates = 0;
  bool timer_fired = false;
  Timer t(loop);
  // The timer starts inside the first immediate, so however late this thread runs, the immediate has
  // rescheduled itself at least once before the timer can fire (a timer started before run() could already
  // be due at the first timers phase on a loaded machine, and the immediate would then run only once).
  std::function<void()> again = [&] {
    if (++immediates == 1) (void)t.start(1ms, [&] { timer_fired = true; });
    if (!timer_fired) loop.set_immediate(again);
  };
  loop.set_immediate(again);
  loop.run();
  EXPECT_TRUE(timer_fired);
  EXPECT_GT(immediates, 1);
}

TEST(Loop, ZeroTimerStartedInTimerPhaseWaitsForNextIteration) {
  Loop loop;
  Timer t(loop);
  int fired = 0;
  std::function<void()> cb = [&] {
    if (++fired < 1000) (void)t.start(0ms, cb);
  };
  (void)t.start(0ms, cb);
  uint64_t before = loop.metrics().iterations;
  loop.run();
  EXPECT_EQ(fired, 1000);
  EXPECT_GE(loop.metrics().iterations - before, 1000u);  // one per iteration, never a spin inside one
}

TEST(Loop, ClearImmediate) {
  Loop loop;
  bool ran = false;
  uint64_t id = loop.set_immediate([&] { ran = true; });
  EXPECT_TRUE(loop.clear_immediate(id));
  EXPECT_FALSE(loop.clear_immediate(id));
  EXPECT_FALSE(loop.clear_immediate(12345));
  loop.run();
  EXPECT_FALSE(ran);
  expect_empty(loop);
}

TEST(Loop, ThrowingCallbackIsLoggedAndLoopGoesOn) {
  Loop loop;
  bool after = false;
  loop.set_immediate([] { throw std::runtime_error("boom"); });
  loop.set_immediate([&] { after = true; });
  loop.run();
  EXPECT_TRUE(after);
  EXPECT_EQ(loop.metrics().exceptions, 1u);
}

TEST(Loop, PostFromEightThreadsLosesNothing) {
  Loop loop;
  constexpr int kThreads = 8, kPerThread = 100'000;
  std::atomic<int> finished{0};
  long received = 0;
  auto keepalive_owner = std::make_unique<Timer>(loop);
  Timer& keepalive = *keepalive_owner;  // posted work alone does not keep the loop alive
  (void)keepalive.start(60s, [] {});
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) ASSERT_FALSE(loop.post([&] { ++received; }));
      if (++finished == kThreads) {
        ASSERT_FALSE(loop.post([&] { loop.post([&] { (void)keepalive.stop(); }); }));
      }
    });
  }
  loop.run();
  for (auto& th : threads) th.join();
  loop.run();  // anything posted after the last drain
  EXPECT_EQ(received, long{kThreads} * kPerThread);
  keepalive_owner.reset();
  expect_empty(loop);
}

TEST(Loop, PostKeepsEachThreadsOrder) {
  Loop loop;
  constexpr int kThreads = 4, kPerThread = 50'000;
  std::vector<int> next(kThreads, 0);
  bool in_order = true;
  long received = 0;
  auto keepalive_owner = std::make_unique<Timer>(loop);
  Timer& keepalive = *keepalive_owner;
  (void)keepalive.start(60s, [] {});
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        ASSERT_FALSE(loop.post([&, t, i] {
          if (next[t] != i) in_order = false;
          next[t] = i + 1;
          if (++received == long{kThreads} * kPerThread) (void)keepalive.stop();
        }));
      }
    });
  }
  loop.run();
  for (auto& th : threads) th.join();
  EXPECT_TRUE(in_order);
  EXPECT_EQ(received, long{kThreads} * kPerThread);
  keepalive_owner.reset();
  expect_empty(loop);
}

// A burst posted while the loop does not run is one batch: one wake-up, drained in one iteration.
TEST(Loop, PostBurstIsDrainedInOneIteration) {
  Loop loop;
  constexpr int kBurst = 1000;
  int ran = 0;
  std::thread poster([&] {
    for (int i = 0; i < kBurst; ++i) ASSERT_FALSE(loop.post([&] { ++ran; }));
  });
  poster.join();
  const uint64_t before = loop.metrics().iterations;
  (void)loop.run_once();  // the eventfd is readable: poll does not block
  EXPECT_EQ(ran, kBurst);
  EXPECT_EQ(loop.metrics().iterations, before + 1);
  expect_empty(loop);
}

TEST(Loop, PostToDestroyedLoopIsAnError) {
  LoopRemote remote;
  {
    Loop loop;
    remote = loop.remote();
    EXPECT_FALSE(remote.post([] {}));
  }
  EXPECT_EQ(remote.post([] {}), make_error_code(Error::loop_closed));
  EXPECT_EQ(LoopRemote{}.post([] {}), make_error_code(Error::loop_closed));
}

// An item posted without allocation runs on the loop's thread, in order with the posted functions; a
// loop gone (or going) drops it instead.
struct CountedItem final : PostedItem {
  std::vector<int>* order = nullptr;
  std::thread::id* ran_on = nullptr;
  int id = 0;
  int dropped = 0;
  void run() override {
    order->push_back(id);
    *ran_on = std::this_thread::get_id();
  }
  void drop() noexcept override { ++dropped; }
};

TEST(Loop, PostedItemRunsOnTheLoopInOrderWithPostedFunctions) {
  Loop loop;
  std::vector<int> order;
  std::thread::id ran_on;
  CountedItem item;
  item.order = &order, item.ran_on = &ran_on, item.id = 2;
  loop.add_pending_request();  // until the last function has run
  std::thread poster([&] {
    ASSERT_FALSE(loop.post([&] { order.push_back(1); }));
    ASSERT_FALSE(loop.remote().post_item(item));
    ASSERT_FALSE(loop.post([&] {
      order.push_back(3);
      loop.remove_pending_request();
    }));
  });
  loop.run();
  poster.join();
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(ran_on, std::this_thread::get_id());
  EXPECT_EQ(item.dropped, 0);
  expect_empty(loop);
}

TEST(Loop, PostedItemIsDroppedByAGoneLoop) {
  std::vector<int> order;
  std::thread::id ran_on;
  CountedItem queued, late;
  queued.order = late.order = &order;
  queued.ran_on = late.ran_on = &ran_on;
  LoopRemote remote;
  {
    Loop loop;
    remote = loop.remote();
    ASSERT_FALSE(remote.post_item(queued));  // never run: the loop is destroyed first
  }
  EXPECT_EQ(queued.dropped, 1);
  EXPECT_EQ(remote.post_item(late), make_error_code(Error::loop_closed));
  EXPECT_EQ(late.dropped, 1);
  EXPECT_EQ(LoopRemote{}.post_item(late), make_error_code(Error::loop_closed));
  EXPECT_EQ(late.dropped, 2);
  EXPECT_TRUE(order.empty());
}

// An item whose run() throws is logged like a posted function; the items after it still run.
TEST(Loop, PostedItemThatThrowsIsReported) {
  struct Throwing final : PostedItem {
    void run() override { throw std::runtime_error("item"); }
    void drop() noexcept override {}
  } throwing;
  Loop loop;
  bool after = false;
  loop.add_pending_request();
  ASSERT_FALSE(loop.post_item(throwing));
  ASSERT_FALSE(loop.post([&] {
    after = true;
    loop.remove_pending_request();
  }));
  loop.run();
  EXPECT_TRUE(after);
  EXPECT_EQ(loop.metrics().exceptions, 1u);
  expect_empty(loop);
}

TEST(Loop, CloseTwiceIsAnErrorValue) {
  Loop loop;
  int closed = 0;
  {
    Timer t(loop);
    (void)t.start(10ms, [] {});
    EXPECT_FALSE(t.close([&] { ++closed; }));
    EXPECT_EQ(t.close([&] { ++closed; }), make_error_code(Error::already_closing));
    EXPECT_EQ(t.start(1ms, [] {}), make_error_code(Error::closed));
    loop.run();
  }
  EXPECT_EQ(closed, 1);
  expect_empty(loop);
}

TEST(Loop, HandleDestroyedBeforeCloseCallbackRunsIsForgotten) {
  Loop loop;
  bool ran = false;
  {
    Timer t(loop);
    (void)t.close([&] { ran = true; });
  }
  loop.run();
  EXPECT_FALSE(ran);
  expect_empty(loop);
}

TEST(Loop, UnrefdHandleDoesNotKeepLoopAlive) {
  Loop loop;
  Timer t(loop);
  bool fired = false;
  (void)t.start(1h, [&] { fired = true; });
  t.unref();
  EXPECT_FALSE(loop.run());
  EXPECT_FALSE(fired);
  t.ref();
  EXPECT_TRUE(loop.alive());
  (void)t.stop();
  EXPECT_FALSE(loop.alive());
}

TEST(Loop, StopReturnsFromRun) {
  Loop loop;
  Timer t(loop);
  int n = 0;
  (void)t.start(
      1ms,
      [&] {
        if (++n == 3) loop.stop();
      },
      1ms);
  EXPECT_TRUE(loop.run());
  EXPECT_EQ(n, 3);
  (void)t.stop();
  EXPECT_FALSE(loop.run());
}

TEST(Loop, IoWatcherStoppedEarlierInBatchGetsNoCallback) {
  Loop loop;
  int a[2], b[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, a), 0);
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, b), 0);
  ASSERT_EQ(write(a[1], "x", 1), 1);
  ASSERT_EQ(write(b[1], "x", 1), 1);
  int calls = 0;
  std::unique_ptr<IoWatcher> wa, wb;
  // Whichever runs first destroys the other: the second must never be called.
  wa = std::make_unique<IoWatcher>(loop, a[0], [&](unsigned) {
    ++calls;
    wb.reset();
    wa->stop();
  });
  wb = std::make_unique<IoWatcher>(loop, b[0], [&](unsigned) {
    ++calls;
    wa.reset();
    wb->stop();
  });
  ASSERT_FALSE(wa->start(io::readable));
  ASSERT_FALSE(wb->start(io::readable));
  loop.run_once();
  EXPECT_EQ(calls, 1);
  wa.reset();
  wb.reset();
  for (int fd : {a[0], a[1], b[0], b[1]}) close(fd);
  expect_empty(loop);
}

TEST(Loop, UtilizationAndLag) {
  Loop loop;
  Timer t(loop);
  (void)t.start(20ms, [] {});
  loop.run();
  auto u = loop.utilization();
  EXPECT_GT(u.idle_ns, 10'000'000);  // mostly waited in poll
  EXPECT_LT(u.utilization, 0.5);
  EXPECT_GE(loop.metrics().last_lag_ns, 0);
}

}  // namespace
}  // namespace waitless
