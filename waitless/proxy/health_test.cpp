#include "waitless/proxy/health.hpp"

#include <gtest/gtest.h>

#include <atomic>

#include "waitless/async/sleep.hpp"
#include "waitless/http/client_test_support.hpp"

namespace waitless::proxy {
namespace {

using namespace std::chrono_literals;
using http::testing::run_bounded;
using http::testing::TestServer;

// Shuts every server down at once, then runs the loop until they are all gone (TestServer::finish alone
// would run the loop while the others' listeners keep it alive).
void finish_all(Loop& loop, std::initializer_list<TestServer*> servers) {
  for (TestServer* s : servers) s->server().shutdown(std::chrono::milliseconds(200));
  loop.run();
  for (TestServer* s : servers) s->finish();
}

TEST(ProxyHealth, FallThenRiseFollowTheChecks) {
  Loop loop;
  {
    int status = 200;
    int checks = 0;
    TestServer a(loop, [&](http::Request& req, http::Response& res) {
      if (req.path() == "/healthz") ++checks;
      (void)res.send(status, "h", "text/plain");
    });
    TestServer b(loop, [](http::Request&, http::Response& res) { (void)res.send("ok"); });
    ProxyConfig c;
    UpstreamSpec u;
    u.name = "app";
    u.servers = {ServerSpec{"127.0.0.1:" + std::to_string(a.port()), "127.0.0.1", a.port(), 1},
                 ServerSpec{"127.0.0.1:" + std::to_string(b.port()), "127.0.0.1", b.port(), 1}};
    u.health = ActiveHealth{true, "/healthz", 20ms, 200ms, 2, 3};
    c.upstreams.push_back(u);
    c.routes.push_back(RouteSpec{"", "/", "app", 0});
    Proxy proxy(c);
    const auto snap = proxy.snapshot();
    ServerState& sa = snap->upstreams[0]->server(0);
    ServerState& sb = snap->upstreams[0]->server(1);
    CancelSource stop;
    {
      Loop::Scope on(loop);
      spawn(run_health_checks(proxy, loop, 5ms), stop.token());
    }
    // Waits (bounded) until `pred` holds.
    auto until = [&](auto pred) -> Task<bool> {
      for (int i = 0; i < 400 && !pred(); ++i) co_await sleep(5ms);
      co_return pred();
    };
    run_bounded(loop, [&]() -> Task<> {
      EXPECT_TRUE(co_await until([&] { return checks >= 3; }));
      EXPECT_TRUE(sa.active_up.load());
      status = 503;
      const int before = checks;
      EXPECT_TRUE(co_await until([&] { return !sa.active_up.load(); }));
      EXPECT_GE(checks - before, 3);  // fall = 3 failures in a row
      EXPECT_TRUE(sb.active_up.load());
      status = 200;
      const int down_at = checks;
      EXPECT_TRUE(co_await until([&] { return sa.active_up.load(); }));
      EXPECT_GE(checks - down_at, 2);  // rise = 2
    }());
    stop.cancel();
    finish_all(loop, {&a, &b});
  }
  net::test::expect_empty(loop);
}

TEST(ProxyHealth, ARefusedServerGoesDownAndAReloadIsFollowed) {
  Loop loop;
  {
    uint16_t dead = 0;
    {
      auto l = net::TcpListener::listen(loop, {}, [](int fd) { ::close(fd); });
      ASSERT_TRUE(l.ok());
      dead = (*l)->port();
    }
    TestServer b(loop, [](http::Request&, http::Response& res) { (void)res.send("ok"); });
    auto config = [&](bool with_dead) {
      ProxyConfig c;
      UpstreamSpec u;
      u.name = "app";
      u.servers = {ServerSpec{"127.0.0.1:" + std::to_string(b.port()), "127.0.0.1", b.port(), 1}};
      if (with_dead)
        u.servers.push_back(ServerSpec{"127.0.0.1:" + std::to_string(dead), "127.0.0.1", dead, 1});
      u.health = ActiveHealth{true, "/", 10ms, 100ms, 1, 1};
      c.upstreams.push_back(u);
      c.routes.push_back(RouteSpec{"", "/", "app", 0});
      return c;
    };
    Proxy proxy(config(false));
    CancelSource stop;
    {
      Loop::Scope on(loop);
      spawn(run_health_checks(proxy, loop, 5ms), stop.token());
    }
    run_bounded(loop, [&]() -> Task<> {
      co_await sleep(30ms);
      proxy.reload(config(true));  // the new server is checked from the next tick
      const auto snap = proxy.snapshot();
      ServerState& sd = snap->upstreams[0]->server(1);
      for (int i = 0; i < 400 && sd.active_up.load(); ++i) co_await sleep(5ms);
      EXPECT_FALSE(sd.active_up.load());
      EXPECT_TRUE(snap->upstreams[0]->server(0).active_up.load());
    }());
    stop.cancel();
    finish_all(loop, {&b});
  }
  net::test::expect_empty(loop);
}

}  // namespace
}  // namespace waitless::proxy
