#include "waitless/data/postgres_rows.hpp"

#include <libpq-fe.h>

#include <charconv>

namespace waitless::data::pg {

void detail::ResultDeleter::operator()(pg_result* r) const noexcept { PQclear(r); }

bool Row::is_null(int column) const noexcept { return PQgetisnull(rows_->raw(), index_, column) != 0; }

std::string_view Row::text(int column) const noexcept {
  PGresult* r = rows_->raw();
  return {PQgetvalue(r, index_, column), static_cast<std::size_t>(PQgetlength(r, index_, column))};
}

int Row::column_index(std::string_view name) const noexcept {
  // Exact match, without PQfnumber's case folding and its copy of the name.
  PGresult* r = rows_->raw();
  const int n = PQnfields(r);
  for (int i = 0; i < n; ++i) {
    if (name == PQfname(r, i)) return i;
  }
  return -1;
}

int Row::columns() const noexcept { return rows_->columns(); }

std::size_t Rows::size() const noexcept {
  return result_ ? static_cast<std::size_t>(PQntuples(result_.get())) : 0;
}

int Rows::columns() const noexcept { return result_ ? PQnfields(result_.get()) : 0; }

std::string_view Rows::column_name(int i) const noexcept {
  if (!result_ || i < 0 || i >= PQnfields(result_.get())) return {};
  return PQfname(result_.get(), i);
}

uint64_t Rows::affected() const noexcept {
  if (!result_) return 0;
  std::string_view tag = PQcmdTuples(result_.get());
  uint64_t n = 0;
  std::from_chars(tag.data(), tag.data() + tag.size(), n);
  return n;
}

}  // namespace waitless::data::pg
