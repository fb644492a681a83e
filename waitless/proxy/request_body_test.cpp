// Request bodies streamed through the proxy on one loop: the waitless client uploads (chunked or with a
// length), the proxy streams the body to a waitless upstream that checks every byte.
#include "waitless/proxy/request_body.hpp"

#include <gtest/gtest.h>

#include "waitless/async/sleep.hpp"
#include "waitless/http/client_test_support.hpp"
#include "waitless/proxy/proxy.hpp"

namespace waitless::proxy {
namespace {

using namespace std::chrono_literals;
using http::testing::run_bounded;
using http::testing::TestServer;

// `pieces` pieces of `size` bytes; byte i of the body is 'a' + i % 26 (the upstream checks each).
class PatternSource final : public http::BodySource {
 public:
  PatternSource(int pieces, std::size_t size) : pieces_(pieces) { buf_.resize(size); }
  Task<Result<std::string_view>> next() override {
    if (given_ == pieces_) co_return std::string_view{};
    for (std::size_t i = 0; i < buf_.size(); ++i) buf_[i] = char('a' + (offset_ + i) % 26);
    offset_ += buf_.size();
    ++given_;
    co_return std::string_view(buf_);
  }

 private:
  int pieces_;
  std::string buf_;
  uint64_t offset_ = 0;
  int given_ = 0;
};

struct Counts {
  int requests = 0;
};

// Reads the body (pausing `pause` per piece: a slow reader), answers "<bytes> <ok|bad> <chunked|length>".
http::Handler checking_upstream(Counts* counts, Duration pause = {}) {
  return [counts, pause](http::Request& req, http::Response& res) -> Task<> {
    ++counts->requests;
    req.set_body_limit(1ull << 32);
    uint64_t n = 0;
    bool good = true;
    for (;;) {
      auto piece = co_await req.read();
      if (!piece) co_return;
      if (piece->empty()) break;
      for (char c : *piece) good = good && c == char('a' + n++ % 26);
      if (pause > Duration::zero()) co_await sleep(pause);
    }
    (void)res.send(std::to_string(n) + (good ? " ok " : " bad ") + (req.chunked() ? "chunked" : "length"));
  };
}

ProxyConfig config_for(uint16_t port, uint64_t max_body = 64ull << 20) {
  ProxyConfig c;
  UpstreamSpec u;
  u.name = "app";
  u.servers.push_back(ServerSpec{"127.0.0.1:" + std::to_string(port), "127.0.0.1", port, 1});
  c.upstreams.push_back(u);
  c.routes.push_back(RouteSpec{"", "/", "app", 0});
  c.max_request_body = max_body;
  return c;
}

void finish_servers(Loop& loop, TestServer& a, TestServer& b) {
  a.server().shutdown(200ms);
  b.server().shutdown(200ms);
  loop.run();
  a.finish();
  b.finish();
}

Task<Result<http::ClientResponse>> upload(http::Client& client, std::string url, int pieces, std::size_t size,
                                          int64_t length = -1, std::string method = "POST") {
  http::ClientRequest req{.method = std::move(method), .url = std::move(url)};
  req.body_source = std::make_shared<PatternSource>(pieces, size);
  req.body_length = length;
  co_return co_await client.request(std::move(req));
}

TEST(ProxyRequestBody, FiftyMegabytesChunkedAndSizedArriveIntactAndStreamed) {
  Loop loop;
  {
    Counts counts;
    TestServer up(loop, checking_upstream(&counts));
    Proxy proxy(config_for(up.port(), 128ull << 20));
    ProxyLoop pl(proxy, loop);
    TestServer front(loop, proxy.handler());
    http::Client client(loop);
    auto chunked = run_bounded(loop, upload(client, front.url("/up"), 800, 64 * 1024), 60s);
    ASSERT_TRUE(chunked.ok()) << chunked.error().message();
    EXPECT_EQ(chunked->status, 200);
    EXPECT_EQ(chunked->body, "52428800 ok chunked");  // chunked from the client: chunked to the upstream
    auto sized = run_bounded(loop, upload(client, front.url("/up"), 100, 10'000, 1'000'000), 20s);
    ASSERT_TRUE(sized.ok()) << sized.error().message();
    EXPECT_EQ(sized->body, "1000000 ok length");  // Content-Length kept
    // Streamed, not collected: the proxy's upstream write queue stayed within its high-water mark and one
    // piece (50 MiB went through).
    EXPECT_LE(pl.client_metrics().max_body_queued, http::detail::ClientConnection::kBodyHighWater + 65'600);
    finish_servers(loop, front, up);
  }
  net::test::expect_empty(loop);
}

TEST(ProxyRequestBody, ASlowUpstreamHoldsTheClientBackNotTheProxyMemory) {
  Loop loop;
  {
    Counts counts;
    TestServer up(loop, checking_upstream(&counts, 2ms));
    Proxy proxy(config_for(up.port()));
    ProxyLoop pl(proxy, loop);
    TestServer front(loop, proxy.handler());
    http::Client client(loop);
    auto r = run_bounded(loop, upload(client, front.url("/up"), 128, 64 * 1024), 30s);  // 8 MiB
    ASSERT_TRUE(r.ok()) << r.error().message();
    EXPECT_EQ(r->body, "8388608 ok chunked");
    EXPECT_GT(pl.client_metrics().max_body_queued, 0u);
    EXPECT_LE(pl.client_metrics().max_body_queued, http::detail::ClientConnection::kBodyHighWater + 65'600);
    finish_servers(loop, front, up);
  }
  net::test::expect_empty(loop);
}

TEST(ProxyRequestBody, OverTheLimitIs413WithLengthBeforeAnyUpstreamContactAndWhenChunked) {
  Loop loop;
  {
    Counts counts;
    TestServer up(loop, checking_upstream(&counts));
    Proxy proxy(config_for(up.port(), 100'000));
    ProxyLoop pl(proxy, loop);
    TestServer front(loop, proxy.handler());
    http::Client client(loop);
    auto sized = run_bounded(loop, upload(client, front.url("/up"), 20, 10'000, 200'000));
    ASSERT_TRUE(sized.ok()) << sized.error().message();
    EXPECT_EQ(sized->status, 413);
    EXPECT_EQ(counts.requests, 0);  // the upstream was never asked
    http::Client client2(loop);
    auto chunked = run_bounded(loop, upload(client2, front.url("/up"), 20, 10'000));
    // 413 from the proxy's server once the body passes the limit; the upstream request was aborted.
    if (chunked.ok()) {
      EXPECT_EQ(chunked->status, 413);
    } else {
      // The proxy may close the connection while the client is still sending (the 413 then lost on a
      // reset): the upload must fail either way, never succeed.
      EXPECT_TRUE(chunked.error() == std::errc::connection_reset || chunked.error() == Error::eof)
          << chunked.error().message();
    }
    EXPECT_LE(counts.requests, 1);
    auto small = run_bounded(loop, upload(client2, front.url("/up"), 2, 10'000));
    ASSERT_TRUE(small.ok()) << small.error().message();
    EXPECT_EQ(small->body, "20000 ok chunked");
    finish_servers(loop, front, up);
  }
  net::test::expect_empty(loop);
}

TEST(ProxyRequestBody, AnIdempotentUploadIsRetriedOnAnotherServerWithItsBody) {
  Loop loop;
  {
    Counts counts;
    TestServer up(loop, checking_upstream(&counts));
    auto refused = net::TcpListener::listen(loop, {}, [](int fd) { ::close(fd); });
    ASSERT_TRUE(refused.ok());
    const uint16_t dead = (*refused)->port();
    refused->reset();  // nothing listens there now
    ProxyConfig c = config_for(up.port());
    c.upstreams[0].servers.insert(c.upstreams[0].servers.begin(),
                                  ServerSpec{"127.0.0.1:" + std::to_string(dead), "127.0.0.1", dead, 1});
    Proxy proxy(c);
    ProxyLoop pl(proxy, loop);
    TestServer front(loop, proxy.handler());
    http::Client client(loop);
    for (int i = 0; i < 2; ++i) {  // round robin: one of the two goes to the dead server first
      auto r = run_bounded(loop, upload(client, front.url("/up"), 3, 10'000, 30'000, "PUT"));
      ASSERT_TRUE(r.ok()) << r.error().message();
      EXPECT_EQ(r->status, 200);
      EXPECT_EQ(r->body, "30000 ok length");
    }
    EXPECT_GE(proxy.snapshot()->upstreams[0]->retries(), 1u);
    finish_servers(loop, front, up);
  }
  net::test::expect_empty(loop);
}

// The first server takes the whole body, then resets the connection without an answer. An idempotent
// upload that the proxy still holds (at most kReplayLimit bytes) goes again to the other server; a larger
// one cannot be sent again, so it is a 502 and the other server never sees it.
TEST(ProxyRequestBody, AnUploadPastTheReplayLimitIsNotRetried) {
  for (const std::size_t total : {std::size_t{30'000}, std::size_t{160'000}}) {  // under, over 64 KiB
    SCOPED_TRACE(total);
    const bool replayable = total <= RequestBody::kReplayLimit;
    Loop loop;
    {
      Counts counts;
      TestServer up(loop, checking_upstream(&counts));
      http::testing::RawServer dying(
          loop, [](http::testing::RawServer::Conn& c, const std::string&) { c.reset(); });
      ProxyConfig c = config_for(up.port());
      c.upstreams[0].servers.insert(
          c.upstreams[0].servers.begin(),
          ServerSpec{"127.0.0.1:" + std::to_string(dying.port()), "127.0.0.1", dying.port(), 1});
      Proxy proxy(c);
      ProxyLoop pl(proxy, loop);
      TestServer front(loop, proxy.handler());
      http::Client client(loop);
      const std::string whole = std::to_string(total) + " ok length";
      int ok = 0, bad_gateway = 0;
      for (int i = 0; i < 2; ++i) {  // round robin: one of the two goes to the dying server first
        auto r = run_bounded(
            loop, upload(client, front.url("/up"), 10, total / 10, static_cast<int64_t>(total), "PUT"));
        EXPECT_TRUE(r.ok()) << r.error().message();  // no ASSERT: the servers must still be finished
        if (!r.ok()) continue;
        if (r->status == 200 && r->body == whole) ++ok;
        if (r->status == 502) ++bad_gateway;
      }
      EXPECT_EQ(dying.accepts(), 1u);  // the dying server saw exactly one of the two, whole
      if (replayable) {
        EXPECT_EQ(ok, 2);
        EXPECT_EQ(counts.requests, 2);
        EXPECT_EQ(proxy.snapshot()->upstreams[0]->retries(), 1u);
      } else {
        EXPECT_EQ(ok, 1);
        EXPECT_EQ(bad_gateway, 1);
        EXPECT_EQ(counts.requests, 1);
        EXPECT_EQ(proxy.snapshot()->upstreams[0]->retries(), 0u);
      }
      dying.stop();
      finish_servers(loop, front, up);
    }
    net::test::expect_empty(loop);
  }
}

}  // namespace
}  // namespace waitless::proxy
