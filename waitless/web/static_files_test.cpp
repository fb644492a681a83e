#include "waitless/web/static_files.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "waitless/web/app_test_support.hpp"

namespace waitless::web {
namespace {

namespace stdfs = std::filesystem;
using http::testing::get;
using http::testing::TestClient;
using test::request;
using test::serve;

// A site under a temp dir: root/ (served) and a secret beside it.
class StaticSite : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/waitless-static-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    base_ = tmpl;
    root_ = base_ + "/root";
    stdfs::create_directories(root_ + "/sub");
    stdfs::create_directories(root_ + "/noindex");
    write(root_ + "/hello.txt", "hello, static\n");
    write(root_ + "/index.html", "<h1>home</h1>");
    write(root_ + "/sub/index.html", "<h1>sub</h1>");
    write(root_ + "/style.css", "body{}");
    write(root_ + "/.env", "SECRET=1");
    write(root_ + "/empty.txt", "");
    write(base_ + "/secret.txt", "top-secret-bytes");
    stdfs::create_symlink(base_ + "/secret.txt", root_ + "/escape.txt");
    stdfs::create_symlink(root_ + "/hello.txt", root_ + "/inside.txt");
  }
  void TearDown() override { stdfs::remove_all(base_); }
  static void write(const std::string& path, const std::string& data) {
    std::ofstream(path, std::ios::binary) << data;
  }
  std::string base_, root_;
};

TEST_F(StaticSite, ServesAFileWithItsValidatorsAndTypes) {
  App app;
  app.use(errors());
  app.use(serve_static(root_));
  serve(app, [&](uint16_t port) {
    auto r = request(port, get("/hello.txt"));
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "hello, static\n");
    EXPECT_EQ(r.header("Content-Type"), "text/plain; charset=utf-8");
    EXPECT_EQ(r.header("Content-Length"), "14");
    EXPECT_EQ(r.header("Accept-Ranges"), "bytes");
    EXPECT_EQ(r.header("Cache-Control"), "public, max-age=0");
    EXPECT_EQ(r.header("X-Content-Type-Options"), "nosniff");
    EXPECT_EQ(r.header("ETag").front(), '"');
    EXPECT_EQ(r.header("Last-Modified").size(), 29u);
    EXPECT_EQ(r.header("Last-Modified").substr(26), "GMT");
    EXPECT_EQ(request(port, get("/style.css")).header("Content-Type"), "text/css; charset=utf-8");
    auto empty = request(port, get("/empty.txt"));
    EXPECT_EQ(empty.status, 200);
    EXPECT_EQ(empty.header("Content-Length"), "0");
    // A symlink inside the root that stays inside is served.
    EXPECT_EQ(request(port, get("/inside.txt")).body, "hello, static\n");

    auto h = request(port, "HEAD /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n");
    EXPECT_EQ(h.status, 200);
    EXPECT_EQ(h.header("Content-Length"), "14");
    EXPECT_EQ(h.header("ETag"), r.header("ETag"));
    EXPECT_EQ(h.body, "");
  });
}

TEST_F(StaticSite, ConditionalRequestsAnswer304) {
  App app;
  app.use(serve_static(root_));
  serve(app, [&](uint16_t port) {
    auto r = request(port, get("/hello.txt"));
    const std::string etag = r.header("ETag");
    const std::string modified = r.header("Last-Modified");
    auto a = request(port, get("/hello.txt", "If-None-Match: " + etag + "\r\n"));
    EXPECT_EQ(a.status, 304);
    EXPECT_EQ(a.body, "");
    EXPECT_EQ(a.header("ETag"), etag);
    EXPECT_FALSE(a.has("Content-Type"));
    EXPECT_EQ(request(port, get("/hello.txt", "If-None-Match: W/" + etag + "\r\n")).status, 304);
    EXPECT_EQ(request(port, get("/hello.txt", "If-None-Match: \"other\"\r\n")).status, 200);
    EXPECT_EQ(request(port, get("/hello.txt", "If-Modified-Since: " + modified + "\r\n")).status, 304);
    EXPECT_EQ(request(port, get("/hello.txt", "If-Modified-Since: Mon, 01 Jan 2001 00:00:00 GMT\r\n")).status,
              200);
    // If-None-Match decides when both are present.
    EXPECT_EQ(request(port, get("/hello.txt",
                                "If-None-Match: \"other\"\r\nIf-Modified-Since: " + modified + "\r\n"))
                  .status,
              200);
    EXPECT_EQ(request(port, get("/hello.txt", "If-Modified-Since: garbage\r\n")).status, 200);
  });
}

