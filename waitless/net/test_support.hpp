// Helpers shared by the net tests (header only; not part of the library).
#pragma once
#include <gtest/gtest.h>

#include "waitless/async/task.hpp"
#include "waitless/loop/loop.hpp"
#include "waitless/loop/test_support.hpp"
#include "waitless/loop/timer.hpp"

namespace waitless::net::test {

using waitless::test::expect_empty;

// run(task, loop), but safe while other handles (a listener, a test server) keep the loop alive: run()
// checks for completion only between iterations, so a task that finishes in the timers or pending phase
// would leave run_once() blocked in poll. An immediate queued at completion keeps that poll from blocking;
// if it has not run when run() returns, one non-blocking iteration consumes it, so the loop is left empty.
template <typename T>
T run_task(Task<T> task, Loop& loop) {
  bool queued = false, ran = false;
  auto wrap = [](Task<T> t, Loop& l, bool& queued, bool& ran) -> Task<T> {
    struct Wake {
      Loop& loop;
      bool& queued;
      bool& ran;
      ~Wake() {
        queued = true;
        loop.set_immediate([&r = ran] { r = true; });
      }
    } wake{l, queued, ran};
    co_return co_await std::move(t);
  };
  struct Flush {
    Loop& loop;
    bool& queued;
    bool& ran;
    ~Flush() {
      if (queued && !ran) loop.run_nowait();
    }
  } flush{loop, queued, ran};
  // As run() does for its task: bind it to `loop` even if it was created outside a running loop.
  if (task.handle()) task.handle().promise().loop = &loop;
  return run(wrap(std::move(task), loop, queued, ran), loop);
}

// Runs the loop until `done` (checked after each iteration) or a 5 s guard timer fires, so a failing test
// cannot hang. Returns done().
template <typename Pred>
bool run_until(Loop& loop, Pred done) {
  Timer guard(loop);
  bool timed_out = false;
  (void)guard.start(std::chrono::seconds(5), [&] {
    timed_out = true;
    loop.stop();
  });
  while (!done() && !timed_out && loop.run_once()) {
  }
  return done();
}

// Runs the loop for `d` while other handles keep it alive; returns the iterations it took.
inline uint64_t run_for(Loop& loop, Duration d) {
  uint64_t before = loop.metrics().iterations;
  Timer t(loop);
  (void)t.start(d, [&] { loop.stop(); });
  loop.run();
  return loop.metrics().iterations - before;
}

}  // namespace waitless::net::test
