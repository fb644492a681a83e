// The client's streamed request bodies (ClientRequest::body_source) and its hand-over of a connection
// after a 101 (ClientStream::take_upgraded), against a real waitless Server on the same loop.
#include <gtest/gtest.h>

#include <string>

#include "waitless/async/sleep.hpp"
#include "waitless/http/client.hpp"
#include "waitless/http/client_test_support.hpp"

namespace waitless::http {
namespace {

using namespace std::chrono_literals;
using testing::run_bounded;
using testing::TestServer;

// Gives `pieces` pieces of `size` bytes (byte i of the body is 'a' + i % 26), pausing `pause` between them.
class CountingSource final : public BodySource {
 public:
  CountingSource(int pieces, std::size_t size, Duration pause = {}) : pieces_(pieces), pause_(pause) {
    buf_.resize(size);
  }
  Task<Result<std::string_view>> next() override {
    if (given_ == pieces_) co_return std::string_view{};
    if (pause_ > Duration::zero()) co_await sleep(pause_);
    for (std::size_t i = 0; i < buf_.size(); ++i) buf_[i] = char('a' + (offset_ + i) % 26);
    offset_ += buf_.size();
    ++given_;
    co_return std::string_view(buf_);
  }
  bool rewind() override {
    given_ = 0;
    offset_ = 0;
    return true;
  }
  int given() const { return given_; }

 private:
  int pieces_;
  Duration pause_;
  std::string buf_;
  uint64_t offset_ = 0;
  int given_ = 0;
};

// Reads the body piece by piece (slowly when asked), checks the pattern, answers "<bytes> <ok|bad>
// <framing>".
Handler counting_upstream(Duration pause_per_piece = {}) {
  return [pause_per_piece](Request& req, Response& res) -> Task<> {
    req.set_body_limit(1ull << 32);
    uint64_t n = 0;
    bool good = true;
    for (;;) {
      auto piece = co_await req.read();
      if (!piece) co_return;
      if (piece->empty()) break;
      for (char c : *piece) good = good && c == char('a' + n++ % 26);
      if (pause_per_piece > Duration::zero()) co_await sleep(pause_per_piece);
    }
    (void)res.send(std::to_string(n) + (good ? " ok " : " bad ") + (req.chunked() ? "chunked" : "length"));
  };
}

TEST(HttpClientStreamBody, ChunkedAndContentLengthBodiesArriveWhole) {
  Loop loop;
  {
    TestServer server(loop, counting_upstream());
    Client client(loop);
    run_bounded(loop, [&]() -> Task<> {
      ClientRequest chunked{.method = "POST", .url = server.url("/up")};
      chunked.body_source = std::make_shared<CountingSource>(40, 50'000);
      auto r = co_await client.request(std::move(chunked));
      EXPECT_TRUE(r.ok() && r->body == "2000000 ok chunked") << (r ? r->body : r.error().message());
      ClientRequest sized{.method = "PUT", .url = server.url("/up")};
      sized.body_source = std::make_shared<CountingSource>(3, 1000);
      sized.body_length = 3000;
      r = co_await client.request(std::move(sized));
      EXPECT_TRUE(r.ok() && r->body == "3000 ok length") << (r ? r->body : r.error().message());
      // A source giving more or fewer bytes than announced is refused, nothing sent as complete.
      ClientRequest wrong{.method = "PUT", .url = server.url("/up")};
      wrong.body_source = std::make_shared<CountingSource>(3, 1000);
      wrong.body_length = 2500;
      r = co_await client.request(std::move(wrong));
      EXPECT_EQ(r.error(), make_error_code(Error::invalid_argument));
    }());
    // One kept-alive connection for the three.
    EXPECT_EQ(client.metrics().connections_reused, 2u);
  }
  net::test::expect_empty(loop);
}

TEST(HttpClientStreamBody, ASlowReaderHoldsTheSourceBackNotTheMemory) {
  Loop loop;
  {
    TestServer server(loop, counting_upstream(2ms));
    Client client(loop);
    auto source = std::make_shared<CountingSource>(128, 64 * 1024);  // 8 MiB, read at ~64 KiB per 2 ms
    auto r = run_bounded(
        loop,
        [&]() -> Task<Result<ClientResponse>> {
          ClientRequest req{.method = "POST", .url = server.url("/up")};
          req.body_source = source;
          co_return co_await client.request(std::move(req));
        }(),
        20s);
    ASSERT_TRUE(r.ok()) << r.error().message();
    EXPECT_EQ(r->body, "8388608 ok chunked");
    // The write queue never held more than the high-water mark plus one piece (and its chunk framing).
    EXPECT_GT(client.metrics().max_body_queued, 0u);
    EXPECT_LE(client.metrics().max_body_queued, detail::ClientConnection::kBodyHighWater + 64 * 1024 + 32);
  }
  net::test::expect_empty(loop);
}

TEST(HttpClientStreamBody, AnEarlyResponseStopsTheUpload) {
  Loop loop;
  {
    TestServer server(loop, [](Request&, Response& res) { (void)res.send(413, "too big", "text/plain"); });
    Client client(loop);
    auto source = std::make_shared<CountingSource>(100000, 64 * 1024, 1ms);  // would be 6 GiB
    auto r = run_bounded(loop, [&]() -> Task<Result<ClientResponse>> {
      ClientRequest req{.method = "POST", .url = server.url("/up")};
      req.body_source = source;
      co_return co_await client.request(std::move(req));
    }());
    ASSERT_TRUE(r.ok()) << r.error().message();
    EXPECT_EQ(r->status, 413);
    EXPECT_LT(source->given(), 1000);
  }
  net::test::expect_empty(loop);
}

}  // namespace
}  // namespace waitless::http
