// The client and the subscriber across a server restart: a redis-server of the test's own (the shared one of
// tests/redis_e2e.sh must stay up for the other tests), killed with SIGKILL while a command is in flight,
// then started again on the same port.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "waitless/async/sleep.hpp"
#include "waitless/async/timeout.hpp"
#include "waitless/async/when_all.hpp"
#include "waitless/data/redis_client.hpp"
#include "waitless/data/redis_subscriber.hpp"
#include "waitless/data/redis_test_support.hpp"
#include "waitless/net/tcp_listener.hpp"
#include "waitless/net/test_support.hpp"

extern char** environ;

namespace waitless::data {
namespace {

using net::test::expect_empty;
using net::test::run_task;

// One redis-server child on `port`, in `dir`, killed by kill() or the destructor.
class RedisProcess {
 public:
  RedisProcess(uint16_t port, std::string dir) : port_(port), dir_(std::move(dir)) {}
  ~RedisProcess() { kill(); }
  bool start() {
    const std::string port = std::to_string(port_);
    std::vector<std::string> args = {
        "redis-server", "--port", port,    "--bind", "127.0.0.1", "--save",           "",
        "--appendonly", "no",     "--dir", dir_,     "--logfile", dir_ + "/redis.log"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    return posix_spawnp(&pid_, "redis-server", nullptr, nullptr, argv.data(), environ) == 0;
  }
  void kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int status;
    ::waitpid(pid_, &status, 0);
    pid_ = 0;
  }

 private:
  uint16_t port_;
  std::string dir_;
  pid_t pid_ = 0;
};

TEST(RedisClient, ReconnectsAfterServerRestart) {
  WAITLESS_REQUIRE_REDIS(shared);  // the sign that redis-server is installed and wanted
  Loop loop;
  uint16_t port = 0;
  {
    auto l = net::TcpListener::listen(loop, {}, [](int fd) { ::close(fd); });
    ASSERT_TRUE(l.ok());
    port = (*l)->port();
  }
  loop.run();
  char dir_template[] = "/tmp/waitless-redis-restart.XXXXXX";
  ASSERT_NE(mkdtemp(dir_template), nullptr);
  const std::string dir = dir_template;
  RedisProcess server(port, dir);
  ASSERT_TRUE(server.start());

  auto body = [&]() -> Task<> {
    RedisClient c(loop, {.port = port,
                         .reconnect_initial = std::chrono::milliseconds(20),
                         .reconnect_max = std::chrono::milliseconds(100)});
    // Commands issued before the server listens wait in the queue until the client connects.
    Result<Result<Reply>> first =
        co_await with_timeout(c.exec({"SET", "k", "before"}), std::chrono::seconds(5));
    CO_ASSERT_TRUE(first.ok() && first->ok());
    EXPECT_EQ(**first, Reply::simple("OK"));
    EXPECT_EQ(c.stats().connects, 1u);
    // A subscriber on the same server: subscribed again by itself after the restart.
    RedisSubscriber sub(loop, c.options());
    std::vector<std::string> got;
    CO_ASSERT_TRUE((co_await sub.subscribe("ch", [&](std::string_view, std::string_view m) {
                     got.emplace_back(m);
                   })).ok());

    // SIGKILL while a BLPOP is in flight: it fails with connection_lost (it may or may not have run).
    auto kill_soon = [&]() -> Task<> {
      co_await sleep(std::chrono::milliseconds(100));
      server.kill();
    };
    auto [blpop, killed] = co_await when_all(c.exec({"BLPOP", "list", "10"}), kill_soon());
    EXPECT_EQ(blpop.error(), make_error_code(RedisErrc::connection_lost));

    // While the server is down, commands queue (or time out by their own deadline).
    co_await sleep(std::chrono::milliseconds(100));
    EXPECT_FALSE(c.connected());
    auto restart_soon = [&]() -> Task<> {
      co_await sleep(std::chrono::milliseconds(100));
      EXPECT_TRUE(server.start());
    };
    // A command cancelled while it waits for the connection is never sent.
    CancelSource source;
    auto cancel_soon = [&]() -> Task<> {
      co_await sleep(std::chrono::milliseconds(20));
      source.cancel();
    };
    auto [cancelled, done] =
        co_await when_all(c.exec({"SET", "never", "sent"}).with_token(source.token()), cancel_soon());
    EXPECT_EQ(cancelled.error(), make_error_code(Error::cancelled));
    EXPECT_EQ(c.queued(), 0u);
    auto [after, restarted] = co_await when_all(
        with_timeout(c.exec({"SET", "k", "after"}), std::chrono::seconds(5)), restart_soon());
    CO_ASSERT_TRUE(after.ok() && after->ok());
    EXPECT_EQ(**after, Reply::simple("OK"));
    EXPECT_EQ((co_await c.get("k")).value(), std::optional<std::string>("after"));  // a new, empty server
    EXPECT_EQ((co_await c.get("never")).value(), std::nullopt);
    EXPECT_EQ(c.stats().connects, 2u);
    EXPECT_GE(c.stats().connect_failures, 1u);
    // The subscriber reconnects on its own backoff and re-subscribes: publish until someone listens.
    int64_t receivers = 0;
    for (int i = 0; i < 300 && receivers == 0; ++i) {
      receivers = (co_await c.publish("ch", "after-restart")).value_or(0);
      if (receivers == 0) co_await sleep(std::chrono::milliseconds(10));
    }
    EXPECT_EQ(receivers, 1);
    for (int i = 0; i < 300 && got.empty(); ++i) co_await sleep(std::chrono::milliseconds(10));
    EXPECT_EQ(got, std::vector<std::string>{"after-restart"});
    EXPECT_EQ(sub.client().stats().connects, 2u);
  };
  run_task(body(), loop);
  loop.run();
  expect_empty(loop);
  server.kill();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace waitless::data
