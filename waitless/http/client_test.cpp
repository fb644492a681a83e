// The client against a real waitless Server on the same loop: round trips, pooling, limits on connections,
// timeouts, streaming, cancellation, DNS. Misbehaving servers are in client_raw_test.cpp.
#include "waitless/http/client.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "waitless/async/sleep.hpp"
#include "waitless/async/when_all.hpp"
#include "waitless/http/client_test_support.hpp"

namespace waitless::http {
namespace {

using testing::run_bounded;
using testing::TestServer;

void hello(Request& req, Response& res) {
  if (req.path() == "/hello") {
    (void)res.set_content_type("text/plain");
    (void)res.send("Hello, World!");
  } else {
    (void)res.send(404, "nope", "text/plain");
  }
}

// Echoes method, target and body; async so that it reads the body.
Task<> echo(Request& req, Response& res) {
  auto body = co_await req.body();
  std::string out = std::string(req.method()) + " " + std::string(req.target()) + " ";
  out += std::string(req.header("x-test"));
  out += "|";
  if (body) out += *body;
  (void)res.send(out);
}

TEST(HttpClient, GetRoundTrip) {
  Loop loop;
  {
    TestServer server(loop, hello);
    Client client(loop);
    auto r = run_bounded(loop, client.get(server.url("/hello")));
    ASSERT_TRUE(r.ok()) << r.error().message();
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->reason, "OK");
    EXPECT_EQ(r->body, "Hello, World!");
    EXPECT_EQ(r->header("CONTENT-TYPE"), "text/plain");
    EXPECT_EQ(r->header("content-length"), "13");
    auto missing = run_bounded(loop, client.get(server.url("/missing")));
    ASSERT_TRUE(missing.ok());
    EXPECT_EQ(missing->status, 404);
    EXPECT_EQ(missing->body, "nope");
    EXPECT_EQ(client.metrics().connections_opened, 1u);
  }
  net::test::expect_empty(loop);
}

TEST(HttpClient, PostRoundTripSmallAndLargeBodies) {
  Loop loop;
  {
    ServerOptions big_bodies;
    big_bodies.limits.max_body_size = 8 << 20;
    TestServer server(loop, echo, big_bodies);
    Client client(loop);
    auto r = run_bounded(loop, client.request({.method = "POST",
                                               .url = server.url("/p?q=1"),
                                               .headers = {{"X-Test", "yes"}},
                                               .body = "payload"}));
    ASSERT_TRUE(r.ok()) << r.error().message();
    EXPECT_EQ(r->body, "POST /p?q=1 yes|payload");
    // Above the inline size the body is sent from the request's memory (writev), in several writes.
    std::string big(3 << 20, 'x');
    for (std::size_t i = 0; i < big.size(); i += 4096) big[i] = static_cast<char>('a' + (i / 4096) % 26);
    auto large =
        run_bounded(loop, [](Client& c, std::string url, std::string body) -> Task<Result<ClientResponse>> {
          // Named, not a braced temporary inside co_await: g++ 12 destroys such temporaries twice.
          ClientRequest req{.method = "PUT", .url = url, .body = std::move(body)};
          co_return co_await c.request(std::move(req));
        }(client, server.url("/big"), big));
    ASSERT_TRUE(large.ok()) << large.error().message();
    EXPECT_EQ(large->body, "PUT /big |" + big);
    // An empty POST still says Content-Length: 0.
    auto empty = run_bounded(loop, client.request({.method = "POST", .url = server.url("/e")}));
    ASSERT_TRUE(empty.ok());
    EXPECT_EQ(empty->body, "POST /e |");
    EXPECT_EQ(client.metrics().connections_opened, 1u);
  }
  net::test::expect_empty(loop);
}

TEST(HttpClient, KeepAlivePoolReusesOneConnection) {
  Loop loop;
  {
    TestServer server(loop, hello);
    Client client(loop);
    auto many = [](Client& c, std::string url) -> Task<int> {
      int ok = 0;
      for (int i = 0; i < 50; ++i) {
        auto r = co_await c.get(url);
        ok += r.ok() && r->body == "Hello, World!";
      }
      co_return ok;
    };
    EXPECT_EQ(run_bounded(loop, many(client, server.url("/hello"))), 50);
    ClientMetrics m = client.metrics();
    EXPECT_EQ(m.requests, 50u);
    EXPECT_EQ(m.connections_opened, 1u);
    EXPECT_EQ(m.connections_reused, 49u);
    EXPECT_EQ(m.idle_connections, 1u);
    EXPECT_EQ(m.open_connections, 1u);
    EXPECT_EQ(server.server().connection_count(), 1u);
  }
  net::test::expect_empty(loop);
}

TEST(HttpClient, MaxConnectionsPerOriginQueuesTheRestInOrder) {
  Loop loop;
  {
    int running = 0, peak = 0;
    std::vector<int> order;
    TestServer server(loop, [&](Request& req, Response& res) -> Task<> {
      peak = std::max(peak, ++running);
      co_await sleep(10ms);
      --running;
      order.push_back(std::stoi(std::string(req.query())));
      (void)res.send("done");
    });
    Client client(loop, {.max_connections_per_origin = 2});
    std::size_t queued_seen = 0;
    auto one = [&](int i) -> Task<bool> {
      auto r = co_await client.get(server.url("/?" + std::to_string(i)));
      queued_seen = std::max(queued_seen, client.metrics().queued);
      co_return r.ok() && r->body == "done";
    };
    auto all = [&]() -> Task<int> {
      std::vector<Task<bool>> tasks;
      for (int i = 0; i < 8; ++i) tasks.push_back(one(i));
      auto results = co_await when_all(std::move(tasks));
      int ok = 0;
      for (bool b : results) ok += b;
      co_return ok;
    };
    EXPECT_EQ(run_bounded(loop, all()), 8);
    EXPECT_EQ(peak, 2);
    EXPECT_EQ(client.metrics().connections_opened, 2u);
    EXPECT_EQ(client.metrics().queued, 0u);
    // FIFO: the first two run first, the others in the order they queued.
    ASSERT_EQ(order.size(), 8u);
    EXPECT_EQ(std::vector<int>(order.begin() + 2, order.end()), (std::vector<int>{2, 3, 4, 5, 6, 7}));
  }
  net::test::expect_empty(loop);
}

TEST(HttpClient, QueuedRequestIsCancellableAndTimesOut) {
  Loop loop;
  {
    TestServer server(loop, [](Request&, Response& res) -> Task<> {
      co_await sleep(150ms);
      (void)res.send("slow");
    });
    Client client(loop, {.max_connections_per_origin = 1});
    auto scenario = [&]() -> Task<void> {
      CancelSource cancel_second;
      auto first = client.get(server.url("/1"));
      auto second = client.get(server.url("/2")).with_token(cancel_second.token());
      auto canceller = [&]() -> Task<std::error_code> {
        co_await sleep(20ms);
        EXPECT_EQ(client.metrics().queued, 1u);
        cancel_second.cancel();
        co_return std::error_code{};
      };
      auto [a, b, c] = co_await when_all(std::move(first), std::move(second), canceller());
      EXPECT_TRUE(a.ok());
      EXPECT_EQ(b.error(), Error::cancelled);
      EXPECT_EQ(client.metrics().queued, 0u);
      // A request that waits longer than total_timeout in the queue times out there.
      Client tight(loop, {.max_connections_per_origin = 1, .total_timeout = 50ms});
      auto [x, y] = co_await when_all(tight.get(server.url("/3")), tight.get(server.url("/4")));
      EXPECT_EQ(x.error(), Error::timed_out);
      EXPECT_EQ(y.error(), Error::timed_out);
    };
    run_bounded(loop, scenario());
  }
  net::test::expect_empty(loop);
}

TEST(HttpClient, ConnectionRefusedIsAnErrnoValue) {
  Loop loop;
  {
    uint16_t port;
    {
      auto l = net::TcpListener::listen(loop, {}, [](int fd) { ::close(fd); });
      ASSERT_TRUE(l.ok());
      port = (*l)->port();
    }  // closed: nothing listens there now
    Client client(loop);
    auto r = run_bounded(loop, client.get(testing::url_of(port)));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error(), std::error_code(ECONNREFUSED, std::system_category()));
    EXPECT_EQ(client.metrics().connect_errors, 1u);
    EXPECT_EQ(client.metrics().open_connections, 0u);
  }
  net::test::expect_empty(loop);
}

