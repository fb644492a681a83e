#include "waitless/web/mime.hpp"

#include <gtest/gtest.h>

namespace waitless::web {
namespace {

TEST(Mime, ByExtension) {
  EXPECT_EQ(content_type_for_path("index.html"), "text/html; charset=utf-8");
  EXPECT_EQ(content_type_for_path("/a/b/APP.JS"), "text/javascript; charset=utf-8");
  EXPECT_EQ(content_type_for_path("x.tar.gz"), "application/gzip");  // the last extension
  EXPECT_EQ(content_type_for_path("logo.svg"), "image/svg+xml");
  EXPECT_EQ(content_type_for_path("f.woff2"), "font/woff2");
  EXPECT_EQ(content_type_for_path("data.json"), "application/json");
  EXPECT_EQ(content_type_for_path("site.webmanifest"), "application/manifest+json");
  EXPECT_EQ(content_type_for_path("a.zst"), "application/zstd");
  EXPECT_EQ(content_type_for_path("a.7z"), "application/x-7z-compressed");
}

TEST(Mime, UnknownIsOctetStream) {
  for (std::string_view p : {"", "README", "a.", "a.unknownext", "dir.d/file", "/x/.bashrc.zzz", "a.htmlx",
                             "a.averyveryverylongextension"}) {
    EXPECT_EQ(content_type_for_path(p), "application/octet-stream") << p;
  }
  EXPECT_EQ(content_type_for_path(".html"), "text/html; charset=utf-8");  // a dotfile named like a type
}

}  // namespace
}  // namespace waitless::web
