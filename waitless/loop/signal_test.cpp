#include "waitless/loop/signal.hpp"

#include <gtest/gtest.h>
#include <pthread.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <future>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "waitless/loop/test_support.hpp"
#include "waitless/loop/timer.hpp"

namespace waitless {
namespace {

using waitless::test::expect_empty;

// Fails the test and stops the loop if it is still running after `limit`: a lost signal ends the test
// instead of hanging it. Unref'd, so it never keeps a loop alive by itself.
class Deadline {
 public:
  explicit Deadline(Loop& loop, Duration limit = 5s) : timer_(loop) {
    (void)timer_.start(limit, [&loop] {
      ADD_FAILURE() << "deadline passed";
      loop.stop();
    });
    timer_.unref();
  }

 private:
  Timer timer_;
};

bool blocked_in_this_thread(int signo) {
  sigset_t cur;
  pthread_sigmask(SIG_BLOCK, nullptr, &cur);
  return sigismember(&cur, signo) == 1;
}

// raise() sends to the calling thread, so these tests hold in a process with other threads (pools started
// by other tests). A process-directed kill() could go to such a thread; that case runs in a forked child.

TEST(Signal, RaiseIsDeliveredOnTheLoop) {
  Loop loop;
  std::vector<int> got;
  {
    Signal sig(loop);
    ASSERT_FALSE(blocked_in_this_thread(SIGUSR1));
    ASSERT_FALSE(sig.start(SIGUSR1, [&](int signo) {
      got.push_back(signo);
      (void)sig.stop();
    }));
    EXPECT_EQ(sig.signo(), SIGUSR1);
    EXPECT_TRUE(blocked_in_this_thread(SIGUSR1));
    ASSERT_EQ(raise(SIGUSR1), 0);
    EXPECT_TRUE(got.empty());  // not from the signal's context: only once the loop reads it
    Deadline deadline(loop);
    EXPECT_FALSE(loop.run());
    EXPECT_EQ(sig.signo(), 0);
  }
  EXPECT_EQ(got, std::vector<int>{SIGUSR1});
  EXPECT_FALSE(blocked_in_this_thread(SIGUSR1));  // the mask is restored with the last handle
  expect_empty(loop);
}

TEST(Signal, EveryHandleForTheSignalIsCalledOnce) {
  Loop loop;
  std::string order;
  {
    Signal a(loop), b(loop), other(loop);
    ASSERT_FALSE(a.start(SIGUSR2, [&](int) {
      order += "a,";
      (void)a.stop();
    }));
    ASSERT_FALSE(b.start(SIGUSR2, [&](int) {
      order += "b,";
      (void)b.stop();
      (void)other.stop();
    }));
    ASSERT_FALSE(other.start(SIGUSR1, [&](int) { order += "other,"; }));
    ASSERT_EQ(raise(SIGUSR2), 0);
    Deadline deadline(loop);
    loop.run();
  }
  EXPECT_EQ(order, "a,b,");
  EXPECT_FALSE(blocked_in_this_thread(SIGUSR2));
  EXPECT_FALSE(blocked_in_this_thread(SIGUSR1));
  expect_empty(loop);
}

// The loop's signalfd watcher is internal: handle_count() reports the Signal handles users made, only.
TEST(Signal, HandleCountShowsOnlyTheSignalHandles) {
  Loop loop;
  {
    Signal a(loop), b(loop);
    ASSERT_FALSE(a.start(SIGUSR1, [](int) {}));
    EXPECT_EQ(loop.handle_count(), 2u);  // a (started) and b (not started), not the signalfd watcher
    ASSERT_FALSE(b.start(SIGUSR2, [](int) {}));
    EXPECT_EQ(loop.handle_count(), 2u);
    EXPECT_FALSE(a.stop());
    EXPECT_FALSE(b.stop());
  }
  expect_empty(loop);
}

TEST(Signal, StoppedHandleIsNotCalled) {
  Loop loop;
  int a_calls = 0, b_calls = 0;
  {
    Signal a(loop), b(loop);
    ASSERT_FALSE(a.start(SIGUSR1, [&](int) { ++a_calls; }));
    ASSERT_FALSE(b.start(SIGUSR1, [&](int) {
      ++b_calls;
      (void)b.stop();
    }));
    EXPECT_FALSE(a.stop());
    EXPECT_EQ(a.stop(), Error::not_started);
    ASSERT_EQ(raise(SIGUSR1), 0);
    Deadline deadline(loop);
    loop.run();
  }
  EXPECT_EQ(a_calls, 0);
  EXPECT_EQ(b_calls, 1);
  expect_empty(loop);
}

// The signal arrives, then its only handle stops before the loop reads it: it is discarded, not delivered
// with its default action (which would kill this test binary), and the mask is restored.
TEST(Signal, PendingSignalIsDiscardedWhenTheLastHandleStops) {
  Loop loop;
  int calls = 0;
  {
    Signal sig(loop);
    ASSERT_FALSE(sig.start(SIGUSR1, [&](int) { ++calls; }));
    ASSERT_EQ(raise(SIGUSR1), 0);
    EXPECT_FALSE(sig.stop());
  }
  EXPECT_FALSE(loop.run());
  EXPECT_EQ(calls, 0);
  EXPECT_FALSE(blocked_in_this_thread(SIGUSR1));
  sigset_t pending;
  sigpending(&pending);
  EXPECT_EQ(sigismember(&pending, SIGUSR1), 0);
  expect_empty(loop);
}

TEST(Signal, SignalBlockedByTheApplicationStaysBlocked) {
  Loop loop;
  sigset_t usr2, old;
  sigemptyset(&usr2);
  sigaddset(&usr2, SIGUSR2);
  pthread_sigmask(SIG_BLOCK, &usr2, &old);
  int calls = 0;
  {
    Signal sig(loop);
    ASSERT_FALSE(sig.start(SIGUSR2, [&](int) {
      ++calls;
      (void)sig.stop();
    }));
    ASSERT_EQ(raise(SIGUSR2), 0);
    Deadline deadline(loop);
    loop.run();
  }
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(blocked_in_this_thread(SIGUSR2));
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  expect_empty(loop);
}

// kill(getpid()) is process-directed: the kernel may hand it to any thread that does not block it. In a
// forked child this thread is the only one, so the test means the same whatever else this binary runs.
TEST(SignalDeathTest, ProcessDirectedKillIsDelivered) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        Loop loop;
        int got = 0;
        Signal sig(loop);
        if (sig.start(SIGTERM, [&](int signo) {
              got = signo;
              (void)sig.stop();
            }))
          std::_Exit(2);
        if (kill(getpid(), SIGTERM) != 0) std::_Exit(3);
        loop.run();
        std::_Exit(got == SIGTERM && loop.handle_count() == 1 && !loop.alive() ? 0 : 4);
      },
      ::testing::ExitedWithCode(0), "");
}

