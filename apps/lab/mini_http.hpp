// Minimal HTTP/1.1 message framing for the lab's own thread-per-connection server and its load generator:
// the head up to the blank line, the status or request line, Content-Length and Connection. Deliberately
// small (what a simple blocking server written by hand does), and strict about what it does accept: no
// Transfer-Encoding, no obs-fold, one Content-Length value. waitless's own server uses llhttp instead.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace waitless::lab {

inline constexpr std::size_t kMaxHeadBytes = 16 * 1024;

enum class HeadParse { need_more, complete, bad };

struct MessageHead {
  std::size_t head_bytes = 0;  // through the blank line
  uint64_t content_length = 0;
  bool close = false;               // Connection: close, or HTTP/1.0 without keep-alive
  int status = 0;                   // responses
  std::string_view method, target;  // requests (views into the parsed buffer)
};

// `buf` holds the bytes received so far, starting at a message. need_more until the blank line has
// arrived (bad once kMaxHeadBytes are buffered without it).
HeadParse parse_request_head(std::string_view buf, MessageHead& out);
HeadParse parse_response_head(std::string_view buf, MessageHead& out);

// "GET <target> HTTP/1.1\r\nHost: <host>\r\n\r\n": a keep-alive request with no body.
std::string make_get_request(std::string_view host, std::string_view target);
// "HTTP/1.1 <status> <reason>\r\nContent-Type: text/plain\r\nContent-Length: N\r\n[Connection:
// close\r\n]\r\n<body>"
std::string make_response(int status, std::string_view reason, std::string_view body, bool close);

}  // namespace waitless::lab
