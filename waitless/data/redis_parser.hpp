// RespParser: an incremental parser of Redis replies, RESP2 and RESP3, fed whatever the socket delivered.
//
//   RespParser p;
//   p.feed(bytes, n);
//   while (true) { auto r = p.next(); if (!r) fail(r.error()); if (!*r) break; use(**r); }
//
// Incremental without re-parsing: the reply under construction lives on an explicit stack of open
// aggregates, and each element (a header line, plus a bulk payload) is consumed whole once all its bytes
// are here, so a reply split across any number of reads costs what it costs whole. A line not yet
// complete is scanned once (the scan resumes where it stopped).
//
// Bounded memory on a hostile server: every reply is checked against RespLimits as it arrives, before
// anything is allocated for it (a declared `*1000000000` or `$999999999` fails at its header; vectors are
// never reserved beyond what the limits allow). A violation is Error-typed (RedisErrc::reply_too_large,
// RedisErrc::protocol_error for bytes that are not RESP) and sticky: the parser stays failed, since the
// stream cannot be resynchronised; the client closes the connection.
//
// Supported: every RESP2 type; RESP3 null, double (inf, -inf, nan), boolean, big number, blob error,
// verbatim string, map, set, push, and attributes (parsed and dropped). Not supported (a protocol error):
// RESP3 streamed strings and aggregates (`$?`, `*?`), which Redis itself never sends to clients.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "waitless/base/result.hpp"
#include "waitless/data/redis_reply.hpp"

namespace waitless::data {

struct RespLimits {
  std::size_t max_bulk = std::size_t{512} << 20;       // one bulk string (Redis's proto-max-bulk-len)
  std::size_t max_line = std::size_t{64} << 10;        // a simple string, error or number line
  std::size_t max_elements = std::size_t{1} << 24;     // all elements of one reply together
  std::size_t max_depth = 64;                          // nesting of aggregates
  std::size_t max_reply_bytes = std::size_t{1} << 30;  // estimated memory of one reply
};

class RespParser {
 public:
  explicit RespParser(RespLimits limits = {}) : limits_(limits) {}

  // Appends bytes (a copy). Parsing happens in next().
  void feed(const char* data, std::size_t size) { buf_.append(data, size); }
  // The next complete reply, nullopt when more bytes are needed, or the (sticky) error.
  Result<std::optional<Reply>> next();

  bool failed() const noexcept { return static_cast<bool>(error_); }
  std::error_code error() const noexcept { return error_; }
  // Bytes fed and not yet consumed by a complete element.
  std::size_t buffered() const noexcept { return buf_.size() - pos_; }
  // True while a reply is partly parsed (its open aggregates are held).
  bool mid_reply() const noexcept { return !stack_.empty() || buffered() > 0; }
  // Forgets everything (a new connection).
  void reset() noexcept;
  const RespLimits& limits() const noexcept { return limits_; }

 private:
  enum class Step : uint8_t { value, open, more, fail };
  struct Frame {
    Reply aggregate;
    std::size_t remaining;  // elements still to come
    bool attribute;         // dropped when complete: the next element is the real value
  };

  Step element(Reply& out, std::size_t& open_count, bool& open_attribute);
  // A line at pos_: its end (the index of '\r'), or npos if incomplete; sets error_ when invalid.
  std::size_t find_line();
  bool parse_int(std::size_t begin, std::size_t end, int64_t& out) noexcept;
  bool charge(std::size_t elements, std::size_t bytes) noexcept;
  Step fail(RedisErrc e) noexcept;
  void compact() noexcept;

  RespLimits limits_;
  std::string buf_;
  std::size_t pos_ = 0;
  std::size_t scanned_ = 0;  // bytes after pos_ already searched for the line's end
  std::vector<Frame> stack_;
  std::size_t elements_ = 0;  // of the reply in progress
  std::size_t bytes_ = 0;     // estimated memory of the reply in progress
  std::error_code error_;
};

}  // namespace waitless::data