TEST(Signal, EachLoopWatchingTheSignalGetsIt) {
  Loop first, second;
  int first_calls = 0, second_calls = 0;
  {
    Signal a(first), b(second);
    ASSERT_FALSE(a.start(SIGUSR1, [&](int) {
      ++first_calls;
      (void)a.stop();
    }));
    ASSERT_FALSE(b.start(SIGUSR1, [&](int) {
      ++second_calls;
      (void)b.stop();
    }));
    ASSERT_EQ(raise(SIGUSR1), 0);
    // Both loops' signalfds can read it; the one that does posts it to the other.
    Deadline d1(first), d2(second);
    first.run();
    second.run();
  }
  EXPECT_EQ(first_calls, 1);
  EXPECT_EQ(second_calls, 1);
  expect_empty(first);
  expect_empty(second);
}

TEST(Signal, LoopOnAnotherThreadGetsTheSignal) {
  Loop here;
  int here_calls = 0;
  std::atomic<int> there_calls{0};
  std::atomic<bool> ready{false};
  std::promise<void> done;
  std::future<void> finished = done.get_future();
  std::thread t;
  {
    Signal sig(here);
    ASSERT_FALSE(sig.start(SIGUSR1, [&](int) { ++here_calls; }));
    {
      SignalBlockScope block;  // the thread must not take the signal the old way before its loop watches it
      t = std::thread([&] {
        Loop there;
        Signal s(there);
        (void)s.start(SIGUSR1, [&](int) {
          ++there_calls;
          (void)s.stop();
        });
        ready = true;
        there.run();
        done.set_value();
      });
    }
    Timer poll(here);
    (void)poll.start(
        1ms,
        [&] {
          if (ready && here_calls == 0) {
            ASSERT_EQ(raise(SIGUSR1), 0);
          } else if (here_calls > 0) {
            (void)poll.stop();
            (void)sig.stop();
          }
        },
        1ms);
    Deadline deadline(here);
    here.run();
    if (finished.wait_for(5s) != std::future_status::ready) {
      ADD_FAILURE() << "the other loop never got the signal";
      std::_Exit(1);  // a thread blocked in its loop cannot be joined
    }
    t.join();
  }
  EXPECT_EQ(here_calls, 1);
  EXPECT_EQ(there_calls.load(), 1);
  expect_empty(here);
}

TEST(Signal, UnrefdHandleDoesNotKeepTheLoopAlive) {
  Loop loop;
  {
    Signal sig(loop);
    ASSERT_FALSE(sig.start(SIGUSR1, [](int) {}));
    EXPECT_TRUE(loop.alive());
    sig.unref();
    EXPECT_FALSE(loop.alive());
    EXPECT_FALSE(loop.run());
  }
  expect_empty(loop);
}

TEST(Signal, CloseStopsAndRefusesRestart) {
  Loop loop;
  bool closed = false;
  {
    Signal sig(loop);
    ASSERT_FALSE(sig.start(SIGUSR1, [](int) {}));
    EXPECT_FALSE(sig.close([&] { closed = true; }));
    EXPECT_FALSE(blocked_in_this_thread(SIGUSR1));
    EXPECT_EQ(sig.start(SIGUSR1, [](int) {}), Error::closed);
    EXPECT_EQ(sig.close(), Error::already_closing);
    Deadline deadline(loop);
    loop.run();
  }
  EXPECT_TRUE(closed);
  expect_empty(loop);
}

