#include "waitless/data/postgres_value.hpp"

#include <charconv>
#include <cmath>
#include <limits>

#include "waitless/base/hex.hpp"

namespace waitless::data::pg {
namespace {

template <typename I>
std::error_code decode_int(std::string_view text, I& out) noexcept {
  const char* first = text.data();
  const char* last = first + text.size();
  if (first != last && *first == '+') ++first;  // from_chars refuses a plus sign
  if (first == last) return DbError::bad_value;
  auto [p, ec] = std::from_chars(first, last, out);
  if (ec != std::errc() || p != last) return DbError::bad_value;
  return {};
}

template <typename F>
std::error_code decode_float(std::string_view text, F& out) noexcept {
  if (text == "NaN") {
    out = std::numeric_limits<F>::quiet_NaN();
    return {};
  }
  if (text == "Infinity") {
    out = std::numeric_limits<F>::infinity();
    return {};
  }
  if (text == "-Infinity") {
    out = -std::numeric_limits<F>::infinity();
    return {};
  }
  // from_chars would also accept "inf" and "nan" spellings the server never prints: only digits here.
  if (text.empty() || text.find_first_not_of("0123456789+-.eE") != std::string_view::npos)
    return DbError::bad_value;
  const char* first = text.data();
  const char* last = first + text.size();
  if (*first == '+') ++first;
  auto [p, ec] = std::from_chars(first, last, out);
  if (ec != std::errc() || p != last) return DbError::bad_value;
  return {};
}

}  // namespace

std::error_code decode_into(std::string_view text, bool& out) noexcept {
  if (text == "t" || text == "true") {
    out = true;
  } else if (text == "f" || text == "false") {
    out = false;
  } else {
    return DbError::bad_value;
  }
  return {};
}

std::error_code decode_into(std::string_view text, int16_t& out) noexcept { return decode_int(text, out); }
std::error_code decode_into(std::string_view text, int32_t& out) noexcept { return decode_int(text, out); }
std::error_code decode_into(std::string_view text, int64_t& out) noexcept { return decode_int(text, out); }
std::error_code decode_into(std::string_view text, float& out) noexcept { return decode_float(text, out); }
std::error_code decode_into(std::string_view text, double& out) noexcept { return decode_float(text, out); }

std::error_code decode_into(std::string_view text, std::string& out) {
  out.assign(text);
  return {};
}

std::error_code decode_into(std::string_view text, std::string_view& out) noexcept {
  out = text;
  return {};
}

// The server's bytea_output = hex format (the default since 9.0): "\x" then two hex digits per byte.
std::error_code decode_into(std::string_view text, Bytea& out) {
  if (text.size() < 2 || text[0] != '\\' || text[1] != 'x' || text.size() % 2 != 0) return DbError::bad_value;
  out.bytes.clear();
  out.bytes.reserve((text.size() - 2) / 2);
  for (std::size_t i = 2; i < text.size(); i += 2) {
    const int hi = hex_value(text[i]);
    const int lo = hex_value(text[i + 1]);
    if (hi < 0 || lo < 0) return DbError::bad_value;
    out.bytes.push_back(static_cast<std::byte>(hi * 16 + lo));
  }
  return {};
}

std::string encode_text(bool v) { return v ? "t" : "f"; }

std::string encode_text(int64_t v) {
  char buf[24];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, p);
}

std::string encode_text(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  char buf[32];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);  // shortest text that reads back exactly
  return std::string(buf, p);
}

std::string encode_text(const Bytea& v) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s = "\\x";
  s.reserve(2 + v.bytes.size() * 2);
  for (std::byte b : v.bytes) {
    const auto u = static_cast<unsigned>(b);
    s.push_back(kHex[u >> 4]);
    s.push_back(kHex[u & 15]);
  }
  return s;
}

}  // namespace waitless::data::pg
