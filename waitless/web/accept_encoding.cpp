#include "waitless/web/accept_encoding.hpp"

#include <algorithm>

#include "waitless/http/header.hpp"
#include "waitless/web/header_params.hpp"

namespace waitless::web {
namespace {

// qvalue (RFC 9110 12.4.2): "0" [ "." 0*3DIGIT ] / "1" [ "." 0*3("0") ], in thousandths; -1 if invalid.
int parse_qvalue(std::string_view q) noexcept {
  if (q.empty() || (q[0] != '0' && q[0] != '1')) return -1;
  int value = (q[0] - '0') * 1000;
  if (q.size() == 1) return value;
  if (q[1] != '.' || q.size() > 5) return -1;
  int scale = 100;
  for (char c : q.substr(2)) {
    if (c < '0' || c > '9') return -1;
    value += (c - '0') * scale;
    scale /= 10;
  }
  return value > 1000 ? -1 : value;
}

}  // namespace

Negotiated negotiate_encoding(std::optional<std::string_view> accept_encoding, EncodingSupport support) {
  if (!accept_encoding) return {};
  // The q of each coding named (thousandths), -1 when not named.
  int q_br = -1, q_gzip = -1, q_identity = -1, q_star = -1;
  std::string_view rest = *accept_encoding;
  while (!rest.empty()) {
    const std::size_t comma = std::min(rest.find(','), rest.size());
    const std::string_view element = trim_ows(rest.substr(0, comma));
    rest.remove_prefix(std::min(comma + 1, rest.size()));
    const std::size_t semi = std::min(element.find(';'), element.size());
    const std::string_view coding = trim_ows(element.substr(0, semi));
    if (coding.empty() || (coding != "*" && !http::is_token(coding))) continue;
    int q = 1000;
    const bool params_ok = for_each_param(element.substr(semi), [&](const HeaderParam& p) {
      if (http::iequals(p.name, "q")) q = p.quoted ? -1 : parse_qvalue(p.raw_value);
    });
    if (!params_ok || q < 0) continue;
    int* slot = coding == "*"                                                      ? &q_star
                : http::iequals(coding, "br")                                      ? &q_br
                : http::iequals(coding, "gzip") || http::iequals(coding, "x-gzip") ? &q_gzip
                : http::iequals(coding, "identity")                                ? &q_identity
                                                                                   : nullptr;
    if (slot != nullptr) *slot = std::max(*slot, q);
  }
  auto effective = [&](int named) { return named >= 0 ? named : (q_star >= 0 ? q_star : 0); };
  const int br = support.br ? effective(q_br) : 0;
  const int gzip = support.gzip ? effective(q_gzip) : 0;
  // identity is acceptable unless refused; when only implied, it ranks below any coding the client named.
  const int identity = q_identity >= 0 ? q_identity : (q_star >= 0 ? q_star : 1);
  const int best = std::max({br, gzip, identity});
  if (best <= 0) return {Encoding::identity, true};
  if (br == best) return {Encoding::br, false};
  if (gzip == best) return {Encoding::gzip, false};
  return {Encoding::identity, false};
}

bool should_compress(std::string_view content_type, std::optional<uint64_t> content_length,
                     const CompressionPolicy& policy) {
  if (content_length && *content_length < policy.min_size) return false;
  std::string type(trim_ows(content_type.substr(0, std::min(content_type.find(';'), content_type.size()))));
  if (type.empty()) return false;
  std::transform(type.begin(), type.end(), type.begin(), [](char c) { return http::ascii_lower(c); });
  for (const std::string& skip : policy.skip_types) {
    if (http::iequals(skip, type)) return false;
  }
  const std::string_view t = type;
  if (t.starts_with("image/")) {
    return t == "image/svg+xml" || t == "image/bmp" || t == "image/x-icon" || t == "image/vnd.microsoft.icon";
  }
  if (t.starts_with("audio/") || t.starts_with("video/") || t.starts_with("multipart/")) return false;
  if (t.starts_with("application/vnd.openxmlformats-officedocument.") ||
      t.starts_with("application/vnd.oasis.opendocument.")) {
    return false;
  }
  constexpr std::string_view kCompressed[] = {
      "font/woff",
      "font/woff2",
      "application/zip",
      "application/gzip",
      "application/x-gzip",
      "application/x-brotli",
      "application/zstd",
      "application/x-7z-compressed",
      "application/x-rar-compressed",
      "application/vnd.rar",
      "application/x-xz",
      "application/x-bzip2",
      "application/pdf",
      "application/octet-stream",
      "application/epub+zip",
      "application/java-archive",
  };
  return std::find(std::begin(kCompressed), std::end(kCompressed), t) == std::end(kCompressed);
}

}  // namespace waitless::web
