#include "waitless/web/compression.hpp"

#include <gtest/gtest.h>

#include <random>

#include <string>

#include "waitless/web/decompress_test_support.hpp"
#include "waitless/web/test_support.hpp"

namespace waitless::web {
namespace {

using test::gunzip;
using test::unbrotli;

std::string decode(Encoding e, std::string_view data, bool complete = true) {
  return e == Encoding::gzip ? gunzip(data, complete) : unbrotli(data, complete);
}

// Takes every piece next() gives (each at most out_buffer bytes).
void drain(Compressor& c, std::string& out, std::size_t max_piece = 16 * 1024) {
  for (;;) {
    auto piece = c.next();
    ASSERT_TRUE(piece.ok());
    if (piece->empty()) return;
    ASSERT_LE(piece->size(), max_piece);
    out += *piece;
  }
}

// Text that compresses like a real page: words from a small vocabulary with random numbers.
std::string page_text(std::size_t size, uint64_t seed) {
  static const char* words[] = {
      "<div class=\"item\">", "</div>", "waitless", "request", "response", "\n", "{\"id\":",
      ",\"name\":\"",         "\"}",    " ",        "loop"};
  std::mt19937_64 rng(seed);
  std::string s;
  while (s.size() < size) {
    s += words[rng() % std::size(words)];
    if (rng() % 4 == 0) s += std::to_string(rng() % 100000);
  }
  s.resize(size);
  return s;
}

class CompressorTest : public ::testing::TestWithParam<Encoding> {};

TEST_P(CompressorTest, RoundTripsInRandomChunks) {
  const std::string input = page_text(3 * 1024 * 1024, 1);
  auto c = Compressor::create(GetParam(), {.out_buffer = 4096});
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->encoding(), GetParam());
  std::mt19937_64 rng(2);
  std::string out;
  for (std::size_t at = 0; at < input.size();) {
    const std::size_t n = std::min<std::size_t>(1 + rng() % 70000, input.size() - at);
    c->write(std::string_view(input).substr(at, n));
    at += n;
    drain(*c, out, 4096);
  }
  c->finish();
  drain(*c, out, 4096);
  EXPECT_TRUE(c->finished());
  EXPECT_EQ(c->bytes_in(), input.size());
  EXPECT_EQ(c->bytes_out(), out.size());
  EXPECT_LT(out.size(), input.size() / 3) << "page-like text should compress well";
  if (GetParam() == Encoding::gzip) {
    ASSERT_GE(out.size(), 2u);
    EXPECT_EQ(out.substr(0, 2), "\x1f\x8b");  // the gzip magic
  }
  EXPECT_TRUE(decode(GetParam(), out) == input);
  // After finish, nothing more, and writes are ignored.
  c->write("late");
  auto piece = c->next();
  ASSERT_TRUE(piece.ok());
  EXPECT_TRUE(piece->empty());
}

TEST_P(CompressorTest, FlushMakesEverythingSoFarDecodable) {
  auto c = Compressor::create(GetParam());
  ASSERT_TRUE(c.ok());
  std::string out;
  c->write("hello, ");
  drain(*c, out);
  c->flush();
  drain(*c, out);
  EXPECT_EQ(decode(GetParam(), out, false), "hello, ");
  c->write("world");
  drain(*c, out);
  c->flush();
  drain(*c, out);
  c->flush();  // a flush with nothing new adds at most a few bytes, and never spins
  drain(*c, out);
  EXPECT_EQ(decode(GetParam(), out, false), "hello, world");
  c->finish();
  drain(*c, out);
  EXPECT_EQ(decode(GetParam(), out), "hello, world");
}

TEST_P(CompressorTest, EmptyStream) {
  auto c = Compressor::create(GetParam());
  ASSERT_TRUE(c.ok());
  std::string out;
  c->finish();
  drain(*c, out);
  EXPECT_TRUE(c->finished());
  EXPECT_FALSE(out.empty());  // a header and trailer, or brotli's empty stream
  EXPECT_EQ(decode(GetParam(), out), "");
}

// 32 MiB through the compressor: the heap in use (mmapped blocks included) stays flat after the first
// megabyte (brotli allocates its window and hash tables at the first write; zlib at creation), and the
// state stays within what compression.hpp documents (278 KiB gzip, 3.7 MiB brotli, measured).
TEST_P(CompressorTest, BoundedMemory) {
  const std::string block = page_text(1024 * 1024, 3);
  auto c = Compressor::create(GetParam());
  ASSERT_TRUE(c.ok());
  std::string sink;
  const std::size_t heap0 = test::heap_in_use();
  std::size_t heap_warm = 0, heap_max = heap0;
  uint64_t out_bytes = 0;
  for (int i = 0; i < 32; ++i) {  // 32 MiB (a few seconds in a Debug build)
    c->write(block);
    for (;;) {
      auto piece = c->next();
      ASSERT_TRUE(piece.ok());
      if (piece->empty()) break;
      out_bytes += piece->size();
    }
    if (i % 8 == 7) c->flush();
    heap_max = std::max(heap_max, test::heap_in_use());
    if (i == 0) heap_warm = heap_max;
  }
  c->finish();
  drain(*c, sink);
  EXPECT_EQ(c->bytes_in(), 32u * block.size());
  EXPECT_EQ(c->bytes_out(), out_bytes + sink.size());
  EXPECT_LT(heap_max - heap_warm, 64u * 1024) << "the compressor's memory grew while streaming";
  EXPECT_LT(heap_max - heap0, (GetParam() == Encoding::gzip ? 512u : 5u * 1024) * 1024)
      << "the compressor's state is larger than documented";
  RecordProperty("state_bytes", static_cast<int>(heap_max - heap0));
}

INSTANTIATE_TEST_SUITE_P(Encodings, CompressorTest, ::testing::Values(Encoding::gzip, Encoding::br),
                         [](const auto& info) { return std::string(encoding_name(info.param)); });

TEST(Compressor, RefusesBadOptions) {
  EXPECT_EQ(Compressor::create(Encoding::identity).error(), Error::invalid_argument);
  EXPECT_EQ(Compressor::create(Encoding::gzip, {.gzip_level = 0}).error(), Error::invalid_argument);
  EXPECT_EQ(Compressor::create(Encoding::gzip, {.gzip_level = 10}).error(), Error::invalid_argument);
  EXPECT_EQ(Compressor::create(Encoding::br, {.brotli_quality = 12}).error(), Error::invalid_argument);
  EXPECT_EQ(Compressor::create(Encoding::br, {.brotli_window_bits = 25}).error(), Error::invalid_argument);
  EXPECT_EQ(Compressor::create(Encoding::gzip, {.out_buffer = 0}).error(), Error::invalid_argument);
  EXPECT_EQ(encoding_name(Encoding::identity), "identity");
}

}  // namespace
}  // namespace waitless::web
