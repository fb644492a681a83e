#include "waitless/web/app.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <string>

#include "waitless/async/frame_allocator.hpp"
#include "waitless/web/app_test_support.hpp"

namespace waitless::web {
namespace {

using namespace std::chrono_literals;
using http::testing::get;
using http::testing::TestClient;
using test::request;
using test::serve;
using test::with_body;

TEST(WebApp, SyncAndAsyncHandlersInOneAppAndOnionOrder) {
  App app;
  std::string log;  // touched on the loop thread only
  app.use([&log](Request&, Response& res, Next next) -> Task<> {
    log += "a>";
    co_await next();
    log += "<a";
    res.set_header("X-After", "yes");  // after the handler: the response is not committed yet
  });
  app.use([&log](Request&, Response&, Next next) {
    log += "b>";
    next();
    log += "<b";
  });
  app.get("/sync", [&log](Request&, Response& res) {
    log += "S";
    res.send("plain");
  });
  app.get("/async", [&log](Request&, Response& res) -> Task<> {
    co_await sleep(2ms);
    log += "A";
    res.status(201).send("coroutine");
  });
  serve(app, [&](uint16_t port) {
    auto r = request(port, get("/sync"));
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "plain");
    EXPECT_EQ(r.header("Content-Type"), "text/plain; charset=utf-8");
    EXPECT_EQ(r.header("X-After"), "yes");
    r = request(port, get("/async"));
    EXPECT_EQ(r.status, 201);
    EXPECT_EQ(r.body, "coroutine");
    EXPECT_EQ(r.header("X-After"), "yes");
  });
  // The plain middleware in front of the coroutine handler went on at its first suspension.
  EXPECT_EQ(log, "a>b>S<b<aa>b><bA<a");
}

TEST(WebApp, APlainChainCreatesNoCoroutineFrame) {
  App app;
  app.use([](Request&, Response& res, Next next) {
    next();
    res.set_header("X-Mw", "1");
  });
  app.get("/users/:id",
          [](Request& req, Response& res) { res.send(std::to_string(req.param<int>("id") + 1)); });
  std::atomic<uint64_t> frames_during{~uint64_t{0}};
  app.get("/frames", [&frames_during](Request&, Response& res) {
    frames_during = waitless::detail::frames_allocated();
    res.send("x");
  });
  serve(app, [&](uint16_t port) {
    TestClient c(port);
    ASSERT_TRUE(c.send(get("/frames")));
    ASSERT_TRUE(c.read_response());
    const uint64_t before = frames_during.load();
    for (int i = 0; i < 20; ++i) {
      ASSERT_TRUE(c.send(get("/users/41")));
      auto r = c.read_response();
      ASSERT_TRUE(r);
      EXPECT_EQ(r->body, "42");
      EXPECT_EQ(r->header("X-Mw"), "1");
    }
    ASSERT_TRUE(c.send(get("/frames")));
    ASSERT_TRUE(c.read_response());
    EXPECT_EQ(frames_during.load(), before);  // the loop thread made no coroutine for 20 requests
  });
}

TEST(WebApp, RoutingEdgeCases) {
  App app;
  app.get("/users/new", [](Request&, Response& res) { res.send("new"); });
  app.get("/users/:id", [](Request& req, Response& res) { res.send("id=" + std::string(req.param("id"))); });
  app.get("/files/*rest", [](Request& req, Response& res) { res.send(std::string(req.param("rest"))); });
  app.post("/users", [](Request&, Response& res) { res.status(201).send("created"); });
  app.del("/users/:id", [](Request&, Response& res) { res.status(204); });
  Router api;
  api.get("/ping", [](Request&, Response& res) { res.send("pong"); });
  app.mount("/api", api);
  serve(app, [&](uint16_t port) {
    EXPECT_EQ(request(port, get("/users/new")).body, "new");
    EXPECT_EQ(request(port, get("/users/a%2Fb")).body, "id=a/b");  // decoded once, %2F inside the segment
    EXPECT_EQ(request(port, get("/users/7/")).body, "id=7");       // one trailing slash ignored
    EXPECT_EQ(request(port, get("/files/a/b/c.txt")).body, "a/b/c.txt");
    EXPECT_EQ(request(port, get("/api/ping")).body, "pong");
    EXPECT_EQ(request(port, with_body("POST", "/users", "text/plain", "x")).status, 201);
    EXPECT_EQ(request(port, "DELETE /users/3 HTTP/1.1\r\nHost: t\r\n\r\n").status, 204);

    auto r = request(port, get("/nothing/here"));
    EXPECT_EQ(r.status, 404);
    EXPECT_EQ(r.header("Content-Type"), "application/problem+json");
    EXPECT_NE(r.body.find("\"status\":404"), std::string::npos);

    r = request(port, with_body("PUT", "/users", "text/plain", "x"));
    EXPECT_EQ(r.status, 405);
    EXPECT_EQ(r.header("Allow"), "POST, OPTIONS");

    r = request(port, "OPTIONS /users/9 HTTP/1.1\r\nHost: t\r\n\r\n");
    EXPECT_EQ(r.status, 204);
    EXPECT_EQ(r.header("Allow"), "GET, HEAD, DELETE, OPTIONS");

    r = request(port, "HEAD /users/new HTTP/1.1\r\nHost: t\r\n\r\n");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.header("Content-Length"), "3");
    EXPECT_TRUE(r.body.empty());

    r = request(port, get("/users/%zz"));  // a refused encoding
    EXPECT_EQ(r.status, 400);
    r = request(port, get("/files/%2e%2e/etc"));  // an encoded dot segment
    EXPECT_EQ(r.status, 400);
  });
}

