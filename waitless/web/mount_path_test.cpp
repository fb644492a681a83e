#include "waitless/web/mount_path.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <string>

#include "waitless/async/frame_allocator.hpp"
#include "waitless/web/app_test_support.hpp"

namespace waitless::web {
namespace {

using http::testing::get;
using http::testing::TestClient;
using test::request;
using test::serve;

TEST(MountPath, SplitsPrefixes) {
  EXPECT_TRUE(split_mount_prefix("/")->empty());
  EXPECT_TRUE(split_mount_prefix("")->empty());
  EXPECT_EQ(split_mount_prefix("/api/v1").value(), (std::vector<std::string>{"api", "v1"}));
  EXPECT_EQ(split_mount_prefix("/api/").value(), (std::vector<std::string>{"api"}));
  EXPECT_FALSE(split_mount_prefix("api"));
  EXPECT_FALSE(split_mount_prefix("/a//b"));
  EXPECT_FALSE(split_mount_prefix("/a/../b"));
  EXPECT_FALSE(split_mount_prefix("/a%20b"));
}

TEST(MountPath, MatchesDecodedSegments) {
  const std::vector<std::string> api{"api", "v1"};
  EXPECT_EQ(mount_matches("/api/v1", api), 7u);
  EXPECT_EQ(mount_matches("/api/v1/", api), 7u);
  EXPECT_EQ(mount_matches("/api/v1/users", api), 7u);
  EXPECT_EQ(mount_matches("/%61pi/v%31/users", api), 11u);
  EXPECT_FALSE(mount_matches("/api/v1x", api));
  EXPECT_FALSE(mount_matches("/api/v", api));
  EXPECT_FALSE(mount_matches("/api", api));
  EXPECT_FALSE(mount_matches("/API/v1", api));
  EXPECT_FALSE(mount_matches("/api%2fv1", api));
  EXPECT_FALSE(mount_matches("/a%zzpi/v1", api));
  EXPECT_FALSE(mount_matches("/api/v1%", api));
  EXPECT_FALSE(mount_matches("api/v1", api));
  EXPECT_EQ(mount_matches("/anything", {}), 0u);
}

TEST(MountPath, ScopedMiddlewareSeesItsRelativePathAndOthersStayPlain) {
  App app;
  app.use("/admin", [](Request& req, Response& res, Next next) {
    res.set_header("X-Scoped", std::string(req.mount_path()) + "|" + std::string(req.relative_path()));
    next();
  });
  app.use("/slow", [](Request&, Response& res, Next next) -> Task<> {
    res.set_header("X-Async", "1");
    co_await next();
  });
  std::atomic<uint64_t> frames{~uint64_t{0}};
  app.get("/admin/users", [](Request& req, Response& res) { res.send(std::string(req.path())); });
  app.get("/slow/x", [](Request&, Response& res) { res.send("slow"); });
  app.get("/plain", [&frames](Request&, Response& res) {
    frames = waitless::detail::frames_allocated();
    res.send("plain");
  });
  EXPECT_FALSE(app.error());
  serve(app, [&](uint16_t port) {
    auto r = request(port, get("/admin/users"));
    EXPECT_EQ(r.header("X-Scoped"), "/admin|/users");
    EXPECT_EQ(r.body, "/admin/users");
    EXPECT_EQ(request(port, get("/%61dmin/users")).header("X-Scoped"), "/%61dmin|/users");
    EXPECT_EQ(request(port, get("/admin")).header("X-Scoped"), "/admin|/");
    EXPECT_FALSE(request(port, get("/administrator")).has("X-Scoped"));
    EXPECT_FALSE(request(port, get("/plain")).has("X-Scoped"));
    auto slow = request(port, get("/slow/x"));
    EXPECT_EQ(slow.header("X-Async"), "1");
    EXPECT_EQ(slow.body, "slow");
    // The coroutine middleware under /slow costs nothing to the other paths: no frame for /plain.
    TestClient c(port);
    ASSERT_TRUE(c.send(get("/plain")));
    ASSERT_TRUE(c.read_response());
    const uint64_t before = frames.load();
    for (int i = 0; i < 5; ++i) {
      ASSERT_TRUE(c.send(get("/plain")));
      ASSERT_TRUE(c.read_response());
    }
    EXPECT_EQ(frames.load(), before);
  });
}

TEST(MountPath, ABadPrefixIsRefused) {
  App app;
  app.use("no-slash", [](Request&, Response&, Next next) { next(); });
  EXPECT_TRUE(app.error());
}

}  // namespace
}  // namespace waitless::web