TEST_F(StaticSite, SingleRangesAnd416) {
  App app;
  app.use(serve_static(root_));
  serve(app, [&](uint16_t port) {
    auto r = request(port, get("/hello.txt", "Range: bytes=0-4\r\n"));
    EXPECT_EQ(r.status, 206);
    EXPECT_EQ(r.body, "hello");
    EXPECT_EQ(r.header("Content-Range"), "bytes 0-4/14");
    EXPECT_EQ(r.header("Content-Length"), "5");
    auto suffix = request(port, get("/hello.txt", "Range: bytes=-7\r\n"));
    EXPECT_EQ(suffix.status, 206);
    EXPECT_EQ(suffix.body, "static\n");
    EXPECT_EQ(request(port, get("/hello.txt", "Range: bytes=7-\r\n")).body, "static\n");
    EXPECT_EQ(request(port, get("/hello.txt", "Range: bytes=10-100\r\n")).header("Content-Range"),
              "bytes 10-13/14");
    auto bad = request(port, get("/hello.txt", "Range: bytes=14-\r\n"));
    EXPECT_EQ(bad.status, 416);
    EXPECT_EQ(bad.header("Content-Range"), "bytes */14");
    EXPECT_EQ(request(port, get("/empty.txt", "Range: bytes=0-\r\n")).status, 416);
    // Several ranges, another unit, or a syntax error: the whole file.
    EXPECT_EQ(request(port, get("/hello.txt", "Range: bytes=0-1,3-4\r\n")).status, 200);
    EXPECT_EQ(request(port, get("/hello.txt", "Range: items=0-1\r\n")).status, 200);
    EXPECT_EQ(request(port, get("/hello.txt", "Range: bytes=x-1\r\n")).status, 200);
    // If-Range with the current ETag: the part; with another: the whole.
    const std::string etag = request(port, get("/hello.txt")).header("ETag");
    EXPECT_EQ(request(port, get("/hello.txt", "Range: bytes=0-4\r\nIf-Range: " + etag + "\r\n")).status, 206);
    EXPECT_EQ(request(port, get("/hello.txt", "Range: bytes=0-4\r\nIf-Range: \"old\"\r\n")).status, 200);
    auto head = request(port, "HEAD /hello.txt HTTP/1.1\r\nHost: t\r\nRange: bytes=0-4\r\n\r\n");
    EXPECT_EQ(head.status, 206);
    EXPECT_EQ(head.header("Content-Length"), "5");
  });
}

TEST_F(StaticSite, IndexFilesAndDirectoryRedirects) {
  App app;
  app.use(serve_static(root_));
  serve(app, [&](uint16_t port) {
    auto home = request(port, get("/"));
    EXPECT_EQ(home.status, 200);
    EXPECT_EQ(home.body, "<h1>home</h1>");
    EXPECT_EQ(home.header("Content-Type"), "text/html; charset=utf-8");
    EXPECT_EQ(request(port, get("/sub/")).body, "<h1>sub</h1>");
    auto redirect = request(port, get("/sub?x=1"));
    EXPECT_EQ(redirect.status, 301);
    EXPECT_EQ(redirect.header("Location"), "/sub/?x=1");
    EXPECT_EQ(request(port, get("/noindex/")).status, 404);
    EXPECT_EQ(request(port, get("/hello.txt/")).status, 404);
  });
}