TEST(WebApp, ParamConversionFailureIs400AndTheServerGoesOn) {
  App app;
  app.get("/n/:n", [](Request& req, Response& res) { res.send(std::to_string(req.param<int64_t>("n"))); });
  app.get("/a/:n", [](Request& req, Response& res) -> Task<> {
    co_await sleep(1ms);
    res.send(std::to_string(req.param<uint8_t>("n")));
  });
  serve(app, [&](uint16_t port) {
    auto r = request(port, get("/n/12x"));
    EXPECT_EQ(r.status, 400);
    EXPECT_NE(r.body.find("route parameter 'n'"), std::string::npos) << r.body;
    EXPECT_EQ(request(port, get("/n/-5")).body, "-5");
    EXPECT_EQ(request(port, get("/a/300")).status, 400);  // out of range for uint8_t
    EXPECT_EQ(request(port, get("/a/200")).body, "200");
    EXPECT_EQ(request(port, get("/n/99999999999999999999")).status, 400);
  });
}

TEST(WebApp, QueryHeadersCookiesAndRequestId) {
  App app;
  app.get("/q", [](Request& req, Response& res) {
    std::string out = std::string(req.query("name").value_or("-"));
    for (auto v : req.query_all("tag")) out += "," + std::string(v);
    out += "|" + std::string(req.cookie("sid").value_or("none"));
    out += "|" + std::string(req.header("x-thing"));
    res.send(out);
  });
  app.get("/id", [](Request& req, Response& res) { res.send(std::string(req.id())); });
  serve(app, [&](uint16_t port) {
    auto r = request(
        port, get("/q?name=J%C3%BCrgen+X&tag=a&tag=b%26c", "Cookie: a=1; sid=\"xyz\"\r\nX-Thing: 5\r\n"));
    EXPECT_EQ(r.body, "Jürgen X,a,b&c|xyz|5");
    EXPECT_EQ(request(port, get("/q?name=%zz")).status, 400);

    r = request(port, get("/id", "X-Request-Id: abc-123\r\n"));
    EXPECT_EQ(r.body, "abc-123");
    EXPECT_EQ(r.header("X-Request-Id"), "abc-123");
    r = request(port, get("/id", "X-Request-Id: bad id with spaces\r\n"));
    EXPECT_NE(r.body, "bad id with spaces");
    EXPECT_EQ(r.header("X-Request-Id"), r.body);
    auto r2 = request(port, get("/id"));
    EXPECT_FALSE(r2.body.empty());
    EXPECT_NE(r2.body, r.body);
    // A generated id: the process's 16 hex digits, '-', its counter in hex (the next request's is one more).
    auto hex_tail = [](const std::string& id) { return std::stoull(id.substr(17), nullptr, 16); };
    ASSERT_GT(r2.body.size(), 17u);
    EXPECT_EQ(r2.body.find_first_not_of("0123456789abcdef"), 16u);
    EXPECT_EQ(r2.body[16], '-');
    EXPECT_EQ(r2.body.substr(0, 17), r.body.substr(0, 17));
    EXPECT_EQ(r2.body.substr(17).find_first_not_of("0123456789abcdef"), std::string::npos);
    EXPECT_TRUE(r2.body.size() == 18 || r2.body[17] != '0');  // no leading zero
    EXPECT_EQ(hex_tail(r2.body), hex_tail(r.body) + 1);
  });
}

