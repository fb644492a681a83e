#include "waitless/http/websocket_frame.hpp"

#include <algorithm>
#include <cstring>

namespace waitless::http::ws {

bool is_valid_close_code(uint16_t code) noexcept {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

// ---- UTF-8 ------------------------------------------------------------------------------------------------

bool Utf8Validator::feed(std::string_view s) noexcept {
  if (failed_) return false;
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  while (p < end) {
    if (need_ == 0) {
      // ASCII runs, a word at a time (memcpy: no alignment or aliasing assumption).
      while (end - p >= 8) {
        uint64_t w;
        std::memcpy(&w, p, 8);
        if (w & 0x8080808080808080ull) break;
        p += 8;
      }
      if (p == end) break;
      const unsigned char c = *p++;
      if (c < 0x80) continue;
      lo_ = 0x80;
      hi_ = 0xbf;
      if (c >= 0xc2 && c <= 0xdf) {
        need_ = 1;
      } else if (c >= 0xe0 && c <= 0xef) {
        need_ = 2;
        if (c == 0xe0) lo_ = 0xa0;  // overlong
        if (c == 0xed) hi_ = 0x9f;  // surrogates
      } else if (c >= 0xf0 && c <= 0xf4) {
        need_ = 3;
        if (c == 0xf0) lo_ = 0x90;  // overlong
        if (c == 0xf4) hi_ = 0x8f;  // above U+10FFFF
      } else {
        failed_ = true;
        return false;
      }
      continue;
    }
    const unsigned char c = *p++;
    if (c < lo_ || c > hi_) {
      failed_ = true;
      return false;
    }
    lo_ = 0x80;
    hi_ = 0xbf;
    --need_;
  }
  return true;
}

bool is_valid_utf8(std::string_view s) noexcept {
  Utf8Validator v;
  return v.feed(s) && v.complete();
}

// ---- parsing ----------------------------------------------------------------------------------------------

namespace {
constexpr std::size_t kKeepCapacity = 64 * 1024;  // a larger assembly buffer is freed after its message

bool known_opcode(uint8_t op) noexcept { return op <= 2 || (op >= 8 && op <= 10); }
}  // namespace

FrameParser::Event FrameParser::fail(uint16_t code, const char* reason) noexcept {
  error_code_ = code;
  error_reason_ = reason;
  return Event::error;
}

void FrameParser::release_memory() noexcept {
  if (!in_message_) std::string().swap(message_);
  std::string().swap(control_);
}

FrameParser::Event FrameParser::next(const char* data, std::size_t len, std::size_t* consumed) {
  *consumed = 0;
  if (error_code_) return Event::error;
  if (delivered_) {
    // The previous event's payload is no longer the caller's.
    delivered_ = false;
    if (event_op_ == Opcode::text || event_op_ == Opcode::binary) {
      if (message_.capacity() > kKeepCapacity) {
        std::string().swap(message_);
      } else {
        message_.clear();
      }
    } else {
      control_.clear();
    }
  }
  const char* p = data;
  const char* end = data + len;
  auto early = [&](const char* at, uint16_t code, const char* reason) {
    *consumed = static_cast<std::size_t>(at - data);
    return fail(code, reason);
  };
  while (p < end) {
    if (in_header_) {
      while (hdr_len_ < hdr_need_ && p < end) hdr_[hdr_len_++] = static_cast<uint8_t>(*p++);
      if (hdr_len_ < hdr_need_) break;
      if (hdr_len_ == 2) {
        const uint8_t len7 = hdr_[1] & 0x7f;
        hdr_need_ = static_cast<uint8_t>(2 +
                                         (len7 == 126   ? 2
                                          : len7 == 127 ? 8
                                                        : 0) +
                                         ((hdr_[1] & 0x80) ? 4 : 0));
        // The first two bytes decide most violations: report them without waiting for more input.
        const uint8_t op = hdr_[0] & 0x0f;
        const bool fin = hdr_[0] & 0x80;
        const bool rsv1 = hdr_[0] & 0x40;
        if (hdr_[0] & 0x30) return early(p, close_code::protocol_error, "RSV2/RSV3 set");
        if (rsv1 && !options_.rsv1_allowed) {
          return early(p, close_code::protocol_error, "RSV1 set without an extension");
        }
        if (!known_opcode(op)) return early(p, close_code::protocol_error, "unknown opcode");
        const bool masked = hdr_[1] & 0x80;
        if (options_.server && !masked) {
          return early(p, close_code::protocol_error, "unmasked client frame");
        }
        if (!options_.server && masked) {
          return early(p, close_code::protocol_error, "masked server frame");
        }
        if (op & 0x8) {
          if (!fin) return early(p, close_code::protocol_error, "fragmented control frame");
          if (len7 > 125) return early(p, close_code::protocol_error, "control frame > 125 bytes");
          if (rsv1) return early(p, close_code::protocol_error, "RSV1 on a control frame");
        } else if (op == 0) {
          if (!in_message_) {
            return early(p, close_code::protocol_error, "continuation without a message");
          }
          if (rsv1) return early(p, close_code::protocol_error, "RSV1 on a continuation");
        } else if (in_message_) {
          return early(p, close_code::protocol_error, "new message inside a fragmented one");
        }
        if (hdr_len_ < hdr_need_) continue;
      }
      Event e = start_frame();
      if (e != Event::need_more) {
        *consumed = static_cast<std::size_t>(p - data);
        return e;
      }
      continue;
    }
    const bool control = is_control(frame_op_);
    std::string& dst = control ? control_ : message_;
    const auto n = static_cast<std::size_t>(std::min<uint64_t>(remaining_, static_cast<uint64_t>(end - p)));
    const std::size_t old = dst.size();
    dst.append(p, n);
    if (masked_) {
      mask_payload(dst.data() + old, n, mask_, mask_off_);
      mask_off_ = static_cast<uint8_t>((mask_off_ + n) & 3);
    }
    p += n;
    remaining_ -= n;
    if (!control && message_op_ == Opcode::text && !compressed_ &&
        !utf8_.feed(std::string_view(dst.data() + old, n))) {
      *consumed = static_cast<std::size_t>(p - data);
      return fail(close_code::invalid_payload, "invalid UTF-8 in a text message");
    }
    if (remaining_ == 0) {
      Event e = finish_frame();
      if (e != Event::need_more) {
        *consumed = static_cast<std::size_t>(p - data);
        return e;
      }
    }
  }
  *consumed = static_cast<std::size_t>(p - data);
  return Event::need_more;
}

FrameParser::Event FrameParser::start_frame() noexcept {
  const uint8_t len7 = hdr_[1] & 0x7f;
  std::size_t at = 2;
  uint64_t length = len7;
  if (len7 == 126) {
    length = (uint64_t{hdr_[2]} << 8) | hdr_[3];
    at = 4;
  } else if (len7 == 127) {
    length = 0;
    for (int i = 0; i < 8; ++i) length = (length << 8) | hdr_[2 + i];
    at = 10;
    if (length >> 63) return fail(close_code::protocol_error, "frame length with its top bit set");
  }
  masked_ = hdr_[1] & 0x80;
  if (masked_) std::memcpy(mask_, hdr_ + at, 4);
  mask_off_ = 0;
  fin_ = hdr_[0] & 0x80;
  frame_op_ = static_cast<Opcode>(hdr_[0] & 0x0f);
  in_header_ = true;
  hdr_len_ = 0;
  hdr_need_ = 2;
  if (!is_control(frame_op_)) {
    const uint64_t so_far = in_message_ ? message_.size() : 0;
    if (length > options_.max_message_size || so_far + length > options_.max_message_size) {
      return fail(close_code::message_too_big, "message larger than the limit");
    }
    if (frame_op_ != Opcode::continuation) {
      in_message_ = true;
      message_op_ = frame_op_;
      compressed_ = hdr_[0] & 0x40;
      utf8_.reset();
      message_.clear();
    }
  }
  remaining_ = length;
  if (length == 0) return finish_frame();
  in_header_ = false;
  return Event::need_more;
}

FrameParser::Event FrameParser::finish_frame() {
  in_header_ = true;
  if (is_control(frame_op_)) {
    event_op_ = frame_op_;
    delivered_ = true;
    return Event::control;
  }
  if (!fin_) return Event::need_more;
  in_message_ = false;
  if (message_op_ == Opcode::text && !compressed_ && !utf8_.complete()) {
    return fail(close_code::invalid_payload, "truncated UTF-8 sequence in a text message");
  }
  event_op_ = message_op_;
  event_compressed_ = compressed_;
  delivered_ = true;
  return Event::message;
}

// ---- writing ----------------------------------------------------------------------------------------------

std::size_t write_header(uint8_t* out, Opcode op, uint64_t payload_size, bool fin, bool rsv1,
                         const uint8_t* mask) noexcept {
  out[0] = static_cast<uint8_t>((fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | static_cast<uint8_t>(op));
  const uint8_t mbit = mask ? 0x80 : 0;
  std::size_t n;
  if (payload_size < 126) {
    out[1] = static_cast<uint8_t>(mbit | payload_size);
    n = 2;
  } else if (payload_size <= 0xffff) {
    out[1] = mbit | 126;
    out[2] = static_cast<uint8_t>(payload_size >> 8);
    out[3] = static_cast<uint8_t>(payload_size);
    n = 4;
  } else {
    out[1] = mbit | 127;
    for (int i = 0; i < 8; ++i) out[2 + i] = static_cast<uint8_t>(payload_size >> (56 - 8 * i));
    n = 10;
  }
  if (mask) {
    std::memcpy(out + n, mask, 4);
    n += 4;
  }
  return n;
}

void mask_payload(char* data, std::size_t size, const uint8_t mask[4], std::size_t offset) noexcept {
  std::size_t i = 0;
  // Align the key to the start, then XOR eight bytes at a time with the key repeated.
  uint8_t key[8];
  for (int k = 0; k < 8; ++k) key[k] = mask[(offset + static_cast<std::size_t>(k)) & 3];
  uint64_t wide;
  std::memcpy(&wide, key, 8);
  for (; i + 8 <= size; i += 8) {
    uint64_t w;
    std::memcpy(&w, data + i, 8);
    w ^= wide;
    std::memcpy(data + i, &w, 8);
  }
  for (; i < size; ++i) data[i] = static_cast<char>(data[i] ^ key[i & 7]);
}

void append_frame(std::string& out, Opcode op, std::string_view payload, bool fin, bool rsv1,
                  const uint8_t* mask) {
  uint8_t header[kMaxHeaderSize];
  const std::size_t h = write_header(header, op, payload.size(), fin, rsv1, mask);
  const std::size_t at = out.size();
  out.append(reinterpret_cast<const char*>(header), h);
  out.append(payload);
  if (mask) mask_payload(out.data() + at + h, payload.size(), mask);
}

std::string close_payload(uint16_t code, std::string_view reason) {
  if (code == 0) return {};
  std::string out;
  out.push_back(static_cast<char>(code >> 8));
  out.push_back(static_cast<char>(code & 0xff));
  if (reason.size() > 123) {
    std::size_t n = 123;
    while (n > 0 && (static_cast<unsigned char>(reason[n]) & 0xc0) == 0x80) --n;  // not inside a sequence
    reason = reason.substr(0, n);
  }
  out.append(reason);
  return out;
}

ClosePayload parse_close_payload(std::string_view payload) noexcept {
  ClosePayload c;
  if (payload.empty()) return c;
  if (payload.size() == 1) {
    c.error = close_code::protocol_error;
    return c;
  }
  c.code = static_cast<uint16_t>((static_cast<uint8_t>(payload[0]) << 8) | static_cast<uint8_t>(payload[1]));
  c.reason = payload.substr(2);
  if (!is_valid_close_code(c.code)) {
    c.error = close_code::protocol_error;
  } else if (!is_valid_utf8(c.reason)) {
    c.error = close_code::invalid_payload;
  }
  return c;
}

}  // namespace waitless::http::ws
