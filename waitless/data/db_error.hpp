// Database errors as values, shared by the pool, PostgreSQL and SQLite.
//
// Three pieces:
// - DbError: waitless's own database conditions (a pool timed out, a connection was lost, a NULL read
//   into a non-optional...), an error_code enum.
// - SQLSTATE codes: a server error from PostgreSQL keeps its five-character SQLSTATE inside the
//   error_code itself (sqlstate_code("23505")), so nothing is lost when it travels as a plain value;
//   sqlstate_of(ec) gives the characters back.
// - DbCondition: what a caller tests for, whatever the source: `if (ec == DbCondition::constraint)`
//   matches SQLSTATE class 23 and SQLite's SQLITE_CONSTRAINT alike. One code may match several
//   conditions (a lost connection is both `connection` and `unavailable`).
// http_status_for(ec) is the mapping the web layer applies: `unavailable` is 503 (retry later), a
// constraint violation 409, anything else 500.
#pragma once
#include <string>
#include <string_view>
#include <system_error>

namespace waitless::data {

enum class DbError {
  ok = 0,
  pool_timeout,     // no connection could be borrowed before the acquire deadline
  pool_closed,      // the pool is shut down
  circuit_open,     // repeated connect failures: the pool fails fast until its next probe
  connect_failed,   // the connection could not be established (the detail is logged)
  connection_lost,  // the connection broke (server gone, socket reset) while in use
  server_error,     // the server reported an error without a SQLSTATE
  null_value,       // a NULL read into a non-optional type
  bad_value,        // a value that does not convert to the requested type
  no_such_column,   // a column name or index the result does not have
  bad_statement,    // the statement could not be prepared or sent (too many parameters...)
  busy,             // the database is locked beyond the busy timeout (SQLite)
};

enum class DbCondition {
  unavailable = 1,  // try again later: pool timeout or closed, circuit open, connection errors, busy
  connection,       // the connection failed or was lost (SQLSTATE class 08, admin shutdown 57P0x)
  syntax,           // the statement is invalid (class 42: syntax, undefined table or column...)
  constraint,       // an integrity constraint (class 23; SQLITE_CONSTRAINT)
  data,             // a bad value (class 22; NULL or unconvertible value on read)
  retryable,        // serialization failure / deadlock (class 40): the transaction may be retried
  cancelled,        // the statement was cancelled (57014 query_canceled)
};

const std::error_category& db_category() noexcept;
const std::error_category& sqlstate_category() noexcept;
const std::error_category& db_condition_category() noexcept;
// SQLite's (extended) result codes, messages from sqlite3_errstr.
const std::error_category& sqlite_category() noexcept;
inline std::error_code sqlite_code(int rc) noexcept { return {rc, sqlite_category()}; }

inline std::error_code make_error_code(DbError e) noexcept { return {static_cast<int>(e), db_category()}; }
inline std::error_condition make_error_condition(DbCondition c) noexcept {
  return {static_cast<int>(c), db_condition_category()};
}

// A SQLSTATE ("23505") as an error_code; a malformed state (not five of [0-9A-Z]) gives server_error.
std::error_code sqlstate_code(std::string_view sqlstate) noexcept;
// The five characters of a SQLSTATE code; empty for a code of another category.
std::string sqlstate_of(std::error_code ec);

// 503 for `unavailable`, 409 for `constraint`, 500 otherwise (0 for no error).
int http_status_for(std::error_code ec) noexcept;

}  // namespace waitless::data

template <>
struct std::is_error_code_enum<waitless::data::DbError> : std::true_type {};
template <>
struct std::is_error_condition_enum<waitless::data::DbCondition> : std::true_type {};
