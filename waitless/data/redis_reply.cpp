#include "waitless/data/redis_reply.hpp"

#include <fmt/format.h>

#include "waitless/data/db_error.hpp"

namespace waitless::data {

namespace {
class RedisCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "redis"; }
  std::string message(int c) const override {
    switch (static_cast<RedisErrc>(c)) {
      case RedisErrc::ok:
        return "ok";
      case RedisErrc::error_reply:
        return "the server answered with an error reply";
      case RedisErrc::protocol_error:
        return "the server broke the RESP protocol";
      case RedisErrc::reply_too_large:
        return "a reply crossed the client's size, count or depth limit";
      case RedisErrc::connection_lost:
        return "the connection was lost while the command was in flight";
      case RedisErrc::not_connected:
        return "no connection to the server";
      case RedisErrc::unexpected_type:
        return "the reply has an unexpected type";
    }
    return "unknown redis error";
  }
  // A lost or missing connection is what the database errors call `connection` and `unavailable`
  // (db_error.hpp), so http_status_for() answers 503 for a Redis outage as for a database one.
  bool equivalent(int code, const std::error_condition& condition) const noexcept override {
    if (condition.category() == db_condition_category()) {
      const auto c = static_cast<DbCondition>(condition.value());
      const auto e = static_cast<RedisErrc>(code);
      if (e == RedisErrc::connection_lost || e == RedisErrc::not_connected)
        return c == DbCondition::connection || c == DbCondition::unavailable;
      return false;
    }
    return std::error_category::equivalent(code, condition);
  }
};
}  // namespace

const std::error_category& redis_category() noexcept {
  static const RedisCategory category;
  return category;
}

std::string_view to_string(ReplyType t) noexcept {
  switch (t) {
    case ReplyType::simple_string:
      return "simple_string";
    case ReplyType::error:
      return "error";
    case ReplyType::integer:
      return "integer";
    case ReplyType::bulk_string:
      return "bulk_string";
    case ReplyType::null:
      return "null";
    case ReplyType::array:
      return "array";
    case ReplyType::map:
      return "map";
    case ReplyType::set:
      return "set";
    case ReplyType::double_:
      return "double";
    case ReplyType::boolean:
      return "boolean";
    case ReplyType::big_number:
      return "big_number";
    case ReplyType::verbatim:
      return "verbatim";
    case ReplyType::push:
      return "push";
  }
  return "?";
}

std::string Reply::debug_string() const {
  switch (type_) {
    case ReplyType::null:
      return "nil";
    case ReplyType::integer:
      return std::to_string(integer_);
    case ReplyType::boolean:
      return integer_ ? "true" : "false";
    case ReplyType::double_:
      return fmt::format("{}", double_);
    case ReplyType::error:
      return fmt::format("(error) {}", str_);
    case ReplyType::simple_string:
    case ReplyType::big_number:
      return str_;
    case ReplyType::bulk_string:
    case ReplyType::verbatim:
      return fmt::format("\"{}\"", str_);
    case ReplyType::array:
    case ReplyType::map:
    case ReplyType::set:
    case ReplyType::push:
      break;
  }
  std::string out(type_ == ReplyType::map    ? "{"
                  : type_ == ReplyType::set  ? "~["
                  : type_ == ReplyType::push ? ">["
                                             : "[");
  for (std::size_t i = 0; i < elements_.size(); ++i) {
    if (i) out += (type_ == ReplyType::map && i % 2 == 1) ? ": " : ", ";
    out += elements_[i].debug_string();
  }
  out += type_ == ReplyType::map ? "}" : "]";
  return out;
}

bool Reply::operator==(const Reply& o) const noexcept {
  if (type_ != o.type_) return false;
  switch (type_) {
    case ReplyType::null:
      return true;
    case ReplyType::integer:
    case ReplyType::boolean:
      return integer_ == o.integer_;
    // Bitwise: NaN equals NaN here, so the fuzz target can compare two parses of the same bytes.
    case ReplyType::double_:
      return std::string_view(reinterpret_cast<const char*>(&double_), sizeof double_) ==
             std::string_view(reinterpret_cast<const char*>(&o.double_), sizeof double_);
    default:
      return str_ == o.str_ && elements_ == o.elements_;
  }
}

void append_command(std::string& out, const std::vector<std::string>& args) {
  append_command_range(out, args.begin(), args.end(), args.size());
}

void append_command(std::string& out, std::initializer_list<std::string_view> args) {
  append_command_range(out, args.begin(), args.end(), args.size());
}

}  // namespace waitless::data
