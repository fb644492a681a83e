// PostgreSQL row decoding (waitless/data/postgres_value.hpp, postgres_rows.hpp): text-format values into
// typed values. The input becomes a real libpq result (PQmakeEmptyPGresult + PQsetvalue, as the server's
// rows would arrive), read back through pg::Row::get<T> for every supported T.
//
// Invariants:
//   - Row::get<T>(c) == decode<T>(raw text) for every T (the row adds only NULL and column handling);
//     a NULL gives DbError::null_value, and nullopt through std::optional<T>;
//   - what decodes re-encodes to text that decodes to the same value (integers, bool, finite doubles,
//     bytea), and integers re-encode to the very same text unless the input had a '+' or leading zeros;
//   - a failed decode is DbError::bad_value, nothing else; no crash, no read outside the value.
//
// Input: byte 0 = number of columns (1..8) and which are NULL (bits 4-7 mark columns 0-3 NULL). The rest
// is split at '\n' into values, row-major, at most 64 values.
#include <libpq-fe.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "waitless/data/postgres_rows.hpp"
#include "waitless/data/postgres_value.hpp"

namespace {

using waitless::Result;
using namespace waitless::data;
using namespace waitless::data::pg;

[[noreturn]] void broken(const char* what, std::string_view text) {
  std::fprintf(stderr, "pg_row_fuzz: invariant broken: %s (value \"%.*s\")\n", what,
               static_cast<int>(text.size()), text.data());
  std::abort();
}

template <typename T>
void check_same(const Row& row, int c, std::string_view text, bool null) {
  Result<T> via_row = row.get<T>(c);
  if (null) {
    if (via_row.error() != DbError::null_value) broken("NULL did not give null_value", text);
    Result<std::optional<T>> opt = row.get<std::optional<T>>(c);
    if (!opt || opt.value().has_value()) broken("NULL did not give nullopt", text);
    return;
  }
  Result<T> direct = decode<T>(text);
  if (direct.ok() != via_row.ok()) broken("row and decode disagree", text);
  if (!direct.ok()) {
    if (direct.error() != DbError::bad_value) broken("a failed decode is not bad_value", text);
    return;
  }
  if constexpr (std::is_floating_point_v<T>) {
    const T a = direct.value(), b = via_row.value();
    if (!(a == b || (std::isnan(a) && std::isnan(b)))) broken("row and decode values differ", text);
  } else {
    if (!(direct.value() == via_row.value())) broken("row and decode values differ", text);
  }
}

template <typename T>
void check_round_trip(std::string_view text) {
  Result<T> v = decode<T>(text);
  if (!v) return;
  Param p = encode(v.value());
  if (!p) broken("a value encoded as NULL", text);
  Result<T> back = decode<T>(*p);
  if (!back) broken("re-encoded text does not decode", text);
  if constexpr (std::is_floating_point_v<T>) {
    const T a = v.value(), b = back.value();
    if (!(a == b || (std::isnan(a) && std::isnan(b)))) broken("round trip changed the value", text);
  } else {
    if (!(v.value() == back.value())) broken("round trip changed the value", text);
  }
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    const bool canonical = !text.starts_with('+') && !text.starts_with("0") && !text.starts_with("-0");
    if (canonical && *p != text) broken("integer did not re-encode to its own text", text);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const int columns = (data[0] & 7) + 1;
  const unsigned null_mask = data[0] >> 4;
  std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  std::vector<std::string_view> values;
  while (values.size() < 64) {
    const std::size_t nl = rest.find('\n');
    values.push_back(rest.substr(0, nl));
    if (nl == std::string_view::npos) break;
    rest.remove_prefix(nl + 1);
  }
  while (values.size() % static_cast<std::size_t>(columns) != 0) values.push_back({});
  const int rows = static_cast<int>(values.size()) / columns;

  PGresult* res = PQmakeEmptyPGresult(nullptr, PGRES_TUPLES_OK);
  std::vector<PGresAttDesc> attrs(static_cast<std::size_t>(columns));
  std::vector<std::string> names(static_cast<std::size_t>(columns));
  for (int c = 0; c < columns; ++c) {
    names[static_cast<std::size_t>(c)] = "c" + std::to_string(c);
    attrs[static_cast<std::size_t>(c)] =
        PGresAttDesc{names[static_cast<std::size_t>(c)].data(), 0, 0, 0, 25, -1, -1};
  }
  if (!PQsetResultAttrs(res, columns, attrs.data())) std::abort();
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < columns; ++c) {
      const bool null = c < 4 && (null_mask >> c & 1);
      std::string_view v = values[static_cast<std::size_t>(r * columns + c)];
      std::string copy(v);  // PQsetvalue copies; a NULL is length -1
      if (!PQsetvalue(res, r, c, null ? nullptr : copy.data(), null ? -1 : static_cast<int>(copy.size())))
        std::abort();
    }
  }
  Rows result(res);
  if (result.size() != static_cast<std::size_t>(rows) || result.columns() != columns) broken("shape", {});
  for (const Row& row : result) {
    for (int c = 0; c < columns; ++c) {
      const bool null = row.is_null(c);
      const std::string_view text = row.text(c);
      if (row.column_index("c" + std::to_string(c)) != c) broken("column lookup", text);
      check_same<bool>(row, c, text, null);
      check_same<int16_t>(row, c, text, null);
      check_same<int32_t>(row, c, text, null);
      check_same<int64_t>(row, c, text, null);
      check_same<float>(row, c, text, null);
      check_same<double>(row, c, text, null);
      check_same<std::string>(row, c, text, null);
      check_same<Bytea>(row, c, text, null);
      if (row.get<int64_t>(columns).error() != DbError::no_such_column) broken("column past the end", text);
      if (null) continue;
      check_round_trip<bool>(text);
      check_round_trip<int16_t>(text);
      check_round_trip<int32_t>(text);
      check_round_trip<int64_t>(text);
      check_round_trip<double>(text);
      check_round_trip<Bytea>(text);
    }
  }
  return 0;
}
