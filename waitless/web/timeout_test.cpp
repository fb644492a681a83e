#include "waitless/web/timeout.hpp"

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

Task<> stubborn_wait() { co_await sleep(150ms); }

TEST(RequestTimeout, CancelsTheHandlerAndAnswers503) {
  App app;
  app.use(errors());
  app.use(request_timeout(60ms));
  std::atomic<int> slow_result{-1};
  std::atomic<bool> stubborn_done{false};
  app.get("/fast", [](Request&, Response& res) { res.send("fast"); });
  app.get("/quick", [](Request&, Response& res) -> Task<> {
    co_await sleep(1ms);
    res.send("quick");
  });
  app.get("/slow", [&slow_result](Request&, Response& res) -> Task<> {
    res.send("never sent");
    auto ec = co_await sleep(5s);
    slow_result = ec == std::error_code(Error::cancelled) ? 1 : 0;
  });
  app.get("/stubborn", [&stubborn_done](Request&, Response& res) -> Task<> {
    co_await stubborn_wait().with_token(CancelToken{});  // a wait the token cannot end
    stubborn_done = true;
    res.send("late");
  });
  app.get("/stream", [](Request&, Response& res) -> Task<> {
    (void)res.write("partial ");
    if (co_await sleep(5s)) co_return;  // cancelled: leaves the stream unfinished
    (void)res.end("never");
  });
  serve(app, [&](uint16_t port) {
    EXPECT_EQ(request(port, get("/fast")).body, "fast");
    EXPECT_EQ(request(port, get("/quick")).body, "quick");
    auto slow = request(port, get("/slow"));
    EXPECT_EQ(slow.status, 503);
    EXPECT_EQ(slow.header("Retry-After"), "1");
    EXPECT_EQ(slow.header("Content-Type"), "application/problem+json");
    EXPECT_EQ(slow.body.find("never sent"), std::string::npos);
    EXPECT_EQ(slow_result.load(), 1);  // its sleep ended with Error::cancelled
    auto stubborn = request(port, get("/stubborn"));
    EXPECT_EQ(stubborn.status, 503);
    EXPECT_TRUE(stubborn_done.load());  // the 503 waited for the handler to return
    // A stream already under way is cut: no complete response reaches the client.
    TestClient c(port);
    ASSERT_TRUE(c.send(get("/stream")));
    EXPECT_FALSE(c.read_response().has_value());
    // The server goes on.
    EXPECT_EQ(request(port, get("/fast")).body, "fast");
  });
}

}  // namespace
}  // namespace waitless::web