TEST(HttpClient, HostnameLocalhostResolvesThroughHostsFile) {
  Loop loop;
  {
    TestServer server(loop, hello);
    Client client(loop);
    auto r = run_bounded(loop, client.get("http://localhost:" + std::to_string(server.port()) + "/hello"));
    ASSERT_TRUE(r.ok()) << r.error().message();
    EXPECT_EQ(r->body, "Hello, World!");
    auto again =
        run_bounded(loop, client.get("http://localhost:" + std::to_string(server.port()) + "/hello"));
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(client.metrics().connections_opened, 1u);  // one pool for localhost:port
  }
  net::test::expect_empty(loop);
}

TEST(HttpClient, TotalTimeoutCoversASlowBody) {
  Loop loop;
  {
    TestServer server(loop, [](Request&, Response& res) -> Task<> {
      (void)res.write("first piece ");  // the head leaves now; the rest never comes in time
      co_await sleep(2s);
      (void)res.end("late");
    });
    Client client(loop, {.total_timeout = 100ms});
    // Deadlines count from the loop's cached clock (as in Node): it last moved when the loop was built,
    // before the server started (slow under ASan), so it is brought up to date before measuring.
    loop.update_time();
    auto start = std::chrono::steady_clock::now();
    auto r = run_bounded(loop, client.get(server.url("/slow")));
    auto took = std::chrono::steady_clock::now() - start;
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error(), Error::timed_out);
    EXPECT_GE(took, 90ms);
    EXPECT_LT(took, 1500ms);
    EXPECT_EQ(client.metrics().open_connections, 0u);  // a timed-out connection is closed, not pooled
    // body_timeout: the same stall, caught as silence in the body.
    Client idle(loop, {.body_timeout = 80ms});
    auto s = run_bounded(loop, idle.get(server.url("/slow")));
    EXPECT_EQ(s.error(), Error::timed_out);
  }
  net::test::expect_empty(loop);
}

