// Request's per-request storage (arena and typed locals) over a real server.
#include "waitless/http/request.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "waitless/async/sleep.hpp"
#include "waitless/http/test_client.hpp"

namespace waitless::http {
namespace {

using namespace std::chrono_literals;
using testing::get;
using testing::Harness;
using testing::TestClient;

int g_destroyed = 0;
struct Params {
  Params() = default;
  ~Params() { ++g_destroyed; }
  std::vector<std::string_view> values;  // views into the arena
};
struct User {
  int id = 0;
};

TEST(RequestLocals, OnePerTypePerRequestDestroyedWhenRecycled) {
  Harness h;
  std::vector<std::string> seen;
  g_destroyed = 0;
  h.start([&](Request& req, Response& res) {
    seen.push_back(req.find_local<Params>() ? "stale" : "fresh");
    Params& p = req.locals<Params>();
    p.values.push_back(req.arena().copy(req.path()));
    EXPECT_EQ(&req.locals<Params>(), &p);  // the same slot
    req.locals<User>().id = static_cast<int>(req.path().size());
    EXPECT_EQ(req.find_local<User>()->id, static_cast<int>(req.path().size()));
    (void)res.send(std::string(p.values.front()));
  });
  h.run([](uint16_t port) {
    TestClient c(port);
    ASSERT_TRUE(c.send(get("/a") + get("/bb")));
    for (const char* want : {"/a", "/bb"}) {
      auto r = c.read_response();
      ASSERT_TRUE(r);
      EXPECT_EQ(r->body, want);
    }
  });
  EXPECT_EQ(seen, (std::vector<std::string>{"fresh", "fresh"}));
  EXPECT_EQ(g_destroyed, 2);
}

TEST(RequestLocals, LiveAcrossAnAsyncHandlersSuspensions) {
  Harness h;
  g_destroyed = 0;
  h.start([](Request& req, Response& res) -> Task<> {
    req.locals<Params>().values.push_back(req.arena().copy(req.query()));
    co_await sleep(1ms);
    (void)res.send(std::string(req.locals<Params>().values.at(0)));
  });
  h.run([](uint16_t port) {
    TestClient c(port);
    ASSERT_TRUE(c.send(get("/?one") + get("/?two")));
    for (const char* want : {"one", "two"}) {
      auto r = c.read_response();
      ASSERT_TRUE(r);
      EXPECT_EQ(r->body, want);
    }
  });
  EXPECT_EQ(g_destroyed, 2);
}

// Route parameters the way a router keeps them: a fixed table of views into the arena.
struct RouteParams {
  std::string_view names[8], values[8];
  int count = 0;
};

// The sync fast path: once the arena has the block its requests need, a request allocates nothing from
// it (the arena counts the blocks it ever took from the heap).
TEST(RequestLocals, NoArenaAllocationPerRequestAfterWarmUp) {
  Harness h;
  std::vector<std::size_t> blocks;
  blocks.reserve(200);
  h.start([&](Request& req, Response& res) {
    RouteParams& p = req.locals<RouteParams>();
    for (; p.count < 8; ++p.count) {
      p.names[p.count] = req.arena().copy("segment");
      p.values[p.count] = req.arena().copy(req.target());
    }
    req.locals<User>().id = 1;
    blocks.push_back(req.arena().blocks_allocated());
    (void)res.send("ok");
  });
  h.run([](uint16_t port) {
    TestClient c(port);
    for (int i = 0; i < 200; ++i) {
      ASSERT_TRUE(c.send(get("/some/route/" + std::to_string(i))));
      auto r = c.read_response();
      ASSERT_TRUE(r);
      ASSERT_EQ(r->body, "ok");
    }
  });
  ASSERT_EQ(blocks.size(), 200u);
  EXPECT_EQ(blocks.front(), 1u);
  EXPECT_EQ(blocks.back(), blocks.front());
}

}  // namespace
}  // namespace waitless::http
