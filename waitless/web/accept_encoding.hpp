// Content-coding negotiation (RFC 9110 12.5.3) and the compression middleware's rules for what to
// compress.
//
//   Encoding e = negotiate_encoding(req.header("Accept-Encoding"));   // nullopt when the header is absent
//   if (e != Encoding::identity && should_compress(content_type, content_length, policy)) ...
//
// Accept-Encoding: codings with q-values ("br;q=1.0, gzip;q=0.8, *;q=0"), case-insensitive, "x-gzip" as
// gzip. The coding with the highest q among those this server has (br, gzip) wins, ties going to br then
// gzip (smaller output); identity wins when its q is higher than theirs. q=0 refuses a coding; "*" gives
// its q to every coding not named; identity is acceptable unless refused by "identity;q=0" or "*;q=0"
// without an explicit identity. No header at all: identity (RFC 9110 allows anything; identity is what a
// client that sent nothing surely understands). An empty header: identity only. Malformed elements (a bad
// q-value, a non-token coding) are ignored, the rest of the header still counts.
// When nothing acceptable remains (every coding and identity refused), not_acceptable: the middleware
// sends identity anyway (RFC 9110 12.5.3 permits it) or 406, its choice.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "waitless/web/compression.hpp"

namespace waitless::web {

struct Negotiated {
  Encoding encoding = Encoding::identity;
  bool not_acceptable = false;  // even identity is refused; encoding is identity then
};

struct EncodingSupport {
  bool br = true;
  bool gzip = true;
};

Negotiated negotiate_encoding(std::optional<std::string_view> accept_encoding, EncodingSupport support = {});

struct CompressionPolicy {
  uint64_t min_size = 1024;  // a body known to be smaller is sent as is (the header costs more than it saves)
  // Media types (type/subtype, lower case) never compressed, besides the built-in list of compressed
  // formats (image/* but SVG, audio/*, video/*, font/woff and woff2, zip, gzip, brotli, zstd, 7z, rar, xz,
  // bzip2, PDF and the compressed office formats, application/octet-stream, multipart/*).
  std::vector<std::string> skip_types;
};

// Whether a response of this Content-Type and (when known) length is worth compressing. The type's
// parameters (";charset=...") are ignored; no Content-Type: not compressed (unknown bytes).
bool should_compress(std::string_view content_type, std::optional<uint64_t> content_length,
                     const CompressionPolicy& policy = {});

}  // namespace waitless::web
