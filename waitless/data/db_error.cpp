#include "waitless/data/db_error.hpp"

#include <sqlite3.h>

#include "waitless/base/error.hpp"

namespace waitless::data {
namespace {

constexpr int kBase = 36;

int digit_of(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'Z') return c - 'A' + 10;
  return -1;
}

std::string decode_state(int value) {
  std::string s(5, '0');
  for (int i = 4; i >= 0; --i) {
    const int d = value % kBase;
    s[static_cast<std::size_t>(i)] = static_cast<char>(d < 10 ? '0' + d : 'A' + d - 10);
    value /= kBase;
  }
  return s;
}

class DbCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "db"; }
  std::string message(int code) const override {
    switch (static_cast<DbError>(code)) {
      case DbError::ok:
        return "ok";
      case DbError::pool_timeout:
        return "no database connection available before the deadline";
      case DbError::pool_closed:
        return "connection pool closed";
      case DbError::circuit_open:
        return "database unreachable (circuit open after repeated connect failures)";
      case DbError::connect_failed:
        return "database connection failed";
      case DbError::connection_lost:
        return "database connection lost";
      case DbError::server_error:
        return "database server error";
      case DbError::null_value:
        return "NULL value read into a non-optional type";
      case DbError::bad_value:
        return "value does not convert to the requested type";
      case DbError::no_such_column:
        return "no such column";
      case DbError::bad_statement:
        return "statement could not be prepared or sent";
      case DbError::busy:
        return "database busy";
    }
    return "unknown db error";
  }
};

class SqlstateCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "sqlstate"; }
  std::string message(int code) const override { return "SQLSTATE " + decode_state(code); }
};

bool in_class(const std::error_code& ec, std::string_view cls) {
  const std::string s = decode_state(ec.value());
  return s.compare(0, cls.size(), cls) == 0;
}

bool sqlstate_matches(const std::error_code& ec, DbCondition c) {
  const std::string s = decode_state(ec.value());
  const bool connection = s.compare(0, 2, "08") == 0 || s == "57P01" || s == "57P02" || s == "57P03";
  switch (c) {
    case DbCondition::unavailable:
      return connection || s.compare(0, 2, "53") == 0;  // 53: insufficient resources (too many connections)
    case DbCondition::connection:
      return connection;
    case DbCondition::syntax:
      return in_class(ec, "42");
    case DbCondition::constraint:
      return in_class(ec, "23");
    case DbCondition::data:
      return in_class(ec, "22");
    case DbCondition::retryable:
      return in_class(ec, "40");
    case DbCondition::cancelled:
      return s == "57014";
  }
  return false;
}

bool db_matches(DbError e, DbCondition c) {
  switch (c) {
    case DbCondition::unavailable:
      return e == DbError::pool_timeout || e == DbError::pool_closed || e == DbError::circuit_open ||
             e == DbError::connect_failed || e == DbError::connection_lost || e == DbError::busy;
    case DbCondition::connection:
      return e == DbError::connect_failed || e == DbError::connection_lost;
    case DbCondition::data:
      return e == DbError::null_value || e == DbError::bad_value;
    case DbCondition::syntax:
      return e == DbError::bad_statement;
    default:
      return false;
  }
}

// SQLite's primary result codes (the low byte of an extended code).
bool sqlite_matches(int code, DbCondition c) {
  switch (code & 0xff) {
    case SQLITE_CONSTRAINT:
      return c == DbCondition::constraint;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return c == DbCondition::unavailable || c == DbCondition::retryable;
    case SQLITE_MISMATCH:
    case SQLITE_RANGE:
    case SQLITE_TOOBIG:
      return c == DbCondition::data;
    case SQLITE_INTERRUPT:
      return c == DbCondition::cancelled;
    case SQLITE_CANTOPEN:
      return c == DbCondition::connection || c == DbCondition::unavailable;
    default:
      return false;
  }
}

class SqliteCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "sqlite"; }
  std::string message(int code) const override { return sqlite3_errstr(code); }
};

class ConditionCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "db-condition"; }
  std::string message(int code) const override {
    switch (static_cast<DbCondition>(code)) {
      case DbCondition::unavailable:
        return "database unavailable";
      case DbCondition::connection:
        return "database connection error";
      case DbCondition::syntax:
        return "invalid statement";
      case DbCondition::constraint:
        return "constraint violation";
      case DbCondition::data:
        return "bad data";
      case DbCondition::retryable:
        return "transaction conflict";
      case DbCondition::cancelled:
        return "statement cancelled";
    }
    return "unknown db condition";
  }
  bool equivalent(const std::error_code& ec, int condition) const noexcept override {
    const auto c = static_cast<DbCondition>(condition);
    if (ec.category() == sqlstate_category()) return sqlstate_matches(ec, c);
    if (ec.category() == db_category()) return db_matches(static_cast<DbError>(ec.value()), c);
    if (ec.category() == sqlite_category()) return sqlite_matches(ec.value(), c);
    if (ec == Error::cancelled) return c == DbCondition::cancelled;
    return false;
  }
};

}  // namespace

const std::error_category& db_category() noexcept {
  static const DbCategory category;
  return category;
}

const std::error_category& sqlstate_category() noexcept {
  static const SqlstateCategory category;
  return category;
}

const std::error_category& sqlite_category() noexcept {
  static const SqliteCategory category;
  return category;
}

const std::error_category& db_condition_category() noexcept {
  static const ConditionCategory category;
  return category;
}

std::error_code sqlstate_code(std::string_view sqlstate) noexcept {
  if (sqlstate.size() != 5) return DbError::server_error;
  int value = 0;
  for (char c : sqlstate) {
    const int d = digit_of(c);
    if (d < 0) return DbError::server_error;
    value = value * kBase + d;
  }
  if (value == 0) return DbError::server_error;  // "00000" is success, never an error
  return {value, sqlstate_category()};
}

std::string sqlstate_of(std::error_code ec) {
  if (ec.category() != sqlstate_category()) return {};
  return decode_state(ec.value());
}

int http_status_for(std::error_code ec) noexcept {
  if (!ec) return 0;
  if (ec == DbCondition::unavailable) return 503;
  if (ec == DbCondition::constraint) return 409;
  return 500;
}

}  // namespace waitless::data
