// The client against servers that misbehave on purpose (raw sockets on the test loop): silence, bodies cut
// short, resets, malformed responses, interim responses, connections closed while pooled or just as a
// request leaves, stray bytes.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <string>
#include <vector>

#include "waitless/async/sleep.hpp"
#include "waitless/http/client.hpp"
#include "waitless/http/client_test_support.hpp"

namespace waitless::http {
namespace {

using testing::RawServer;
using testing::run_bounded;
using testing::url_of;

constexpr std::string_view kOk = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

TEST(HttpClientRaw, HeaderTimeoutAgainstASilentServer) {
  Loop loop;
  {
    RawServer server(loop, [](RawServer::Conn&, const std::string&) {});  // accepts, reads, never answers
    Client client(loop, {.header_timeout = 100ms});
    auto start = std::chrono::steady_clock::now();
    auto r = run_bounded(loop, client.get(url_of(server.port())));
    auto took = std::chrono::steady_clock::now() - start;
    EXPECT_EQ(r.error(), Error::timed_out);
    EXPECT_GE(took, 95ms);
    EXPECT_LT(took, 2s);
    EXPECT_EQ(client.metrics().open_connections, 0u);
    // The client closed its side: the server sees the EOF.
    EXPECT_TRUE(net::test::run_until(loop, [&] { return server.peer_closes() == 1; }));
    // A head that starts but never ends is bounded the same way.
    RawServer partial(loop,
                      [](RawServer::Conn& c, const std::string&) { c.send("HTTP/1.1 200 OK\r\nX-A: "); });
    auto p = run_bounded(loop, client.get(url_of(partial.port())));
    EXPECT_EQ(p.error(), Error::timed_out);
  }
  net::test::expect_empty(loop);
}

// A listener whose accept queue is full and never drained: the kernel drops further SYNs, so a connect
// neither succeeds nor fails until connect_timeout.
TEST(HttpClientRaw, ConnectTimeoutAgainstAFullBacklog) {
  Loop loop;
  {
    int lfd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(lfd, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(lfd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    ASSERT_EQ(::listen(lfd, 0), 0);
    socklen_t len = sizeof a;
    ASSERT_EQ(::getsockname(lfd, reinterpret_cast<sockaddr*>(&a), &len), 0);
    std::vector<int> fillers;  // non-blocking connects that fill the accept queue
    for (int i = 0; i < 4; ++i) {
      int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      (void)::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
      fillers.push_back(fd);
    }
    Client client(loop, {.connect_timeout = 150ms, .header_timeout = 5s});
    auto start = std::chrono::steady_clock::now();
    auto r = run_bounded(loop, client.get(url_of(ntohs(a.sin_port))));
    auto took = std::chrono::steady_clock::now() - start;
    EXPECT_EQ(r.error(), Error::timed_out);
    EXPECT_EQ(client.metrics().connect_errors, 1u);  // it was the connect that timed out
    EXPECT_GE(took, 140ms);
    EXPECT_LT(took, 2s);
    EXPECT_EQ(client.metrics().open_connections, 0u);
    for (int fd : fillers) ::close(fd);
    ::close(lfd);
  }
  net::test::expect_empty(loop);
}

TEST(HttpClientRaw, UpstreamKilledMidResponseIsATypedError) {
  Loop loop;
  {
    RawServer server(loop, [](RawServer::Conn& c, const std::string& req) {
      if (req.find("GET /length") == 0) {
        c.send("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + std::string(50, 'x'));
        c.close();
      } else if (req.find("GET /chunked") == 0) {
        c.send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n0123456789");
        c.close();
      } else if (req.find("GET /head") == 0) {
        c.send("HTTP/1.1 200 OK\r\nContent-Le");
        c.close();
      } else {  // reset mid-body
        c.send("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + std::string(50, 'x'));
        c.reset();
      }
    });
    Client client(loop);
    for (const char* path : {"/length", "/chunked", "/head"}) {
      auto r = run_bounded(loop, client.get(url_of(server.port(), path)));
      EXPECT_EQ(r.error(), Error::eof) << path;
    }
    auto reset = run_bounded(loop, client.get(url_of(server.port(), "/reset")));
    ASSERT_FALSE(reset.ok());
    // Data and the RST may arrive together: either the reset itself or the truncation is reported.
    EXPECT_TRUE(reset.error() == std::error_code(ECONNRESET, std::system_category()) ||
                reset.error() == Error::eof)
        << reset.error().message();
    ClientMetrics m = client.metrics();
    EXPECT_EQ(m.open_connections, 0u);
    EXPECT_EQ(m.retries, 0u);  // bytes of the response had arrived: never retried
    // The streamed form reports the same error from read().
    auto streamed = [&]() -> Task<std::error_code> {
      ClientRequest req{.url = url_of(server.port(), "/length")};
      auto s = co_await client.stream(std::move(req));
      if (!s) co_return s.error();
      for (;;) {
        auto piece = co_await s->read();
        if (!piece) {
          auto again = co_await s->read();  // errors stick
          EXPECT_EQ(again.error(), piece.error());
          co_return piece.error();
        }
        if (piece->empty()) co_return std::error_code{};
      }
    };
    EXPECT_EQ(run_bounded(loop, streamed()), Error::eof);
  }
  net::test::expect_empty(loop);
}

TEST(HttpClientRaw, MalformedResponsesAreProtocolErrors) {
  Loop loop;
  {
    const std::vector<std::string> bad = {
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok",
        "HTTP/1.1 20 OK\r\n\r\n",
        "SMTP ready\r\n\r\n",
        "HTTP/1.1 200 OK\nContent-Length: 2\n\nok",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nnot-hex\r\n",
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\n",
    };
    std::size_t next = 0;
    RawServer server(loop, [&](RawServer::Conn& c, const std::string&) { c.send(bad[next++]); });
    Client client(loop);
    for (std::size_t i = 0; i < bad.size(); ++i) {
      auto r = run_bounded(loop, client.get(url_of(server.port())));
      EXPECT_EQ(r.error(), Error::protocol_error) << bad[i];
    }
    EXPECT_EQ(client.metrics().open_connections, 0u);
    EXPECT_EQ(server.accepts(), bad.size());  // a connection that saw garbage is never reused
  }
  net::test::expect_empty(loop);
}

TEST(HttpClientRaw, InterimResponsesAreSkipped) {
  Loop loop;
  {
    RawServer server(loop, [](RawServer::Conn& c, const std::string&) {
      c.send("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n");
      c.send("HTTP/1.1 201 Created\r\nContent-Length: 4\r\nLink: </x>\r\n\r\ndone");
    });
    Client client(loop);
    for (int i = 0; i < 2; ++i) {
      auto r = run_bounded(loop, client.get(url_of(server.port())));
      ASSERT_TRUE(r.ok()) << r.error().message();
      EXPECT_EQ(r->status, 201);
      EXPECT_EQ(r->reason, "Created");
      EXPECT_EQ(r->body, "done");
      EXPECT_EQ(r->header("link"), "</x>");
    }
    EXPECT_EQ(server.accepts(), 1u);
  }
  net::test::expect_empty(loop);
}

// The head and the body in one segment: the streamed piece is parsed from what the head's read left over.
// Its first byte once came back as NUL (the leftover buffer was cleared under the piece).
TEST(HttpClientRaw, StreamedPieceFromTheHeadsReadIsIntact) {
  Loop loop;
  {
    RawServer server(loop, [](RawServer::Conn& c, const std::string&) {
      c.send("HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\nHello, World!");
    });
    Client client(loop);
    for (int i = 0; i < 3; ++i) {
      auto body = run_bounded(loop, [&]() -> Task<std::string> {
        ClientRequest req{.url = url_of(server.port())};
        auto s = co_await client.stream(std::move(req));
        if (!s) co_return "error: " + s.error().message();
        std::string all;
        for (;;) {
          auto piece = co_await s->read();
          if (!piece) co_return "error: " + piece.error().message();
          if (piece->empty()) break;
          all.append(*piece);  // as a proxy would use it: before the next read
        }
        co_return all;
      }());
      EXPECT_EQ(body, "Hello, World!") << i;
    }
  }
  net::test::expect_empty(loop);
}

TEST(HttpClientRaw, BodyDelimitedByTheCloseIsReadToTheEnd) {
  Loop loop;
  {
    RawServer server(loop, [](RawServer::Conn& c, const std::string&) {
      c.send("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end");
      c.close();
    });
    Client client(loop);
    for (int i = 0; i < 2; ++i) {
      auto r = run_bounded(loop, client.get(url_of(server.port())));
      ASSERT_TRUE(r.ok()) << r.error().message();
      EXPECT_EQ(r->body, "until the end");
    }
    EXPECT_EQ(server.accepts(), 2u);
    EXPECT_EQ(client.metrics().open_connections, 0u);
  }
  net::test::expect_empty(loop);
}

TEST(HttpClientRaw, PoolingReusesConnectionsCountedByAccepts) {
  Loop loop;
  {
    RawServer server(loop, [](RawServer::Conn& c, const std::string&) { c.send(kOk); });
    Client client(loop);
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(run_bounded(loop, client.get(url_of(server.port()))).ok());
    EXPECT_EQ(server.accepts(), 1u);
    EXPECT_EQ(client.metrics().connections_reused, 9u);
    // HEAD: the Content-Length describes a body that is not sent; the connection goes on.
    RawServer heads(loop, [](RawServer::Conn& c, const std::string& req) {
      c.send(req.find("HEAD") == 0 ? "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" : std::string(kOk));
    });
    for (int i = 0; i < 3; ++i) {
      ClientRequest req{.method = i == 1 ? "GET" : "HEAD", .url = url_of(heads.port())};
      auto r = run_bounded(loop, client.request(std::move(req)));
      ASSERT_TRUE(r.ok()) << r.error().message();
      EXPECT_EQ(r->body, i == 1 ? "ok" : "");
    }
    EXPECT_EQ(heads.accepts(), 1u);
  }
  net::test::expect_empty(loop);
}

TEST(HttpClientRaw, IdleConnectionClosedByTheServerIsDropped) {
  Loop loop;
  {
    RawServer server(loop, [](RawServer::Conn& c, const std::string&) {
      c.send(kOk);  // keep-alive as far as the client can tell...
      c.close();    // ...but closed right after
    });
    Client client(loop);
    ASSERT_TRUE(run_bounded(loop, client.get(url_of(server.port()))).ok());
    // The EOF is seen while the connection idles in the pool: it is dropped there.
    EXPECT_TRUE(net::test::run_until(loop, [&] { return client.metrics().idle_connections == 0; }));
    EXPECT_EQ(client.metrics().open_connections, 0u);
    ASSERT_TRUE(run_bounded(loop, client.get(url_of(server.port()))).ok());
    EXPECT_EQ(client.metrics().retries, 0u);
    EXPECT_EQ(server.accepts(), 2u);
  }
  net::test::expect_empty(loop);
}

// The race the retry exists for: the server closes a kept-alive connection just as a request leaves.
// Scripted: every connection answers its first request, and closes (or resets) on its second.
TEST(HttpClientRaw, StaleConnectionRetriedOnceForIdempotentMethodsOnly) {
  for (bool reset : {false, true}) {
    Loop loop;
    {
      RawServer server(loop, [reset](RawServer::Conn& c, const std::string&) {
        if (c.requests == 1) {
          c.send(kOk);
        } else if (reset) {
          c.reset();
        } else {
          c.close();
        }
      });
      Client client(loop);
      ASSERT_TRUE(run_bounded(loop, client.get(url_of(server.port()))).ok());
      auto r = run_bounded(loop, client.get(url_of(server.port())));
      ASSERT_TRUE(r.ok()) << r.error().message();
      EXPECT_EQ(r->body, "ok");
      EXPECT_EQ(client.metrics().retries, 1u);
      EXPECT_EQ(server.accepts(), 2u);
      // POST is not idempotent: the failure is reported, not repeated.
      auto p = run_bounded(loop, client.post(url_of(server.port()), "data"));
      ASSERT_FALSE(p.ok());
      EXPECT_TRUE(p.error() == Error::eof ||
                  p.error() == std::error_code(ECONNRESET, std::system_category()) ||
                  p.error() == std::error_code(EPIPE, std::system_category()))
          << p.error().message();
      EXPECT_EQ(client.metrics().retries, 1u);
      EXPECT_EQ(server.accepts(), 2u);
    }
    net::test::expect_empty(loop);
  }
}

TEST(HttpClientRaw, RetryHappensOnlyOnce) {
  Loop loop;
  {
    // The first request of each connection succeeds; a second one never does; and every connection after
    // the first dies at once: the retry fails too, and its error is reported.
    RawServer server(loop, [](RawServer::Conn& c, const std::string&) {
      if (c.requests == 1 && c.server->accepts() == 1) {
        c.send(kOk);
      } else {
        c.close();
      }
    });
    Client client(loop);
    ASSERT_TRUE(run_bounded(loop, client.get(url_of(server.port()))).ok());
    auto r = run_bounded(loop, client.get(url_of(server.port())));
    EXPECT_EQ(r.error(), Error::eof);
    EXPECT_EQ(client.metrics().retries, 1u);
    EXPECT_EQ(server.accepts(), 2u);
  }
  net::test::expect_empty(loop);
}

TEST(HttpClientRaw, StrayBytesAfterAResponseRuleOutReuse) {
  Loop loop;
  {
    RawServer server(loop,
                     [](RawServer::Conn& c, const std::string&) { c.send(std::string(kOk) + "garbage"); });
    Client client(loop);
    for (int i = 0; i < 2; ++i) {
      auto r = run_bounded(loop, client.get(url_of(server.port())));
      ASSERT_TRUE(r.ok());
      EXPECT_EQ(r->body, "ok");
    }
    EXPECT_EQ(server.accepts(), 2u);
  }
  net::test::expect_empty(loop);
}

TEST(HttpClientRaw, RequestOnTheWireIsExactlyWhatWasAsked) {
  Loop loop;
  {
    std::string seen;
    RawServer server(loop, [&](RawServer::Conn& c, const std::string& req) {
      seen = req;
      c.send(kOk);
    });
    Client client(loop);
    ClientRequest req{.method = "PATCH",
                      .url = "http://127.0.0.1:" + std::to_string(server.port()) + "?a=1#frag",
                      .headers = {{"X-One", "1"}, {"x-two", " spaced "}},
                      .body = "{}"};
    ASSERT_TRUE(run_bounded(loop, client.request(std::move(req))).ok());
    EXPECT_EQ(seen, "PATCH /?a=1 HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(server.port()) +
                        "\r\nX-One: 1\r\nx-two:  spaced \r\nContent-Length: 2\r\n\r\n{}");
    ClientRequest with_host{.url = url_of(server.port(), "/p"), .headers = {{"Host", "example.com"}}};
    ASSERT_TRUE(run_bounded(loop, client.request(std::move(with_host))).ok());
    EXPECT_EQ(seen, "GET /p HTTP/1.1\r\nHost: example.com\r\n\r\n");
  }
  net::test::expect_empty(loop);
}

}  // namespace
}  // namespace waitless::http
