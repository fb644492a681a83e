// For the PostgreSQL tests (header only, not part of the library): a connection to WAITLESS_PG's server,
// and a test body run with one on a fresh loop that must end empty.
#pragma once
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>

#include "waitless/data/db_test_support.hpp"
#include "waitless/data/postgres.hpp"
#include "waitless/loop/test_support.hpp"

namespace waitless::data::pg::testing {

inline Task<std::unique_ptr<Connection>> must_connect(const std::string& conninfo) {
  auto c = co_await Connection::connect(conninfo);
  EXPECT_TRUE(c.ok()) << c.error().message();
  if (!c) co_return nullptr;
  co_return std::move(*c);
}

// Runs `body` with a new connection on a new loop; the loop must be empty afterwards.
inline void with_connection(const std::string& conninfo, const std::function<Task<>(Connection&)>& body) {
  Loop loop;
  run(
      [&]() -> Task<> {
        auto c = co_await must_connect(conninfo);
        if (c) co_await body(*c);
      }(),
      loop);
  loop.run();
  waitless::test::expect_empty(loop);
}

}  // namespace waitless::data::pg::testing
