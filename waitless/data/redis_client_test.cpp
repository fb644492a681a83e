#include "waitless/data/redis_client.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <string>
#include <vector>

#include "waitless/async/sleep.hpp"
#include "waitless/async/when_all.hpp"
#include "waitless/data/redis_test_support.hpp"
#include "waitless/net/tcp_listener.hpp"
#include "waitless/net/test_support.hpp"

namespace waitless::data {
namespace {

using net::test::expect_empty;
using net::test::run_task;

// Runs `body` on `loop`, then lets the closed handles go.
template <typename F>
void run_test(Loop& loop, F&& body) {
  run_task(body(), loop);
  loop.run();
  expect_empty(loop);
}

TEST(RedisClient, TypedReplies) {
  WAITLESS_REQUIRE_REDIS(opts);
  Loop loop;
  run_test(loop, [&]() -> Task<> {
    RedisClient c(loop, opts);
    const std::string k = "wl:test:typed:", list = k + "list", counter = k + "n", bin = k + "bin";
    (void)co_await c.command({"DEL", k + "v", list, counter, bin});

    Result<Reply> r = co_await c.command({"SET", k + "v", "hello"});
    CO_ASSERT_TRUE(r.ok());
    EXPECT_EQ(*r, Reply::simple("OK"));
    EXPECT_EQ((co_await c.get(k + "v")).value(), std::optional<std::string>("hello"));
    EXPECT_EQ((co_await c.get(k + "missing")).value(), std::nullopt);
    EXPECT_EQ((co_await c.incr(counter)).value(), 1);
    r = co_await c.command({"RPUSH", list, "a", "b"});
    EXPECT_EQ(*r, Reply::integer(2));
    r = co_await c.command({"LRANGE", list, "0", "-1"});
    EXPECT_EQ(r->debug_string(), "[\"a\", \"b\"]");
    // Binary-safe arguments and values.
    const std::string value("a\0\r\nb", 5);
    EXPECT_TRUE((co_await c.set(bin, value)).ok());
    EXPECT_EQ((co_await c.get(bin)).value(), std::optional<std::string>(value));
    // A server error reply is a Reply, the connection stays fine.
    r = co_await c.command({"NOSUCHCOMMAND", "x"});
    CO_ASSERT_TRUE(r.ok());
    EXPECT_TRUE(r->is_error());
    EXPECT_EQ(r->str().substr(0, 3), "ERR");
    // The typed helpers turn it into RedisErrc::error_reply (WRONGTYPE here).
    EXPECT_EQ((co_await c.incr(list)).error(), make_error_code(RedisErrc::error_reply));
    EXPECT_EQ((co_await c.del(list)).value(), 1);
    EXPECT_EQ(c.stats().connects, 1u);
  });
}

TEST(RedisClient, Resp3TypedReplies) {
  WAITLESS_REQUIRE_REDIS(opts);
  opts.protocol = 3;
  Loop loop;
  run_test(loop, [&]() -> Task<> {
    RedisClient c(loop, opts);
    const std::string h = "wl:test:resp3:h", s = "wl:test:resp3:s", z = "wl:test:resp3:z";
    (void)co_await c.command({"DEL", h, s, z});
    (void)co_await c.command({"HSET", h, "f", "1"});
    Result<Reply> r = co_await c.command({"HGETALL", h});
    CO_ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->type(), ReplyType::map);
    EXPECT_EQ(r->debug_string(), "{\"f\": \"1\"}");
    (void)co_await c.command({"SADD", s, "m"});
    r = co_await c.command({"SMEMBERS", s});
    EXPECT_EQ(r->type(), ReplyType::set);
    (void)co_await c.command({"ZADD", z, "1.5", "m"});
    r = co_await c.command({"ZSCORE", z, "m"});
    EXPECT_EQ(r->type(), ReplyType::double_);
    EXPECT_DOUBLE_EQ(r->dbl(), 1.5);
    r = co_await c.command({"GET", "wl:test:resp3:missing"});
    EXPECT_TRUE(r->is_null());
    (void)co_await c.command({"DEL", h, s, z});
  });
}

TEST(RedisClient, PipelinesTenThousandCommandsInOneWrite) {
  WAITLESS_REQUIRE_REDIS(opts);
  Loop loop;
  run_test(loop, [&]() -> Task<> {
    RedisClient c(loop, opts);
    const std::string key = "wl:test:pipeline";
    (void)co_await c.command({"DEL", key});
    const uint64_t writes = c.stats().writes;
    std::vector<Task<Result<Reply>>> tasks;
    for (int i = 0; i < 10000; ++i) tasks.push_back(c.exec({"INCR", key}));
    std::vector<Result<Reply>> replies = co_await when_all(std::move(tasks));
    CO_ASSERT_EQ(replies.size(), 10000u);
    // FIFO matching: the i-th INCR got the i-th reply.
    for (int i = 0; i < 10000; ++i) {
      CO_ASSERT_TRUE(replies[i].ok());
      CO_ASSERT_EQ(*replies[i], Reply::integer(i + 1));
    }
    // Issued in one loop turn: one write.
    EXPECT_EQ(c.stats().writes - writes, 1u);
    (void)co_await c.command({"DEL", key});
  });
}

TEST(RedisClient, TimeoutKeepsTheConnectionInSync) {
  WAITLESS_REQUIRE_REDIS(opts);
  Loop loop;
  run_test(loop, [&]() -> Task<> {
    RedisOptions slow = opts;
    slow.command_timeout = std::chrono::milliseconds(200);
    RedisClient a(loop, slow), b(loop, opts);
    const std::string key = "wl:test:timeout";
    (void)co_await b.command({"DEL", key});
    Result<Reply> r = co_await a.command({"BLPOP", key, "5"});
    EXPECT_EQ(r.error(), make_error_code(Error::timed_out));
    // The BLPOP is still pending on the server; this push completes it, its reply is read and dropped.
    (void)co_await b.command({"RPUSH", key, "x"});
    r = co_await a.command({"PING"});
    CO_ASSERT_TRUE(r.ok());
    EXPECT_EQ(*r, Reply::simple("PONG"));
    EXPECT_EQ((co_await b.command({"LLEN", key}))->integer(), 0);  // the BLPOP did run
    EXPECT_EQ(a.in_flight(), 0u);
  });
}

TEST(RedisClient, CancellationKeepsTheConnectionInSync) {
  WAITLESS_REQUIRE_REDIS(opts);
  Loop loop;
  run_test(loop, [&]() -> Task<> {
    RedisClient a(loop, opts), b(loop, opts);
    const std::string key = "wl:test:cancel";
    (void)co_await b.command({"DEL", key});
    CancelSource source;
    auto cancel_soon = [&]() -> Task<> {
      co_await sleep(std::chrono::milliseconds(50));
      source.cancel();
    };
    auto [r, done] = co_await when_all(a.exec({"BLPOP", key, "5"}).with_token(source.token()), cancel_soon());
    EXPECT_EQ(r.error(), make_error_code(Error::cancelled));
    (void)co_await b.command({"RPUSH", key, "x"});
    Result<Reply> pong = co_await a.command({"PING"});
    CO_ASSERT_TRUE(pong.ok());
    EXPECT_EQ(*pong, Reply::simple("PONG"));
    EXPECT_EQ(a.stats().connects, 1u);
  });
}

TEST(RedisClient, QueueBoundWhileDisconnected) {
  // Nothing listens on the port (taken, then released): commands wait in the bounded queue.
  Loop loop;
  uint16_t port = 0;
  {
    auto l = net::TcpListener::listen(loop, {}, [](int fd) { ::close(fd); });
    ASSERT_TRUE(l.ok());
    port = (*l)->port();
  }
  loop.run();
  run_test(loop, [&]() -> Task<> {
    RedisClient c(loop, {.port = port,
                         .command_timeout = std::chrono::milliseconds(100),
                         .reconnect_initial = std::chrono::milliseconds(10),
                         .reconnect_max = std::chrono::milliseconds(20),
                         .max_queued = 2});
    auto [a, b, d] = co_await when_all(c.exec({"PING"}), c.exec({"PING"}), c.exec({"PING"}));
    EXPECT_EQ(a.error(), make_error_code(Error::timed_out));
    EXPECT_EQ(b.error(), make_error_code(Error::timed_out));
    EXPECT_EQ(d.error(), make_error_code(RedisErrc::not_connected));
    EXPECT_GE(c.stats().connect_failures, 1u);
    EXPECT_EQ(c.queued(), 0u);
    // An empty command is refused: Redis would answer it with nothing, shifting every later reply.
    EXPECT_EQ((co_await c.command(std::vector<std::string>{})).error(),
              make_error_code(Error::invalid_argument));
    c.close();
    EXPECT_EQ((co_await c.command({"PING"})).error(), make_error_code(Error::closed));
  });
}

// A server that answers every read with `reply`.
class FakeServer {
 public:
  FakeServer(Loop& loop, std::string reply) : loop_(loop), reply_(std::move(reply)) {
    auto l = net::TcpListener::listen(loop, {}, [this](int fd) {
      auto s = net::TcpStream::adopt(loop_, fd);
      if (!s) return;
      net::TcpStream* raw = s->get();
      raw->on_data([this, raw](std::string_view) { raw->write(reply_); });
      conns_.push_back(std::move(*s));
    });
    EXPECT_TRUE(l.ok());
    listener_ = std::move(*l);
  }
  uint16_t port() const { return listener_->port(); }
  std::size_t connections() const { return conns_.size(); }

