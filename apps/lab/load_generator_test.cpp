// The load generator against real servers on loopback: the lab's own thread server, and a raw socket
// server that answers garbage. Each test's loop ends empty.
#include "apps/lab/load_generator.hpp"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>

#include "apps/lab/thread_server.hpp"
#include "waitless/loop/test_support.hpp"

namespace waitless::lab {
namespace {

// A ThreadServer serving on a thread of its own for the test's duration.
class ServedThreads {
 public:
  explicit ServedThreads(ThreadServerConfig config) : server_(config) {
    auto port = server_.listen("127.0.0.1", 0);
    EXPECT_TRUE(port);
    port_ = port ? *port : 0;
    thread_ = std::thread([this] { server_.serve(); });
  }
  ~ServedThreads() {
    server_.stop();
    thread_.join();
  }
  uint16_t port() const { return port_; }
  ThreadServer& server() { return server_; }

 private:
  ThreadServer server_;
  uint16_t port_ = 0;
  std::thread thread_;
};

TEST(LabLoadGenerator, CountedRunRecordsEveryRequest) {
  ServedThreads served({.io_ms = 2, .cpu_rounds = 1000});
  Loop loop;
  {
    LoadGenerator gen(loop, "127.0.0.1", served.port());
    EXPECT_EQ(run(gen.connect(4, 2), loop), 4u);
    RunSpec spec;
    spec.requests_per_connection = 5;
    const RunResult r = run(gen.run(spec), loop);
    EXPECT_EQ(r.completed, 20u);
    EXPECT_EQ(r.errors, 0u);
    EXPECT_EQ(r.non_2xx, 0u);
    EXPECT_EQ(r.latency.count(), 20u);
    EXPECT_GE(r.latency.min(), 2'000'000u);  // each waited its 2 ms "database"
    EXPECT_GT(r.seconds, 0.0);
    EXPECT_EQ(served.server().accepted(), 4u);
    // The connections stay open between runs.
    EXPECT_EQ(gen.open_connections(), 4u);
    spec.requests_per_connection = 1;
    EXPECT_EQ(run(gen.run(spec), loop).completed, 4u);
  }
  loop.run();
  test::expect_empty(loop);
}

TEST(LabLoadGenerator, TimedRunCountsOnlyTheWindow) {
  ServedThreads served({.io_ms = 1, .cpu_rounds = 0});
  Loop loop;
  {
    LoadGenerator gen(loop, "127.0.0.1", served.port());
    ASSERT_EQ(run(gen.connect(3), loop), 3u);
    RunSpec spec;
    spec.duration = std::chrono::milliseconds(200);
    double last_progress = -1;
    spec.on_progress = [&](double f) { last_progress = f; };
    const RunResult r = run(gen.run(spec), loop);
    EXPECT_DOUBLE_EQ(r.seconds, 0.2);
    EXPECT_GT(r.completed, 0u);
    // At most one request per connection per millisecond of wait fits in the window.
    EXPECT_LE(r.completed, 3u * 200u);
    EXPECT_EQ(r.errors, 0u);
    EXPECT_EQ(r.latency.count(), r.completed);
    EXPECT_GE(last_progress, 0.0);
    EXPECT_NEAR(r.throughput(), static_cast<double>(r.completed) / 0.2, 1e-9);
  }
  loop.run();
  test::expect_empty(loop);
}

TEST(LabLoadGenerator, GarbageAnswerIsAnErrorAndClosesTheConnection) {
  const int lfd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(lfd, 8), 0);
  socklen_t len = sizeof addr;
  ::getsockname(lfd, reinterpret_cast<sockaddr*>(&addr), &len);
  std::thread peer([lfd] {
    const int fd = ::accept(lfd, nullptr, nullptr);
    char buf[1024];
    (void)!::recv(fd, buf, sizeof buf, 0);
    const std::string garbage = "HTTP/9.9 xyz\r\n\r\n";
    (void)!::send(fd, garbage.data(), garbage.size(), MSG_NOSIGNAL);
    (void)!::recv(fd, buf, sizeof buf, 0);  // until the client closes
    ::close(fd);
  });
  Loop loop;
  {
    LoadGenerator gen(loop, "127.0.0.1", ntohs(addr.sin_port));
    ASSERT_EQ(run(gen.connect(1), loop), 1u);
    RunSpec spec;
    spec.requests_per_connection = 3;
    const RunResult r = run(gen.run(spec), loop);
    EXPECT_EQ(r.completed, 0u);
    EXPECT_EQ(r.errors, 1u);
    gen.close_all();
  }
  peer.join();
  ::close(lfd);
  loop.run();
  test::expect_empty(loop);
}

TEST(LabLoadGenerator, RefusedConnectIsCountedNotFatal) {
  // A port with nothing listening: bind one, note it, close it.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  Loop loop;
  {
    LoadGenerator gen(loop, "127.0.0.1", ntohs(addr.sin_port));
    EXPECT_EQ(run(gen.connect(3), loop), 0u);
    EXPECT_EQ(gen.connect_errors(), 3u);
    EXPECT_EQ(gen.last_connect_error(), std::errc::connection_refused);
  }
  loop.run();
  test::expect_empty(loop);
}

TEST(LabThreadServer, BadRequestGets400AndClose) {
  ServedThreads served({});
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(served.port());
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  const std::string bad = "GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
  ASSERT_EQ(::send(fd, bad.data(), bad.size(), 0), static_cast<ssize_t>(bad.size()));
  std::string got;
  char buf[512];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) got.append(buf, static_cast<std::size_t>(n));
  ::close(fd);  // recv returned 0: the server closed
  EXPECT_EQ(got.rfind("HTTP/1.1 400 ", 0), 0u) << got;
  EXPECT_NE(got.find("Connection: close"), std::string::npos);
}

}  // namespace
}  // namespace waitless::lab