TEST(WebApp, ClientIpWithAndWithoutTrustedProxies) {
  auto ip_app = [](unsigned hops) {
    auto app = std::make_unique<App>(AppOptions{.trust_proxy = {.hops = hops}});
    app->get("/ip", [](Request& req, Response& res) { res.send(std::string(req.ip())); });
    return app;
  };
  const std::string xff = "X-Forwarded-For: 203.0.113.9, 10.0.0.2\r\n";
  {
    auto app = ip_app(0);
    serve(*app, [&](uint16_t port) { EXPECT_EQ(request(port, get("/ip", xff)).body, "127.0.0.1"); });
  }
  {
    auto app = ip_app(1);  // the peer is our proxy: the header's last entry is the client
    serve(*app, [&](uint16_t port) { EXPECT_EQ(request(port, get("/ip", xff)).body, "10.0.0.2"); });
  }
  {
    auto app = ip_app(TrustProxy::kAll);
    serve(*app, [&](uint16_t port) {
      EXPECT_EQ(request(port, get("/ip", xff)).body, "203.0.113.9");
      // Forwarded wins over X-Forwarded-For; IPv6 in brackets with a port.
      EXPECT_EQ(
          request(port, get("/ip", "Forwarded: for=\"[2001:db8::17]:4711\";proto=https\r\n" + xff)).body,
          "2001:db8::17");
    });
  }
}

TEST(WebApp, ResponseHelpers) {
  App app;
  app.get("/redirect", [](Request&, Response& res) { res.redirect("/there", 301); });
  app.get("/cookie", [](Request&, Response& res) {
    res.cookie({.name = "sid",
                .value = "v1",
                .max_age = 60s,
                .path = "/",
                .secure = true,
                .http_only = true,
                .same_site = SameSite::strict})
        .server_timing("db", 12.5ms, "users \"q\"")
        .server_timing("cache")
        .json(json::object{{"ok", true}});
  });
  app.get("/bad-cookie", [](Request&, Response& res) {
    res.cookie({.name = "bad name", .value = "v"});
    res.send(res.error() ? "refused" : "taken");
  });
  serve(app, [&](uint16_t port) {
    auto r = request(port, get("/redirect"));
    EXPECT_EQ(r.status, 301);
    EXPECT_EQ(r.header("Location"), "/there");
    r = request(port, get("/cookie"));
    EXPECT_EQ(r.header("Set-Cookie"), "sid=v1; Max-Age=60; Path=/; Secure; HttpOnly; SameSite=Strict");
    EXPECT_EQ(r.header("Server-Timing"), "db;dur=12.5;desc=\"users \\\"q\\\"\", cache");
    EXPECT_EQ(r.header("Content-Type"), "application/json");
    EXPECT_EQ(r.body, "{\"ok\":true}");
    EXPECT_EQ(request(port, get("/bad-cookie")).body, "refused");
  });
}

TEST(WebApp, StreamingCommitsTheHeadAtTheFirstWrite) {
  App app;
  app.get("/stream", [](Request&, Response& res) -> Task<> {
    res.type("text/plain").server_timing("gen");
    for (int i = 0; i < 200; ++i) {
      std::string piece(1000, static_cast<char>('a' + i % 26));
      if (auto ec = res.write(piece)) co_return;
      if (res.needs_drain()) co_await res.drain();
    }
    res.set_header("X-Too-Late", "1");  // refused: the head is out
    EXPECT_TRUE(res.error());
  });
  serve(app, [&](uint16_t port) {
    auto r = request(port, get("/stream"));
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.header("Transfer-Encoding"), "chunked");
    EXPECT_EQ(r.header("Server-Timing"), "gen");
    EXPECT_EQ(r.body.size(), 200'000u);
    EXPECT_FALSE(r.has("X-Too-Late"));
  });
}