TEST(HttpClient, ChunkedResponseCollectedAndStreamed) {
  Loop loop;
  {
    TestServer server(loop, [](Request& req, Response& res) -> Task<> {
      int n = std::stoi(std::string(req.query()));
      for (int i = 0; i < n; ++i) {
        (void)res.write(std::string(1000, static_cast<char>('a' + i % 26)));
        if (res.needs_drain()) co_await res.drain();
        if (i % 50 == 0) co_await sleep(1ms);
      }
      (void)res.end();
    });
    Client client(loop);
    auto r = run_bounded(loop, client.get(server.url("/?300")));
    ASSERT_TRUE(r.ok()) << r.error().message();
    EXPECT_EQ(r->header("transfer-encoding"), "chunked");
    ASSERT_EQ(r->body.size(), 300'000u);
    EXPECT_EQ(r->body[299'999], static_cast<char>('a' + 299 % 26));
    // Streamed: pieces on demand, then the connection goes back to the pool.
    auto streamed = [&]() -> Task<std::size_t> {
      ClientRequest req{.url = server.url("/?2000")};
      auto s = co_await client.stream(std::move(req));
      if (!s) co_return 0;
      EXPECT_EQ(s->status(), 200);
      std::size_t total = 0, pieces = 0;
      for (;;) {
        auto piece = co_await s->read();
        if (!piece) co_return 0;
        if (piece->empty()) break;
        total += piece->size();
        ++pieces;
        if (pieces % 8 == 0) co_await sleep(1ms);  // a slow consumer: the server is held back meanwhile
      }
      EXPECT_TRUE(s->done());
      EXPECT_GT(pieces, 1u);
      co_return total;
    };
    EXPECT_EQ(run_bounded(loop, streamed()), 2'000'000u);
    EXPECT_EQ(client.metrics().connections_opened, 1u);
    EXPECT_EQ(client.metrics().idle_connections, 1u);
    // A stream dropped before its end closes the connection rather than pooling it.
    auto dropped = [&]() -> Task<bool> {
      ClientRequest req{.url = server.url("/?2000")};
      auto s = co_await client.stream(std::move(req));
      if (!s) co_return false;
      auto piece = co_await s->read();
      co_return piece.ok() && !piece->empty();
    };
    EXPECT_TRUE(run_bounded(loop, dropped()));
    EXPECT_EQ(client.metrics().open_connections, 0u);
    auto text = [&]() -> Task<std::string> {
      ClientRequest req{.url = server.url("/?3")};
      auto s = co_await client.stream(std::move(req));
      if (!s) co_return "";
      auto all = co_await s->read_all();
      co_return all.value_or("");
    };
    EXPECT_EQ(run_bounded(loop, text()).size(), 3000u);
  }
  net::test::expect_empty(loop);
}

TEST(HttpClient, BodyOverTheLimitIsLimitExceeded) {
  Loop loop;
  {
    TestServer server(loop, [](Request& req, Response& res) {
      std::string body(2000, 'z');
      if (req.query() == "chunked") {
        (void)res.write(body);
        (void)res.end();
      } else {
        (void)res.send(body);
      }
    });
    Client client(loop, {.max_body = 1000});
    auto r = run_bounded(loop, client.get(server.url("/")));
    EXPECT_EQ(r.error(), Error::limit_exceeded);
    auto c = run_bounded(loop, client.get(server.url("/?chunked")));
    EXPECT_EQ(c.error(), Error::limit_exceeded);
    // The per-request limit overrides the client's.
    auto big = run_bounded(loop, client.request({.url = server.url("/"), .max_body = 2000}));
    ASSERT_TRUE(big.ok());
    EXPECT_EQ(big->body.size(), 2000u);
    auto edge = run_bounded(loop, client.request({.url = server.url("/"), .max_body = 1999}));
    EXPECT_EQ(edge.error(), Error::limit_exceeded);
  }
  net::test::expect_empty(loop);
}

TEST(HttpClient, HeadRequestHasNoBodyAndKeepsTheConnection) {
  Loop loop;
  {
    TestServer server(loop, hello);
    Client client(loop);
    auto h = run_bounded(loop, client.request({.method = "HEAD", .url = server.url("/hello")}));
    ASSERT_TRUE(h.ok()) << h.error().message();
    EXPECT_EQ(h->status, 200);
    EXPECT_EQ(h->header("content-length"), "13");
    EXPECT_EQ(h->body, "");
    auto g = run_bounded(loop, client.get(server.url("/hello")));
    ASSERT_TRUE(g.ok());
    EXPECT_EQ(g->body, "Hello, World!");
    EXPECT_EQ(client.metrics().connections_opened, 1u);
  }
  net::test::expect_empty(loop);
}

TEST(HttpClient, ConnectionCloseIsHonouredBothWays) {
  Loop loop;
  {
    TestServer server(loop, [](Request& req, Response& res) {
      if (req.query() == "close") res.close_connection();
      (void)res.send("x");
    });
    Client client(loop);
    for (int i = 0; i < 2; ++i) ASSERT_TRUE(run_bounded(loop, client.get(server.url("/?close"))).ok());
    EXPECT_EQ(client.metrics().connections_opened, 2u);  // the server said close: never pooled
    EXPECT_EQ(client.metrics().idle_connections, 0u);
    for (int i = 0; i < 2; ++i) {
      auto r =
          run_bounded(loop, client.request({.url = server.url("/"), .headers = {{"Connection", "close"}}}));
      ASSERT_TRUE(r.ok());
    }
    EXPECT_EQ(client.metrics().connections_opened, 4u);  // the request said close
    Client no_pool(loop, {.keep_alive = false});
    for (int i = 0; i < 2; ++i) ASSERT_TRUE(run_bounded(loop, no_pool.get(server.url("/"))).ok());
    EXPECT_EQ(no_pool.metrics().connections_opened, 2u);
  }
  net::test::expect_empty(loop);
}

TEST(HttpClient, CancellingARequestClosesItsConnection) {
  Loop loop;
  {
    TestServer server(loop, [](Request&, Response& res) -> Task<> {
      co_await sleep(5s);
      (void)res.send("never");
    });
    Client client(loop);
    auto scenario = [&]() -> Task<std::error_code> {
      CancelSource source;
      auto req = client.get(server.url("/")).with_token(source.token());
      auto canceller = [&]() -> Task<int> {
        co_await sleep(30ms);
        EXPECT_EQ(client.metrics().open_connections, 1u);
        source.cancel();
        co_return 0;
      };
      auto [r, unused] = co_await when_all(std::move(req), canceller());
      co_return r.error();
    };
    EXPECT_EQ(run_bounded(loop, scenario()), Error::cancelled);
    EXPECT_EQ(client.metrics().open_connections, 0u);
    EXPECT_EQ(client.metrics().idle_connections, 0u);
  }
  net::test::expect_empty(loop);
}

TEST(HttpClient, InvalidRequestsAreRefusedBeforeSending) {
  Loop loop;
  {
    Client client(loop);
    auto check = [&](ClientRequest req) {
      auto r = run_bounded(loop, client.request(std::move(req)));
      ASSERT_FALSE(r.ok());
      EXPECT_EQ(r.error(), Error::invalid_argument);
    };
    const std::string url = "http://127.0.0.1:1/";
    check({.url = url, .headers = {{"X-Bad", "a\r\nInjected: 1"}}});
    check({.url = url, .headers = {{"X-Bad", "a\nb"}}});
    check({.url = url, .headers = {{"X-Bad", std::string_view("a\0b", 3)}}});
    check({.url = url, .headers = {{"Bad Name", "v"}}});
    check({.url = url, .headers = {{"", "v"}}});
    check({.url = url, .headers = {{"Content-Length", "5"}}});
    check({.url = url, .headers = {{"Transfer-Encoding", "chunked"}}});
    check({.url = url, .headers = {{"Host", "a b"}}});
    check({.method = "GE T", .url = url});
    check({.method = "", .url = url});
    check({.url = "ftp://127.0.0.1/"});
    check({.url = "http://127.0.0.1/a b"});
    check({.url = "not a url"});
    EXPECT_EQ(client.metrics().connections_opened + client.metrics().connect_errors, 0u);
  }
  net::test::expect_empty(loop);
}

TEST(HttpClient, DestroyingTheClientEndsRequestsInFlight) {
  Loop loop;
  {
    TestServer server(loop, [](Request&, Response& res) -> Task<> {
      co_await sleep(5s);
      (void)res.send("never");
    });
    auto client = std::make_unique<Client>(loop);
    auto scenario = [&]() -> Task<std::error_code> {
      auto req = client->get(server.url("/"));
      auto killer = [&]() -> Task<int> {
        co_await sleep(20ms);
        client.reset();
        co_return 0;
      };
      auto [r, unused] = co_await when_all(std::move(req), killer());
      co_return r.error();
    };
    EXPECT_EQ(run_bounded(loop, scenario()), Error::closed);
  }
  net::test::expect_empty(loop);
}

TEST(HttpClient, StreamOutlivingItsClientEndsWithClosed) {
  Loop loop;
  {
    TestServer server(loop, [](Request&, Response& res) -> Task<> {
      (void)res.write("first");
      co_await sleep(5s);
      (void)res.end();
    });
    auto client = std::make_unique<Client>(loop);
    auto scenario = [&]() -> Task<std::error_code> {
      ClientRequest req{.url = server.url("/")};
      auto s = co_await client->stream(std::move(req));
      if (!s) co_return s.error();
      auto first = co_await s->read();
      EXPECT_TRUE(first.ok() && *first == "first");
      client.reset();  // the stream keeps what it needs; its connection is closed
      auto next = co_await s->read();
      co_return next.error();
    };
    EXPECT_EQ(run_bounded(loop, scenario()), Error::closed);
  }
  net::test::expect_empty(loop);
}

TEST(HttpClient, IdleConnectionsExpireAndNeverKeepTheLoopAlive) {
  Loop loop;
  {
    TestServer server(loop, hello);
    Client client(loop, {.idle_timeout = 50ms});
    ASSERT_TRUE(run_bounded(loop, client.get(server.url("/hello"))).ok());
    EXPECT_EQ(client.metrics().idle_connections, 1u);
    run_bounded(loop, []() -> Task<void> { co_await sleep(120ms); }());
    EXPECT_EQ(client.metrics().idle_connections, 0u);
    EXPECT_EQ(client.metrics().open_connections, 0u);
    ASSERT_TRUE(run_bounded(loop, client.get(server.url("/hello"))).ok());
    EXPECT_EQ(client.metrics().connections_opened, 2u);
    client.close_idle();
    EXPECT_EQ(client.metrics().open_connections, 0u);
    ASSERT_TRUE(run_bounded(loop, client.get(server.url("/hello"))).ok());
    EXPECT_EQ(client.metrics().connections_opened, 3u);
    // An idle pooled connection does not keep the loop alive: with the server gone, run() returns.
    server.finish();
    EXPECT_FALSE(loop.alive());
  }
  net::test::expect_empty(loop);
}

}  // namespace
}  // namespace waitless::http
