#include "waitless/loop/coroutine_context.hpp"

#include <gtest/gtest.h>

#include <coroutine>
#include <exception>
#include <type_traits>
#include <utility>

#include "waitless/base/cancel.hpp"
#include "waitless/loop/test_support.hpp"

// The loop layer's side of awaiting, tested without Task: a minimal coroutine type whose promise does or
// does not carry the context, and an awaitable that reads what loop_of / token_of give it.
namespace waitless {
namespace {

using waitless::test::expect_empty;

struct Seen {
  Loop* loop = nullptr;
  bool can_be_cancelled = false;
  bool cancelled = false;
};

struct Probe {
  Seen& seen;
  bool await_ready() const noexcept { return false; }
  template <typename P>
  bool await_suspend(std::coroutine_handle<P> awaiting) noexcept {
    seen.loop = &detail::loop_of(awaiting);
    CancelToken token = detail::token_of(awaiting);
    seen.can_be_cancelled = token.can_be_cancelled();
    seen.cancelled = token.cancelled();
    return false;  // carry on at once
  }
  void await_resume() const noexcept {}
};

struct NoContext {};

// Starts suspended, so a test can set the context before the body runs.
template <bool kWithContext>
struct Coro {
  struct promise_type : std::conditional_t<kWithContext, detail::CoroutineContext, NoContext> {
    Coro get_return_object() noexcept {
      return Coro{std::coroutine_handle<promise_type>::from_promise(*this)};
    }
    std::suspend_always initial_suspend() noexcept { return {}; }
    std::suspend_always final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    void unhandled_exception() noexcept { std::terminate(); }
  };
  explicit Coro(std::coroutine_handle<promise_type> h) noexcept : handle(h) {}
  Coro(Coro&& o) noexcept : handle(std::exchange(o.handle, {})) {}
  Coro& operator=(Coro&&) = delete;
  ~Coro() {
    if (handle) handle.destroy();
  }
  std::coroutine_handle<promise_type> handle;
};

template <bool kWithContext>
Coro<kWithContext> probe(Seen& seen) {
  co_await Probe{seen};
}

TEST(CoroutineContext, CarriedContextGivesItsLoopAndToken) {
  Loop created_on, elsewhere;
  Seen seen;
  CancelSource source;
  {
    Loop::Scope scope(created_on);
    auto coro = probe<true>(seen);
    EXPECT_EQ(coro.handle.promise().loop, &created_on);  // the loop running where it was created
    coro.handle.promise().token = source.token();
    source.cancel();
    Loop::Scope other(elsewhere);  // resumed while another loop runs: it still answers its own
    coro.handle.resume();
    EXPECT_TRUE(coro.handle.done());
  }
  EXPECT_EQ(seen.loop, &created_on);
  EXPECT_TRUE(seen.can_be_cancelled);
  EXPECT_TRUE(seen.cancelled);
  expect_empty(created_on);
  expect_empty(elsewhere);
}

TEST(CoroutineContext, ForeignCoroutineGetsTheLoopHereAndANeverCancelledToken) {
  Loop loop;
  Seen seen;
  auto coro = probe<false>(seen);
  {
    Loop::Scope scope(loop);
    coro.handle.resume();
  }
  EXPECT_TRUE(coro.handle.done());
  EXPECT_EQ(seen.loop, &loop);
  EXPECT_FALSE(seen.can_be_cancelled);
  EXPECT_FALSE(seen.cancelled);
  expect_empty(loop);
}

}  // namespace
}  // namespace waitless
