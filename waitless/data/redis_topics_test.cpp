// RedisTopics against a real Redis (tests/redis_e2e.sh) and a real WebSocket server: a local publish
// reaches the local subscribers once and goes to Redis with the adapter's header (its echo from Redis is
// dropped); another process's message (published on the channel with a foreign origin) reaches the local
// subscribers once, in order, text and binary, and is not forwarded again; malformed messages are dropped;
// one adapter per process. Two real processes: tests/websocket_redis_e2e.sh.
#include "waitless/data/redis_topics.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <vector>

#include "waitless/async/sleep.hpp"
#include "waitless/data/redis_test_support.hpp"
#include "waitless/http/test_client.hpp"
#include "waitless/http/websocket_client.hpp"
#include "waitless/http/websocket_topics.hpp"
#include "waitless/net/test_support.hpp"

namespace waitless::data {
namespace {

using net::test::expect_empty;
using net::test::run_task;

template <typename Pred>
Task<bool> eventually(Pred done) {
  for (int i = 0; i < 600 && !done(); ++i) co_await sleep(std::chrono::milliseconds(5));
  co_return done();
}

struct Received {
  std::vector<std::string> messages;  // "t:" or "b:" + payload
};

TEST(RedisTopics, CarriesPublishesAcrossProcessesExactlyOnce) {
  WAITLESS_REQUIRE_REDIS(opts);
  const std::string prefix = "wl:test:topics:" + std::to_string(::getpid()) + ":";
  std::atomic<int> opened{0};
  auto room = std::make_shared<http::WebSocketConfig>();
  room->handlers.open = [&](http::WebSocket& ws) {
    ws.subscribe("room");
    ++opened;
  };
  http::testing::Harness h;
  h.start([room](http::Request& req, http::Response& res) { (void)http::accept_websocket(req, res, room); });
  h.run(
      [&](uint16_t port) {
        Loop loop;
        constexpr int kClients = 2;
        Received got[kClients];
        std::vector<http::WebSocket*> clients;
        auto body = [&]() -> Task<> {
          RedisTopics topics(loop, opts, prefix);
          CO_ASSERT_TRUE((co_await topics.start()).ok());
          {
            RedisTopics second(loop, opts, prefix);
            Result<void> r = co_await second.start();
            EXPECT_EQ(r.error(), make_error_code(Error::invalid_argument));
          }
          // What goes over Redis, as another process sees it.
          RedisSubscriber spy(loop, opts);
          std::vector<std::string> wire;
          CO_ASSERT_TRUE((co_await spy.subscribe(prefix + "room", [&](std::string_view, std::string_view m) {
                           wire.emplace_back(m);
                         })).ok());
          RedisClient other(loop, opts);

          for (int i = 0; i < kClients; ++i) {
            auto config = std::make_shared<http::WebSocketConfig>();
            config->handlers.message = [&got, i](http::WebSocket&, std::string_view m, bool binary) {
              got[i].messages.push_back((binary ? "b:" : "t:") + std::string(m));
            };
            auto ws = co_await http::connect_websocket(loop, "ws://127.0.0.1:" + std::to_string(port) + "/",
                                                       config);
            CO_ASSERT_TRUE(ws.ok());
            clients.push_back(*ws);
          }
          CO_ASSERT_TRUE(co_await eventually([&] { return opened.load() == kClients; }));

          // 1. A local publish: each local subscriber once; on Redis once, with this adapter's header.
          (void)http::publish("room", "local-1");
          CO_ASSERT_TRUE(co_await eventually([&] { return topics.stats().own == 1; }));
          EXPECT_EQ(topics.stats().sent, 1u);
          CO_ASSERT_EQ(wire.size(), 1u);
          EXPECT_EQ(wire[0], topics.origin() + "tlocal-1");

          // 2. Another process's messages: delivered here once each, in order, never forwarded again.
          const std::string foreign = "0123456789abcdef";
          EXPECT_NE(foreign, topics.origin());
          for (int i = 0; i < 50; ++i)
            (void)co_await other.publish(prefix + "room", foreign + "t" + "remote-" + std::to_string(i));
          (void)co_await other.publish(prefix + "room", foreign + "b" + std::string("\0\xff", 2));
          (void)co_await other.publish(prefix + "room", "short");                     // no header
          (void)co_await other.publish(prefix + "room", foreign + "x" + "bad flag");  // unknown kind
          CO_ASSERT_TRUE(co_await eventually([&] {
            return got[0].messages.size() >= 52 && got[1].messages.size() >= 52 &&
                   topics.stats().malformed == 2;
          }));
          co_await sleep(std::chrono::milliseconds(100));  // time for a duplicate to show up, if any
          for (auto& g : got) {
            CO_ASSERT_EQ(g.messages.size(), 52u);
            EXPECT_EQ(g.messages[0], "t:local-1");
            for (int i = 0; i < 50; ++i) EXPECT_EQ(g.messages[1 + i], "t:remote-" + std::to_string(i));
            EXPECT_EQ(g.messages[51], "b:" + std::string("\0\xff", 2));
          }
          EXPECT_EQ(topics.stats().received, 51u);
          EXPECT_EQ(topics.stats().sent, 1u);
          EXPECT_EQ(topics.stats().own, 1u);
          EXPECT_EQ(wire.size(), 54u);  // local-1 and the other process's 53: nothing re-published

          // 3. A publish from another thread (no loop there) goes out through the adapter's loop too.
          std::thread([] { (void)http::publish("room", "from-thread"); }).join();
          CO_ASSERT_TRUE(co_await eventually([&] {
            return topics.stats().own == 2 && got[0].messages.size() == 53 && got[1].messages.size() == 53;
          }));
          EXPECT_EQ(wire.back(), topics.origin() + "tfrom-thread");

          // 4. Stopped: publishes stay local.
          topics.stop();
          (void)http::publish("room", "after-stop");
          CO_ASSERT_TRUE(co_await eventually([&] { return got[1].messages.size() == 54; }));
          co_await sleep(std::chrono::milliseconds(50));
          EXPECT_EQ(wire.size(), 55u);
          for (http::WebSocket* ws : clients) ws->close(1000, "done");
          spy.close();
          other.close();
        };
        run_task(body(), loop);
        loop.run();
        expect_empty(loop);
      },
      std::chrono::milliseconds(5000));
}

}  // namespace
}  // namespace waitless::data
