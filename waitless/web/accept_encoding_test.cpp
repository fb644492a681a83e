#include "waitless/web/accept_encoding.hpp"

#include <gtest/gtest.h>

namespace waitless::web {
namespace {

std::string choose(std::optional<std::string_view> header, EncodingSupport support = {}) {
  const Negotiated n = negotiate_encoding(header, support);
  return n.not_acceptable ? "406" : std::string(encoding_name(n.encoding));
}

TEST(AcceptEncoding, Negotiation) {
  EXPECT_EQ(choose(std::nullopt), "identity");
  EXPECT_EQ(choose(""), "identity");
  EXPECT_EQ(choose("gzip"), "gzip");
  EXPECT_EQ(choose("br"), "br");
  EXPECT_EQ(choose("gzip, deflate, br"), "br");  // equal q: br first (smaller output)
  EXPECT_EQ(choose("gzip, deflate, br, zstd"), "br");
  EXPECT_EQ(choose("GZIP"), "gzip");
  EXPECT_EQ(choose("x-gzip"), "gzip");
  EXPECT_EQ(choose("br;q=0.5, gzip;q=0.8"), "gzip");
  EXPECT_EQ(choose("br;q=0.8, gzip;q=0.8"), "br");
  EXPECT_EQ(choose("br;Q=0.1, gzip ; q=0.2"), "gzip");  // q is case-insensitive, OWS around ';'
  EXPECT_EQ(choose("deflate"), "identity");
  EXPECT_EQ(choose("*"), "br");
  EXPECT_EQ(choose("*;q=0.5, br;q=0.1"), "gzip");         // '*' covers gzip, br named lower
  EXPECT_EQ(choose("gzip;q=0.5, identity"), "identity");  // identity preferred by the client
  EXPECT_EQ(choose("gzip;q=0.5, identity;q=0.5"), "gzip");
  EXPECT_EQ(choose("gzip;q=0.001"), "gzip");  // any named coding beats implied identity
  EXPECT_EQ(choose("br, gzip", {.br = false}), "gzip");
  EXPECT_EQ(choose("br", {.br = false}), "identity");
  EXPECT_EQ(choose("br, gzip", {.br = false, .gzip = false}), "identity");
}

TEST(AcceptEncoding, RefusalsWithQZero) {
  EXPECT_EQ(choose("br;q=0, gzip;q=0"), "identity");
  EXPECT_EQ(choose("br;q=0, *"), "gzip");
  EXPECT_EQ(choose("gzip;q=0.000"), "identity");
  EXPECT_EQ(choose("identity;q=0"), "406");
  EXPECT_EQ(choose("*;q=0"), "406");
  EXPECT_EQ(choose("*;q=0, identity"), "identity");
  EXPECT_EQ(choose("*;q=0, gzip"), "gzip");
  EXPECT_EQ(choose("gzip, identity;q=0"), "gzip");
  EXPECT_EQ(choose("br;q=0, identity;q=0", {.br = true, .gzip = false}), "406");
}

TEST(AcceptEncoding, MalformedElementsAreIgnored) {
  EXPECT_EQ(choose("br;q=2, gzip"), "gzip");             // q above 1
  EXPECT_EQ(choose("br;q=0.5555, gzip;q=0.1"), "gzip");  // more than 3 decimals
  EXPECT_EQ(choose("br;q=1.001, gzip;q=0.1"), "gzip");
  EXPECT_EQ(choose("br;q=, gzip;q=0.1"), "gzip");
  EXPECT_EQ(choose("br;q=\"1\", gzip;q=0.1"), "gzip");
  EXPECT_EQ(choose("br;q=-1, gzip;q=0.1"), "gzip");
  EXPECT_EQ(choose("b r, gzip;q=0.1"), "gzip");
  EXPECT_EQ(choose(",,, ,gzip,"), "gzip");
  EXPECT_EQ(choose("identity;q=0, br;q=x"), "406");
  EXPECT_EQ(choose("br;q=1.000"), "br");
  EXPECT_EQ(choose("br;q=1."), "br");  // "1." is a valid qvalue (0*3 digits)
}

TEST(AcceptEncoding, WhatToCompress) {
  EXPECT_TRUE(should_compress("text/html; charset=utf-8", 5000));
  EXPECT_TRUE(should_compress("application/json", std::nullopt));  // unknown length (streamed): yes
  EXPECT_TRUE(should_compress("image/svg+xml", 5000));
  EXPECT_TRUE(should_compress("Application/JavaScript", 5000));
  EXPECT_TRUE(should_compress("text/plain", 1024));  // min_size is inclusive
  EXPECT_FALSE(should_compress("text/plain", 1023));
  EXPECT_FALSE(should_compress("", 5000));
  for (std::string_view t : {"image/png", "image/jpeg", "image/webp", "video/mp4", "audio/ogg", "font/woff2",
                             "application/zip", "application/gzip", "application/zstd", "application/pdf",
                             "application/octet-stream", "multipart/form-data; boundary=x",
                             "application/vnd.openxmlformats-officedocument.wordprocessingml.document"}) {
    EXPECT_FALSE(should_compress(t, 1 << 20)) << t;
  }
  CompressionPolicy policy{.min_size = 0, .skip_types = {"text/event-stream"}};
  EXPECT_FALSE(should_compress("text/event-stream", std::nullopt, policy));
  EXPECT_TRUE(should_compress("text/plain", 1, policy));
}

}  // namespace
}  // namespace waitless::web
