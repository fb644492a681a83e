#include "waitless/http/section_scanner.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace waitless::http {
namespace {

// The offset of the first offending byte when `s` is scanned in two pieces split at `at` (-1: none).
long scan_split(std::string_view s, std::size_t at, bool after_crlf = false) {
  SectionScanner sc;
  sc.start(after_crlf);
  if (const char* bad = sc.scan(s.data(), s.data() + at)) return bad - s.data();
  if (const char* bad = sc.scan(s.data() + at, s.data() + s.size())) return bad - s.data();
  return -1;
}

// Every split gives the answer of the whole: the SIMD blocks, the byte loop and the carried state agree.
long scan_all_splits(std::string_view s, bool after_crlf = false) {
  const long whole = scan_split(s, s.size(), after_crlf);
  for (std::size_t at = 0; at <= s.size(); ++at) {
    EXPECT_EQ(scan_split(s, at, after_crlf), whole)
        << "split at " << at << " of " << testing::PrintToString(s);
  }
  return whole;
}

TEST(SectionScanner, CleanSectionsPass) {
  EXPECT_EQ(scan_all_splits("GET / HTTP/1.1\r\nHost: a\r\nX-Long: " + std::string(40, 'v') + "\r\n\r\n"), -1);
  EXPECT_EQ(scan_all_splits("\r\n"), -1);
  EXPECT_EQ(scan_all_splits("a\tb c\r\n"), -1);  // SP and HTAB inside a line are fine
}

TEST(SectionScanner, BareLfIsFoundWhereverItIs) {
  for (std::size_t pos : {0u, 1u, 15u, 16u, 17u, 31u, 32u, 40u}) {
    std::string s(48, 'x');
    s[pos] = '\n';
    EXPECT_EQ(scan_all_splits(s), static_cast<long>(pos)) << pos;
  }
  EXPECT_EQ(scan_all_splits("Host: a\r\nX: b\n\r\n"), 13);
}

TEST(SectionScanner, ObsFoldIsTheSpaceAfterTheLineEnd) {
  EXPECT_EQ(scan_all_splits("X: a\r\n b\r\n\r\n"), 6);
  EXPECT_EQ(scan_all_splits("X: a\r\n\tb\r\n\r\n"), 6);
  std::string s = std::string(14, 'x') + "\r\n" + " y";  // the fold right after a 16-byte block boundary
  EXPECT_EQ(scan_all_splits(s), 16);
}

TEST(SectionScanner, TrailersStartAfterACrlf) {
  EXPECT_EQ(scan_all_splits(" X: a\r\n\r\n", true), 0);  // a leading fold
  EXPECT_EQ(scan_all_splits("\nX: a\r\n", true), 0);  // a bare LF: the CR before belonged to the chunk line
  EXPECT_EQ(scan_all_splits(" X: a\r\n\r\n", false), -1);
}

TEST(SectionScanner, StartResetsTheCarriedState) {
  SectionScanner sc;
  sc.start();
  std::string_view a = "X: a\r\n";
  EXPECT_EQ(sc.scan(a.data(), a.data() + a.size()), nullptr);
  sc.start();  // a new section: the LF before does not make this SP a fold
  std::string_view b = " ";
  EXPECT_EQ(sc.scan(b.data(), b.data() + b.size()), nullptr);
}

}  // namespace
}  // namespace waitless::http
