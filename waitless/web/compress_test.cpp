#include "waitless/web/compress.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "waitless/web/app_test_support.hpp"
#include "waitless/web/decompress_test_support.hpp"
#include "waitless/web/static_files.hpp"

namespace waitless::web {
namespace {

using namespace std::chrono_literals;
using http::testing::get;
using test::gunzip;
using test::request;
using test::serve;
using test::unbrotli;

std::string text(std::size_t n) {
  std::string s;
  for (int i = 0; s.size() < n; ++i) s += "line " + std::to_string(i) + " of a compressible page\n";
  s.resize(n);
  return s;
}

std::string accept(std::string_view value) { return "Accept-Encoding: " + std::string(value) + "\r\n"; }

TEST(Compression, NegotiatesGzipAndBrotliWithQValues) {
  const std::string body = text(20000);
  App app;
  app.use(compression());
  app.get("/page", [&body](Request&, Response& res) { res.send(body); });
  serve(app, [&](uint16_t port) {
    auto gz = request(port, get("/page", accept("gzip")));
    EXPECT_EQ(gz.status, 200);
    EXPECT_EQ(gz.header("Content-Encoding"), "gzip");
    EXPECT_EQ(gz.header("Vary"), "Accept-Encoding");
    EXPECT_LT(gz.body.size(), body.size() / 4);
    EXPECT_EQ(gunzip(gz.body), body);
    EXPECT_EQ(gz.header("Content-Length"), std::to_string(gz.body.size()));  // send(): sized whole

    auto br = request(port, get("/page", accept("gzip, deflate, br")));
    EXPECT_EQ(br.header("Content-Encoding"), "br");
    EXPECT_EQ(unbrotli(br.body), body);
    EXPECT_EQ(request(port, get("/page", accept("br;q=0.5, gzip;q=0.9"))).header("Content-Encoding"), "gzip");
    EXPECT_EQ(request(port, get("/page", accept("br;q=0, *"))).header("Content-Encoding"), "gzip");
    EXPECT_EQ(request(port, get("/page", accept("x-gzip"))).header("Content-Encoding"), "gzip");

    auto none = request(port, get("/page"));
    EXPECT_FALSE(none.has("Content-Encoding"));
    EXPECT_EQ(none.header("Vary"), "Accept-Encoding");
    EXPECT_EQ(none.body, body);
    auto identity = request(port, get("/page", accept("identity, gzip;q=0")));
    EXPECT_FALSE(identity.has("Content-Encoding"));
    EXPECT_EQ(identity.body, body);
    // Nothing acceptable: identity anyway (RFC 9110 12.5.3 allows it).
    EXPECT_EQ(request(port, get("/page", accept("*;q=0"))).body, body);
    EXPECT_EQ(request(port, get("/page", accept("gzip;q=x, br;q=2"))).status, 200);
  });
}

TEST(Compression, SkipsSmallCompressedEncodedAndPartialResponses) {
  const std::string body = text(5000);
  App app;
  app.use(compression({.threshold = 2048, .brotli = false}));
  app.get("/small", [](Request&, Response& res) { res.send(text(2047)); });
  app.get("/png", [&body](Request&, Response& res) { res.type("image/png").send(body); });
  app.get("/svg", [&body](Request&, Response& res) { res.type("image/svg+xml").send(body); });
  app.get("/encoded", [&body](Request&, Response& res) {
    res.set_header("Content-Encoding", "gzip").type("text/plain").send(body);
  });
  app.get("/notransform", [&body](Request&, Response& res) {
    res.set_header("Cache-Control", "public, no-transform").send(body);
  });
  app.get("/vary", [&body](Request&, Response& res) { res.set_header("Vary", "Origin").send(body); });
  app.get("/nocontent", [](Request&, Response& res) { res.status(204); });
  app.get("/events", [&body](Request&, Response& res) { res.type("text/event-stream").send(body); });
  serve(app, [&](uint16_t port) {
    const std::string gz = accept("gzip, br");
    auto small = request(port, get("/small", gz));
    EXPECT_FALSE(small.has("Content-Encoding"));
    EXPECT_EQ(small.header("Vary"), "Accept-Encoding");
    EXPECT_EQ(small.body.size(), 2047u);
    auto png = request(port, get("/png", gz));
    EXPECT_FALSE(png.has("Content-Encoding"));
    EXPECT_FALSE(png.has("Vary"));
    EXPECT_EQ(request(port, get("/svg", gz)).header("Content-Encoding"), "gzip");  // brotli off
    auto enc = request(port, get("/encoded", gz));
    EXPECT_EQ(enc.header("Content-Encoding"), "gzip");
    EXPECT_EQ(enc.body, body);  // passed as it was
    EXPECT_FALSE(request(port, get("/notransform", gz)).has("Content-Encoding"));
    EXPECT_EQ(request(port, get("/vary", gz)).header("Vary"), "Origin, Accept-Encoding");
    EXPECT_EQ(request(port, get("/nocontent", gz)).status, 204);
    EXPECT_FALSE(request(port, get("/events", gz)).has("Content-Encoding"));
  });
}

TEST(Compression, StreamsAStaticFileAndKeepsRangesAndValidators) {
  namespace stdfs = std::filesystem;
  char tmpl[] = "/tmp/waitless-compress-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  const std::string body = text(3 << 20);
  std::ofstream(dir + "/big.txt", std::ios::binary) << body;
  App app;
  app.use(compression());
  app.use(serve_static(dir, {.chunk_size = 16384}));
  app.get("/stream", [&body](Request&, Response& res) -> Task<> {
    res.type("text/plain");
    for (std::size_t at = 0; at < body.size(); at += 100000) {
      if (res.write(std::string_view(body).substr(at, 100000))) co_return;
      if (res.needs_drain()) co_await res.drain();
    }
    res.end();
  });
  serve(app, [&](uint16_t port) {
    auto r = request(port, get("/big.txt", accept("gzip")));
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.header("Content-Encoding"), "gzip");
    EXPECT_EQ(r.header("Transfer-Encoding"), "chunked");
    EXPECT_FALSE(r.has("Content-Length"));
    EXPECT_TRUE(gunzip(r.body) == body);
    const std::string etag = r.header("ETag");
    EXPECT_EQ(etag.substr(0, 3), "W/\"");
    // The weak tag still validates: 304.
    auto again = request(port, get("/big.txt", accept("gzip") + "If-None-Match: " + etag + "\r\n"));
    EXPECT_EQ(again.status, 304);
    // A range is served from the file as it is.
    auto part = request(port, get("/big.txt", accept("gzip") + "Range: bytes=10-19\r\n"));
    EXPECT_EQ(part.status, 206);
    EXPECT_FALSE(part.has("Content-Encoding"));
    EXPECT_EQ(part.body, body.substr(10, 10));
    auto head = request(port, "HEAD /big.txt HTTP/1.1\r\nHost: t\r\nAccept-Encoding: br\r\n\r\n");
    EXPECT_EQ(head.header("Content-Encoding"), "br");
    EXPECT_EQ(head.body, "");
    auto streamed = request(port, get("/stream", accept("br")));
    EXPECT_EQ(streamed.header("Content-Encoding"), "br");
    EXPECT_TRUE(unbrotli(streamed.body) == body);
  });
  stdfs::remove_all(dir);
}

}  // namespace
}  // namespace waitless::web
