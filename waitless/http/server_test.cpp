#include "waitless/http/server.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <string>

#include "waitless/async/sleep.hpp"
#include "waitless/http/server_connection.hpp"
#include "waitless/http/test_client.hpp"

namespace waitless::http {
namespace {

using namespace std::chrono_literals;
using testing::get;
using testing::Harness;
using testing::TestClient;

// The idle keep-alive budget: the connection object is all an idle connection holds in user space.
static_assert(sizeof(detail::ServerConnection) + 16 <= 256, "an idle connection must cost <= 256 bytes");

void hello(Request& req, Response& res) {
  if (req.path() == "/plaintext") {
    (void)res.set_content_type("text/plain");
    (void)res.send("Hello, World!");
  } else {
    (void)res.send(404, "nope", "text/plain");
  }
}

TEST(HttpServer, KeepAliveServesSeveralRequestsOnOneConnection) {
  Harness h;
  h.start(hello);
  h.run([](uint16_t port) {
    TestClient c(port);
    ASSERT_TRUE(c.connected());
    for (int i = 0; i < 3; ++i) {
      ASSERT_TRUE(c.send(get("/plaintext")));
      auto r = c.read_response();
      ASSERT_TRUE(r);
      EXPECT_EQ(r->status, 200);
      EXPECT_EQ(r->body, "Hello, World!");
      EXPECT_EQ(r->header("Content-Length"), "13");
      EXPECT_EQ(r->header("Content-Type"), "text/plain");
      EXPECT_EQ(r->header("Server"), "waitless");
      EXPECT_EQ(r->header("Date").size(), 29u);
      EXPECT_FALSE(r->has("Connection"));
    }
    ASSERT_TRUE(c.send(get("/missing")));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 404);
  });
}

TEST(HttpServer, ConnectionCloseAndHttp10) {
  Harness h;
  h.start(hello);
  h.run([](uint16_t port) {
    {
      TestClient c(port);
      ASSERT_TRUE(c.send(get("/plaintext", "Connection: close\r\n")));
      auto r = c.read_response();
      ASSERT_TRUE(r);
      EXPECT_EQ(r->header("Connection"), "close");
      EXPECT_TRUE(c.closed_within(2000));
    }
    {
      TestClient c(port);  // 1.0 without keep-alive: closed after the response
      ASSERT_TRUE(c.send("GET /plaintext HTTP/1.0\r\n\r\n"));
      auto r = c.read_response();
      ASSERT_TRUE(r);
      EXPECT_EQ(r->header("Connection"), "close");
      EXPECT_TRUE(c.closed_within(2000));
    }
    {
      TestClient c(port);  // 1.0 with keep-alive: kept, and told so
      for (int i = 0; i < 2; ++i) {
        ASSERT_TRUE(c.send("GET /plaintext HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
        auto r = c.read_response();
        ASSERT_TRUE(r);
        EXPECT_EQ(r->header("Connection"), "keep-alive");
      }
    }
  });
}

TEST(HttpServer, HundredPipelinedRequestsGetOrderedResponses) {
  Harness h;
  h.start([](Request& req, Response& res) {
    EXPECT_EQ(req.version(), "HTTP/1.1");
    EXPECT_EQ(req.path(), "/echo");
    EXPECT_EQ(req.header("HOST"), "test");  // case-insensitive
    (void)res.send(std::string(req.query()));
  });
  h.run([](uint16_t port) {
    TestClient c(port);
    std::string all;
    for (int i = 0; i < 100; ++i) all += get("/echo?" + std::to_string(i));
    ASSERT_TRUE(c.send(all));  // one write
    for (int i = 0; i < 100; ++i) {
      auto r = c.read_response();
      ASSERT_TRUE(r) << i;
      EXPECT_EQ(r->body, std::to_string(i));
    }
  });
}

// A later handler that finishes first still answers second.
TEST(HttpServer, AsyncResponsesLeaveInRequestOrder) {
  Harness h;
  h.start([](Request& req, Response& res) -> Task<> {
    std::string q(req.query());
    co_await sleep(std::chrono::milliseconds(std::stoi(q)));
    (void)res.send(q);
  });
  h.run([](uint16_t port) {
    TestClient c(port);
    ASSERT_TRUE(c.send(get("/?80") + get("/?1") + get("/?40") + get("/?0")));
    for (const char* want : {"80", "1", "40", "0"}) {
      auto r = c.read_response();
      ASSERT_TRUE(r);
      EXPECT_EQ(r->body, want);
    }
  });
}

TEST(HttpServer, SyncFastPathFallsThroughToAsync) {
  Harness h;
  h.make([](Request& req, Response& res) {
    if (req.path() == "/fast") (void)res.send("fast");  // anything else: left untouched
  });
  ASSERT_FALSE(h.server().on_request([](Request&, Response& res) -> Task<> {
    co_await sleep(1ms);
    (void)res.send("slow");
  }));
  h.start_server();
  // Handlers are fixed once serving.
  EXPECT_EQ(h.server().on_request_sync([](Request&, Response&) {}), std::error_code(Error::invalid_argument));
  h.run([](uint16_t port) {
    TestClient c(port);
    ASSERT_TRUE(c.send(get("/slow") + get("/fast")));
    auto a = c.read_response();
    auto b = c.read_response();
    ASSERT_TRUE(a && b);
    EXPECT_EQ(a->body, "slow");
    EXPECT_EQ(b->body, "fast");
  });
}

TEST(HttpServer, AChooserPicksTheHandlerAtTheHeadBeforeAnyBodyIsRead) {
  Harness h;
  int sync_calls = 0;
  h.make([&sync_calls](Request& req, Response& res) {
    ++sync_calls;  // only requests chosen plain reach here, with their whole body
    (void)res.send("sync:" + std::string(req.body_view()));
  });
  ASSERT_FALSE(h.server().on_request([](Request& req, Response& res) -> Task<> {
    // Chosen async: nothing was collected on the sync handler's behalf; the body is ours to pull, within
    // the limit the chooser set.
    std::string got;
    while (auto piece = co_await req.read()) {
      if (piece->empty()) break;
      got.append(*piece);
    }
    (void)res.send("async:" + std::to_string(got.size()) + ":" + std::to_string(req.body_limit()));
  }));
  ASSERT_FALSE(h.server().choose_handler([](Request& req) {
    if (req.path() != "/async") return false;
    req.set_body_limit(300'000);
    return true;
  }));
  h.start_server();
  h.run([](uint16_t port) {
    TestClient c(port);
    const std::string big(200'000, 'x');  // above the 64 KiB a collected body would be read in at once
    ASSERT_TRUE(c.send("POST /async HTTP/1.1\r\nHost: t\r\nContent-Length: 200000\r\n\r\n" + big));
    auto a = c.read_response();
    ASSERT_TRUE(a);
    EXPECT_EQ(a->body, "async:200000:300000");
    ASSERT_TRUE(c.send("POST /sync HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc" + get("/async")));
    auto b = c.read_response();
    auto d = c.read_response();
    ASSERT_TRUE(b && d);
    EXPECT_EQ(b->body, "sync:abc");
    EXPECT_EQ(d->body, "async:0:300000");  // bodiless and chosen async from the fast path
  });
  EXPECT_EQ(sync_calls, 1);
}

TEST(HttpServer, PathAndQueryOfEveryTargetForm) {
  Harness h;
  h.start([](Request& req, Response& res) {
    (void)res.send(std::string(req.path()) + "|" + std::string(req.query()) + "|" +
                   std::string(req.target()));
  });
  h.run([](uint16_t port) {
    TestClient c(port);
    ASSERT_TRUE(c.send(get("/a/b?x=1&y") + get("http://example.com/p/q?z") + get("http://example.com") +
                       "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n" + get("/?")));
    for (const char* want : {"/a/b|x=1&y|/a/b?x=1&y", "/p/q|z|http://example.com/p/q?z",
                             "/||http://example.com", "*||*", "/||/?"}) {
      auto r = c.read_response();
      ASSERT_TRUE(r);
      EXPECT_EQ(r->body, want);
    }
  });
}

TEST(HttpServer, HeadHasHeadersButNoBody) {
  Harness h;
  h.start(hello);
  h.run([](uint16_t port) {
    TestClient c(port);
    ASSERT_TRUE(c.send("HEAD /plaintext HTTP/1.1\r\nHost: a\r\n\r\n" + get("/plaintext")));
    auto head = c.read_response(true);
    ASSERT_TRUE(head);
    EXPECT_EQ(head->status, 200);
    EXPECT_EQ(head->header("Content-Length"), "13");
    auto next = c.read_response();  // had HEAD carried a body, this would be garbage
    ASSERT_TRUE(next);
    EXPECT_EQ(next->body, "Hello, World!");
  });
}

TEST(HttpServer, ThrowingHandlersGet500AndTheServerGoesOn) {
  Harness h;
  h.start([](Request& req, Response& res) {
    if (req.path() == "/throw") throw std::runtime_error("boom");
    (void)res.send("ok");
  });
  h.run([](uint16_t port) {
    TestClient c(port);
    ASSERT_TRUE(c.send(get("/throw") + get("/ok")));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 500);
    auto ok = c.read_response();
    ASSERT_TRUE(ok);
    EXPECT_EQ(ok->body, "ok");
  });

  Harness a;
  a.start([](Request& req, Response& res) -> Task<> {
    co_await sleep(1ms);
    if (req.path() == "/throw") throw std::runtime_error("async boom");
    (void)res.send("ok");
  });
  a.run([](uint16_t port) {
    TestClient c(port);
    ASSERT_TRUE(c.send(get("/throw") + get("/ok")));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 500);
    auto ok = c.read_response();
    ASSERT_TRUE(ok);
    EXPECT_EQ(ok->body, "ok");
  });
}

TEST(HttpServer, ClientDisconnectCancelsTheHandler) {
  Harness h;
  std::atomic<int> started{0};
  std::error_code slept;
  bool finished = false;
  h.start([&](Request&, Response& res) -> Task<> {
    ++started;
    slept = co_await sleep(10s);
    finished = true;
    EXPECT_EQ(res.send("late"), std::error_code(Error::closed));
  });
  auto t0 = std::chrono::steady_clock::now();
  h.run([&](uint16_t port) {
    TestClient c(port);
    ASSERT_TRUE(c.send(get("/")));
    while (started == 0) std::this_thread::sleep_for(1ms);
    c.close();
  });
  EXPECT_TRUE(finished);
  EXPECT_EQ(slept, std::error_code(Error::cancelled));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
}

TEST(HttpServer, ResponseHeaderValidation) {
  Harness h;
  std::vector<std::error_code> codes;
  h.start([&](Request&, Response& res) {
    codes.push_back(res.set_header("X-Bad", "a\r\nInjected: 1"));
    codes.push_back(res.set_header("X-Bad\r\nInjected", "1"));
    codes.push_back(res.set_header("X-Nul", std::string_view("a\0b", 3)));
    codes.push_back(res.set_header("Bad Name", "v"));
    codes.push_back(res.set_header("Content-Length", "5"));
    codes.push_back(res.set_header("Transfer-Encoding", "chunked"));
    codes.push_back(res.set_header("X-Good", "fine\tvalue"));
    (void)res.send("x");
  });
  h.run([](uint16_t port) {
    TestClient c(port);
    ASSERT_TRUE(c.send(get("/")));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->raw_head.find("Injected"), std::string::npos);
    EXPECT_FALSE(r->has("X-Nul"));
    EXPECT_EQ(r->header("X-Good"), "fine\tvalue");
    EXPECT_EQ(r->header("Content-Length"), "1");
  });
  ASSERT_EQ(codes.size(), 7u);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(codes[i], std::error_code(Error::invalid_argument)) << i;
  EXPECT_FALSE(codes[6]);
}

TEST(HttpServer, StreamingResponsesAreChunkedOrCloseDelimited) {
  Harness h;
  h.start([](Request&, Response& res) -> Task<> {
    for (int i = 0; i < 3; ++i) {
      EXPECT_FALSE(res.write("piece" + std::to_string(i) + ";"));
      co_await sleep(1ms);
    }
    EXPECT_FALSE(res.end());
  });
  h.run([](uint16_t port) {
    TestClient c(port);
    ASSERT_TRUE(c.send(get("/") + get("/")));
    for (int i = 0; i < 2; ++i) {
      auto r = c.read_response();
      ASSERT_TRUE(r);
      EXPECT_EQ(r->header("Transfer-Encoding"), "chunked");
      EXPECT_EQ(r->body, "piece0;piece1;piece2;");
    }
    TestClient old(port);
    ASSERT_TRUE(old.send("GET / HTTP/1.0\r\n\r\n"));
    auto r = old.read_response();
    ASSERT_TRUE(r);
    EXPECT_FALSE(r->has("Transfer-Encoding"));
    EXPECT_EQ(r->header("Connection"), "close");
    EXPECT_EQ(r->body, "piece0;piece1;piece2;");
  });
}

TEST(HttpServer, BadRequestsAreAnsweredAndClosed) {
  Harness h;
  h.start(hello);
  h.run([](uint16_t port) {
    struct Case {
      std::string bytes;
      int status;
    };
    std::vector<Case> cases = {
        {"GET / HTTP/1.1\r\nX: a\r\n b\r\nHost: a\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(17000, 'x') + "\r\n\r\n", 431},
        {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2000000\r\n\r\n", 413},
        {"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n", 501},
    };
    for (const Case& k : cases) {
      TestClient c(port);
      ASSERT_TRUE(c.send(get("/plaintext") + k.bytes));  // a good request first: its answer comes first
      auto ok = c.read_response();
      ASSERT_TRUE(ok);
      EXPECT_EQ(ok->status, 200);
      auto r = c.read_response();
      ASSERT_TRUE(r);
      EXPECT_EQ(r->status, k.status);
      EXPECT_EQ(r->header("Connection"), "close");
      EXPECT_TRUE(c.closed_within(3000));
    }
  });
}

}  // namespace
}  // namespace waitless::http

namespace waitless::http {
namespace {

// listen() with several loops on their own threads (SO_REUSEPORT), shutdown() from another thread, wait().
TEST(HttpServer, ListenOnSeveralLoopsThenShutDown) {
  std::atomic<int> served{0};
  Server server([&](Request&, Response& res) {
    ++served;
    (void)res.send("hi");
  });
  ListenConfig config;
  config.threads = 3;
  config.handle_signals = false;
  auto port = server.listen(0, config);
  ASSERT_TRUE(port.ok()) << port.error().message();
  EXPECT_EQ(server.listen(0, config).error(), std::error_code(Error::already_closing));
  std::thread clients([&] {
    for (int i = 0; i < 30; ++i) {
      testing::TestClient c(port.value());
      ASSERT_TRUE(c.send(testing::get("/")));
      auto r = c.read_response();
      ASSERT_TRUE(r);
      EXPECT_EQ(r->body, "hi");
    }
    server.shutdown(std::chrono::milliseconds(1000));
  });
  EXPECT_EQ(server.wait(), 0);
  clients.join();
  EXPECT_EQ(served.load(), 30);
  testing::TestClient after(port.value());
  EXPECT_FALSE(after.connected());
}

}  // namespace
}  // namespace waitless::http
