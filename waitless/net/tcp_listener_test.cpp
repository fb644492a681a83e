#include "waitless/net/tcp_listener.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

#include "waitless/base/log.hpp"
#include "waitless/loop/timer.hpp"
#include "waitless/net/test_support.hpp"

namespace waitless::net {
namespace {

using test::expect_empty;
using test::run_for;
using test::run_until;

// A blocking client connect: on loopback it completes from the kernel's backlog, without an accept.
int connect_to(const SocketAddress& addr) {
  int fd = ::socket(addr.family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (::connect(fd, addr.data(), addr.size()) < 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

void check_accepted_fd(int fd, bool tcp) {
  int fl = fcntl(fd, F_GETFL);
  EXPECT_TRUE(fl & O_NONBLOCK);
  EXPECT_TRUE(fcntl(fd, F_GETFD) & FD_CLOEXEC);
  if (tcp) {
    int nodelay = 0;
    socklen_t len = sizeof nodelay;
    ASSERT_EQ(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &nodelay, &len), 0);
    EXPECT_NE(nodelay, 0);
  }
}

void round_trip_one(Loop& loop, const ListenOptions& opts) {
  std::vector<int> got;
  auto l = TcpListener::listen(loop, opts, [&](int fd) { got.push_back(fd); });
  ASSERT_TRUE(l.ok()) << l.error().message();
  TcpListener& listener = **l;
  if (opts.unix_path.empty()) {
    EXPECT_NE(listener.port(), 0);
  }
  int client = connect_to(listener.address());
  ASSERT_GE(client, 0) << strerror(errno);
  ASSERT_TRUE(run_until(loop, [&] { return got.size() == 1; }));
  check_accepted_fd(got[0], opts.unix_path.empty());
  ASSERT_EQ(::write(client, "hi", 2), 2);
  char buf[2];
  ssize_t n;
  do n = ::read(got[0], buf, 2);
  while (n < 0 && errno == EAGAIN);
  EXPECT_EQ(n, 2);
  ::close(got[0]);
  ::close(client);
  EXPECT_FALSE(listener.close());
  EXPECT_EQ(listener.close(), make_error_code(Error::already_closing));
  loop.run();
  l->reset();
  expect_empty(loop);
}

TEST(TcpListener, EphemeralPortIPv4) {
  Loop loop;
  round_trip_one(loop, {});
}

TEST(TcpListener, IPv6Loopback) {
  int probe = ::socket(AF_INET6, SOCK_STREAM, 0);
  if (probe < 0) GTEST_SKIP() << "no IPv6";
  ::close(probe);
  Loop loop;
  auto l = TcpListener::listen(loop, {.host = "::1"}, [](int fd) { ::close(fd); });
  if (!l && l.error() == std::errc::address_not_available) GTEST_SKIP() << "no ::1";
  l->reset();
  round_trip_one(loop, {.host = "::1"});
}

TEST(TcpListener, UnixPathIsUnlinkedOnClose) {
  Loop loop;
  std::string path = "/tmp/waitless-listener-" + std::to_string(getpid()) + ".sock";
  ::unlink(path.c_str());
  round_trip_one(loop, {.unix_path = path});
  struct stat st;
  EXPECT_NE(::stat(path.c_str(), &st), 0);
}

TEST(TcpListener, UnixAbstractName) {
  Loop loop;
  round_trip_one(loop, {.unix_path = "@waitless-listener-" + std::to_string(getpid())});
}

TEST(TcpListener, BadOptionsAreErrorValues) {
  Loop loop;
  auto noop = [](int fd) { ::close(fd); };
  EXPECT_EQ(TcpListener::listen(loop, {.host = "localhost"}, noop).error(), Error::invalid_argument);
  EXPECT_EQ(TcpListener::listen(loop, {.host = "1.2.3"}, noop).error(), Error::invalid_argument);
  EXPECT_EQ(TcpListener::listen(loop, {.unix_path = std::string(200, 'x')}, noop).error(),
            Error::invalid_argument);
  EXPECT_EQ(TcpListener::listen(loop, {}, nullptr).error(), Error::invalid_argument);

  auto a = TcpListener::listen(loop, {}, noop);
  ASSERT_TRUE(a.ok());
  auto b = TcpListener::listen(loop, {.port = (*a)->port()}, noop);
  EXPECT_EQ(b.error(), std::errc::address_in_use);
  a->reset();
  expect_empty(loop);
}

TEST(TcpListener, ReusePortAllowsTwoListeners) {
  Loop loop;
  auto noop = [](int fd) { ::close(fd); };
  auto a = TcpListener::listen(loop, {.reuse_port = true}, noop);
  ASSERT_TRUE(a.ok());
  auto b = TcpListener::listen(loop, {.port = (*a)->port(), .reuse_port = true}, noop);
  ASSERT_TRUE(b.ok()) << b.error().message();
  EXPECT_EQ((*a)->port(), (*b)->port());
  a->reset();
  b->reset();
  expect_empty(loop);
}

// 1000 connections wait in the backlog; the listener takes at most 64 per readiness, so it needs at least
// 16 loop iterations — the cap that keeps one listener from starving the loop.
TEST(TcpListener, ThousandConnectionsAcceptedInBatches) {
  Loop loop;
  constexpr int kClients = 1000;
  int accepted = 0;
  auto l = TcpListener::listen(loop, {}, [&](int fd) {
    ++accepted;
    ::close(fd);
  });
  ASSERT_TRUE(l.ok());
  for (int i = 0; i < kClients; ++i) {
    int c = connect_to((*l)->address());
    ASSERT_GE(c, 0) << strerror(errno);
    ::close(c);  // still accepted: the connection was established in the backlog
  }
  uint64_t before = loop.metrics().iterations;
  ASSERT_TRUE(run_until(loop, [&] { return accepted == kClients; }));
  EXPECT_GE(loop.metrics().iterations - before, static_cast<uint64_t>(kClients / 64));
  EXPECT_EQ((*l)->accepted_count(), static_cast<uint64_t>(kClients));
  l->reset();
  expect_empty(loop);
}

TEST(TcpListener, PauseStopsAcceptingResumeRestarts) {
  Loop loop;
  int accepted = 0;
  auto l = TcpListener::listen(loop, {}, [&](int fd) {
    ++accepted;
    ::close(fd);
  });
  ASSERT_TRUE(l.ok());
  TcpListener& listener = **l;
  listener.pause();
  EXPECT_TRUE(listener.paused());
  int c = connect_to(listener.address());
  ASSERT_GE(c, 0);
  // Nothing can be accepted while paused: give the loop 50 ms of chances.
  run_for(loop, 50ms);
  EXPECT_EQ(accepted, 0);
  listener.resume();
  ASSERT_TRUE(run_until(loop, [&] { return accepted == 1; }));
  ::close(c);
  l->reset();
  expect_empty(loop);
}

TEST(TcpListener, CallbackMayCloseOrDestroyTheListener) {
  Loop loop;
  std::unique_ptr<TcpListener> listener;
  int accepted = 0;
  auto l = TcpListener::listen(loop, {}, [&](int fd) {
    ++accepted;
    ::close(fd);
    listener.reset();  // destroyed mid-batch: no further callback may touch it
  });
  ASSERT_TRUE(l.ok());
  listener = std::move(*l);
  int c1 = connect_to(listener->address()), c2 = connect_to(listener->address());
  ASSERT_TRUE(run_until(loop, [&] { return accepted >= 1; }));
  loop.run();
  EXPECT_EQ(accepted, 1);
  ::close(c1);
  ::close(c2);

  bool closed = false;
  auto l2 = TcpListener::listen(loop, {}, [&](int fd) {
    ++accepted;
    ::close(fd);
    (void)listener->close([&] { closed = true; });
  });
  ASSERT_TRUE(l2.ok());
  listener = std::move(*l2);
  c1 = connect_to(listener->address());
  c2 = connect_to(listener->address());
  loop.run();  // returns: the closed listener no longer keeps the loop alive
  EXPECT_TRUE(closed);
  EXPECT_EQ(accepted, 2);
  ::close(c1);
  ::close(c2);
  listener.reset();
  expect_empty(loop);
}

// Lowers RLIMIT_NOFILE and fills every free descriptor below it; restores both on destruction.
class FdExhaustion {
 public:
  FdExhaustion() {
    getrlimit(RLIMIT_NOFILE, &saved_);
    int highest = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    ::close(highest);
    rlimit low = saved_;
    low.rlim_cur = static_cast<rlim_t>(highest + 32);
    setrlimit(RLIMIT_NOFILE, &low);
    for (;;) {
      int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
      if (fd < 0) break;
      fillers_.push_back(fd);
    }
  }
  ~FdExhaustion() {
    for (int fd : fillers_) ::close(fd);
    setrlimit(RLIMIT_NOFILE, &saved_);
  }
  // Frees one descriptor slot.
  void release_one() {
    ::close(fillers_.back());
    fillers_.pop_back();
  }

 private:
  rlimit saved_{};
  std::vector<int> fillers_;
};

// Out of descriptors with a spare: pending clients are accepted and closed at once (they see EOF or a
// reset, not an endless wait), the listener keeps working, and the loop does not spin.
TEST(TcpListener, EmfileShedsWithTheSpareDescriptor) {
  Loop loop;
  int accepted = 0;
  auto l = TcpListener::listen(loop, {}, [&](int fd) {
    ++accepted;
    ::close(fd);
  });
  ASSERT_TRUE(l.ok());
  TcpListener& listener = **l;
  int c1 = connect_to(listener.address()), c2 = connect_to(listener.address());
  ASSERT_GE(c1, 0);
  ASSERT_GE(c2, 0);
  {
    FdExhaustion full;
    ASSERT_TRUE(run_until(loop, [&] { return listener.shed_count() == 2; }));
    EXPECT_EQ(accepted, 0);
    // With nothing pending, the listener waits quietly: 30 ms of loop must be a handful of iterations.
    EXPECT_LT(run_for(loop, 30ms), 10u);
  }
  char b;
  EXPECT_LE(::read(c1, &b, 1), 0);  // EOF or ECONNRESET: the server closed it
  EXPECT_LE(::read(c2, &b, 1), 0);
  ::close(c1);
  ::close(c2);
  // Descriptors are back: the listener accepts normally again.
  int c3 = connect_to(listener.address());
  ASSERT_TRUE(run_until(loop, [&] { return accepted == 1; }));
  ::close(c3);
  l->reset();
  expect_empty(loop);
}

// Out of descriptors without a spare (the process was already full at listen): the listener stops
// watching for kBackoff at a time instead of spinning, logs at most once per second, and accepts as soon
// as descriptors are back.
TEST(TcpListener, EmfileWithoutSpareBacksOffWithoutSpinning) {
  Loop loop;
  int logs = 0;
  struct SinkGuard {
    ~SinkGuard() { log::set_sink(nullptr); }
  } guard;
  log::set_sink([&](log::Level, std::string_view m) {
    if (m.find("accept failed") != std::string_view::npos) ++logs;
  });
  int accepted = 0;
  std::unique_ptr<TcpListener> listener;
  int client = -1;
  {
    FdExhaustion full;
    full.release_one();  // room for the listening socket only: no spare
    auto l = TcpListener::listen(loop, {}, [&](int fd) {
      ++accepted;
      ::close(fd);
    });
    ASSERT_TRUE(l.ok()) << l.error().message();
    listener = std::move(*l);
    full.release_one();
    client = connect_to(listener->address());
    ASSERT_GE(client, 0);
    EXPECT_LT(run_for(loop, 250ms), 20u);  // ~one per 100 ms back-off, not thousands
    EXPECT_EQ(accepted, 0);
    EXPECT_EQ(logs, 1);
  }
  ASSERT_TRUE(run_until(loop, [&] { return accepted == 1; }));
  ::close(client);
  listener.reset();
  expect_empty(loop);
}

}  // namespace
}  // namespace waitless::net
