// Compressor: a streaming gzip (zlib) or brotli encoder with a pull interface and bounded memory, for the
// compression middleware's body filter.
//
//   auto c = Compressor::create(Encoding::gzip);
//   c->write(chunk);                                  // then drain:
//   for (;;) { auto piece = c->next(); if (!piece) error; if (piece->empty()) break; send(*piece); }
//   c->flush();  ... drain ...                        // what was written so far is decodable by the client
//   c->finish(); ... drain ... c->finished() == true  // the stream's trailer is out
//
// Pull, like MultipartParser: between two pieces the caller may suspend (a slow client), and the
// compressor holds only its own state meanwhile. A piece is a view into the compressor's output buffer,
// valid until the next call. The input given to write() must stay alive until next() returns empty.
//
// Memory, bounded per stream: the peak heap in use (mallinfo2, mmapped blocks included) while 16 MiB of
// page-like text goes through in 16 KiB to 1 MiB writes is 278 KiB for gzip level 6 (zlib's memLevel 8,
// 32 KiB window; allocated at creation) and 3.7 MiB for brotli quality 5 with a 256 KiB window (lgwin 18;
// allocated at the first write), the defaults. Brotli's cost grows fast with its settings: quality 4 /
// lgwin 18 3.2 MiB, quality 5 / lgwin 20 9.9 MiB, quality 5 / lgwin 22 34 MiB; quality 11 (the library's
// default) is for files compressed once, ahead of time. Brotli costs ~13x gzip per stream: a server
// compressing thousands of responses at once should bound its brotli streams. Plus out_buffer.
#pragma once
#include <cstddef>
#include <memory>
#include <string_view>
#include <system_error>

#include "waitless/base/result.hpp"

namespace waitless::web {

enum class Encoding { identity, gzip, br };
std::string_view encoding_name(Encoding e) noexcept;  // "identity", "gzip", "br" (Content-Encoding values)

struct CompressorOptions {
  int gzip_level = 6;                               // zlib 1..9
  int brotli_quality = 5;                           // 0..11
  int brotli_window_bits = 18;                      // lgwin 10..24
  std::size_t out_buffer = std::size_t{16} * 1024;  // the largest piece next() returns
};

class Compressor {
 public:
  // Error::invalid_argument for Encoding::identity or an option out of range; Error::limit_exceeded when
  // the library cannot allocate its state.
  static Result<Compressor> create(Encoding encoding, const CompressorOptions& options = {});
  Compressor(Compressor&&) noexcept;
  Compressor& operator=(Compressor&&) noexcept;
  ~Compressor();

  Encoding encoding() const noexcept;
  // The next input. Only when next() has returned empty (all earlier input taken); not after finish().
  void write(std::string_view input) noexcept;
  // Ask for everything written so far to be output in decodable form (a sync flush: costs a few bytes).
  void flush() noexcept;
  // Ask for the end of the stream after the input written so far.
  void finish() noexcept;
  // The next compressed piece, or an empty view when the compressor needs input (or has finished);
  // Error::protocol_error if the library reports an internal error (then every later call does too).
  Result<std::string_view> next() noexcept;
  bool finished() const noexcept;

  uint64_t bytes_in() const noexcept;
  uint64_t bytes_out() const noexcept;

 private:
  struct State;
  explicit Compressor(std::unique_ptr<State> state) noexcept;
  std::unique_ptr<State> s_;
};

}  // namespace waitless::web
