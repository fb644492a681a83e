#include "waitless/loop/thread_pool.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <latch>
#include <memory>
#include <optional>
#include <semaphore>
#include <stdexcept>
#include <string>
#include <thread>

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
