#include "waitless/async/pool_run.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <latch>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>

#include "waitless/async/task.hpp"
#include "waitless/loop/test_support.hpp"
#include "waitless/loop/thread_pool.hpp"
#include "waitless/loop/timer.hpp"

namespace waitless {
namespace {

using waitless::test::expect_empty;

// Awaits fn on the pool and stores the result, so several awaits can be in flight from spawned tasks.
template <typename T, typename F>
Task<> await_into(ThreadPool& pool, F fn, std::optional<Result<T>>& out) {
  out.emplace(co_await pool.run(std::move(fn)));
}

TEST(PoolRun, RoundTripResumesOnTheSubmittingLoop) {
  Loop loop;
  ThreadPool pool("rt", 2);
  auto task = [&]() -> Task<std::string> {
    std::thread::id loop_thread = std::this_thread::get_id();
    Result<std::thread::id> worker = co_await pool.run([] { return std::this_thread::get_id(); });
    EXPECT_TRUE(worker.ok());
    EXPECT_NE(*worker, loop_thread);
    EXPECT_EQ(std::this_thread::get_id(), loop_thread);  // resumed on the loop, not the worker
    EXPECT_EQ(Loop::running(), &loop);
    Result<void> nothing = co_await pool.run([] {});
    EXPECT_TRUE(nothing.ok());
    Result<std::string> s = co_await pool.run([] { return std::string(1000, 'x') + "!"; });
    co_return std::move(s).value();
  };
  std::string s = run(task(), loop);
  EXPECT_EQ(s.size(), 1001u);
  EXPECT_EQ(s.back(), '!');
  expect_empty(loop);
}

// The GCC 12 workaround of pool_run.hpp: values go in as arguments, owned by the job, counted here so a
// double destruction or a leak shows as a wrong count (and as an ASan report).
TEST(PoolRun, ArgumentsAreOwnedByTheJob) {
  struct Counted {
    explicit Counted(std::shared_ptr<int> c) : count(std::move(c)) {}
    std::shared_ptr<int> count;
  };
  Loop loop;
  ThreadPool pool("args", 1);
  auto owner = std::make_shared<int>(0);
  auto task = [&]() -> Task<> {
    Result<std::size_t> n =
        co_await pool.run([](std::string s, const std::string& suffix) { return s.size() + suffix.size(); },
                          std::string(100, 'a'), std::string("bc"));
    EXPECT_EQ(n.value(), 102u);
    Result<long> uses = co_await pool.run([](Counted c) { return c.count.use_count(); }, Counted(owner));
    EXPECT_GE(uses.value(), 2);
  };
  run(task(), loop);
  EXPECT_EQ(owner.use_count(), 1);  // every copy released exactly once
  expect_empty(loop);
}

TEST(PoolRun, ErrorValuesAreNotWrappedTwice) {
  Loop loop;
  ThreadPool pool("flat", 1);
  auto task = [&]() -> Task<> {
    Result<int> ok = co_await pool.run([]() -> Result<int> { return 7; });
    EXPECT_EQ(ok.value(), 7);
    Result<int> failed = co_await pool.run([]() -> Result<int> { return errno_code(ENOENT); });
    EXPECT_EQ(failed.error(), errno_code(ENOENT));
    Result<void> status = co_await pool.run([] { return errno_code(EIO); });
    EXPECT_EQ(status.error(), errno_code(EIO));
    Result<void> fine = co_await pool.run([] { return std::error_code{}; });
    EXPECT_TRUE(fine.ok());
  };
  run(task(), loop);
  expect_empty(loop);
}

TEST(PoolRun, ExceptionIsRethrownAtTheAwait) {
  Loop loop;
  ThreadPool pool("exc", 1);
  auto task = [&]() -> Task<std::string> {
    try {
      (void)co_await pool.run([]() -> int { throw std::runtime_error("worker failed"); });
    } catch (const std::runtime_error& e) {
      co_return e.what();
    }
    co_return "no exception";
  };
  EXPECT_EQ(run(task(), loop), "worker failed");
  EXPECT_EQ(pool.metrics().completed, 1u);
  expect_empty(loop);
}

TEST(PoolRun, FullQueueAnswersAtOnce) {
  Loop loop;
  ThreadPool pool("sat", 1, 2);
  test::ThreadHolder holder;
  std::optional<Result<int>> r1, r2, r3, r4;
  {
    Loop::Scope scope(loop);
    spawn(await_into<int>(pool, holder.job(1), r1));
    holder.wait_until_running();  // job 1 holds the only thread
    spawn(await_into<int>(
        pool, [] { return 2; }, r2));
    spawn(await_into<int>(
        pool, [] { return 3; }, r3));
    ThreadPoolMetrics m = pool.metrics();
    EXPECT_EQ(m.busy_threads, 1u);
    EXPECT_EQ(m.queue_depth, 2u);
    // The fourth is refused inside spawn(): the task ran to its end without the loop turning once.
    auto before = std::chrono::steady_clock::now();
    spawn(await_into<int>(
        pool, [] { return 4; }, r4));
    ASSERT_TRUE(r4.has_value());
    EXPECT_EQ(r4->error(), make_error_code(Error::queue_full));
    EXPECT_LT(std::chrono::steady_clock::now() - before, 100ms);
    EXPECT_EQ(pool.metrics().rejected, 1u);
  }
  EXPECT_EQ(loop.pending_requests(), 3u);
  holder.let_go();
  loop.run();
  ASSERT_TRUE(r1 && r2 && r3);
  EXPECT_EQ(r1->value(), 1);
  EXPECT_EQ(r2->value(), 2);
  EXPECT_EQ(r3->value(), 3);
  EXPECT_EQ(pool.metrics().completed, 3u);
  expect_empty(loop);
}

TEST(PoolRun, CancellingRemovesQueuedWork) {
  Loop loop;
  ThreadPool pool("cancel", 1, 8);
  test::ThreadHolder holder;
  std::atomic<bool> second_ran{false};
  std::optional<Result<int>> r1, r2;
  CancelSource source;
  {
    Loop::Scope scope(loop);
    spawn(await_into<int>(pool, holder.job(1), r1));
    holder.wait_until_running();
    spawn(await_into<int>(
              pool,
              [&] {
                second_ran = true;
                return 2;
              },
              r2),
          source.token());
    EXPECT_EQ(pool.metrics().queue_depth, 1u);
    source.cancel();
    EXPECT_EQ(pool.metrics().queue_depth, 0u);  // removed from the queue at once
    EXPECT_EQ(pool.metrics().cancelled, 1u);
  }
  EXPECT_EQ(loop.pending_requests(), 1u);  // only the running job holds the loop now
  loop.run_nowait();                       // the cancelled task resumes as a microtask
  ASSERT_TRUE(r2.has_value());
  EXPECT_EQ(r2->error(), make_error_code(Error::cancelled));
  holder.let_go();
  loop.run();
  EXPECT_EQ(r1->value(), 1);
  EXPECT_FALSE(second_ran);
  expect_empty(loop);
}

TEST(PoolRun, CancellingRunningWorkDeliversItsResult) {
  Loop loop;
  ThreadPool pool("running", 1);
  test::ThreadHolder holder;
  std::optional<Result<int>> r;
  CancelSource source;
  {
    Loop::Scope scope(loop);
    spawn(await_into<int>(pool, holder.job(5), r), source.token());
  }
  holder.wait_until_running();
  source.cancel();
  loop.run_nowait();
  EXPECT_FALSE(r.has_value());  // still waiting for the running job
  holder.let_go();
  loop.run();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->value(), 5);
  expect_empty(loop);
}

TEST(PoolRun, AlreadyCancelledTokenNeverQueues) {
  Loop loop;
  ThreadPool pool("pre", 1);
  CancelSource source;
  source.cancel();
  bool ran = false;
  auto task = [&]() -> Task<std::error_code> { co_return (co_await pool.run([&] { ran = true; })).error(); };
  EXPECT_EQ(run(task().with_token(source.token()), loop), make_error_code(Error::cancelled));
  EXPECT_FALSE(ran);
  EXPECT_EQ(pool.metrics().submitted, 0u);
  expect_empty(loop);
}

TEST(PoolRun, DestroyingTheAwaitingTaskLeavesTheQueue) {
  Loop loop;
  ThreadPool pool("destroy", 1);
  test::ThreadHolder holder;
  std::optional<Result<int>> r1, r2;
  {
    Loop::Scope scope(loop);
    spawn(await_into<int>(pool, holder.job(1), r1));
    holder.wait_until_running();
    Task<> queued = await_into<int>(
        pool, [] { return 2; }, r2);
    auto h = queued.handle();
    h.promise().started = true;
    h.promise().continuation = std::noop_coroutine();
    h.resume();  // now suspended, its job queued
    EXPECT_EQ(loop.pending_requests(), 2u);
  }  // destroyed mid-wait
  EXPECT_EQ(loop.pending_requests(), 1u);
  EXPECT_EQ(pool.metrics().cancelled, 1u);
  holder.let_go();
  loop.run();
  EXPECT_EQ(r1->value(), 1);
  EXPECT_FALSE(r2.has_value());
  expect_empty(loop);
}

TEST(PoolRun, DestroyingThePoolClosesQueuedWork) {
  Loop loop;
  auto* pool = new ThreadPool("close", 1);
  test::ThreadHolder holder;
  std::optional<Result<int>> r1, r2;
  {
    Loop::Scope scope(loop);
    spawn(await_into<int>(*pool, holder.job(1), r1));
    holder.wait_until_running();
    spawn(await_into<int>(
        *pool, [] { return 2; }, r2));
  }
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
  EXPECT_EQ(r1->value(), 1);  // was running: delivered
  ASSERT_TRUE(r2.has_value());
  EXPECT_EQ(r2->error(), make_error_code(Error::closed));
  expect_empty(loop);
}

TEST(PoolRun, FsPoolIsNotStarvedBySaturatedCpuPool) {
  Loop loop;
  ThreadPool& cpu = pools::cpu();
  std::latch release(1);
  std::atomic<bool> released{false};
  std::size_t slow_jobs = cpu.threads() + 2;  // every cpu thread busy and more waiting
  std::size_t slow_done = 0;
  std::optional<Result<int>> fast;
  bool fast_before_release = false;
  {
    Timer fallback(loop);  // bounds the test if the pools did share threads
    (void)fallback.start(5s, [&] {
      released = true;
      release.count_down();
    });
    auto task = [&]() -> Task<> {
      for (std::size_t i = 0; i < slow_jobs; ++i) {
        EXPECT_FALSE(cpu.submit(
            loop, [&] { release.wait(); }, [&](Result<void>, std::exception_ptr) { ++slow_done; }));
      }
      auto started = std::chrono::steady_clock::now();
      fast = co_await pools::fs().run([] { return 42; });
      fast_before_release = !released;
      EXPECT_LT(std::chrono::steady_clock::now() - started, 1s);
      EXPECT_EQ(slow_done, 0u);
      released = true;
      release.count_down();
      fallback.stop();
    };
    run(task(), loop);
    loop.run();
  }
  EXPECT_TRUE(fast_before_release);
  EXPECT_EQ(fast->value(), 42);
  EXPECT_EQ(slow_done, slow_jobs);
  expect_empty(loop);
}

TEST(PoolRun, MetricsReportQueueWaitAndCounts) {
  Loop loop;
  ThreadPool pool("metrics", 1, 8);
  std::latch release(1);
  std::optional<Result<int>> r1, r2;
  int64_t held_ns = 0;
  {
    Timer timer(loop);
    Loop::Scope scope(loop);
    spawn(await_into<int>(
        pool,
        [&] {
          release.wait();
          return 1;
        },
        r1));
    spawn(await_into<int>(
        pool, [] { return 2; }, r2));
    // Measured from after job 2 was queued until job 1 is released: job 2 waited at least that long.
    auto held_from = std::chrono::steady_clock::now();
    loop.update_time();  // the timer counts from the loop's cached clock
    (void)timer.start(30ms, [&] {
      held_ns = (std::chrono::steady_clock::now() - held_from).count();
      release.count_down();
    });
    loop.run();
  }
  ThreadPoolMetrics m = pool.metrics();
  EXPECT_EQ(m.threads, 1u);
  EXPECT_EQ(m.max_queue, 8u);
  EXPECT_EQ(m.submitted, 2u);
  EXPECT_EQ(m.completed, 2u);
  EXPECT_EQ(m.queue_depth, 0u);
  EXPECT_EQ(m.busy_threads, 0u);
  EXPECT_EQ(m.rejected, 0u);
  // Job 2 waited in the queue for as long as job 1 held the thread.
  EXPECT_GE(held_ns, 30'000'000);
  EXPECT_GE(m.max_queue_wait_ns, held_ns);
  EXPECT_LE(m.max_queue_wait_ns, held_ns + 1'000'000'000);
  EXPECT_EQ(m.last_queue_wait_ns, m.max_queue_wait_ns);
  expect_empty(loop);
}

TEST(PoolRun, JobsPostToALoopThatKeepsRunning) {
  Loop loop;
  ThreadPool pool("post", 2);
  constexpr int kPosts = 1000;
  int received = 0;
  auto task = [&]() -> Task<int> {
    LoopRemote remote = loop.remote();
    // Named before the co_await: see the GCC 12 note in pool_run.hpp.
    auto job = [remote, &received] {
      for (int i = 0; i < kPosts; ++i) (void)remote.post([&received] { ++received; });
      return kPosts;
    };
    Result<int> r = co_await pool.run(std::move(job));
    // Posts from one thread arrive in order, and the completion was posted after them.
    EXPECT_EQ(received, kPosts);
    co_return r.value();
  };
  EXPECT_EQ(run(task(), loop), kPosts);
  expect_empty(loop);
}

}  // namespace
}  // namespace waitless
