#include "waitless/loop/thread_pool.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "waitless/loop/test_support.hpp"
#include "waitless/loop/timer.hpp"

namespace waitless {
namespace {

using waitless::test::expect_empty;

TEST(ThreadPool, SubmitCallsBackOnTheLoop) {
  Loop loop;
  ThreadPool pool("submit", 1);
  std::optional<Result<int>> value, thrown;
  std::exception_ptr exception;
  ASSERT_FALSE(pool.submit(
      loop, [] { return 3; }, [&](Result<int> r, std::exception_ptr) { value = r; }));
  ASSERT_FALSE(pool.submit(
      loop, []() -> int { throw std::logic_error("bad"); },
      [&](Result<int> r, std::exception_ptr e) {
        thrown = r;
        exception = e;
      }));
  EXPECT_EQ(loop.pending_requests(), 2u);
  loop.run();
  EXPECT_EQ(value->value(), 3);
  ASSERT_TRUE(thrown.has_value());
  EXPECT_FALSE(thrown->ok());
  ASSERT_TRUE(exception);
  EXPECT_THROW(std::rethrow_exception(exception), std::logic_error);
  expect_empty(loop);
}

// The bound holds for the callback face too: past threads + max_queue outstanding jobs, submit() answers
// Error::queue_full at once and on_done is never called for that job.
TEST(ThreadPool, SubmitPastTheBoundIsRefusedAtOnce) {
  Loop loop;
  ThreadPool pool("bound", 1, 1);
  test::ThreadHolder holder;
  int done = 0;
  auto on_done = [&](Result<int> r, std::exception_ptr) {
    EXPECT_TRUE(r.ok());
    ++done;
  };
  ASSERT_FALSE(pool.submit(loop, holder.job(1), on_done));
  holder.wait_until_running();  // the only thread is busy
  ASSERT_FALSE(pool.submit(
      loop, [] { return 2; }, on_done));  // the one queue slot
  EXPECT_EQ(pool.submit(
                loop, [] { return 3; }, on_done),
            Error::queue_full);
  ThreadPoolMetrics m = pool.metrics();
  EXPECT_EQ(m.busy_threads, 1u);
  EXPECT_EQ(m.queue_depth, 1u);
  EXPECT_EQ(m.rejected, 1u);
  EXPECT_EQ(loop.pending_requests(), 2u);  // the refused job holds nothing
  holder.let_go();
  loop.run();
  EXPECT_EQ(done, 2);
  EXPECT_EQ(pool.metrics().completed, 2u);
  expect_empty(loop);
}

// A pool destroyed with jobs still queued completes them with Error::closed on their loop; the running
// one finishes and is delivered.
TEST(ThreadPool, DestroyingThePoolClosesQueuedSubmissions) {
  Loop loop;
  auto* pool = new ThreadPool("close", 1);
  test::ThreadHolder holder;
  std::optional<Result<int>> running, queued;
  std::atomic<bool> queued_ran{false};
  ASSERT_FALSE(pool->submit(loop, holder.job(1), [&](Result<int> r, std::exception_ptr) { running = r; }));
  holder.wait_until_running();
  ASSERT_FALSE(pool->submit(
      loop,
      [&] {
        queued_ran = true;
        return 2;
      },
      [&](Result<int> r, std::exception_ptr) { queued = r; }));
  std::thread destroyer([pool] { delete pool; });
  // The destructor takes the queue first, then joins the busy worker; members stay usable until it returns.
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (pool->metrics().queue_depth != 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  EXPECT_EQ(pool->metrics().queue_depth, 0u);
  holder.let_go();
  destroyer.join();
  loop.run();
  ASSERT_TRUE(running.has_value());
  EXPECT_EQ(running->value(), 1);
  ASSERT_TRUE(queued.has_value());
  EXPECT_EQ(queued->error(), make_error_code(Error::closed));
  EXPECT_FALSE(queued_ran);
  expect_empty(loop);
}

// Many loops on their own threads share one pool, each submitting a burst: every completion comes back to
// the loop that submitted it, none lost or doubled, and the pool's counts add up.
TEST(ThreadPool, ManyLoopsOnManyThreadsShareOnePool) {
  constexpr int kLoops = 4, kJobs = 20'000;
  ThreadPool pool("shared", 3, 1 << 20);
  std::atomic<long> total{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kLoops; ++t) {
    threads.emplace_back([&] {
      Loop loop;
      const std::thread::id self = std::this_thread::get_id();
      long done = 0, wrong_thread = 0;
      for (int i = 0; i < kJobs; ++i) {
        ASSERT_FALSE(pool.submit(
            loop, [i] { return i; },
            [&, i](Result<int> r, std::exception_ptr) {
              if (r.ok() && r.value() == i) ++done;
              if (std::this_thread::get_id() != self) ++wrong_thread;
            }));
      }
      loop.run();
      EXPECT_EQ(done, kJobs);
      EXPECT_EQ(wrong_thread, 0);
      expect_empty(loop);
      total += done;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(total.load(), long{kLoops} * kJobs);
  EXPECT_EQ(pool.metrics().completed, uint64_t{kLoops} * kJobs);
}

// Runs a chain of `length` empty jobs on `pool`, each submitted by the previous one's completion, and
// returns how many completed.
int run_chain(Loop& loop, ThreadPool& pool, int length) {
  int done = 0;
  std::function<void()> next = [&] {
    ASSERT_FALSE(pool.submit(
        loop, [] {},
        [&](Result<void> r, std::exception_ptr) {
          ASSERT_TRUE(r.ok());
          if (++done < length) next();
        }));
  };
  next();
  loop.run();
  return done;
}

// Each completion submits the next job: every completion arrives while the loop is between draining the
// previous one and going back to sleep (the window where a wake-up could be lost), and none is.
TEST(ThreadPool, ChainedJobsAreNotLostWhileTheLoopWakes) {
  constexpr int kChain = 20'000;
  Loop loop;
  ThreadPool pool("chain", 2);
  EXPECT_EQ(run_chain(loop, pool, kChain), kChain);
  expect_empty(loop);
}

// The same chain while another thread keeps taking the pool's lock (metrics()): a submission that finds
// the lock held leaves its job in the inbox for the holder, whose release must absorb it and wake a parked
// worker. A lost one would stall the chain for good (the test would hang).
TEST(ThreadPool, ChainedJobsAreNotLostWhileAnotherThreadHoldsTheLock) {
  constexpr int kChain = 20'000;
  Loop loop;
  ThreadPool pool("chain", 2);
  std::atomic<bool> stop{false};
  std::thread prober([&] {
    while (!stop.load(std::memory_order_relaxed)) (void)pool.metrics();
  });
  EXPECT_EQ(run_chain(loop, pool, kChain), kChain);
  stop = true;
  prober.join();
  EXPECT_EQ(pool.metrics().completed, uint64_t{kChain});
  EXPECT_EQ(pool.metrics().queue_depth, 0u);
  expect_empty(loop);
}

// A job that finishes after its loop is gone is dropped (its on_done and what it owns freed, unrun), not
// leaked and not run on a dead loop.
TEST(ThreadPool, JobFinishingAfterItsLoopIsGoneIsDropped) {
  auto pool = std::make_unique<ThreadPool>("orphan", 1);
  test::ThreadHolder holder;
  auto owned = std::make_shared<int>(0);
  bool called = false;
  {
    Loop loop;
    ASSERT_FALSE(pool->submit(loop, holder.job(),
                              [&called, owned](Result<void>, std::exception_ptr) { called = true; }));
    holder.wait_until_running();
  }
  holder.let_go();
  EXPECT_EQ(pool->metrics().submitted, 1u);
  pool.reset();                     // joins the worker, which has posted the job to the closed loop by then
  EXPECT_EQ(owned.use_count(), 1);  // on_done's copy went with the job
  EXPECT_FALSE(called);
}

// Queue wait is measured for a job that finds every thread busy; one that finds a thread free is not, and
// sets the last wait back to 0 (the pool is no longer saturated), leaving the worst one.
TEST(ThreadPool, QueueWaitIsMeasuredWhenEveryThreadIsBusy) {
  Loop loop;
  ThreadPool pool("wait", 1);
  test::ThreadHolder holder;
  int done = 0;
  auto on_done = [&](Result<void> r, std::exception_ptr) {
    EXPECT_TRUE(r.ok());
    ++done;
  };
  ASSERT_FALSE(pool.submit(loop, holder.job(), on_done));
  holder.wait_until_running();
  ASSERT_FALSE(pool.submit(
      loop, [] {}, on_done));  // waits for the busy thread: measured
  std::this_thread::sleep_for(5ms);
  holder.let_go();
  loop.run();
  ThreadPoolMetrics m = pool.metrics();
  EXPECT_GE(m.max_queue_wait_ns, 5'000'000);
  EXPECT_EQ(m.last_queue_wait_ns, m.max_queue_wait_ns);
  ASSERT_FALSE(pool.submit(
      loop, [] {}, on_done));  // the thread is free: not measured
  loop.run();
  EXPECT_EQ(done, 3);
  m = pool.metrics();
  EXPECT_EQ(m.last_queue_wait_ns, 0);
  EXPECT_GE(m.max_queue_wait_ns, 5'000'000);
  expect_empty(loop);
}

TEST(ThreadPool, DefaultPoolsHaveSeparateSizes) {
  EXPECT_EQ(pools::fs().name(), "fs");
  EXPECT_EQ(pools::fs().threads(), 4u);
  EXPECT_EQ(pools::cpu().threads(), std::max(1u, std::thread::hardware_concurrency()));
  EXPECT_EQ(pools::blocking().threads(), 4u);
  EXPECT_EQ(pools::blocking().max_queue(), ThreadPool::kDefaultMaxQueue);
  EXPECT_NE(&pools::fs(), &pools::cpu());
  EXPECT_NE(&pools::fs(), &pools::blocking());
}

}  // namespace
}  // namespace waitless