TEST(Signal, MisuseIsAnErrorValue) {
  Loop loop;
  {
    Signal sig(loop);
    EXPECT_EQ(sig.start(SIGKILL, [](int) {}), Error::invalid_argument);
    EXPECT_EQ(sig.start(SIGSTOP, [](int) {}), Error::invalid_argument);
    EXPECT_EQ(sig.start(0, [](int) {}), Error::invalid_argument);
    EXPECT_EQ(sig.start(_NSIG, [](int) {}), Error::invalid_argument);
    EXPECT_EQ(sig.start(SIGUSR1, nullptr), Error::invalid_argument);
    EXPECT_EQ(sig.stop(), Error::not_started);
    EXPECT_FALSE(sig.is_active());
  }
  expect_empty(loop);
}

TEST(Signal, RestartSwitchesSignal) {
  Loop loop;
  std::vector<int> got;
  {
    Signal sig(loop);
    ASSERT_FALSE(sig.start(SIGUSR1, [&](int s) { got.push_back(s); }));
    ASSERT_FALSE(sig.start(SIGUSR2, [&](int s) {
      got.push_back(s);
      (void)sig.stop();
    }));
    EXPECT_FALSE(blocked_in_this_thread(SIGUSR1));
    EXPECT_TRUE(blocked_in_this_thread(SIGUSR2));
    ASSERT_EQ(raise(SIGUSR2), 0);
    Deadline deadline(loop);
    loop.run();
  }
  EXPECT_EQ(got, std::vector<int>{SIGUSR2});
  expect_empty(loop);
}

TEST(Signal, ThrowingCallbackDoesNotStopTheOthers) {
  Loop loop;
  int calls = 0;
  {
    Signal a(loop), b(loop);
    ASSERT_FALSE(a.start(SIGUSR1, [&](int) {
      (void)a.stop();
      throw std::runtime_error("boom");
    }));
    ASSERT_FALSE(b.start(SIGUSR1, [&](int) {
      ++calls;
      (void)b.stop();
    }));
    ASSERT_EQ(raise(SIGUSR1), 0);
    Deadline deadline(loop);
    loop.run();
  }
  EXPECT_EQ(calls, 1);
  expect_empty(loop);
}

TEST(Signal, CallbackMayDestroyOtherHandles) {
  Loop loop;
  int calls = 0;
  auto b = std::make_unique<Signal>(loop);
  {
    Signal a(loop);
    ASSERT_FALSE(a.start(SIGUSR1, [&](int) {
      ++calls;
      b.reset();
      (void)a.stop();
    }));
    ASSERT_FALSE(b->start(SIGUSR1, [&](int) { ++calls; }));
    ASSERT_EQ(raise(SIGUSR1), 0);
    Deadline deadline(loop);
    loop.run();
  }
  EXPECT_EQ(calls, 1);
  expect_empty(loop);
}

TEST(Signal, OnSignalReturnsAStartedHandle) {
  Loop loop;
  int got = 0;
  {
    Result<std::unique_ptr<Signal>> sig = on_signal(loop, SIGUSR1, [&](int s) { got = s; });
    ASSERT_TRUE(sig.ok());
    EXPECT_TRUE((*sig)->is_active());
    Timer stop(loop);
    (void)stop.start(0ms, [&] {
      ASSERT_EQ(raise(SIGUSR1), 0);
      loop.set_immediate([&] {
        if (got) (*sig)->stop();
      });
    });
    Deadline deadline(loop);
    loop.run();
    EXPECT_EQ(on_signal(loop, SIGKILL, [](int) {}).error(), Error::invalid_argument);
  }
  EXPECT_EQ(got, SIGUSR1);
  expect_empty(loop);
}

TEST(Signal, IgnoreSigpipeTurnsBrokenPipeIntoEpipe) {
  ignore_sigpipe();
  ignore_sigpipe();  // once is enough; again is harmless
  struct sigaction sa {};
  ASSERT_EQ(sigaction(SIGPIPE, nullptr, &sa), 0);
  EXPECT_EQ(sa.sa_handler, SIG_IGN);
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  close(fds[0]);
  EXPECT_EQ(write(fds[1], "x", 1), -1);
  EXPECT_EQ(errno, EPIPE);
  close(fds[1]);
}

TEST(Signal, ThreadsCreatedInABlockScopeStartWithEverySignalBlocked) {
  bool term_blocked = false, usr1_blocked = false;
  {
    SignalBlockScope block;
    std::thread([&] {
      term_blocked = blocked_in_this_thread(SIGTERM);
      usr1_blocked = blocked_in_this_thread(SIGUSR1);
    }).join();
  }
  EXPECT_TRUE(term_blocked);
  EXPECT_TRUE(usr1_blocked);
  EXPECT_FALSE(blocked_in_this_thread(SIGTERM));  // restored after the scope
}

}  // namespace
}  // namespace waitless
