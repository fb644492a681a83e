// Helpers shared by the Redis and cache tests (header only; not part of the library).
#pragma once
#include <gtest/gtest.h>

#include <cstdlib>
#include <optional>
#include <string>

#include "waitless/data/redis_client.hpp"

namespace waitless::data::test {

// The server the Redis tests use: WAITLESS_REDIS=host:port (tests/redis_e2e.sh starts one and sets it).
inline std::optional<RedisOptions> redis_options() {
  const char* env = std::getenv("WAITLESS_REDIS");
  if (!env || !*env) return std::nullopt;
  std::string s(env);
  const auto colon = s.rfind(':');
  RedisOptions o;
  if (colon == std::string::npos) {
    o.host = s;
  } else {
    o.host = s.substr(0, colon);
    o.port = static_cast<uint16_t>(std::atoi(s.c_str() + colon + 1));
  }
  o.reconnect_initial = std::chrono::milliseconds(20);
  o.reconnect_max = std::chrono::milliseconds(200);
  return o;
}

}  // namespace waitless::data::test

// Skips the test, visibly, when no Redis server was given.
#define WAITLESS_REQUIRE_REDIS(var)                                                        \
  auto var##_opt = ::waitless::data::test::redis_options();                                \
  if (!var##_opt)                                                                          \
    GTEST_SKIP() << "WAITLESS_REDIS (host:port) is not set: tests/redis_e2e.sh runs this " \
                    "test against a real redis-server";                                    \
  ::waitless::data::RedisOptions var = *var##_opt

// ASSERT_* for coroutine bodies (gtest's ASSERT_* expand to `return`, which a coroutine cannot use).
#define CO_ASSERT_TRUE(cond)           \
  if (!(cond)) {                       \
    ADD_FAILURE() << "failed: " #cond; \
    co_return;                         \
  }
#define CO_ASSERT_EQ(a, b) \
  if (!((a) == (b))) {     \
    EXPECT_EQ(a, b);       \
    co_return;             \
  }
