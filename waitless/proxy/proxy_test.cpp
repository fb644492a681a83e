// The proxy handler end to end on one loop: real upstream servers (http::Server, or a scripted raw one to
// misbehave), the proxy's own server, and the HTTP client as the user.
#include "waitless/proxy/proxy.hpp"

#include <gtest/gtest.h>

#include <map>

#include "waitless/async/sleep.hpp"
#include "waitless/http/client_test_support.hpp"

namespace waitless::proxy {
namespace {

using namespace std::chrono_literals;
using http::testing::RawServer;
using http::testing::run_bounded;
using http::testing::TestServer;

// Shuts every server down at once, then runs the loop until they are all gone (TestServer::finish alone
// would run the loop while the others' listeners keep it alive).
void finish_all(Loop& loop, std::initializer_list<TestServer*> servers) {
  for (TestServer* s : servers) s->server().shutdown(std::chrono::milliseconds(200));
  loop.run();
  for (TestServer* s : servers) s->finish();
}

// An upstream that answers its id, echoes the request's fields at /echo, streams a large body at /big,
// echoes the body of a POST, and stays silent for a while at /slow.
http::Handler upstream(std::string id) {
  return [id](http::Request& req, http::Response& res) -> Task<> {
    if (req.path() == "/echo") {
      std::string out;
      for (const http::Header& h : req.headers()) {
        out.append(h.name);
        out += ": ";
        out.append(h.value);
        out += '\n';
      }
      (void)res.send(out);
    } else if (req.path() == "/big") {
      std::string chunk(64 * 1024, 'x');
      for (int i = 0; i < 64; ++i) {
        chunk[0] = char('a' + i % 26);
        (void)res.write(chunk);
        if (res.needs_drain() && co_await res.drain()) co_return;
      }
      (void)res.end();
    } else if (req.path() == "/post") {
      auto body = co_await req.body();
      (void)res.send(id + ":" + std::string(body ? *body : "error"));
    } else if (req.path() == "/slow") {
      co_await sleep(2s);
      (void)res.send(id);
    } else {
      (void)res.set_header("X-Upstream", id);
      (void)res.send(id);
    }
  };
}

std::string addr(uint16_t port) { return "127.0.0.1:" + std::to_string(port); }

ProxyConfig config_for(std::vector<uint16_t> ports, Balance balance = Balance::round_robin) {
  ProxyConfig c;
  UpstreamSpec u;
  u.name = "app";
  for (uint16_t p : ports) u.servers.push_back(ServerSpec{addr(p), "127.0.0.1", p, 1});
  u.balance = balance;
  c.upstreams.push_back(u);
  c.routes.push_back(RouteSpec{"", "/", "app", 0});
  c.metrics_path = "/__metrics";
  return c;
}

// A port nothing listens on (bound, then closed).
uint16_t refused_port(Loop& loop) {
  auto l = net::TcpListener::listen(loop, {}, [](int fd) { ::close(fd); });
  EXPECT_TRUE(l.ok());
  uint16_t p = (*l)->port();
  return p;
}

struct Bench {
  explicit Bench(Loop& loop, ProxyConfig config) : proxy(std::move(config)), pl(proxy, loop) {
    front.emplace(loop, proxy.handler());
  }
  Proxy proxy;
  ProxyLoop pl;
  std::optional<TestServer> front;
  std::string url(std::string_view path) const { return front->url(path); }
};

TEST(Proxy, RoundRobinSpreadsRequestsEvenlyAndMarksVia) {
  Loop loop;
  {
    TestServer a(loop, upstream("a")), b(loop, upstream("b")), c(loop, upstream("c"));
    Bench bench(loop, config_for({a.port(), b.port(), c.port()}));
    http::Client client(loop);
    auto counts = run_bounded(loop, [&]() -> Task<std::map<std::string, int>> {
      std::map<std::string, int> n;
      for (int i = 0; i < 30; ++i) {
        auto r = co_await client.get(bench.url("/"));
        if (!r) {
          ADD_FAILURE() << r.error().message();
          co_return n;
        }
        EXPECT_EQ(r->status, 200);
        EXPECT_EQ(r->header("via"), "1.1 waitless");
        EXPECT_EQ(r->header("x-upstream"), r->body);
        ++n[r->body];
      }
      co_return n;
    }());
    EXPECT_EQ(counts["a"], 10);
    EXPECT_EQ(counts["b"], 10);
    EXPECT_EQ(counts["c"], 10);
    // Upstream keep-alive: one connection per server for sequential requests.
    EXPECT_EQ(bench.pl.client_metrics().connections_opened, 3u);
    finish_all(loop, {&*bench.front, &a, &b, &c});
  }
  net::test::expect_empty(loop);
}

TEST(Proxy, RequestHeadersReachTheUpstreamRewritten) {
  Loop loop;
  {
    TestServer a(loop, upstream("a"));
    Bench bench(loop, config_for({a.port()}));
    http::Client client(loop);
    auto r = run_bounded(loop, [&]() -> Task<Result<http::ClientResponse>> {
      http::ClientRequest req{.url = bench.url("/echo?q=1")};
      req.headers.add("Connection", "X-Drop");
      req.headers.add("X-Drop", "1");
      req.headers.add("Keep-Alive", "timeout=5");
      req.headers.add("Proxy-Authorization", "Basic eA==");
      req.headers.add("X-Forwarded-For", "10.1.2.3");
      req.headers.add("X-Kept", "yes");
      co_return co_await client.request(std::move(req));
    }());
    ASSERT_TRUE(r.ok()) << r.error().message();
    const std::string host = addr(bench.front->port());
    EXPECT_EQ(r->body, "Host: " + host +
                           "\n"
                           "X-Kept: yes\n"
                           "X-Forwarded-For: 10.1.2.3, 127.0.0.1\n"
                           "X-Forwarded-Proto: http\n"
                           "X-Forwarded-Host: " +
                           host +
                           "\n"
                           "Forwarded: for=127.0.0.1;host=\"" +
                           host +
                           "\";proto=http\n"
                           "Via: 1.1 waitless\n");
    finish_all(loop, {&*bench.front, &a});
  }
  net::test::expect_empty(loop);
}

TEST(Proxy, ResponseHopByHopFieldsAreRemoved) {
  Loop loop;
  {
    RawServer raw(loop, [](RawServer::Conn& c, const std::string&) {
      c.send(
          "HTTP/1.1 200 OK\r\nConnection: X-Hop\r\nX-Hop: 1\r\nKeep-Alive: timeout=9\r\nX-Kept: 2\r\n"
          "Via: 1.1 app\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
    });
    Bench bench(loop, config_for({raw.port()}));
    http::Client client(loop);
    auto r = run_bounded(loop, client.get(bench.url("/")));
    ASSERT_TRUE(r.ok()) << r.error().message();
    EXPECT_EQ(r->body, "abc");
    EXPECT_FALSE(r->headers.contains("x-hop"));
    EXPECT_FALSE(r->headers.contains("keep-alive"));
    EXPECT_EQ(r->header("x-kept"), "2");
    EXPECT_EQ(r->header("via"), "1.1 app, 1.1 waitless");
    raw.stop();
    finish_all(loop, {&*bench.front});
  }
  net::test::expect_empty(loop);
}

TEST(Proxy, ErrorsAre404_502_503_504WithAShortBody) {
  Loop loop;
  {
    RawServer silent(loop, [](RawServer::Conn&, const std::string&) {});
    const uint16_t dead = refused_port(loop);
    ProxyConfig c = config_for({dead});
    c.first_byte_timeout = 100ms;
    UpstreamSpec s;
    s.name = "silent";
    s.servers.push_back(ServerSpec{addr(silent.port()), "127.0.0.1", silent.port(), 1});
    c.upstreams.push_back(s);
    c.routes.push_back(RouteSpec{"", "/slow", "silent", 1});
    c.routes[0].prefix = "/app";
    Bench bench(loop, c);
    http::Client client(loop);
    run_bounded(loop, [&]() -> Task<> {
      auto none = co_await client.get(bench.url("/other"));
      EXPECT_EQ(none->status, 404);
      EXPECT_EQ(none->body, "404 no route for this host and path\n");
      auto refused = co_await client.get(bench.url("/app"));
      EXPECT_EQ(refused->status, 502);
      EXPECT_EQ(refused->body, "502 bad gateway: upstream Connection refused\n");
      auto slow = co_await client.get(bench.url("/slow"));
      EXPECT_EQ(slow->status, 504);
      EXPECT_EQ(slow->body, "504 upstream timed out\n");
      auto snap = bench.proxy.snapshot();
      snap->upstreams[0]->set_up(0, false, Upstream::now_ns());
      auto down = co_await client.get(bench.url("/app"));
      EXPECT_EQ(down->status, 503);
      EXPECT_EQ(down->body, "503 no healthy upstream server\n");
    }());
    silent.stop();
    finish_all(loop, {&*bench.front});
  }
  net::test::expect_empty(loop);
}

TEST(Proxy, IdempotentRequestsAreRetriedOnAnotherServerPostsAreNot) {
  Loop loop;
  {
    TestServer good(loop, upstream("good"));
    const uint16_t dead = refused_port(loop);
    ProxyConfig c = config_for({dead, good.port()});
    c.upstreams[0].passive.max_fails = 2;
    c.upstreams[0].passive.eject = 10s;
    Bench bench(loop, c);
    http::Client client(loop);
    run_bounded(loop, [&]() -> Task<> {
      // The first request goes to the dead server (round robin starts there): retried on the good one.
      auto first = co_await client.get(bench.url("/"));
      EXPECT_EQ(first->status, 200);
      EXPECT_EQ(first->body, "good");
      // A POST is not retried: 502 once it hits the dead server, which the second failure ejects.
      int bad = 0;
      for (int i = 0; i < 2; ++i) {
        auto post = co_await client.post(bench.url("/post"), "x");
        bad += post->status == 502;
      }
      EXPECT_EQ(bad, 1);
      for (int i = 0; i < 10; ++i) {
        auto r = co_await client.get(bench.url("/"));
        EXPECT_EQ(r->status, 200);
      }
    }());
    auto snap = bench.proxy.snapshot();
    const Upstream& up = *snap->upstreams[0];
    EXPECT_EQ(up.retries(), 1u);
    EXPECT_EQ(up.server(0).failures.load(), 2u);
    EXPECT_EQ(up.server(0).ejections.load(), 1u);
    EXPECT_EQ(up.server(1).requests.load(), 12u);
    finish_all(loop, {&*bench.front, &good});
  }
  net::test::expect_empty(loop);
}

TEST(Proxy, AnUpstreamDyingRightAfterItsHeadIsRetriedForIdempotentRequests) {
  Loop loop;
  {
    RawServer dying(loop, [](RawServer::Conn& c, const std::string&) {
      c.send("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n");
      c.reset();
    });
    TestServer good(loop, upstream("good"));
    ProxyConfig c = config_for({dying.port(), good.port()});
    c.upstreams[0].passive.max_fails = 0;  // never ejected: every request meets it in turn
    Bench bench(loop, c);
    http::Client client(loop);
    run_bounded(loop, [&]() -> Task<> {
      // Round robin starts on the dying server: the GET is retried on the good one, nothing reached the
      // client.
      auto get = co_await client.get(bench.url("/"));
      EXPECT_EQ(get->status, 200);
      EXPECT_EQ(get->body, "good");
      auto post1 = co_await client.post(bench.url("/post"), "x");  // on the good one
      EXPECT_EQ(post1->status, 200);
      auto post2 = co_await client.post(bench.url("/post"), "x");  // on the dying one: not retried
      EXPECT_EQ(post2->status, 502);
      EXPECT_EQ(post2->body.rfind("502 bad gateway: upstream ", 0), 0u) << post2->body;
    }());
    dying.stop();
    finish_all(loop, {&*bench.front, &good});
  }
  net::test::expect_empty(loop);
}

TEST(Proxy, BodiesAreStreamedBothWaysAndHeadKeepsTheConnection) {
  Loop loop;
  {
    TestServer a(loop, upstream("a"));
    Bench bench(loop, config_for({a.port()}));
    http::Client client(loop);
    run_bounded(loop, [&]() -> Task<> {
      auto big = co_await client.get(bench.url("/big"));
      EXPECT_EQ(big->status, 200);
      EXPECT_EQ(big->body.size(), 64u * 64 * 1024);
      EXPECT_EQ(big->body[64 * 1024], 'b');
      std::string upload(300'000, 'u');
      auto post = co_await client.post(bench.url("/post"), upload);
      EXPECT_EQ(post->body, "a:" + upload);
      http::ClientRequest head{.method = "HEAD", .url = bench.url("/")};
      auto h = co_await client.request(std::move(head));
      EXPECT_EQ(h->status, 200);
      EXPECT_EQ(h->header("content-length"), "1");
      EXPECT_EQ(h->body, "");
      auto after = co_await client.get(bench.url("/"));
      EXPECT_EQ(after->body, "a");
    }());
    EXPECT_EQ(client.metrics().connections_opened, 1u);  // HEAD did not close the client's connection
    finish_all(loop, {&*bench.front, &a});
  }
  net::test::expect_empty(loop);
}

TEST(Proxy, AnUpstreamThatDiesMidBodyTruncatesVisibly) {
  Loop loop;
  {
    RawServer raw(loop, [](RawServer::Conn& c, const std::string&) {
      c.send("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789");
      c.reset();
    });
    Bench bench(loop, config_for({raw.port()}));
    http::Client client(loop);
    auto r = run_bounded(loop, client.get(bench.url("/")));
    EXPECT_FALSE(r.ok());  // the client sees the connection end before the declared length
    raw.stop();
    finish_all(loop, {&*bench.front});
  }
  net::test::expect_empty(loop);
}

TEST(Proxy, MetricsAndReload) {
  Loop loop;
  {
    TestServer a(loop, upstream("a")), b(loop, upstream("b"));
    Bench bench(loop, config_for({a.port()}));
    http::Client client(loop);
    run_bounded(loop, [&]() -> Task<> {
      for (int i = 0; i < 3; ++i) EXPECT_EQ((co_await client.get(bench.url("/")))->body, "a");
      auto m = co_await client.get(bench.url("/__metrics"));
      EXPECT_EQ(m->status, 200);
      const std::string labels = "{upstream=\"app\",server=\"" + addr(a.port()) + "\"}";
      EXPECT_NE(m->body.find("waitless_proxy_requests_total" + labels + " 3\n"), std::string::npos)
          << m->body;
      EXPECT_NE(m->body.find("waitless_proxy_up" + labels + " 1\n"), std::string::npos);
      EXPECT_NE(m->body.find("waitless_proxy_latency_seconds_count" + labels + " 3\n"), std::string::npos);
      EXPECT_NE(m->body.find("waitless_proxy_upstream_requests_total{upstream=\"app\"} 3\n"),
                std::string::npos);
      // Reload: b added; a keeps its counters.
      bench.proxy.reload(config_for({a.port(), b.port()}));
      std::map<std::string, int> n;
      for (int i = 0; i < 4; ++i) ++n[(co_await client.get(bench.url("/")))->body];
      EXPECT_EQ(n["a"], 2);
      EXPECT_EQ(n["b"], 2);
      m = co_await client.get(bench.url("/__metrics"));
      EXPECT_NE(m->body.find("waitless_proxy_requests_total" + labels + " 5\n"), std::string::npos)
          << m->body;
    }());
    finish_all(loop, {&*bench.front, &a, &b});
  }
  net::test::expect_empty(loop);
}

TEST(Proxy, StickyCookieKeepsAClientOnItsServerWhileItIsUsable) {
  Loop loop;
  {
    TestServer a(loop, upstream("a")), b(loop, upstream("b")), c(loop, upstream("c"));
    ProxyConfig cfg = config_for({a.port(), b.port(), c.port()});
    cfg.upstreams[0].sticky_cookie = "srv";
    Bench bench(loop, cfg);
    http::Client client(loop);
    run_bounded(loop, [&]() -> Task<> {
      auto first = co_await client.get(bench.url("/"));
      const std::string set = std::string(first->header("set-cookie"));
      EXPECT_EQ(set.rfind("srv=", 0), 0u) << set;
      const std::string cookie = set.substr(0, set.find(';'));  // "srv=<16 hex digits>"
      EXPECT_EQ(cookie.size(), 20u);
      auto with_cookie = [&]() -> Task<Result<http::ClientResponse>> {
        http::ClientRequest req{.url = bench.url("/")};
        req.headers.add("Cookie", "x=1; " + cookie);
        co_return co_await client.request(std::move(req));
      };
      for (int i = 0; i < 6; ++i) {
        auto r = co_await with_cookie();
        EXPECT_EQ(r->body, first->body);                  // always the same server
        EXPECT_FALSE(r->headers.contains("set-cookie"));  // and no new cookie
      }
      // Its server goes down: the request goes elsewhere and gets that server's cookie.
      auto snap = bench.proxy.snapshot();
      const std::size_t home = std::size_t(first->body[0] - 'a');
      snap->upstreams[0]->set_up(home, false, Upstream::now_ns());
      auto moved = co_await with_cookie();
      EXPECT_NE(moved->body, first->body);
      EXPECT_NE(std::string(moved->header("set-cookie")).substr(0, 20), cookie);
    }());
    finish_all(loop, {&*bench.front, &a, &b, &c});
  }
  net::test::expect_empty(loop);
}

TEST(Proxy, RoutesByHostThenLongestPrefix) {
  ProxyConfig c;
  c.routes = {RouteSpec{"", "/", "a", 0}, RouteSpec{"", "/api", "b", 1},
              RouteSpec{"api.example", "/", "c", 2}, RouteSpec{"", "/api/v2", "d", 3}};
  EXPECT_EQ(match_route(c, "x", "/")->upstream, "a");
  EXPECT_EQ(match_route(c, "x", "/api/1")->upstream, "b");
  EXPECT_EQ(match_route(c, "x:80", "/api/v2/z")->upstream, "d");
  EXPECT_EQ(match_route(c, "API.example:8080", "/api/v2")->upstream, "c");
  c.routes.erase(c.routes.begin());
  EXPECT_EQ(match_route(c, "x", "/other"), nullptr);
}

TEST(Proxy, HashOnAHeaderKeepsAKeyOnOneServer) {
  Loop loop;
  {
    TestServer a(loop, upstream("a")), b(loop, upstream("b")), c(loop, upstream("c"));
    ProxyConfig cfg = config_for({a.port(), b.port(), c.port()}, Balance::hash);
    cfg.upstreams[0].hash_key = HashKey{HashKey::Kind::header, "X-User"};
    Bench bench(loop, cfg);
    http::Client client(loop);
    run_bounded(loop, [&]() -> Task<> {
      std::map<std::string, std::string> home;
      std::map<std::string, int> spread;
      for (int round = 0; round < 2; ++round) {
        for (int u = 0; u < 30; ++u) {
          http::ClientRequest req{.url = bench.url("/")};
          req.headers.add("X-User", "user" + std::to_string(u));
          auto r = co_await client.request(std::move(req));
          const std::string key = "user" + std::to_string(u);
          if (round == 0) {
            home[key] = r->body;
            ++spread[r->body];
          } else {
            EXPECT_EQ(home[key], r->body) << key;
          }
        }
      }
      EXPECT_EQ(spread.size(), 3u);  // 30 keys land on every server
    }());
    finish_all(loop, {&*bench.front, &a, &b, &c});
  }
  net::test::expect_empty(loop);
}

// Server-Sent Events: each event reaches the client as the upstream writes it (no read-ahead holds it
// back). The upstream sends the second event only once the client has seen the first (or after 5 s, which
// the test then reports): an event held in the proxy until more arrives would fail the order.
TEST(Proxy, EventStreamEventsArriveOneByOne) {
  Loop loop;
  {
    bool client_has_first = false;
    bool second_sent_after_ack = false;
    TestServer a(loop, [&](http::Request&, http::Response& res) -> Task<> {
      (void)res.set_content_type("text/event-stream");
      (void)res.write("data: one\n\n");
      for (int i = 0; i < 1000 && !client_has_first; ++i) co_await sleep(5ms);
      second_sent_after_ack = client_has_first;
      (void)res.write("data: two\n\n");
      (void)res.end();
    });
    Bench bench(loop, config_for({a.port()}));
    http::Client client(loop);
    std::string got;
    run_bounded(
        loop,
        [&]() -> Task<> {
          http::ClientRequest req{.url = bench.url("/events")};
          auto s = co_await client.stream(std::move(req));
          if (!s) {
            ADD_FAILURE() << s.error().message();
            co_return;
          }
          EXPECT_EQ(s->header("content-type"), "text/event-stream");
          while (auto piece = co_await s->read()) {
            if (piece->empty()) break;
            got.append(*piece);
            if (got.find("data: one\n\n") != std::string::npos) client_has_first = true;
          }
        }(),
        8s);
    EXPECT_TRUE(second_sent_after_ack);
    EXPECT_EQ(got, "data: one\n\ndata: two\n\n");
    finish_all(loop, {&*bench.front, &a});
  }
  net::test::expect_empty(loop);
}

// Trailers of a chunked response go on to a client that sent `TE: trailers` (and the upstream is told it
// may send them); without it they are dropped.
TEST(Proxy, TrailersAreForwardedWhenTheClientAcceptsThem) {
  Loop loop;
  {
    int te_seen = 0;
    RawServer a(loop, [&](RawServer::Conn& c, const std::string& request) {
      te_seen += request.find("\r\nTE: trailers\r\n") != std::string::npos;
      c.send(
          "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n"
          "5\r\nhello\r\n0\r\nX-Sum: 5d41402a\r\nConnection: x\r\nX-Other: 1\r\n\r\n");
    });
    Bench bench(loop, config_for({a.port()}));
    http::Client client(loop);
    run_bounded(loop, [&]() -> Task<> {
      for (bool te : {true, false}) {
        http::ClientRequest req{.url = bench.url("/t")};
        if (te) req.headers.add("TE", "trailers");
        auto r = co_await client.request(std::move(req));
        if (!r) {
          ADD_FAILURE() << r.error().message();
          co_return;
        }
        EXPECT_EQ(r->body, "hello");
        EXPECT_EQ(r->trailers.get("x-sum"), te ? "5d41402a" : "");
        EXPECT_EQ(r->trailers.get("x-other"), te ? "1" : "");
        EXPECT_EQ(r->trailers.get("connection"), "");  // hop-by-hop: never forwarded
      }
    }());
    EXPECT_EQ(te_seen, 1);
    bench.front->server().shutdown(200ms);
    a.stop();
    loop.run();
    bench.front->finish();
  }
  net::test::expect_empty(loop);
}

}  // namespace
}  // namespace waitless::proxy
