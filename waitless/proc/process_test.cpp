#include "waitless/proc/process.hpp"

#include <dirent.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <string>
#include <vector>

#include "waitless/async/task.hpp"
#include "waitless/loop/test_support.hpp"
#include "waitless/loop/timer.hpp"

namespace waitless {
namespace {

using waitless::test::expect_empty;

// Runs `task` on `loop` under a token that fires after `limit`: every await of this file reads it, so a
// lost wakeup fails the test with Error::cancelled instead of hanging it.
template <typename T>
T run_bounded(Loop& loop, Task<T> task, Duration limit = 10s) {
  CancelSource source;
  Timer deadline(loop);
  (void)deadline.start(limit, [&] {
    ADD_FAILURE() << "deadline passed";
    source.cancel();
  });
  deadline.unref();
  return run(std::move(task).with_token(source.token()), loop);
}

std::size_t open_fd_count() {
  std::size_t n = 0;
  if (DIR* d = opendir("/proc/self/fd")) {
    while (readdir(d)) ++n;
    closedir(d);
  }
  return n;
}

// Waits (bounded) until `pid` is gone from the process table, i.e. reaped by someone. kill(pid, 0)
// succeeds on a zombie, so it tells a reaped child from an unreaped one. No event tells the test when the
// reaper thread has done its job, hence the polling.
bool reaped_within(pid_t pid, std::chrono::milliseconds limit) {
  for (auto waited = 0ms; waited < limit; waited += 1ms) {
    if (::kill(pid, 0) < 0 && errno == ESRCH) return true;
    usleep(1000);
  }
  return false;
}

Task<Result<ExitStatus>> wait_for(Process& p) { co_return co_await p.wait(); }

Result<std::unique_ptr<Process>> sh(Loop& loop, std::string script,
                                    std::array<Stdio, 3> stdio = {Stdio::inherit, Stdio::pipe, Stdio::pipe}) {
  return Process::spawn(loop, {.file = "/bin/sh", .args = {"-c", std::move(script)}, .stdio = stdio});
}

TEST(Process, CapturesOutputAndExitCode) {
  Loop loop;
  {
    auto p = sh(loop, "echo out; echo err >&2; exit 3");
    ASSERT_TRUE(p.ok()) << p.error().message();
    EXPECT_GT((*p)->pid(), 0);
    EXPECT_TRUE(loop.alive());  // the running child keeps the loop alive
    run_bounded(loop, [&]() -> Task<> {
      Result<std::string> out = co_await (*p)->stdout_pipe().read_all();
      Result<std::string> err = co_await (*p)->stderr_pipe().read_all();
      Result<ExitStatus> st = co_await (*p)->wait();
      EXPECT_EQ(out.value_or("?"), "out\n");
      EXPECT_EQ(err.value_or("?"), "err\n");
      if (!st.ok()) co_return ADD_FAILURE() << st.error().message();
      EXPECT_EQ(*st, (ExitStatus{3, 0}));
      EXPECT_TRUE(st->exited());
      EXPECT_FALSE(st->success());
    }());
    EXPECT_TRUE((*p)->exited());
    EXPECT_FALSE(loop.alive());
  }
  expect_empty(loop);
}

TEST(Process, KilledBySignalReportsTheSignal) {
  Loop loop;
  {
    // The parent blocks SIGTERM while it watches it; the child must start with it unblocked.
    Signal term(loop);
    ASSERT_FALSE(term.start(SIGTERM, [](int) {}));
    term.unref();
    auto p = Process::spawn(loop, {.file = "sleep", .args = {"30"}, .kill_on_destroy = true});
    ASSERT_TRUE(p.ok()) << p.error().message();
    EXPECT_FALSE((*p)->kill(SIGTERM));
    Result<ExitStatus> st = run_bounded(loop, wait_for(**p));
    ASSERT_TRUE(st.ok());
    EXPECT_EQ(st->term_signal, SIGTERM);
    EXPECT_EQ(st->exit_code, -1);
    EXPECT_FALSE(st->exited());
    EXPECT_EQ((*p)->kill(SIGTERM), errno_code(ESRCH));  // reaped: its pid may belong to someone else now
  }
  expect_empty(loop);
}

// waitless ignores SIGPIPE; a child gets the default back, as programs expect.
TEST(Process, ChildStartsWithDefaultSigpipe) {
  ignore_sigpipe();
  Loop loop;
  {
    auto p = sh(loop, "kill -PIPE $$; echo survived", {Stdio::inherit, Stdio::pipe, Stdio::inherit});
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(run_bounded(loop, (*p)->stdout_pipe().read_all()).value_or("?"), "");
    Result<ExitStatus> st = run_bounded(loop, wait_for(**p));
    ASSERT_TRUE(st.ok());
    EXPECT_EQ(st->term_signal, SIGPIPE);
  }
  expect_empty(loop);
}

TEST(Process, OnExitMayDestroyTheProcess) {
  Loop loop;
  int code = -1;
  {
    auto p = sh(loop, "exit 4", {Stdio::inherit, Stdio::inherit, Stdio::inherit});
    ASSERT_TRUE(p.ok());
    (*p)->on_exit([&](const Result<ExitStatus>& st) {
      code = st.ok() ? st->exit_code : -2;
      p->reset();
    });
    Timer deadline(loop);
    (void)deadline.start(10s, [&] { p->reset(); });
    deadline.unref();
    loop.run();
    EXPECT_EQ(p->get(), nullptr);
  }
  EXPECT_EQ(code, 4);
  expect_empty(loop);
}

TEST(Process, MissingExecutableIsAnErrorValue) {
  Loop loop;
  std::size_t fds = open_fd_count();
  auto a = Process::spawn(loop, {.file = "/nonexistent/waitless-no-such-program",
                                 .stdio = {Stdio::pipe, Stdio::pipe, Stdio::pipe}});
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.error(), errno_code(ENOENT));
  auto b = Process::spawn(loop, {.file = "waitless-no-such-program-in-path"});
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error(), errno_code(ENOENT));
  auto c = Process::spawn(loop, {.file = "/bin/sh", .cwd = "/nonexistent/waitless-dir"});
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error(), errno_code(ENOENT));
  EXPECT_EQ(Process::spawn(loop, {}).error(), Error::invalid_argument);
  EXPECT_EQ(open_fd_count(), fds);  // the pipes of the failed spawns are closed
  expect_empty(loop);
}

