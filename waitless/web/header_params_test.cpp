#include "waitless/web/header_params.hpp"

#include <gtest/gtest.h>

#include <string>

namespace waitless::web {
namespace {

// name=value pairs joined with '|', quoted values marked with "q:", or "error" on a syntax error.
std::string params(std::string_view text) {
  std::string out;
  bool ok = for_each_param(text, [&](const HeaderParam& p) {
    if (!out.empty()) out += '|';
    out += std::string(p.name) + "=" + (p.quoted ? "q:" : "") + std::string(p.raw_value);
  });
  return ok ? out : "error";
}

TEST(HeaderParams, ParsesTokensAndQuotedStrings) {
  EXPECT_EQ(params(""), "");
  EXPECT_EQ(params("  "), "");
  EXPECT_EQ(params("; a=1"), "a=1");
  EXPECT_EQ(params(";a=1;B=\"x y\" ;\tc=\"\""), "a=1|B=q:x y|c=q:");
  EXPECT_EQ(params("; a=1;; ;b=2;"), "a=1|b=2");  // empty parameters are allowed (RFC 9110 5.6.6)
  EXPECT_EQ(params("; f=\"a\\\"b\\\\c\""), "f=q:a\\\"b\\\\c");  // raw: quoted-pairs as written
  EXPECT_EQ(params("; f=\"caf\xc3\xa9\""), "f=q:caf\xc3\xa9");  // obs-text
}

TEST(HeaderParams, RefusesSyntaxErrors) {
  for (std::string_view bad :
       {"a=1", "; a", "; a=", "; =1", "; a =1", "; a= 1", "; a=1 2", "; a=\"1", "; a=\"1\"x", "; a=\"x\\",
        "; a=\"\r\"", "; a=\"\\\n\"", "; a b=1", "; a=(1)"}) {
    EXPECT_EQ(params(bad), "error") << bad;
  }
  std::string seen;
  EXPECT_FALSE(for_each_param("; a=1; b", [&](const HeaderParam& p) { seen += p.name; }));
  EXPECT_EQ(seen, "a");  // the parameters before the error were seen
}

TEST(HeaderParams, TrimOws) {
  static_assert(trim_ows(" \t a b \t ") == "a b");
  EXPECT_EQ(trim_ows(""), "");
  EXPECT_EQ(trim_ows("  "), "");
  EXPECT_EQ(trim_ows("\r a \n"), "\r a \n");  // only SP and HTAB are OWS
}

TEST(HeaderParams, AppendUnquoted) {
  std::string out = ">";
  append_unquoted("a\\\"b\\\\c\\d", out);
  EXPECT_EQ(out, ">a\"b\\cd");
}

}  // namespace
}  // namespace waitless::web
