// Rows: the result of one PostgreSQL statement (owns the libpq result), with typed access by column:
//
//   for (const pg::Row& row : rows) {
//     Result<int64_t> id = row.get<int64_t>("id");                       // DbError::null_value if NULL
//     Result<std::optional<std::string>> note = row.get<std::optional<std::string>>("note");   // NULL ok
//   }
//
// Values are decoded from the text format by postgres_value.hpp (strict: "12x" is not an int). Column
// names are matched exactly as the server reports them (unquoted identifiers are lower case). A Row is a
// view: it must not outlive its Rows, nor a std::string_view read from it.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <type_traits>

#include "waitless/base/result.hpp"
#include "waitless/data/db_error.hpp"
#include "waitless/data/postgres_value.hpp"

struct pg_result;  // libpq's PGresult

namespace waitless::data::pg {

namespace detail {
struct ResultDeleter {
  void operator()(pg_result* r) const noexcept;
};
template <typename T>
struct IsOptional : std::false_type {};
template <typename T>
struct IsOptional<std::optional<T>> : std::true_type {};
}  // namespace detail

class Rows;

class Row {
 public:
  Row(const Rows& rows, int index) noexcept : rows_(&rows), index_(index) {}

  // The value of `column` (a name or a 0-based index) as T; std::optional<T> reads NULL as nullopt.
  template <typename T>
  Result<T> get(std::string_view column) const {
    const int c = column_index(column);
    if (c < 0) return make_error_code(DbError::no_such_column);
    return get<T>(c);
  }
  template <typename T>
  Result<T> get(int column) const {
    if (column < 0 || column >= columns()) return make_error_code(DbError::no_such_column);
    if constexpr (detail::IsOptional<T>::value) {
      if (is_null(column)) return T{};
      auto v = decode<typename T::value_type>(text(column));
      if (!v) return v.error();
      return T(std::move(*v));
    } else {
      if (is_null(column)) return make_error_code(DbError::null_value);
      return decode<T>(text(column));
    }
  }
  // Overload resolution would otherwise take a string literal for the index form.
  template <typename T>
  Result<T> get(const char* column) const {
    return get<T>(std::string_view(column));
  }

  bool is_null(int column) const noexcept;
  std::string_view text(int column) const noexcept;  // the raw text ("" for NULL)
  int column_index(std::string_view name) const noexcept;
  int columns() const noexcept;
  int index() const noexcept { return index_; }

 private:
  const Rows* rows_;
  int index_;
};

class Rows {
 public:
  Rows() = default;
  explicit Rows(pg_result* r) noexcept : result_(r) {}

  std::size_t size() const noexcept;
  bool empty() const noexcept { return size() == 0; }
  Row operator[](std::size_t i) const noexcept { return Row(*this, static_cast<int>(i)); }
  int columns() const noexcept;
  std::string_view column_name(int i) const noexcept;
  // Rows the statement inserted, updated or deleted (its command tag's count), 0 if it reports none.
  uint64_t affected() const noexcept;
  pg_result* raw() const noexcept { return result_.get(); }

  class iterator {
   public:
    using difference_type = std::ptrdiff_t;
    using value_type = Row;
    iterator(const Rows* rows, int i) noexcept : rows_(rows), i_(i) {}
    Row operator*() const noexcept { return Row(*rows_, i_); }
    iterator& operator++() noexcept {
      ++i_;
      return *this;
    }
    bool operator==(const iterator& o) const noexcept { return i_ == o.i_; }

   private:
    const Rows* rows_;
    int i_;
  };
  iterator begin() const noexcept { return {this, 0}; }
  iterator end() const noexcept { return {this, static_cast<int>(size())}; }

 private:
  std::unique_ptr<pg_result, detail::ResultDeleter> result_;
};

}  // namespace waitless::data::pg
