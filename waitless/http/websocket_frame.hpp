// WebSocket framing (RFC 6455 section 5): the incremental frame parser that assembles messages, the frame
// writer, close payloads and a streaming UTF-8 validator. No I/O here: the WebSocket connection
// (websocket.hpp) feeds bytes in and hands frames to its transport.
//
// The parser is pull-style: next() consumes input until it has an event (a whole message, a control
// frame, or a protocol error carrying its close code) and returns it; input may be split anywhere. Every
// violation maps to the close code the RFC gives it:
//   1002 protocol error: a client frame without a mask (server side) or a server frame with one (client
//        side), RSV bits not granted by an extension, an unknown opcode, a control frame longer than 125
//        bytes or fragmented, a continuation without a message started, a new data frame inside a
//        fragmented message, a 64-bit length with its top bit set, a bad close payload
//   1007 invalid UTF-8 in a text message (checked frame by frame, across fragment boundaries; a compressed
//        message is checked by its owner after inflating) or in a close reason
//   1009 a message (the sum of its fragments) longer than max_message_size
// Memory: the parser is a few dozen bytes; the message being assembled lives in a std::string that is
// released when a message ends if it grew large (an idle connection holds no buffer).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace waitless::http::ws {

enum class Opcode : uint8_t { continuation = 0, text = 1, binary = 2, close = 8, ping = 9, pong = 10 };

inline bool is_control(Opcode op) noexcept { return (static_cast<uint8_t>(op) & 0x8) != 0; }

// Close codes (RFC 6455 7.4.1 and the IANA registry).
namespace close_code {
constexpr uint16_t normal = 1000;
constexpr uint16_t going_away = 1001;
constexpr uint16_t protocol_error = 1002;
constexpr uint16_t unsupported_data = 1003;
constexpr uint16_t no_status = 1005;  // never sent: a close frame without a code
constexpr uint16_t abnormal = 1006;   // never sent: the connection ended without a close frame
constexpr uint16_t invalid_payload = 1007;
constexpr uint16_t policy_violation = 1008;
constexpr uint16_t message_too_big = 1009;
constexpr uint16_t mandatory_extension = 1010;
constexpr uint16_t internal_error = 1011;
constexpr uint16_t try_again_later = 1013;
}  // namespace close_code

// Whether `code` may appear in a close frame on the wire (1000-1003, 1007-1011, 1012-1014, 3000-4999).
bool is_valid_close_code(uint16_t code) noexcept;

// Streaming UTF-8 validation (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF): a
// sequence may be split across feed() calls. ASCII runs are checked eight bytes at a time.
class Utf8Validator {
 public:
  // False once an invalid byte was seen (sticky).
  bool feed(std::string_view s) noexcept;
  // True when the input so far is valid and does not end inside a sequence.
  bool complete() const noexcept { return !failed_ && need_ == 0; }
  void reset() noexcept { *this = {}; }

 private:
  uint8_t need_ = 0;               // continuation bytes still expected
  uint8_t lo_ = 0x80, hi_ = 0xbf;  // the allowed range of the next continuation byte
  bool failed_ = false;
};

bool is_valid_utf8(std::string_view s) noexcept;

struct ParserOptions {
  bool server = true;                     // expects masked frames (a client expects unmasked ones)
  bool rsv1_allowed = false;              // permessage-deflate was negotiated
  uint64_t max_message_size = 16u << 20;  // 1009 past it (payload bytes on the wire)
};

class FrameParser {
 public:
  enum class Event : uint8_t {
    need_more,  // all input consumed
    message,    // message(): opcode text or binary, payload, compressed (RSV1 on its first frame)
    control,    // message(): close, ping or pong with its payload (at most 125 bytes)
    error,      // error_code() / error_reason(); sticky
  };
  struct Message {
    Opcode opcode = Opcode::text;
    std::string_view payload;
    bool compressed = false;
  };

  explicit FrameParser(const ParserOptions& options = {}) noexcept : options_(options) {}
  void set_options(const ParserOptions& options) noexcept { options_ = options; }

  // Consumes from [data, data+len) up to and including the frame that completes an event; *consumed is
  // the byte count used. The event's payload stays valid until the next call.
  Event next(const char* data, std::size_t len, std::size_t* consumed);

  Message message() const noexcept {
    const bool data = event_op_ == Opcode::text || event_op_ == Opcode::binary;
    return {event_op_, data ? std::string_view(message_) : std::string_view(control_),
            data && event_compressed_};
  }
  uint16_t error_code() const noexcept { return error_code_; }
  const char* error_reason() const noexcept { return error_reason_; }
  bool in_message() const noexcept { return in_message_; }
  // Frees the assembly buffers (between messages).
  void release_memory() noexcept;

 private:
  Event fail(uint16_t code, const char* reason) noexcept;
  // The header in hdr_ is complete: check it and set up the frame.
  Event start_frame() noexcept;
  Event finish_frame();

  ParserOptions options_;
  std::string message_;     // the data message being assembled (unmasked)
  std::string control_;     // the control frame being read
  uint64_t remaining_ = 0;  // payload bytes left in the current frame
  uint8_t hdr_[14];
  uint8_t hdr_len_ = 0;
  uint8_t hdr_need_ = 2;
  uint8_t mask_[4] = {0, 0, 0, 0};
  uint8_t mask_off_ = 0;
  Opcode event_op_ = Opcode::text;  // the last event's (its payload: message_ or control_)
  bool event_compressed_ = false;
  Opcode frame_op_ = Opcode::continuation;
  Opcode message_op_ = Opcode::text;
  bool in_header_ = true;
  bool fin_ = false;
  bool masked_ = false;
  bool in_message_ = false;
  bool compressed_ = false;
  bool delivered_ = false;  // the last event's buffer must be cleared before the next frame fills it
  Utf8Validator utf8_;
  uint16_t error_code_ = 0;
  const char* error_reason_ = nullptr;
};

// ---- writing ----------------------------------------------------------------------------------------------

constexpr std::size_t kMaxHeaderSize = 14;

// Writes a frame header into `out` (at least kMaxHeaderSize bytes) and returns its size. `mask` (4 bytes)
// is set on a client's frames; the payload must then be masked with it (mask_payload).
std::size_t write_header(uint8_t* out, Opcode op, uint64_t payload_size, bool fin = true, bool rsv1 = false,
                         const uint8_t* mask = nullptr) noexcept;
// XORs `data` with the key, starting at key position `offset` (mod 4).
void mask_payload(char* data, std::size_t size, const uint8_t mask[4], std::size_t offset = 0) noexcept;
// Appends a whole frame to `out`.
void append_frame(std::string& out, Opcode op, std::string_view payload, bool fin = true, bool rsv1 = false,
                  const uint8_t* mask = nullptr);

// A close frame's payload: the code (omitted when 0) and a reason cut to fit 123 bytes at a UTF-8 boundary.
std::string close_payload(uint16_t code, std::string_view reason);
struct ClosePayload {
  uint16_t code = close_code::no_status;  // no_status when the payload was empty
  std::string_view reason;
  uint16_t error = 0;  // non-zero: the payload is invalid, close with this code
};
ClosePayload parse_close_payload(std::string_view payload) noexcept;

}  // namespace waitless::http::ws
