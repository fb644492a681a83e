// UTF-8 validation (RFC 3629): no overlong forms, no surrogates (U+D800..DFFF), nothing above U+10FFFF.
#pragma once
#include <string_view>

namespace waitless::web {

constexpr bool is_valid_utf8(std::string_view s) noexcept {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t n;
    unsigned char lo = 0x80, hi = 0xbf;  // the allowed range of the second byte
    if (c >= 0xc2 && c <= 0xdf) {
      n = 1;
    } else if (c >= 0xe0 && c <= 0xef) {
      n = 2;
      if (c == 0xe0) lo = 0xa0;  // overlong
      if (c == 0xed) hi = 0x9f;  // surrogates
    } else if (c >= 0xf0 && c <= 0xf4) {
      n = 3;
      if (c == 0xf0) lo = 0x90;  // overlong
      if (c == 0xf4) hi = 0x8f;  // above U+10FFFF
    } else {
      return false;
    }
    if (i + n >= s.size()) return false;  // truncated sequence
    for (std::size_t k = 1; k <= n; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      if (k == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xbf)) return false;
    }
    i += n + 1;
  }
  return true;
}

static_assert(is_valid_utf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80") && is_valid_utf8(""));
static_assert(!is_valid_utf8("\xc0\xaf") && !is_valid_utf8("\xed\xa0\x80") &&
              !is_valid_utf8("\xf4\x90\x80\x80") && !is_valid_utf8("\xc3") && !is_valid_utf8("\xe2\x82") &&
              !is_valid_utf8("\x80") && !is_valid_utf8("\xff"));

}  // namespace waitless::web