TEST(Process, CwdAndEnvAreHonoured) {
  Loop loop;
  {
    auto p = Process::spawn(loop, {.file = "/bin/sh",
                                   .args = {"-c", R"(pwd; echo "$WAITLESS_X"; echo "${HOME-unset}")"},
                                   .env = {"WAITLESS_X=42"},
                                   .cwd = "/",
                                   .stdio = {Stdio::ignore, Stdio::pipe, Stdio::inherit}});
    ASSERT_TRUE(p.ok()) << p.error().message();
    Result<std::string> out = run_bounded(loop, (*p)->stdout_pipe().read_all());
    // The environment is replaced, not merged: HOME is not passed on.
    EXPECT_EQ(out.value_or("?"), "/\n42\nunset\n");
    EXPECT_TRUE(run_bounded(loop, wait_for(**p)).ok());
  }
  expect_empty(loop);
}

TEST(Process, EmptyEnvInheritsTheParents) {
  Loop loop;
  const char* home = getenv("HOME");
  {
    auto p = sh(loop, R"(echo "${HOME-unset}")");
    ASSERT_TRUE(p.ok());
    Result<std::string> out = run_bounded(loop, (*p)->stdout_pipe().read_all());
    EXPECT_EQ(out.value_or("?"), std::string(home ? home : "unset") + "\n");
    EXPECT_TRUE(run_bounded(loop, wait_for(**p)).ok());
  }
  expect_empty(loop);
}

Task<> write_then_close(PipeWriter& in, const std::string& data, std::error_code& result) {
  result = co_await in.write(data);
  if (!result) result = in.close();
}