 private:
  Loop& loop_;
  std::string reply_;
  std::unique_ptr<net::TcpListener> listener_;
  std::vector<std::unique_ptr<net::TcpStream>> conns_;
};

TEST(RedisClient, HostileServerHitsTheLimitsAndTheConnectionCloses) {
  Loop loop;
  std::string deep;
  for (int i = 0; i < 100; ++i) deep += "*1\r\n";
  struct Case {
    std::string reply;
    RedisErrc expected;
  };
  for (const Case& cs :
       {Case{"$1000000000\r\n", RedisErrc::reply_too_large},
        Case{"*100000000\r\n", RedisErrc::reply_too_large}, Case{deep, RedisErrc::reply_too_large},
        Case{"+" + std::string(100000, 'a'), RedisErrc::reply_too_large},
        Case{"?what\r\n", RedisErrc::protocol_error}}) {
    run_test(loop, [&]() -> Task<> {
      FakeServer server(loop, cs.reply);
      RedisClient c(loop, {.port = server.port(), .limits = {.max_bulk = 1 << 20, .max_line = 1024}});
      // The second command was in flight behind the first: it learns the connection went.
      auto [first, second] = co_await when_all(c.exec({"PING"}), c.exec({"PING"}));
      EXPECT_EQ(first.error(), make_error_code(cs.expected)) << cs.reply.substr(0, 20);
      EXPECT_EQ(second.error(), make_error_code(RedisErrc::connection_lost));
      EXPECT_FALSE(c.connected());
      c.close();
    });
  }
}

}  // namespace
}  // namespace waitless::data
