// PostgreSQL values in text format, both ways: parameters are encoded to text (the server parses them
// with the parameter's inferred type), result values are decoded from text into C++ types.
//
// Decoding is strict: the whole text must be the value ("12x" is not an int), integers are range-checked
// for the target width, and a mismatch is DbError::bad_value, never a guess. Supported targets:
// bool (t/f, as the server prints booleans), int16_t / int32_t / int64_t, float / double (including
// NaN, Infinity, -Infinity), std::string, std::string_view (a view into the result), and Bytea (the
// server's hex format "\x0a1b...").
// Encoding: the same types plus const char*, std::optional<T> and std::nullopt (NULL).
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <vector>

#include "waitless/base/result.hpp"
#include "waitless/data/db_error.hpp"

namespace waitless::data::pg {

// A bytea value (binary data); plain strings are text.
struct Bytea {
  std::vector<std::byte> bytes;
  bool operator==(const Bytea&) const = default;
};

// A parameter in text format; nullopt is SQL NULL.
using Param = std::optional<std::string>;

std::error_code decode_into(std::string_view text, bool& out) noexcept;
std::error_code decode_into(std::string_view text, int16_t& out) noexcept;
std::error_code decode_into(std::string_view text, int32_t& out) noexcept;
std::error_code decode_into(std::string_view text, int64_t& out) noexcept;
std::error_code decode_into(std::string_view text, float& out) noexcept;
std::error_code decode_into(std::string_view text, double& out) noexcept;
std::error_code decode_into(std::string_view text, std::string& out);
std::error_code decode_into(std::string_view text, std::string_view& out) noexcept;
std::error_code decode_into(std::string_view text, Bytea& out);

template <typename T>
concept Decodable = requires(std::string_view text, T& out) {
  { decode_into(text, out) } -> std::same_as<std::error_code>;
};

template <Decodable T>
Result<T> decode(std::string_view text) {
  T out{};
  if (std::error_code ec = decode_into(text, out)) return ec;
  return out;
}

std::string encode_text(bool v);
std::string encode_text(int64_t v);
std::string encode_text(double v);
std::string encode_text(const Bytea& v);

namespace detail {
template <typename T>
struct IsOptionalParam : std::false_type {};
template <typename T>
struct IsOptionalParam<std::optional<T>> : std::true_type {};
}  // namespace detail

template <typename T>
Param encode(const T& v) {
  using D = std::decay_t<T>;
  if constexpr (std::is_same_v<D, std::nullopt_t> || std::is_same_v<D, std::nullptr_t>) {
    return std::nullopt;
  } else if constexpr (detail::IsOptionalParam<D>::value) {
    if (!v) return std::nullopt;
    return encode(*v);
  } else if constexpr (std::is_same_v<D, bool>) {
    return encode_text(v);
  } else if constexpr (std::is_integral_v<D>) {
    static_assert(sizeof(D) <= 8 && (std::is_signed_v<D> || sizeof(D) < 8),
                  "uint64_t does not fit PostgreSQL's bigint: convert it explicitly");
    return encode_text(static_cast<int64_t>(v));
  } else if constexpr (std::is_floating_point_v<D>) {
    return encode_text(static_cast<double>(v));
  } else if constexpr (std::is_same_v<D, Bytea>) {
    return encode_text(v);
  } else if constexpr (std::is_convertible_v<const T&, std::string_view>) {
    return std::string(std::string_view(v));
  } else {
    static_assert(sizeof(D) == 0, "no PostgreSQL text encoding for this type");
  }
}

}  // namespace waitless::data::pg
