// Hexadecimal digits: percent-encoding (paths, forms) and bytea text both spell a byte as two of them.
#pragma once

namespace waitless {

// The value of one hex digit (either case), or -1 for any other character.
constexpr int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace waitless