TEST_F(StaticSite, NoEscapeFromTheRoot) {
  App app;
  app.use(errors());
  app.use(serve_static(root_));
  serve(app, [&](uint16_t port) {
    EXPECT_EQ(request(port, get("/../secret.txt")).status, 403);
    EXPECT_EQ(request(port, get("/sub/../../secret.txt")).status, 403);
    EXPECT_EQ(request(port, get("/%2e%2e/secret.txt")).status, 403);
    EXPECT_EQ(request(port, get("/%2e%2e%2fsecret.txt")).status, 403);
    EXPECT_EQ(request(port, get("/sub/..%2f..%2fsecret.txt")).status, 403);
    EXPECT_EQ(request(port, get("/..%5csecret.txt")).status, 403);
    EXPECT_EQ(request(port, get("/%252e%252e%252fsecret.txt")).status, 403);
    EXPECT_EQ(request(port, get("/escape.txt")).status, 403);  // a symlink to outside
    EXPECT_EQ(request(port, get("/hello.txt%00.png")).status, 404);
    EXPECT_EQ(request(port, get("/hello%zz.txt")).status, 404);
    EXPECT_EQ(request(port, get("/.env")).status, 404);
    EXPECT_EQ(request(port, get("/%2eenv")).status, 404);
    EXPECT_EQ(request(port, get("/missing.txt")).status, 404);
    auto r = request(port, get("/../secret.txt"));
    EXPECT_EQ(r.body.find("top-secret"), std::string::npos);
    EXPECT_EQ(r.header("Content-Type"), "application/problem+json");
  });
}

TEST_F(StaticSite, DotfilesAllowedFallthroughAndOtherMethods) {
  App app;
  app.use("/open", serve_static(root_, {.dotfiles = true}));
  app.use("/strict", serve_static(root_, {.fallthrough = false}));
  app.use(serve_static(root_));
  app.get("/dynamic", [](Request&, Response& res) { res.send("from a route"); });
  app.post("/hello.txt", [](Request&, Response& res) { res.send("posted"); });
  serve(app, [&](uint16_t port) {
    EXPECT_EQ(request(port, get("/open/.env")).body, "SECRET=1");
    EXPECT_EQ(request(port, get("/dynamic")).body, "from a route");
    EXPECT_EQ(request(port, get("/strict/dynamic")).status, 404);
    EXPECT_EQ(request(port, "POST /hello.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n").body,
              "posted");
  });
}

TEST_F(StaticSite, MountedUnderAPrefixAndCacheControl) {
  App app;
  app.use("/assets", serve_static(root_, {.max_age = std::chrono::seconds(31536000), .immutable = true}));
  app.use("/raw", serve_static(root_, {.cache_control = "no-store"}));
  app.get("/assetsx/hello.txt", [](Request&, Response& res) { res.send("route"); });
  serve(app, [&](uint16_t port) {
    auto r = request(port, get("/assets/hello.txt"));
    EXPECT_EQ(r.body, "hello, static\n");
    EXPECT_EQ(r.header("Cache-Control"), "public, max-age=31536000, immutable");
    EXPECT_EQ(request(port, get("/%61ssets/hello.txt")).body, "hello, static\n");
    EXPECT_EQ(request(port, get("/assetsx/hello.txt")).body, "route");
    EXPECT_EQ(request(port, get("/hello.txt")).status, 404);  // nothing at the root
    EXPECT_EQ(request(port, get("/assets")).status, 301);
    EXPECT_EQ(request(port, get("/assets")).header("Location"), "/assets/");
    EXPECT_EQ(request(port, get("/assets/")).body, "<h1>home</h1>");
    EXPECT_EQ(request(port, get("/raw/hello.txt")).header("Cache-Control"), "no-store");
  });
}

TEST_F(StaticSite, ALargeFileIsStreamedInChunks) {
  std::string big;
  big.reserve(3 << 20);
  for (int i = 0; big.size() < (3u << 20); ++i) big += std::to_string(i) + ",";
  write(root_ + "/big.txt", big);
  App app;
  app.use(serve_static(root_, {.chunk_size = 4096}));
  serve(app, [&](uint16_t port) {
    auto r = request(port, get("/big.txt"));
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body.size(), big.size());
    EXPECT_TRUE(r.body == big);
    auto part = request(port, get("/big.txt", "Range: bytes=100000-2000000\r\n"));
    EXPECT_EQ(part.status, 206);
    EXPECT_TRUE(part.body == big.substr(100000, 1900001));
  });
}

}  // namespace
}  // namespace waitless::web