// More than both pipes hold: cat blocks on its stdout until we read, we block on its stdin until it reads.
TEST(Process, StdinRoundTripsThroughCat) {
  Loop loop;
  std::string data;
  for (int i = 0; data.size() < 512 * 1024; ++i) data += "line " + std::to_string(i) + "\n";
  {
    auto p = Process::spawn(loop, {.file = "cat", .stdio = {Stdio::pipe, Stdio::pipe, Stdio::inherit}});
    ASSERT_TRUE(p.ok()) << p.error().message();
    std::error_code write_result = Error::not_started;
    Result<std::string> out = run_bounded(loop, [&]() -> Task<Result<std::string>> {
      spawn(write_then_close((*p)->stdin_pipe(), data, write_result));
      co_return co_await (*p)->stdout_pipe().read_all();
    }());
    EXPECT_FALSE(write_result) << write_result.message();
    ASSERT_TRUE(out.ok());
    EXPECT_EQ(out->size(), data.size());
    EXPECT_TRUE(*out == data);
    Result<ExitStatus> st = run_bounded(loop, wait_for(**p));
    EXPECT_TRUE(st.ok() && st->success());
  }
  expect_empty(loop);
}

TEST(Process, OneMegabyteOfOutputIsReadFully) {
  Loop loop;
  {
    auto p = Process::spawn(loop, {.file = "head",
                                   .args = {"-c", "1048576", "/dev/zero"},
                                   .stdio = {Stdio::ignore, Stdio::pipe, Stdio::inherit}});
    ASSERT_TRUE(p.ok()) << p.error().message();
    Result<std::string> out = run_bounded(loop, (*p)->stdout_pipe().read_all());
    ASSERT_TRUE(out.ok());
    EXPECT_EQ(out->size(), 1048576u);
    EXPECT_EQ(out->find_first_not_of('\0'), std::string::npos);
    EXPECT_TRUE(run_bounded(loop, wait_for(**p))->success());
  }
  expect_empty(loop);
}

TEST(Process, ReadAllPastItsLimitIsAnError) {
  Loop loop;
  {
    auto p = Process::spawn(loop, {.file = "head",
                                   .args = {"-c", "100000", "/dev/zero"},
                                   .stdio = {Stdio::ignore, Stdio::pipe, Stdio::inherit}});
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(run_bounded(loop, (*p)->stdout_pipe().read_all(99999)).error(), Error::limit_exceeded);
    (*p)->stdout_pipe().close();  // head may be blocked on a full pipe: closing ends it with EPIPE
    EXPECT_TRUE(run_bounded(loop, wait_for(**p)).ok());
  }
  expect_empty(loop);
}

TEST(Process, CallbackFormsForOutputAndExit) {
  Loop loop;
  std::string out;
  int ends = 0;
  Result<ExitStatus> exit_status = Error::not_started;
  {
    auto p = Process::spawn(loop, {.file = "/bin/sh",
                                   .args = {"-c", "printf abc; printf def; exit 5"},
                                   .stdio = {Stdio::ignore, Stdio::pipe, Stdio::inherit},
                                   .on_exit = [&](const Result<ExitStatus>& st) { exit_status = st; }});
    ASSERT_TRUE(p.ok());
    ASSERT_FALSE((*p)->stdout_pipe().start([&](Result<std::string_view> chunk) {
      ASSERT_TRUE(chunk.ok());
      if (chunk->empty()) ++ends;
      out += *chunk;
    }));
    // A read while the callback form runs is misuse.
    EXPECT_EQ(run_bounded(loop, (*p)->stdout_pipe().read_all()).error(), Error::invalid_argument);
    Timer deadline(loop);
    (void)deadline.start(10s, [&] { (*p)->stdout_pipe().stop(); });
    deadline.unref();
    loop.run();
    EXPECT_TRUE((*p)->exited());
  }
  EXPECT_EQ(out, "abcdef");
  EXPECT_EQ(ends, 1);
  ASSERT_TRUE(exit_status.ok());
  EXPECT_EQ(exit_status->exit_code, 5);
  expect_empty(loop);
}

TEST(Process, WriteToAChildThatClosedItsStdinIsEpipe) {
  Loop loop;
  {
    auto p = Process::spawn(loop, {.file = "true", .stdio = {Stdio::pipe, Stdio::inherit, Stdio::inherit}});
    ASSERT_TRUE(p.ok());
    EXPECT_TRUE(run_bounded(loop, wait_for(**p)).ok());
    std::error_code ec = run_bounded(
        loop, [&]() -> Task<std::error_code> { co_return co_await (*p)->stdin_pipe().write("too late"); }());
    EXPECT_EQ(ec, errno_code(EPIPE));
    EXPECT_FALSE((*p)->stdin_pipe().close());
    EXPECT_EQ((*p)->stdin_pipe().close(), Error::closed);
  }
  expect_empty(loop);
}

