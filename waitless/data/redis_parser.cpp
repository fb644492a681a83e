#include "waitless/data/redis_parser.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>

namespace waitless::data {

namespace {
constexpr std::size_t npos = std::string::npos;
// What one element costs in the estimate beside its string bytes.
constexpr std::size_t kElementBytes = sizeof(Reply);
// Aggregates reserve at most this many slots up front; the rest grows as elements arrive.
constexpr std::size_t kMaxReserve = 1024;
}  // namespace

void RespParser::reset() noexcept {
  buf_.clear();
  pos_ = scanned_ = 0;
  stack_.clear();
  elements_ = bytes_ = 0;
  error_.clear();
}

RespParser::Step RespParser::fail(RedisErrc e) noexcept {
  error_ = make_error_code(e);
  stack_.clear();
  return Step::fail;
}

bool RespParser::charge(std::size_t elements, std::size_t bytes) noexcept {
  if (elements > limits_.max_elements - std::min(elements_, limits_.max_elements) ||
      bytes > limits_.max_reply_bytes - std::min(bytes_, limits_.max_reply_bytes)) {
    fail(RedisErrc::reply_too_large);
    return false;
  }
  elements_ += elements;
  bytes_ += bytes;
  return true;
}

std::size_t RespParser::find_line() {
  // pos_ is the type byte; the line's text starts after it.
  const std::size_t begin = pos_ + 1 + scanned_;
  const std::size_t avail = buf_.size();
  const std::size_t limit = std::min(avail, pos_ + 1 + limits_.max_line + 1);  // room for the '\r'
  const char* cr = begin < limit
                       ? static_cast<const char*>(std::memchr(buf_.data() + begin, '\r', limit - begin))
                       : nullptr;
  if (!cr) {
    if (avail >= pos_ + 1 + limits_.max_line + 1) {
      fail(RedisErrc::reply_too_large);
    } else {
      scanned_ = avail - pos_ - 1;
    }
    return npos;
  }
  const std::size_t end = static_cast<std::size_t>(cr - buf_.data());
  if (end + 1 >= avail) {  // the '\n' has not arrived: rescan this '\r' next time
    scanned_ = end - pos_ - 1;
    return npos;
  }
  if (buf_[end + 1] != '\n') {
    fail(RedisErrc::protocol_error);
    return npos;
  }
  return end;
}

// A decimal int64 with an optional '-': no '+', no spaces, no overflow.
bool RespParser::parse_int(std::size_t begin, std::size_t end, int64_t& out) noexcept {
  const char* p = buf_.data() + begin;
  const char* last = buf_.data() + end;
  const bool negative = p != last && *p == '-';
  if (negative) ++p;
  if (p == last || last - p > 19) return false;
  uint64_t v = 0;
  for (; p != last; ++p) {
    const unsigned d = static_cast<unsigned>(static_cast<unsigned char>(*p)) - '0';
    if (d > 9) return false;
    v = v * 10 + d;
  }
  // 19 digits fit in a uint64_t; the int64_t range is checked here.
  const uint64_t max = negative ? uint64_t{1} << 63 : (uint64_t{1} << 63) - 1;
  if (v > max) return false;
  out = negative ? static_cast<int64_t>(0 - v) : static_cast<int64_t>(v);
  return true;
}

// Consumes one element at pos_ if all its bytes are here. A scalar (or an empty or null aggregate) is
// returned in `out` (Step::value); an aggregate with elements to come is Step::open with its count.
RespParser::Step RespParser::element(Reply& out, std::size_t& open_count, bool& open_attribute) {
  if (pos_ >= buf_.size()) return Step::more;
  const char type = buf_[pos_];
  const std::size_t end = find_line();
  if (end == npos) return error_ ? Step::fail : Step::more;
  const std::size_t text = pos_ + 1, text_len = end - text;
  std::size_t next = end + 2;
  std::string_view line(buf_.data() + text, text_len);

  switch (type) {
    case '+':
    case '-':
    case '(': {
      if (type == '(') {  // big number: an optional sign and digits
        std::string_view digits = line;
        if (!digits.empty() && (digits[0] == '-' || digits[0] == '+')) digits.remove_prefix(1);
        if (digits.empty() ||
            !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
          return fail(RedisErrc::protocol_error);
      }
      if (type != '(' && std::memchr(line.data(), '\n', line.size()))  // a line cannot carry a '\n'
        return fail(RedisErrc::protocol_error);
      if (!charge(1, kElementBytes + text_len)) return Step::fail;
      out.type_ = type == '+'   ? ReplyType::simple_string
                  : type == '-' ? ReplyType::error
                                : ReplyType::big_number;
      out.str_.assign(line);
      break;
    }
    case ':': {
      int64_t v;
      if (!parse_int(text, end, v)) return fail(RedisErrc::protocol_error);
      if (!charge(1, kElementBytes)) return Step::fail;
      out.type_ = ReplyType::integer;
      out.integer_ = v;
      break;
    }
    case '_':
      if (text_len != 0) return fail(RedisErrc::protocol_error);
      if (!charge(1, kElementBytes)) return Step::fail;
      break;  // `out` is null
    case '#':
      if (line != "t" && line != "f") return fail(RedisErrc::protocol_error);
      if (!charge(1, kElementBytes)) return Step::fail;
      out.type_ = ReplyType::boolean;
      out.integer_ = line == "t";
      break;
    case ',': {
      double v;
      if (line == "inf" || line == "+inf") {
        v = std::numeric_limits<double>::infinity();
      } else if (line == "-inf") {
        v = -std::numeric_limits<double>::infinity();
      } else if (line == "nan" || line == "-nan") {
        v = std::numeric_limits<double>::quiet_NaN();
      } else {
        // from_chars takes no leading '+' and no "inf"/"nan" spellings past the ones above.
        if (line.empty() || line[0] == '+' || line.find_first_of("iInN") != std::string_view::npos)
          return fail(RedisErrc::protocol_error);
        auto [p, ec] = std::from_chars(line.data(), line.data() + line.size(), v);
        if (ec != std::errc() || p != line.data() + line.size()) return fail(RedisErrc::protocol_error);
      }
      if (!charge(1, kElementBytes)) return Step::fail;
      out.type_ = ReplyType::double_;
      out.double_ = v;
      break;
    }
    case '$':
    case '=':
    case '!': {
      int64_t len;
      if (!parse_int(text, end, len) || len < -1 || (len == -1 && type != '$'))
        return fail(RedisErrc::protocol_error);
      if (len == -1) {
        if (!charge(1, kElementBytes)) return Step::fail;
        break;  // `out` is null
      }
      const auto n = static_cast<std::size_t>(len);
      if (n > limits_.max_bulk) return fail(RedisErrc::reply_too_large);
      // Checked before the payload is buffered, so a hostile length fails at once.
      if (elements_ + 1 > limits_.max_elements || bytes_ + kElementBytes + n > limits_.max_reply_bytes)
        return fail(RedisErrc::reply_too_large);
      if (buf_.size() - next < n + 2) return Step::more;
      if (buf_[next + n] != '\r' || buf_[next + n + 1] != '\n') return fail(RedisErrc::protocol_error);
      std::string_view payload(buf_.data() + next, n);
      if (type == '=') {  // verbatim: "txt:" + text
        if (n < 4 || payload[3] != ':') return fail(RedisErrc::protocol_error);
        payload.remove_prefix(4);
      }
      if (!charge(1, kElementBytes + n)) return Step::fail;
      out.type_ = type == '$' ? ReplyType::bulk_string : type == '=' ? ReplyType::verbatim : ReplyType::error;
      out.str_.assign(payload);
      next += n + 2;
      break;
    }
    case '*':
    case '%':
    case '~':
    case '>':
    case '|': {
      int64_t count;
      if (!parse_int(text, end, count) || count < -1 || (count == -1 && type != '*'))
        return fail(RedisErrc::protocol_error);
      if (stack_.size() + 1 > limits_.max_depth) return fail(RedisErrc::reply_too_large);
      if (count == -1) {
        if (!charge(1, kElementBytes)) return Step::fail;
        break;  // `out` is null
      }
      auto n = static_cast<std::size_t>(count);
      if (type == '%' || type == '|') {
        if (n > std::numeric_limits<std::size_t>::max() / 2) return fail(RedisErrc::reply_too_large);
        n *= 2;
      }
      // The declared count must fit the limits now, before any element of it arrives.
      if (n > limits_.max_elements - std::min(elements_, limits_.max_elements) ||
          n > (limits_.max_reply_bytes - std::min(bytes_, limits_.max_reply_bytes)) / kElementBytes)
        return fail(RedisErrc::reply_too_large);
      if (!charge(1, kElementBytes)) return Step::fail;
      const ReplyType t = type == '*'   ? ReplyType::array
                          : type == '%' ? ReplyType::map
                          : type == '~' ? ReplyType::set
                                        : ReplyType::push;
      out.type_ = t;
      pos_ = next;
      scanned_ = 0;
      if (n == 0) {
        if (type == '|') {  // an empty attribute: nothing to drop, the value follows
          open_count = 0;
          open_attribute = true;
          return Step::open;
        }
        return Step::value;
      }
      out.elements_.reserve(std::min(n, kMaxReserve));
      open_count = n;
      open_attribute = type == '|';
      return Step::open;
    }
    default:
      return fail(RedisErrc::protocol_error);
  }
  pos_ = next;
  scanned_ = 0;
  return Step::value;
}

Result<std::optional<Reply>> RespParser::next() {
  if (error_) return error_;
  while (true) {
    Reply value;
    std::size_t count = 0;
    bool attribute = false;
    const Step step = element(value, count, attribute);
    if (step == Step::fail) return error_;
    if (step == Step::more) {
      compact();
      return std::optional<Reply>();
    }
    if (step == Step::open) {
      if (count > 0) {
        stack_.push_back(Frame{std::move(value), count, attribute});
      }
      continue;  // an empty attribute: the next element is the value it annotated
    }
    // A complete value: attach it to the open aggregates, closing each one it completes.
    while (true) {
      if (stack_.empty()) {
        elements_ = bytes_ = 0;
        if (pos_ == buf_.size()) {  // all consumed; a partial rest is moved only when more is needed
          buf_.clear();
          pos_ = 0;
        }
        return std::optional<Reply>(std::move(value));
      }
      Frame& f = stack_.back();
      f.aggregate.elements_.push_back(std::move(value));
      if (--f.remaining > 0) break;
      const bool dropped = f.attribute;
      value = std::move(f.aggregate);
      stack_.pop_back();
      if (dropped) break;  // the attribute is discarded; the annotated value comes next
    }
  }
}

// Called when the next element is incomplete: what is left is at most one element (a line, or a bulk
// header and the part of its payload that arrived), so moving it to the front is cheap; doing it per
// reply instead would move the rest of a 64 KiB read once for every small reply in it.
void RespParser::compact() noexcept {
  if (pos_ == buf_.size()) {
    buf_.clear();
  } else if (pos_ > 0) {
    buf_.erase(0, pos_);
  }
  pos_ = 0;
}

}  // namespace waitless::data
