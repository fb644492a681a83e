#include "waitless/web/path.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace waitless::web {
namespace {

std::vector<std::string> segments_of(std::string_view path) {
  DecodedPath p;
  auto r = decode_path(path, p);
  EXPECT_TRUE(r.ok()) << path << ": " << r.error().message();
  return {p.segments().begin(), p.segments().end()};
}

std::error_code error_of(std::string_view path) {
  DecodedPath p;
  auto r = decode_path(path, p);
  EXPECT_TRUE(p.segments().empty()) << path;  // a refused path leaves nothing behind
  return r.error();
}

using Segs = std::vector<std::string>;

TEST(Path, SplitsAndDecodesEachSegmentOnce) {
  EXPECT_EQ(segments_of("/"), Segs{});
  EXPECT_EQ(segments_of("/a"), Segs{"a"});
  EXPECT_EQ(segments_of("/users/42/posts"), (Segs{"users", "42", "posts"}));
  EXPECT_EQ(segments_of("/a%20b/c+d"), (Segs{"a b", "c+d"}));  // '+' is not a space in a path
  EXPECT_EQ(segments_of("/%41%62%63"), Segs{"Abc"});
  EXPECT_EQ(segments_of("/%2541"), Segs{"%41"});  // decoded once: no double decoding
  EXPECT_EQ(segments_of("/%3a%3A"), Segs{"::"});  // hex digits in either case
}

TEST(Path, EncodedSlashStaysInsideItsSegment) {
  EXPECT_EQ(segments_of("/files/a%2Fb/c"), (Segs{"files", "a/b", "c"}));
  EXPECT_EQ(segments_of("/%2f"), Segs{"/"});
  EXPECT_EQ(segments_of("/%2F%2F"), Segs{"//"});
  DecodedPath p;
  ASSERT_TRUE(decode_path("/x/a%2Fb/c", p).ok());
  EXPECT_EQ(p.joined_from(1), "a/b/c");  // joined view: the %2F is indistinguishable there...
  EXPECT_EQ(p.segments()[1], "a/b");     // ...but not in the segments
  EXPECT_EQ(p.joined_from(3), "");
}

TEST(Path, TrailingSlashAndEmptySegments) {
  EXPECT_EQ(segments_of("/users/"), Segs{"users"});         // one trailing slash ignored
  EXPECT_EQ(segments_of("/users//"), (Segs{"users", ""}));  // the second one is an empty segment
  EXPECT_EQ(segments_of("/a//b"), (Segs{"a", "", "b"}));    // kept: only a wildcard matches it
  EXPECT_EQ(segments_of("//"), Segs{""});
  DecodedPath p;
  ASSERT_TRUE(decode_path("/a/b/", p).ok());
  EXPECT_EQ(p.joined_from(0), "a/b");
}

TEST(Path, UnicodeSegments) {
  EXPECT_EQ(segments_of("/caf%C3%A9"), Segs{"caf\xC3\xA9"});
  EXPECT_EQ(segments_of("/%E2%82%AC/%F0%9F%98%80"), (Segs{"\xE2\x82\xAC", "\xF0\x9F\x98\x80"}));
  EXPECT_EQ(segments_of("/\xC3\xA9"), Segs{"\xC3\xA9"});  // raw UTF-8 (if the parser let it in) is fine too
}

TEST(Path, RefusesInvalidEncodings) {
  for (const char* bad : {"/%", "/%4", "/a%", "/a%2", "/%zz", "/%4g", "/%g4", "/%%41", "/x/%/y"}) {
    EXPECT_EQ(error_of(bad), PathError::bad_percent) << bad;
  }
  EXPECT_EQ(error_of(""), PathError::not_absolute);
  EXPECT_EQ(error_of("a/b"), PathError::not_absolute);
  EXPECT_EQ(error_of("*"), PathError::not_absolute);
}

TEST(Path, RefusesControlCharactersRawOrDecoded) {
  for (const char* bad : {"/%00", "/a%00b", "/%0A", "/%0d%0a", "/%1F", "/%7F", "/%09"}) {
    EXPECT_EQ(error_of(bad), PathError::control_character) << bad;
  }
  EXPECT_EQ(error_of(std::string_view("/a\0b", 4)), PathError::control_character);
  EXPECT_EQ(error_of("/a\tb"), PathError::control_character);
}

TEST(Path, RefusesInvalidUtf8) {
  for (const char* bad : {"/%C3", "/%C3%28", "/%80", "/%C0%AF", "/%E0%80%AF", "/%ED%A0%80", "/%F4%90%80%80",
                          "/%F8%88%80%80%80", "/%FF", "/%E2%82"}) {
    EXPECT_EQ(error_of(bad), PathError::invalid_utf8) << bad;
  }
}

TEST(Path, RefusesDotSegments) {
  for (const char* bad :
       {"/.", "/..", "/a/../b", "/a/./b", "/%2e", "/%2E%2e", "/a/.%2E/", "/../etc/passwd"}) {
    EXPECT_EQ(error_of(bad), PathError::dot_segment) << bad;
  }
  EXPECT_EQ(segments_of("/.../.a/a./..b"), (Segs{"...", ".a", "a.", "..b"}));  // only "." and ".." exactly
  EXPECT_EQ(segments_of("/..%2F..%2Fetc"), Segs{"../../etc"});  // one segment: not a dot segment
}

TEST(Path, EncodeDecodeRoundTrip) {
  for (std::string s : {std::string(""), std::string("plain"), std::string("a/b"), std::string("50%"),
                        std::string("sp ace+plus"), std::string("caf\xC3\xA9"), std::string("?#[]"),
                        std::string(":@!$&'()*,;=-._~")}) {
    std::string enc = percent_encode_segment(s);
    EXPECT_EQ(enc.find('/'), std::string::npos) << s;
    std::string back;
    EXPECT_EQ(percent_decode_segment(enc, back), PathError::ok) << s;
    EXPECT_EQ(back, s);
  }
  EXPECT_EQ(percent_encode_segment("a b/c%"), "a%20b%2Fc%25");
}

TEST(Path, ReuseKeepsMemory) {
  DecodedPath p;
  ASSERT_TRUE(decode_path("/a/very/long/path/with/many/segments/to/grow/the/buffers", p).ok());
  const char* data = p.segments()[0].data();
  ASSERT_TRUE(decode_path("/short/one", p).ok());
  EXPECT_EQ(p.segments()[0].data(), data);  // same buffer: no reallocation
  EXPECT_EQ(p.segments()[1], "one");
}

TEST(Path, ErrorsHaveMessages) {
  std::error_code ec = PathError::bad_percent;
  EXPECT_EQ(ec.category().name(), std::string("waitless.path"));
  EXPECT_EQ(ec.message(), "invalid percent-encoding in path");
}

}  // namespace
}  // namespace waitless::web