TEST(WebApp, StreamingPastTheHighWaterMarkBeforeTheFirstSuspension) {
  // The first pieces are written while the request's input is being handled (one batch of output): the
  // handler reaches the high-water mark and waits in drain() before anything was sent. Sending the batch
  // must wake it, or the response stalls at 256 KiB.
  App app;
  app.get("/big", [](Request&, Response& res) -> Task<> {
    const std::string piece(64 * 1024, 'x');
    for (int i = 0; i < 64; ++i) {
      if (auto ec = res.write(piece)) co_return;
      if (res.needs_drain()) {
        if (auto ec = co_await res.drain()) co_return;
      }
    }
    (void)res.end();
  });
  serve(app, [&](uint16_t port) {
    auto r = request(port, get("/big"));
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body.size(), 64u * 64 * 1024);
  });
}

TEST(WebApp, AFailureAfterTheHeadWentOutCutsTheConnection) {
  App app;
  app.use(errors());
  app.get("/stream-fail", [](Request&, Response& res) -> Task<> {
    (void)res.write("partial");
    co_await sleep(1ms);
    throw std::runtime_error("lost the source");
  });
  app.get("/ok", [](Request&, Response& res) { res.send("fine"); });
  serve(app, [&](uint16_t port) {
    TestClient c(port);
    ASSERT_TRUE(c.send(get("/stream-fail")));
    EXPECT_FALSE(c.read_response());  // the chunked body never ends: the client cannot take it as complete
    EXPECT_TRUE(c.closed_within(2000));
    EXPECT_EQ(request(port, get("/ok")).body, "fine");
  });
}

TEST(WebApp, ErrorsBecomeProblemDocuments) {
  App app;
  app.use(errors());
  app.get("/teapot", [](Request&, Response&) { throw HttpError(409, "short and stout"); });
  app.get("/boom", [](Request&, Response&) { throw std::runtime_error("secret internal detail"); });
  app.get("/aboom", [](Request&, Response&) -> Task<> {
    co_await sleep(1ms);
    throw std::runtime_error("secret internal detail");
  });
  app.get("/value", [](Request&, Response& res) { res.set_header("Bad Name", "x").send("never"); });
  App dev(AppOptions{});
  dev.use(errors({.development = true}));
  dev.get("/boom", [](Request&, Response& res) {
    res.send("partial");  // replaced by the problem
    throw std::runtime_error("secret internal detail");
  });
  serve(app, [&](uint16_t port) {
    auto r = request(port, get("/teapot"));
    EXPECT_EQ(r.status, 409);
    EXPECT_EQ(r.header("Content-Type"), "application/problem+json");
    EXPECT_EQ(
        r.body,
        "{\"type\":\"about:blank\",\"title\":\"Conflict\",\"status\":409,\"detail\":\"short and stout\","
        "\"instance\":\"/teapot\"}");
    for (const char* path : {"/boom", "/aboom"}) {
      r = request(port, get(path));
      EXPECT_EQ(r.status, 500);
      EXPECT_EQ(r.body.find("secret"), std::string::npos) << r.body;
      EXPECT_NE(r.body.find("Internal Server Error"), std::string::npos);
    }
    r = request(port, get("/value"));
    EXPECT_EQ(r.status, 500);
    EXPECT_EQ(r.body.find("never"), std::string::npos);
  });
  serve(dev, [&](uint16_t port) {
    auto r = request(port, get("/boom"));
    EXPECT_EQ(r.status, 500);
    EXPECT_NE(r.body.find("secret internal detail"), std::string::npos);
    EXPECT_EQ(r.body.find("partial"), std::string::npos);
  });
}

TEST(WebApp, RefusedRoutesKeepTheAppFromStarting) {
  App app;
  app.get("/ok", [](Request&, Response& res) { res.send("x"); });
  app.get("/ok", [](Request&, Response& res) { res.send("y"); });  // duplicate
  EXPECT_EQ(app.error(), RouteError::duplicate_route);
  Loop loop;
  Loop::Scope scope(loop);
  EXPECT_FALSE(app.attach(loop, {}).ok());
  EXPECT_EQ(app.listen(0, {.threads = 1, .handle_signals = false}), 1);
}

TEST(WebApp, StartReturnsThePortAndShutdownEndsIt) {
  App app;
  app.get("/", [](Request&, Response& res) { res.send("root"); });
  auto port = app.start(0, {.threads = 2, .handle_signals = false});
  ASSERT_TRUE(port.ok());
  EXPECT_EQ(request(*port, get("/")).body, "root");
  app.shutdown(100ms);
  EXPECT_EQ(app.wait(), 0);
}

}  // namespace
}  // namespace waitless::web

