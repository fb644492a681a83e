// For the database tests (header only, not part of the library).
#pragma once
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

// gtest's ASSERT_* return from a void function; inside a coroutine the test body must co_return.
#define CO_ASSERT_TRUE(cond)                 \
  if (const bool co_ok_ = (cond); !co_ok_) { \
    ADD_FAILURE() << "failed: " #cond;       \
    co_return;                               \
  }
#define CO_ASSERT_FALSE(cond) CO_ASSERT_TRUE(!(cond))
#define CO_ASSERT_EQ(a, b) \
  if (!((a) == (b))) {     \
    EXPECT_EQ(a, b);       \
    co_return;             \
  }

// The PostgreSQL server's conninfo comes from WAITLESS_PG, set by tests/data_e2e.sh (which starts a
// throwaway server with tests/data/postgres.sh). Without it the test is skipped, visibly.
#define WAITLESS_PG_OR_SKIP()                                                                        \
  const char* pg_env = std::getenv("WAITLESS_PG");                                                   \
  if (!pg_env || !*pg_env)                                                                           \
    GTEST_SKIP() << "WAITLESS_PG is not set: PostgreSQL tests skipped (tests/data_e2e.sh runs them " \
                    "against a server it starts)";                                                   \
  const std::string conninfo(pg_env)
