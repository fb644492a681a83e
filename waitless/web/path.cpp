#include "waitless/web/path.hpp"

#include <cstdint>

#include "waitless/base/hex.hpp"

namespace waitless::web {
namespace {

class PathCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "waitless.path"; }
  std::string message(int code) const override {
    switch (static_cast<PathError>(code)) {
      case PathError::ok:
        return "ok";
      case PathError::not_absolute:
        return "path does not start with '/'";
      case PathError::bad_percent:
        return "invalid percent-encoding in path";
      case PathError::control_character:
        return "control character in path";
      case PathError::invalid_utf8:
        return "path segment is not valid UTF-8";
      case PathError::dot_segment:
        return "dot segment in path";
    }
    return "unknown path error";
  }
};

// Length of the valid UTF-8 sequence starting at s[i] (a non-ASCII lead byte), or 0 when invalid
// (RFC 3629: no overlong forms, no surrogates, nothing past U+10FFFF).
std::size_t utf8_sequence(std::string_view s, std::size_t i) noexcept {
  auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
  auto cont = [&](std::size_t k) { return i + k < s.size() && (b(k) & 0xC0) == 0x80; };
  unsigned char c = b(0);
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(1) || !cont(2)) return 0;
    if (c == 0xE0 && b(1) < 0xA0) return 0;  // overlong
    if (c == 0xED && b(1) > 0x9F) return 0;  // surrogates
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    if (c == 0xF0 && b(1) < 0x90) return 0;  // overlong
    if (c == 0xF4 && b(1) > 0x8F) return 0;  // past U+10FFFF
    return 4;
  }
  return 0;
}

// Checks decoded bytes: no control character, valid UTF-8.
PathError check_decoded(std::string_view s) noexcept {
  for (std::size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if (c < 0x20 || c == 0x7F) return PathError::control_character;
      ++i;
      continue;
    }
    std::size_t n = utf8_sequence(s, i);
    if (n == 0) return PathError::invalid_utf8;
    i += n;
  }
  return PathError::ok;
}

}  // namespace

const std::error_category& path_category() noexcept {
  static const PathCategory category;
  return category;
}

PathError percent_decode_segment(std::string_view raw, std::string& out) {
  const std::size_t start = out.size();
  std::size_t i = 0;
  while (i < raw.size()) {
    // The run up to the next escape goes in one append (most paths have none).
    const std::size_t pct = raw.find('%', i);
    const std::size_t run_end = pct == std::string_view::npos ? raw.size() : pct;
    out.append(raw.data() + i, run_end - i);
    if (pct == std::string_view::npos) break;
    if (pct + 2 >= raw.size()) return PathError::bad_percent;  // truncated
    int hi = hex_value(raw[pct + 1]), lo = hex_value(raw[pct + 2]);
    if (hi < 0 || lo < 0) return PathError::bad_percent;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i = pct + 3;
  }
  return check_decoded(std::string_view(out).substr(start));
}

std::string percent_encode_segment(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(bytes.size());
  for (char ch : bytes) {
    auto c = static_cast<unsigned char>(ch);
    bool keep = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                std::string_view("-._~!$&'()*+,;=:@").find(ch) != std::string_view::npos;
    if (keep) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::string_view DecodedPath::joined_from(std::size_t first) const noexcept {
  if (first >= segments_.size()) return {};
  const char* begin = segments_[first].data();
  return std::string_view(begin, static_cast<std::size_t>(bytes_.data() + bytes_.size() - begin));
}

Result<void> decode_path(std::string_view path, DecodedPath& out) {
  out.clear();
  if (path.empty() || path[0] != '/') return make_error_code(PathError::not_absolute);
  // Decoded bytes never outnumber raw ones, so one reserve keeps every segment view stable.
  out.bytes_.reserve(path.size());
  std::string_view rest = path.substr(1);
  for (;;) {
    std::size_t slash = rest.find('/');
    std::string_view raw = rest.substr(0, slash);
    out.bytes_.push_back('/');
    const std::size_t at = out.bytes_.size();
    if (PathError e = percent_decode_segment(raw, out.bytes_); e != PathError::ok) {
      out.clear();
      return make_error_code(e);
    }
    std::string_view seg(out.bytes_.data() + at, out.bytes_.size() - at);
    if (seg == "." || seg == "..") {
      out.clear();
      return make_error_code(PathError::dot_segment);
    }
    out.segments_.push_back(seg);
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  // One trailing slash is ignored: the empty segment after it goes ("/a/" is "/a", "/" has no segments,
  // "/a//" keeps one empty segment).
  if (out.segments_.back().empty()) {
    out.segments_.pop_back();
    out.bytes_.pop_back();
  }
  return {};
}

}  // namespace waitless::web
