// Test-only: gunzip and brotli decoders from the same libraries' other halves, to check what the
// compressors and the compression middleware wrote.
#pragma once
#include <brotli/decode.h>
#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace waitless::web::test {

// Decoders from the same libraries' other halves: inflate (gzip framing checked, trailer CRC included)
// and brotli's streaming decoder. `complete` says whether the stream must have ended.
inline std::string gunzip(std::string_view data, bool complete = true) {
  z_stream zs{};
  EXPECT_EQ(inflateInit2(&zs, 15 + 16), Z_OK);
  std::string out;
  char buf[4096];
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  int rc;
  do {
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof buf;
    rc = inflate(&zs, Z_SYNC_FLUSH);
    out.append(buf, sizeof buf - zs.avail_out);
  } while (rc == Z_OK && (zs.avail_in > 0 || zs.avail_out == 0));
  EXPECT_EQ(rc, complete ? Z_STREAM_END : Z_OK);
  inflateEnd(&zs);
  return out;
}

inline std::string unbrotli(std::string_view data, bool complete = true) {
  BrotliDecoderState* d = BrotliDecoderCreateInstance(nullptr, nullptr, nullptr);
  std::string out;
  std::size_t avail_in = data.size();
  const uint8_t* next_in = reinterpret_cast<const uint8_t*>(data.data());
  BrotliDecoderResult rc;
  do {
    uint8_t buf[4096];
    std::size_t avail_out = sizeof buf;
    uint8_t* next_out = buf;
    rc = BrotliDecoderDecompressStream(d, &avail_in, &next_in, &avail_out, &next_out, nullptr);
    out.append(reinterpret_cast<char*>(buf), sizeof buf - avail_out);
  } while (rc == BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT);
  EXPECT_EQ(rc, complete ? BROTLI_DECODER_RESULT_SUCCESS : BROTLI_DECODER_RESULT_NEEDS_MORE_INPUT);
  BrotliDecoderDestroyInstance(d);
  return out;
}

}  // namespace waitless::web::test
