#include "waitless/web/static_path.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "waitless/fs/test_support.hpp"

namespace waitless::web {
namespace {

std::string resolve(std::string_view path, StaticPathOptions options = {}) {
  auto r = resolve_request_path(path, options);
  if (!r) return "error: " + r.error().message();
  return r->relative + (r->directory ? " (dir)" : "");
}

TEST(StaticPath, ResolvesPlainPaths) {
  EXPECT_EQ(resolve("/"), " (dir)");
  EXPECT_EQ(resolve("/index.html"), "index.html");
  EXPECT_EQ(resolve("/css/site.css"), "css/site.css");
  EXPECT_EQ(resolve("/docs/"), "docs (dir)");
  EXPECT_EQ(resolve("/caf%C3%A9/a%20b.txt"), "caf\xc3\xa9/a b.txt");
  EXPECT_EQ(resolve("/a..b/c."), "a..b/c.");  // dots inside names are fine
  EXPECT_EQ(resolve("/.env", {.allow_dotfiles = true}), ".env");
}

TEST(StaticPath, RefusesEveryTraversalAttempt) {
  const std::string traversal = "error: path traversal", bad = "error: invalid path";
  for (std::string_view p :
       {"/..", "/../etc/passwd", "/a/../../etc/passwd", "/%2e%2e/etc/passwd", "/%2E%2e/x", "/a/%2e%2e", "/.",
        "/a/./b", "/%2e/x", "/..%2fetc%2fpasswd", "/%2e%2e%2fetc%2fpasswd", "/a%2f..%2f..%2fb",
        "/..%5cwindows", "/a%5c..%5cb", "/a\\b"}) {
    EXPECT_EQ(resolve(p), traversal) << p;
  }
  for (std::string_view p : {"/%252e%252e%252fetc%252fpasswd", "/%252e%252e/x", "/a%2541"}) {
    EXPECT_EQ(resolve(p), "error: double percent-encoding") << p;
  }
  for (std::string_view p : {"/a%00.html", "/a%00", "/%0a", "/a%zz", "/a%", "/a%2", "/x%C0%AF", "/%ff",
                             "relative/path", "", "/a//b", "//etc/passwd"}) {
    EXPECT_EQ(resolve(p), bad) << p;
  }
  EXPECT_EQ(resolve(std::string_view("/a\0b", 4)), bad);  // a raw NUL
  for (std::string_view p : {"/.env", "/.git/config", "/a/.htpasswd", "/.well-known/x"}) {
    EXPECT_EQ(resolve(p), "error: dotfile") << p;
  }
}

class StaticRoot : public fs::test::TempDirTest {
 protected:
  void SetUp() override {
    TempDirTest::SetUp();
    std::filesystem::create_directories(path("root/sub"));
    std::filesystem::create_directories(path("outside"));
    std::ofstream(path("root/a.txt")) << "a";
    std::ofstream(path("root/sub/b.txt")) << "b";
    std::ofstream(path("outside/secret.txt")) << "secret";
    root_ = path("root");
  }
  std::string root_;
};

TEST_F(StaticRoot, ConfinesToTheRoot) {
  auto real_root = std::filesystem::canonical(root_).string();
  EXPECT_EQ(confine_to_root(root_, "a.txt").value(), real_root + "/a.txt");
  EXPECT_EQ(confine_to_root(root_, "sub/b.txt").value(), real_root + "/sub/b.txt");
  EXPECT_EQ(confine_to_root(root_, "").value(), real_root);
  EXPECT_EQ(confine_to_root(root_, "missing.txt").error(), StaticPathError::not_found);
  EXPECT_EQ(confine_to_root(root_, "a.txt/x").error(), StaticPathError::not_found);  // ENOTDIR
  EXPECT_EQ(confine_to_root(path("no-root"), "a.txt").error(), StaticPathError::not_found);
}

TEST_F(StaticRoot, SymlinksMayNotLeadOutside) {
  auto real_root = std::filesystem::canonical(root_).string();
  std::filesystem::create_symlink("../outside/secret.txt", path("root/leak.txt"));
  std::filesystem::create_symlink(path("outside"), path("root/leakdir"));
  std::filesystem::create_symlink("/", path("root/slash"));
  std::filesystem::create_symlink("sub/b.txt", path("root/inside.txt"));
  std::filesystem::create_symlink(path("root"), path("rootlink"));
  std::filesystem::create_directories(path("root-sibling"));
  std::ofstream(path("root-sibling/x.txt")) << "x";
  std::filesystem::create_symlink("../root-sibling/x.txt", path("root/sibling.txt"));
  EXPECT_EQ(confine_to_root(root_, "leak.txt").error(), StaticPathError::outside_root);
  EXPECT_EQ(confine_to_root(root_, "leakdir/secret.txt").error(), StaticPathError::outside_root);
  EXPECT_EQ(confine_to_root(root_, "slash/etc/passwd").error(), StaticPathError::outside_root);
  EXPECT_EQ(confine_to_root(root_, "sibling.txt").error(),
            StaticPathError::outside_root);  // a prefix is not enough
  EXPECT_EQ(confine_to_root(root_, "inside.txt").value(), real_root + "/sub/b.txt");
  EXPECT_EQ(confine_to_root(path("rootlink"), "a.txt").value(),
            real_root + "/a.txt");  // the root may be a link
  // The pure step and the filesystem step together, on what a client sends.
  for (std::string_view request : {"/leak.txt", "/leakdir/secret.txt", "/../outside/secret.txt",
                                   "/%2e%2e/outside/secret.txt", "/..%2foutside%2fsecret.txt"}) {
    auto rel = resolve_request_path(request);
    EXPECT_TRUE(!rel || !confine_to_root(root_, rel->relative)) << request;
  }
}

}  // namespace
}  // namespace waitless::web