// ---- the issue's sample, as written
// ------------------------------------------------------------------------

namespace sample {
using namespace waitless;
using namespace waitless::web;

struct User {
  int64_t id;
  std::string name;
};
BOOST_DESCRIBE_STRUCT(User, (), (id, name))

std::chrono::steady_clock::time_point now() { return std::chrono::steady_clock::now(); }
std::string to_ms(std::chrono::steady_clock::duration d) {
  return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(d).count());
}
Task<User> load_user(int64_t id) {
  co_await sleep(std::chrono::milliseconds(1));
  co_return User{id, "Ada"};
}

#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wunused-parameter"
void build(waitless::web::App& app) {
  app.use(waitless::web::logger());
  app.use([](Request& req, Response& res, Next next) -> Task<> {  // onion: before and after the rest
    auto t0 = now();
    co_await next();
    res.set_header("X-Response-Time", to_ms(now() - t0));
  });
  app.get("/users/:id", [](Request& req, Response& res) -> Task<> {
    auto id = req.param<int64_t>("id");  // 400 on a bad conversion
    auto user = co_await load_user(id);
    res.status(200).json(user);
  });
  app.post("/items", [](Request& req, Response& res) { res.status(201).send("created"); });  // sync handler
}
#pragma clang diagnostic pop
}  // namespace sample

TEST(WebApp, TheIssueSampleServesAsWritten) {
  waitless::web::App app;
  sample::build(app);
  // app.listen(8080) serves until shutdown; the test's form takes a free port and stops by itself.
  waitless::web::test::serve(app, [&](uint16_t port) {
    auto r = waitless::web::test::request(port, waitless::http::testing::get("/users/7"));
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "{\"id\":7,\"name\":\"Ada\"}");
    EXPECT_TRUE(r.has("X-Response-Time"));
    EXPECT_EQ(waitless::web::test::request(port, waitless::http::testing::get("/users/x")).status, 400);
    r = waitless::web::test::request(port,
                                     waitless::web::test::with_body("POST", "/items", "text/plain", "x"));
    EXPECT_EQ(r.status, 201);
    EXPECT_EQ(r.body, "created");
  });
}

namespace waitless::web {
namespace {

TEST(WebApp, WithoutAnErrorsMiddlewareTheAppAnswersPerItsOptions) {
  App dev(AppOptions{.errors = {.development = true}});
  dev.get("/boom", [](Request&, Response&) { throw std::runtime_error("the detail"); });
  App prod;
  prod.get("/boom", [](Request&, Response&) -> Task<> {
    co_await sleep(std::chrono::milliseconds(1));
    throw std::runtime_error("the detail");
  });
  test::serve(dev, [&](uint16_t port) {
    auto r = test::request(port, http::testing::get("/boom"));
    EXPECT_EQ(r.status, 500);
    EXPECT_NE(r.body.find("the detail"), std::string::npos);
  });
  test::serve(prod, [&](uint16_t port) {
    auto r = test::request(port, http::testing::get("/boom"));
    EXPECT_EQ(r.status, 500);
    EXPECT_EQ(r.header("Content-Type"), "application/problem+json");
    EXPECT_EQ(r.body.find("the detail"), std::string::npos);
  });
}

TEST(WebApp, TheAppCannotChangeOnceItServes) {
  App app;
  app.get("/a", [](Request&, Response& res) { res.send("a"); });
  test::serve(app,
              [&](uint16_t port) { EXPECT_EQ(test::request(port, http::testing::get("/a")).body, "a"); });
  app.get("/b", [](Request&, Response& res) { res.send("b"); });
  app.use([](Request&, Response&, Next next) { next(); });
  EXPECT_EQ(app.error(), Error::already_closing);
}

TEST(WebApp, ConnectionCountOnTheAttachedLoop) {
  App app;
  EXPECT_EQ(app.connection_count(), 0u);
  app.get("/count", [&app](Request&, Response& res) { res.send(std::to_string(app.connection_count())); });
  serve(app, [&](uint16_t port) {
    TestClient first(port);
    ASSERT_TRUE(first.send(get("/count")));
    auto r = first.read_response();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->body, "1");
    TestClient second(port);
    ASSERT_TRUE(second.send(get("/count")));
    r = second.read_response();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->body, "2");
  });
}

}  // namespace
}  // namespace waitless::web
