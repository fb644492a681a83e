// permessage-deflate (RFC 7692): negotiation of the extension's parameters and the per-message
// compressor/decompressor (raw deflate, the trailing 00 00 ff ff of a sync flush removed on the wire).
//
// Memory: with context takeover each direction keeps a zlib stream per connection (deflate: ~2^(w+2) +
// 2^(m+9) bytes, 256 KiB at 15/8; inflate ~2^w + 7 KiB), created on the first compressed message, never
// at rest. Without it (the defaults, *_no_context_takeover) a connection holds no zlib state at all: every
// message is compressed or inflated with the thread's shared stream for its window size, reset after use.
// The inflated size is capped (a zip bomb is refused with 1009 after at most cap + 16 KiB of output);
// messages shorter than `threshold` are sent uncompressed (deflate only costs there).
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace waitless::http::ws {

struct DeflateOptions {
  bool enabled = false;
  // Ask for no context takeover in each direction (the server may require it for the client's messages
  // too: RFC 7692 7.1.1.2). False keeps a per-connection window: better ratios, far more memory.
  bool server_no_context_takeover = true;
  bool client_no_context_takeover = true;
  int server_max_window_bits = 15;  // 9..15 (zlib cannot write raw deflate with an 8-bit window)
  int client_max_window_bits = 15;  // 8..15, asked of the client when it offers the parameter
  std::size_t threshold = 64;       // messages shorter than this are sent uncompressed
  int level = 1;                    // zlib level (1: fastest)
  int mem_level = 8;
};

// What was agreed: our side's sending and receiving parameters.
struct DeflateParams {
  bool server_no_context_takeover = false;
  bool client_no_context_takeover = false;
  int server_max_window_bits = 15;
  int client_max_window_bits = 15;
  // The Sec-WebSocket-Extensions value of the server's response.
  std::string response() const;
};

// Server: picks the first acceptable permessage-deflate offer of a Sec-WebSocket-Extensions value (the
// fields joined by ", "), or none.
std::optional<DeflateParams> negotiate_deflate(std::string_view offers, const DeflateOptions& options);
// Client: the offer to send, and the check of the server's answer (nullopt: refused, fail the connection).
std::string deflate_offer(const DeflateOptions& options);
std::optional<DeflateParams> accept_deflate_response(std::string_view response,
                                                     const DeflateOptions& options);

// One direction's compressor.
class MessageDeflater {
 public:
  MessageDeflater(int window_bits, bool no_context_takeover, int level, int mem_level) noexcept;
  ~MessageDeflater();
  MessageDeflater(const MessageDeflater&) = delete;
  MessageDeflater& operator=(const MessageDeflater&) = delete;
  // Appends the compressed form of `in` to `out`. False on a zlib failure (out unchanged in size).
  bool compress(std::string_view in, std::string& out);

 private:
  struct Stream;
  std::unique_ptr<Stream> own_;  // context takeover only
  int window_bits_, level_, mem_level_;
  bool no_context_takeover_;
};

class MessageInflater {
 public:
  enum class Status : uint8_t { ok, too_big, error };
  MessageInflater(int window_bits, bool no_context_takeover) noexcept;
  ~MessageInflater();
  MessageInflater(const MessageInflater&) = delete;
  MessageInflater& operator=(const MessageInflater&) = delete;
  // Replaces `out` with the inflated message; too_big once more than `cap` bytes would come out.
  Status inflate(std::string_view in, std::string& out, uint64_t cap);

 private:
  struct Stream;
  std::unique_ptr<Stream> own_;
  int window_bits_;
  bool no_context_takeover_;
};

}  // namespace waitless::http::ws
