#include "waitless/web/static_files.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "waitless/net/transport.hpp"
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

// Deterministic bytes that are not a repeating pattern (a misplaced piece changes the checksum).
std::string pseudo_random_bytes(std::size_t n) {
  std::string s(n, '\0');
  uint64_t x = 0x9e3779b97f4a7c15ull;
  for (std::size_t i = 0; i < n; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    s[i] = static_cast<char>(x >> 56);
  }
  return s;
}

uint64_t fnv1a(uint64_t h, const char* p, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) h = (h ^ static_cast<unsigned char>(p[i])) * 0x100000001b3ull;
  return h;
}
constexpr uint64_t kFnvBasis = 0xcbf29ce484222325ull;

// A 64 MB file to a client that reads slowly (small receive buffer, a pause between reads): the server's
// socket fills again and again, so sendfile waits for writable each time; the body arrives whole, in
// order, and the bytes went by sendfile (the transport's counter), not through a read into memory.
TEST_F(StaticSite, ALargeFileGoesBySendfileToASlowReader) {
  constexpr std::size_t kSize = std::size_t{64} << 20;
  const std::string data = pseudo_random_bytes(kSize);
  const uint64_t expected = fnv1a(kFnvBasis, data.data(), data.size());
  write(root_ + "/large.bin", data);
  App app;
  app.use(serve_static(root_));
  const uint64_t before = net::Transport::file_bytes_sent();
  serve(app, [&](uint16_t port) {
    TestClient c(port, 8000);
    ASSERT_TRUE(c.connected());
    int small = 64 * 1024;
    ::setsockopt(c.fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    ASSERT_TRUE(c.send("GET /large.bin HTTP/1.1\r\nHost: t\r\n\r\n"));
    std::string head;
    std::vector<char> buf(256 * 1024);
    uint64_t h = kFnvBasis;
    std::size_t body = 0;
    int reads = 0;
    for (;;) {
      const ssize_t n = ::recv(c.fd(), buf.data(), buf.size(), 0);
      if (n <= 0) break;
      std::size_t at = 0;
      if (head.find("\r\n\r\n") == std::string::npos) {
        head.append(buf.data(), static_cast<std::size_t>(n));
        const std::size_t end = head.find("\r\n\r\n");
        if (end == std::string::npos) continue;
        at = static_cast<std::size_t>(n) - (head.size() - end - 4);
        head.resize(end + 4);
      }
      h = fnv1a(h, buf.data() + at, static_cast<std::size_t>(n) - at);
      body += static_cast<std::size_t>(n) - at;
      if (body >= kSize) break;
      if (++reads % 8 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));  // a slow reader
    }
    EXPECT_EQ(head.substr(0, 15), "HTTP/1.1 200 OK");
    EXPECT_NE(head.find("Content-Length: " + std::to_string(kSize) + "\r\n"), std::string::npos) << head;
    EXPECT_EQ(body, kSize);
    EXPECT_EQ(h, expected);
  });
  EXPECT_GE(net::Transport::file_bytes_sent() - before, kSize);
}

// A Range is sent from its offset by sendfile: exactly its bytes, no more.
TEST_F(StaticSite, ARangeGoesBySendfileFromItsOffset) {
  const std::string data = pseudo_random_bytes(3 << 20);
  write(root_ + "/r.bin", data);
  App app;
  app.use(serve_static(root_));
  const uint64_t before = net::Transport::file_bytes_sent();
  serve(app, [&](uint16_t port) {
    auto part = request(port, get("/r.bin", "Range: bytes=1000001-2500000\r\n"));
    EXPECT_EQ(part.status, 206);
    EXPECT_EQ(part.header("Content-Range"), "bytes 1000001-2500000/3145728");
    EXPECT_EQ(part.body.size(), 1500000u);
    EXPECT_TRUE(part.body == data.substr(1000001, 1500000));
    auto last = request(port, get("/r.bin", "Range: bytes=-7\r\n"));
    EXPECT_EQ(last.status, 206);
    EXPECT_TRUE(last.body == data.substr(data.size() - 7));
  });
  EXPECT_EQ(net::Transport::file_bytes_sent() - before, 1500000u + 7u);
}

}  // namespace
}  // namespace waitless::web
