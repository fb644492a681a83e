// compression(): gzip / brotli for responses, negotiated from Accept-Encoding, streamed through the
// response's body filter (http/body_filter.hpp), as Express's `compression` package.
//
//   app.use(compression());                                   // before the middleware whose output it wraps
//   app.use(compression({.threshold = 2048, .brotli = false}));
//
// A plain middleware (no coroutine: plain routes stay on the fast path): it picks the coding from the
// request's Accept-Encoding (accept_encoding.hpp: q-values, br preferred on ties, identity when the header
// is absent or refuses everything) and puts a filter on the response. When the head is about to go out,
// the filter decides:
//   - passes (sends as is) when: the response has no body (204, 304), already has a Content-Encoding, has
//     Cache-Control: no-transform, is a part (206 / Content-Range), its Content-Type is one that is already
//     compressed or unknown (should_compress: images but SVG, audio, video, zip, gzip, woff,
//     octet-stream..., plus `skip_types`; text/event-stream by default: an event stream must reach the
//     client as each event is written, not when the compressor's block fills), or its length is known and
//     below `threshold`;
//   - otherwise adds `Vary: Accept-Encoding` (also when it then sends identity because the client did not
//     accept a coding or the body is small: a cache must not give the compressed copy to another client),
//     and for a coding: `Content-Encoding`, drops Content-Length (the body is chunked, or one sized whole
//     for send()), and makes a strong ETag weak (W/"..."): the bytes are no longer the file's, but a 304
//     still matches (If-None-Match compares weakly).
// Streaming: each piece the handler writes is compressed as it goes and written out; the compressor holds
// its window only (gzip ~280 KiB, brotli ~3.7 MiB per response at the defaults, compression.hpp): a large
// file streamed with drain() goes through in constant memory. A HEAD response carries the headers GET would.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "waitless/web/chain.hpp"
#include "waitless/web/compression.hpp"

namespace waitless::web {

struct CompressionOptions {
  uint64_t threshold = 1024;  // bytes: a body known to be smaller is sent as is (Express's default, 1kb)
  bool gzip = true;
  bool brotli = true;
  CompressorOptions compressor;        // gzip level 6, brotli quality 5 / window 2^18
  std::vector<std::string> skip_types  // media types never compressed, beyond the built-in list
      {"text/event-stream"};
};

Layer compression(CompressionOptions options = {});

}  // namespace waitless::web
