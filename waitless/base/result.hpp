// Result<T>: a value or a std::error_code (std::expected is C++23; this is the subset we need).
#pragma once
#include <cassert>
#include <stdexcept>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>

#include "waitless/base/error.hpp"

namespace waitless {

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT(google-explicit-constructor)
  // For Result<std::error_code> a plain error_code is the value; build its failures with failure().
  Result(std::error_code ec)  // NOLINT(google-explicit-constructor)
      requires(!std::is_same_v<T, std::error_code>)
      : v_(std::in_place_index<1>, ec) {
    assert(ec);
  }
  Result(Error e)  // NOLINT(google-explicit-constructor)
      requires(!std::is_same_v<T, std::error_code>)
      : Result(make_error_code(e)) {}
  static Result failure(std::error_code ec) { return Result(Fail{}, ec); }

  bool ok() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }
  std::error_code error() const noexcept { return ok() ? std::error_code{} : std::get<1>(v_); }

  // value() on an error throws std::system_error: a programming mistake made visible, not UB.
  T& value() & {
    check();
    return std::get<0>(v_);
  }
  const T& value() const& {
    check();
    return std::get<0>(v_);
  }
  T&& value() && {
    check();
    return std::get<0>(std::move(v_));
  }
  T& operator*() & { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T value_or(T fallback) const& { return ok() ? std::get<0>(v_) : std::move(fallback); }

 private:
  struct Fail {};
  Result(Fail, std::error_code ec) : v_(std::in_place_index<1>, ec) {}
  void check() const {
    if (!ok()) throw std::system_error(std::get<1>(v_));
  }
  std::variant<T, std::error_code> v_;
};

// Result<void>: success or an error code.
template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(std::error_code ec) : ec_(ec) {}       // NOLINT
  Result(Error e) : ec_(make_error_code(e)) {}  // NOLINT
  bool ok() const noexcept { return !ec_; }
  explicit operator bool() const noexcept { return ok(); }
  std::error_code error() const noexcept { return ec_; }
  void value() const {
    if (ec_) throw std::system_error(ec_);
  }

 private:
  std::error_code ec_;
};

}  // namespace waitless
