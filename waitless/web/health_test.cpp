#include "waitless/web/health.hpp"

#include <gtest/gtest.h>

#include <atomic>

#include "waitless/web/app_test_support.hpp"

namespace waitless::web {
namespace {

using namespace std::chrono_literals;
using http::testing::get;
using http::testing::TestClient;
using test::request;
using test::serve;

TEST(Health, ReadinessTurnsFalseWhenShutdownStarts) {
  App app;
  std::atomic<bool> db_ok{true};
  app.get("/healthz", healthz());
  app.get("/readyz", readyz(app));
  app.get("/readyz/db", readyz(app, [&db_ok] { return db_ok.load(); }));
  EXPECT_FALSE(app.ready());
  serve(app, [&](uint16_t port) {
    auto h = request(port, get("/healthz"));
    EXPECT_EQ(h.status, 200);
    EXPECT_EQ(h.body, "ok\n");
    EXPECT_EQ(h.header("Cache-Control"), "no-store");
    EXPECT_EQ(request(port, "HEAD /healthz HTTP/1.1\r\nHost: t\r\n\r\n").status, 200);
    EXPECT_EQ(request(port, get("/readyz")).body, "ready\n");
    EXPECT_EQ(request(port, get("/readyz/db")).status, 200);
    db_ok = false;
    EXPECT_EQ(request(port, get("/readyz/db")).status, 503);
    EXPECT_EQ(request(port, get("/readyz/db")).body, "not ready\n");

    TestClient c(port);  // a keep-alive connection open before the shutdown
    ASSERT_TRUE(c.send(get("/readyz")));
    ASSERT_EQ(c.read_response()->status, 200);
    EXPECT_TRUE(app.ready());
    app.shutdown(2000ms);
    EXPECT_FALSE(app.ready());
    ASSERT_TRUE(c.send(get("/readyz")));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 503);
    EXPECT_EQ(r->body, "shutting down\n");
    EXPECT_EQ(r->header("Retry-After"), "1");
  });
}

}  // namespace
}  // namespace waitless::web