TEST(Process, PipesNotAskedForAreClosed) {
  Loop loop;
  {
    auto p = Process::spawn(loop, {.file = "true", .stdio = {Stdio::ignore, Stdio::ignore, Stdio::ignore}});
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(run_bounded(loop, (*p)->stdout_pipe().read_all()).error(), Error::closed);
    EXPECT_EQ(
        run_bounded(loop,
                    [&]() -> Task<std::error_code> { co_return co_await (*p)->stdin_pipe().write("x"); }()),
        Error::closed);
    EXPECT_EQ((*p)->stderr_pipe().start([](Result<std::string_view>) {}), Error::closed);
    EXPECT_TRUE(run_bounded(loop, wait_for(**p))->success());
  }
  expect_empty(loop);
}

TEST(Process, CancelledWaitAndReadLeaveTheChildRunning) {
  Loop loop;
  {
    auto p = sh(loop, "read line; echo got $line", {Stdio::pipe, Stdio::pipe, Stdio::inherit});
    ASSERT_TRUE(p.ok());
    run_bounded(loop, [&]() -> Task<> {
      CancelSource source;
      Timer t(loop);
      (void)t.start(5ms, [&] { source.cancel(); });
      Result<ExitStatus> st = co_await wait_for(**p).with_token(source.token());
      EXPECT_EQ(st.error(), Error::cancelled);
      CancelSource source2;
      (void)t.start(5ms, [&] { source2.cancel(); });
      Result<std::string> chunk = co_await (*p)->stdout_pipe().read_all().with_token(source2.token());
      EXPECT_EQ(chunk.error(), Error::cancelled);
      EXPECT_FALSE((*p)->exited());
      // Both pipes still work after the cancelled waits.
      EXPECT_FALSE(co_await (*p)->stdin_pipe().write("hello\n"));
      Result<std::string> out = co_await (*p)->stdout_pipe().read_all();
      EXPECT_EQ(out.value_or("?"), "got hello\n");
      Result<ExitStatus> done = co_await (*p)->wait();
      EXPECT_TRUE(done.ok() && done->success());
    }());
  }
  expect_empty(loop);
}

TEST(Process, UnrefdProcessDoesNotKeepTheLoopAlive) {
  Loop loop;
  pid_t pid;
  {
    auto p = Process::spawn(loop, {.file = "sleep", .args = {"30"}, .kill_on_destroy = true});
    ASSERT_TRUE(p.ok());
    pid = (*p)->pid();
    (*p)->unref();
    EXPECT_FALSE(loop.alive());
    EXPECT_FALSE(loop.run());
    EXPECT_FALSE((*p)->exited());
  }
  // Destroyed while running with kill_on_destroy: killed, then reaped by the reaper.
  EXPECT_TRUE(reaped_within(pid, 5000ms));
  expect_empty(loop);
}

TEST(Process, ChildOutlivingItsProcessIsReapedNotLeftAZombie) {
  Loop loop;
  pid_t pid;
  {
    // The child waits for its stdin to close, which destroying the Process does.
    auto p = sh(loop, "read x; exit 0", {Stdio::pipe, Stdio::inherit, Stdio::inherit});
    ASSERT_TRUE(p.ok());
    pid = (*p)->pid();
  }
  EXPECT_TRUE(reaped_within(pid, 5000ms));
  expect_empty(loop);
}

