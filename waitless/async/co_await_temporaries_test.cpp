// Temporaries written inside a co_await expression: a lambda with captures handed to a pool's run(), and a
// braced aggregate handed to a task. This is the natural way to write them (the README's example does), and
// GCC 12 miscompiles both: the temporary is destroyed twice (a double free, a shared_ptr count that drops
// twice). The default toolchain (clang 16) compiles them correctly; these tests hold it to that, and fail on
// a compiler with the bug: every object counts its constructions and destructions, and a destructor that
// runs on an object already destroyed is recorded (and, for the strings and shared_ptrs, reported by ASan).
#include <gtest/gtest.h>

#include <cstddef>
#include <memory>
#include <string>
#include <utility>

#include "waitless/async/pool_run.hpp"
#include "waitless/async/sleep.hpp"
#include "waitless/async/task.hpp"
#include "waitless/loop/loop.hpp"
#include "waitless/loop/test_support.hpp"
#include "waitless/loop/thread_pool.hpp"

namespace waitless {
namespace {

using test::expect_empty;

struct Counts {
  int constructed = 0;
  int destroyed = 0;
  int destroyed_twice = 0;
};

// Counts itself into a Counts. Copies and moves are constructions too; a moved-from object still gets
// destroyed, so a correct program ends with constructed == destroyed and no object destroyed twice.
// The counters are touched from the pool's worker and from the loop, never at once: the job runs while the
// awaiting task is suspended, and its completion reaches the loop through Loop::post (a happens-before).
class Tracked {
 public:
  Tracked(Counts* counts, std::string text) : counts_(counts), text_(std::move(text)) {
    ++counts_->constructed;
  }
  Tracked(const Tracked& other) : counts_(other.counts_), text_(other.text_) { ++counts_->constructed; }
  Tracked(Tracked&& other) noexcept : counts_(other.counts_), text_(std::move(other.text_)) {
    ++counts_->constructed;
  }
  Tracked& operator=(const Tracked&) = delete;
  Tracked& operator=(Tracked&&) = delete;
  ~Tracked() {
    if (state_ != kAlive) {
      ++counts_->destroyed_twice;
      return;
    }
    state_ = kDestroyed;
    ++counts_->destroyed;
  }

  const std::string& text() const { return text_; }

 private:
  static constexpr unsigned kAlive = 0xA11CE;
  static constexpr unsigned kDestroyed = 0xDEAD;
  Counts* counts_;
  std::string text_;
  unsigned state_ = kAlive;
};

void expect_each_destroyed_once(const Counts& counts) {
  EXPECT_GT(counts.constructed, 0);
  EXPECT_EQ(counts.destroyed_twice, 0);
  EXPECT_EQ(counts.destroyed, counts.constructed);
}

TEST(CoAwaitTemporaries, CapturingLambdaInsideCoAwaitOfPoolRun) {
  Loop loop;
  ThreadPool pool("temporaries", 1);
  Counts counts;
  auto owner = std::make_shared<int>(41);
  auto task = [&]() -> Task<std::size_t> {
    Tracked tracked(&counts, std::string(64, 't'));
    std::string body(1000, 'b');
    // Written the natural way: the closure, with captures that own heap memory, is a temporary of the
    // co_await expression.
    Result<std::size_t> n = co_await pool.run([tracked, body, shared = owner] {
      return tracked.text().size() + body.size() + std::size_t(*shared);
    });
    Result<std::string> s =
        co_await pool.run([n = n.value(), t = std::string(32, 's')] { return t + std::to_string(n); });
    co_return n.value() + s.value().size();
  };
  // 64 + 1000 + 41 = 1105; "sss…s" (32) + "1105" (4) = 36.
  EXPECT_EQ(run(task(), loop), 1105u + 36u);
  expect_each_destroyed_once(counts);
  EXPECT_EQ(owner.use_count(), 1);  // the captured copy was released exactly once
  expect_empty(loop);
}

// The aggregate a call takes by value, as http::Client::request takes a ClientRequest.
struct Order {
  std::string url;
  Tracked tracked;
  std::shared_ptr<int> shared;
};

Task<std::size_t> place(Order order) {
  (void)co_await sleep(Duration::zero());  // suspends: the argument must outlive the caller's expression
  co_return order.url.size() + order.tracked.text().size() + std::size_t(*order.shared);
}

struct Shop {
  Task<std::size_t> place(Order order) { return waitless::place(std::move(order)); }
};

TEST(CoAwaitTemporaries, BracedTemporaryInsideCoAwait) {
  Loop loop;
  Counts counts;
  auto owner = std::make_shared<int>(3);
  Shop shop;
  auto task = [&]() -> Task<std::size_t> {
    std::string url(200, 'u');
    // A braced temporary with destructors, written inside the co_await, to a free function and to a member.
    std::size_t a = co_await place(Order{.url = url, .tracked = Tracked(&counts, "ab"), .shared = owner});
    std::size_t b = co_await shop.place({.url = url, .tracked = Tracked(&counts, "abc"), .shared = owner});
    co_return a + b;
  };
  EXPECT_EQ(run(task(), loop), (200u + 2u + 3u) + (200u + 3u + 3u));
  expect_each_destroyed_once(counts);
  EXPECT_EQ(owner.use_count(), 1);
  expect_empty(loop);
}

}  // namespace
}  // namespace waitless
