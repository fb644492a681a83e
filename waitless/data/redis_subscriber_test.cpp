#include "waitless/data/redis_subscriber.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "waitless/async/sleep.hpp"
#include "waitless/data/redis_test_support.hpp"
#include "waitless/net/test_support.hpp"

namespace waitless::data {
namespace {

using net::test::expect_empty;
using net::test::run_task;

// Waits (on the loop) until `done`, at most 3 s.
template <typename Pred>
Task<bool> eventually(Pred done) {
  for (int i = 0; i < 600 && !done(); ++i) co_await sleep(std::chrono::milliseconds(5));
  co_return done();
}

class RedisPubSub : public ::testing::TestWithParam<int> {};

TEST_P(RedisPubSub, AcrossTwoConnections) {
  WAITLESS_REQUIRE_REDIS(opts);
  opts.protocol = GetParam();
  Loop loop;
  auto body = [&]() -> Task<> {
    RedisSubscriber sub(loop, opts);
    RedisClient pub(loop, opts);
    std::vector<std::string> direct, patterned;
    const std::string channel = "wl:test:news:" + std::to_string(GetParam());
    Result<void> s1 = co_await sub.subscribe(channel, [&](std::string_view ch, std::string_view msg) {
      direct.push_back(std::string(ch) + "=" + std::string(msg));
    });
    CO_ASSERT_TRUE(s1.ok());
    Result<void> s2 = co_await sub.psubscribe("wl:test:pat" + std::to_string(GetParam()) + ".*",
                                              [&](std::string_view ch, std::string_view msg) {
                                                patterned.push_back(std::string(ch) + "=" + std::string(msg));
                                              });
    CO_ASSERT_TRUE(s2.ok());

    EXPECT_EQ((co_await pub.publish(channel, "hello")).value(), 1);
    EXPECT_EQ((co_await pub.publish("wl:test:pat" + std::to_string(GetParam()) + ".x", "p1")).value(), 1);
    EXPECT_TRUE(co_await eventually([&] { return direct.size() == 1 && patterned.size() == 1; }));
    EXPECT_EQ(direct, std::vector<std::string>{channel + "=hello"});
    EXPECT_EQ(patterned, std::vector<std::string>{"wl:test:pat" + std::to_string(GetParam()) + ".x=p1"});

    // Binary payloads, many in a row, in order.
    for (int i = 0; i < 100; ++i)
      (void)co_await pub.publish(channel, std::string("m\0\r\n", 4) + std::to_string(i));
    EXPECT_TRUE(co_await eventually([&] { return direct.size() == 101; }));
    CO_ASSERT_EQ(direct.size(), 101u);
    EXPECT_EQ(direct[100], channel + "=" + std::string("m\0\r\n", 4) + "99");

    CO_ASSERT_TRUE((co_await sub.unsubscribe(channel)).ok());
    EXPECT_EQ((co_await pub.publish(channel, "nobody")).value(), 0);
    EXPECT_EQ(sub.channels(), 0u);
    EXPECT_EQ(sub.patterns(), 1u);
  };
  run_task(body(), loop);
  loop.run();
  expect_empty(loop);
}

INSTANTIATE_TEST_SUITE_P(Redis, RedisPubSub, ::testing::Values(2, 3));

}  // namespace
}  // namespace waitless::data
