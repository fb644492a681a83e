// sqlite::Rows: a SQLite result, read on the worker thread into values the loop then owns, with the same
// typed access as pg::Rows (row.get<int64_t>("id"), std::optional<T> for NULL, Result<T> errors).
//
// SQLite is dynamically typed: a column holds NULL, an integer, a real, text or a blob per row. get<T>
// converts strictly: integer targets take integers (range-checked for the width; bool takes 0 or 1),
// floating targets take reals or integers, std::string / std::string_view take text, Blob takes a blob.
// Anything else is DbError::bad_value, never a silent conversion.
#pragma once
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

#include "waitless/base/result.hpp"
#include "waitless/data/db_error.hpp"

namespace waitless::data::sqlite {

struct Blob {
  std::vector<std::byte> bytes;
  bool operator==(const Blob&) const = default;
};

// One value: NULL (monostate), INTEGER, REAL, TEXT, BLOB.
using Value = std::variant<std::monostate, int64_t, double, std::string, Blob>;

namespace detail {
template <typename T>
struct IsOptional : std::false_type {};
template <typename T>
struct IsOptional<std::optional<T>> : std::true_type {};

template <typename T>
Result<T> convert(const Value& v) {
  if constexpr (std::is_same_v<T, bool>) {
    const auto* i = std::get_if<int64_t>(&v);
    if (!i || (*i != 0 && *i != 1)) return make_error_code(DbError::bad_value);
    return *i == 1;
  } else if constexpr (std::is_integral_v<T>) {
    const auto* i = std::get_if<int64_t>(&v);
    if (!i) return make_error_code(DbError::bad_value);
    if (*i < static_cast<int64_t>(std::numeric_limits<T>::min()) ||
        (std::is_signed_v<T> ? *i > static_cast<int64_t>(std::numeric_limits<T>::max())
                             : static_cast<uint64_t>(*i) > std::numeric_limits<T>::max()))
      return make_error_code(DbError::bad_value);
    return static_cast<T>(*i);
  } else if constexpr (std::is_floating_point_v<T>) {
    if (const auto* d = std::get_if<double>(&v)) return static_cast<T>(*d);
    if (const auto* i = std::get_if<int64_t>(&v)) return static_cast<T>(*i);
    return make_error_code(DbError::bad_value);
  } else if constexpr (std::is_same_v<T, std::string> || std::is_same_v<T, std::string_view>) {
    const auto* s = std::get_if<std::string>(&v);
    if (!s) return make_error_code(DbError::bad_value);
    return T(*s);
  } else if constexpr (std::is_same_v<T, Blob>) {
    const auto* b = std::get_if<Blob>(&v);
    if (!b) return make_error_code(DbError::bad_value);
    return *b;
  } else {
    static_assert(sizeof(T) == 0, "no SQLite conversion for this type");
  }
}
}  // namespace detail

class Rows;

class Row {
 public:
  Row(const Rows& rows, std::size_t index) noexcept : rows_(&rows), index_(index) {}

  template <typename T>
  Result<T> get(std::string_view column) const {
    const int c = column_index(column);
    if (c < 0) return make_error_code(DbError::no_such_column);
    return get<T>(c);
  }
  template <typename T>
  Result<T> get(const char* column) const {
    return get<T>(std::string_view(column));
  }
  template <typename T>
  Result<T> get(int column) const {
    const Value* v = value(column);
    if (!v) return make_error_code(DbError::no_such_column);
    if constexpr (detail::IsOptional<T>::value) {
      if (std::holds_alternative<std::monostate>(*v)) return T{};
      auto r = detail::convert<typename T::value_type>(*v);
      if (!r) return r.error();
      return T(std::move(*r));
    } else {
      if (std::holds_alternative<std::monostate>(*v)) return make_error_code(DbError::null_value);
      return detail::convert<T>(*v);
    }
  }
  bool is_null(int column) const noexcept;
  const Value* value(int column) const noexcept;
  int column_index(std::string_view name) const noexcept;

 private:
  const Rows* rows_;
  std::size_t index_;
};

class Rows {
 public:
  std::size_t size() const noexcept { return columns_.empty() ? 0 : values_.size() / columns_.size(); }
  bool empty() const noexcept { return size() == 0; }
  Row operator[](std::size_t i) const noexcept { return Row(*this, i); }
  int columns() const noexcept { return static_cast<int>(columns_.size()); }
  std::string_view column_name(int i) const noexcept;
  // Rows changed by the statement (sqlite3_changes) and the last inserted rowid.
  uint64_t affected() const noexcept { return affected_; }
  int64_t last_insert_id() const noexcept { return last_insert_id_; }

  class iterator {
   public:
    using difference_type = std::ptrdiff_t;
    using value_type = Row;
    iterator(const Rows* rows, std::size_t i) noexcept : rows_(rows), i_(i) {}
    Row operator*() const noexcept { return Row(*rows_, i_); }
    iterator& operator++() noexcept {
      ++i_;
      return *this;
    }
    bool operator==(const iterator& o) const noexcept { return i_ == o.i_; }

   private:
    const Rows* rows_;
    std::size_t i_;
  };
  iterator begin() const noexcept { return {this, 0}; }
  iterator end() const noexcept { return {this, size()}; }

  // Filled by the worker that ran the statement.
  std::vector<std::string> columns_;
  std::vector<Value> values_;  // row-major
  uint64_t affected_ = 0;
  int64_t last_insert_id_ = 0;
};

}  // namespace waitless::data::sqlite