TEST(Process, ClosedProcessCompletesWaitersWithClosed) {
  Loop loop;
  bool closed = false;
  pid_t pid;
  {
    auto p = Process::spawn(loop, {.file = "sleep", .args = {"30"}, .kill_on_destroy = true});
    ASSERT_TRUE(p.ok());
    pid = (*p)->pid();
    Result<ExitStatus> st = run_bounded(loop, [&]() -> Task<Result<ExitStatus>> {
      Timer t(loop);
      (void)t.start(1ms, [&] { (void)(*p)->close([&] { closed = true; }); });
      co_return co_await (*p)->wait();
    }());
    EXPECT_EQ(st.error(), Error::closed);
    EXPECT_EQ((*p)->kill(SIGTERM), errno_code(ESRCH));
    loop.run();  // the close callback
  }
  EXPECT_TRUE(closed);
  EXPECT_TRUE(reaped_within(pid, 5000ms));
  expect_empty(loop);
}

// The pidfd watcher is internal: handle_count() reports the Process, the handle users made, only.
TEST(Process, HandleCountShowsOnlyTheProcess) {
  Loop loop;
  {
    auto p = Process::spawn(loop, {.file = "true"});
    ASSERT_TRUE(p.ok()) << p.error().message();
    EXPECT_EQ(loop.handle_count(), 1u);
    Result<ExitStatus> st = run_bounded(loop, wait_for(**p));
    ASSERT_TRUE(st.ok()) << st.error().message();
    EXPECT_EQ(st->exit_code, 0);
    EXPECT_EQ(loop.handle_count(), 1u);  // until destroyed
  }
  expect_empty(loop);
}

TEST(Process, ManyWaitersAllResume) {
  Loop loop;
  int resumed = 0;
  {
    auto p = sh(loop, "exit 9", {Stdio::inherit, Stdio::inherit, Stdio::inherit});
    ASSERT_TRUE(p.ok());
    auto waiter = [&]() -> Task<> {
      Result<ExitStatus> st = co_await (*p)->wait();
      if (st.ok() && st->exit_code == 9) ++resumed;
    };
    run_bounded(loop, [&]() -> Task<> {
      spawn(waiter());
      spawn(waiter());
      co_await waiter();
      co_await waiter();  // after the exit: at once
    }());
  }
  EXPECT_EQ(resumed, 4);
  expect_empty(loop);
}

// Without pidfd_open (kernels before 5.3) exits are seen through SIGCHLD, which must reach this thread's
// signalfd: in a forked child this thread is the only one, whatever else the test binary runs.
TEST(ProcessDeathTest, SigchldFallbackSeesTheExit) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        detail::set_pidfd_enabled(false);
        Loop loop;
        int code = -100;
        {
          auto a = Process::spawn(loop, {.file = "/bin/sh", .args = {"-c", "exit 7"}});
          auto b = Process::spawn(loop, {.file = "sleep", .args = {"30"}});
          if (!a.ok() || !b.ok()) std::_Exit(2);
          sigset_t mask;  // the fallback is in use: SIGCHLD is watched, so blocked
          pthread_sigmask(SIG_BLOCK, nullptr, &mask);
          if (sigismember(&mask, SIGCHLD) != 1) std::_Exit(5);
          // The two Processes only: not their SIGCHLD handles, nor the loop's signalfd watcher.
          if (loop.handle_count() != 2) std::_Exit(6);
          (*a)->on_exit([&](const Result<ExitStatus>& st) {
            code = st.ok() ? st->exit_code : -1;
            (void)(*b)->kill(SIGKILL);
          });
          loop.run();
          if (!(*b)->exited()) std::_Exit(3);
        }
        std::_Exit(code == 7 && loop.handle_count() == 0 && !loop.alive() ? 0 : 4);
      },
      ::testing::ExitedWithCode(0), "");
}

// With SIGCHLD ignored the kernel reaps children itself: the exit is still seen, and reported as the error
// it is (ECHILD) rather than as a made-up status. Process-wide disposition: in a forked child.
TEST(ProcessDeathTest, ChildReapedByTheKernelIsEchild) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        signal(SIGCHLD, SIG_IGN);
        Loop loop;
        std::error_code ec;
        {
          auto p = Process::spawn(loop, {.file = "true"});
          if (!p.ok()) std::_Exit(2);
          (*p)->on_exit([&](const Result<ExitStatus>& st) { ec = st.error(); });
          loop.run();
        }
        std::_Exit(ec == errno_code(ECHILD) && loop.handle_count() == 0 ? 0 : 3);
      },
      ::testing::ExitedWithCode(0), "");
}

}  // namespace
}  // namespace waitless
