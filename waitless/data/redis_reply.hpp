// Redis values: the typed Reply a command returns, the error category of the Redis client, and the
// request encoding (a command is always sent as a RESP array of bulk strings, so any byte is safe in an
// argument: no quoting, no injection).
//
// Errors are values at two levels, kept apart on purpose:
//   - the server answered with an error reply (`-ERR wrong number of arguments`, `-WRONGTYPE ...`): the
//     command succeeded as far as the connection goes; the Result holds a Reply whose type() is
//     ReplyType::error and whose str() is the message;
//   - the connection or the protocol failed (refused, reset, lost mid-command, a reply over the limits,
//     a timeout, a cancellation): the Result holds a std::error_code (RedisErrc below, or Error::timed_out,
//     Error::cancelled, Error::closed, an errno).
#pragma once
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace waitless::data {

enum class RedisErrc {
  ok = 0,
  error_reply,      // the typed helpers' code for a server error reply (the text is in the Reply)
  protocol_error,   // the server sent bytes that are not RESP (the connection is closed)
  reply_too_large,  // a reply crossed RespLimits (size, element count or depth): the connection is closed
  connection_lost,  // the connection broke while the command was in flight: it may or may not have run
  not_connected,    // the client gave up waiting for a connection (RedisOptions::queue_while_disconnected)
  unexpected_type,  // a typed helper got a reply of another type than the command documents
};

// connection_lost and not_connected compare equal to DbCondition::connection and ::unavailable
// (db_error.hpp): http_status_for() maps them to 503, as a database outage.
const std::error_category& redis_category() noexcept;
inline std::error_code make_error_code(RedisErrc e) noexcept {
  return {static_cast<int>(e), redis_category()};
}

// RESP2 types (simple_string, error, integer, bulk_string, null, array) and RESP3's (map, set, double_,
// boolean, big_number, verbatim, push). RESP3 attributes are parsed and dropped.
enum class ReplyType : uint8_t {
  simple_string,
  error,
  integer,
  bulk_string,
  null,
  array,
  map,
  set,
  double_,
  boolean,
  big_number,
  verbatim,
  push,
};

std::string_view to_string(ReplyType t) noexcept;

class Reply {
 public:
  Reply() = default;  // null
  static Reply null() { return Reply(); }
  static Reply simple(std::string s) { return Reply(ReplyType::simple_string, std::move(s)); }
  static Reply error(std::string s) { return Reply(ReplyType::error, std::move(s)); }
  static Reply bulk(std::string s) { return Reply(ReplyType::bulk_string, std::move(s)); }
  static Reply integer(int64_t v) {
    Reply r;
    r.type_ = ReplyType::integer;
    r.integer_ = v;
    return r;
  }
  static Reply aggregate(ReplyType t, std::vector<Reply> elements) {
    Reply r;
    r.type_ = t;
    r.elements_ = std::move(elements);
    return r;
  }
  Reply(ReplyType t, std::string s) : type_(t), str_(std::move(s)) {}

  ReplyType type() const noexcept { return type_; }
  bool is_null() const noexcept { return type_ == ReplyType::null; }
  bool is_error() const noexcept { return type_ == ReplyType::error; }
  // simple_string, bulk_string, verbatim, big_number: their text (verbatim without its "txt:" prefix).
  bool is_string() const noexcept {
    return type_ == ReplyType::simple_string || type_ == ReplyType::bulk_string ||
           type_ == ReplyType::verbatim;
  }
  // array, set, push: the elements; map: keys and values interleaved (k0, v0, k1, v1...).
  bool is_aggregate() const noexcept {
    return type_ == ReplyType::array || type_ == ReplyType::map || type_ == ReplyType::set ||
           type_ == ReplyType::push;
  }

  const std::string& str() const noexcept { return str_; }
  std::string& str() noexcept { return str_; }
  int64_t integer() const noexcept { return integer_; }
  double dbl() const noexcept { return double_; }
  bool boolean() const noexcept { return integer_ != 0; }
  const std::vector<Reply>& elements() const noexcept { return elements_; }
  std::vector<Reply>& elements() noexcept { return elements_; }
  std::size_t size() const noexcept { return elements_.size(); }
  const Reply& operator[](std::size_t i) const { return elements_.at(i); }

  // A readable rendering for logs and test failures ("[1, \"a\", nil]").
  std::string debug_string() const;
  bool operator==(const Reply& o) const noexcept;

 private:
  friend class RespParser;
  ReplyType type_ = ReplyType::null;
  int64_t integer_ = 0;  // integer; boolean (0/1)
  double double_ = 0;
  std::string str_;
  std::vector<Reply> elements_;
};

// Appends `args` as one RESP command (an array of bulk strings) to `out`.
void append_command(std::string& out, const std::vector<std::string>& args);
void append_command(std::string& out, std::initializer_list<std::string_view> args);
template <typename It>
void append_command_range(std::string& out, It first, It last, std::size_t count) {
  out += '*';
  out += std::to_string(count);
  out += "\r\n";
  for (; first != last; ++first) {
    std::string_view a(*first);
    out += '$';
    out += std::to_string(a.size());
    out += "\r\n";
    out.append(a);
    out += "\r\n";
  }
}

}  // namespace waitless::data

template <>
struct std::is_error_code_enum<waitless::data::RedisErrc> : std::true_type {};
