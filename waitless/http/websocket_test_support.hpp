// For tests only: a blocking WebSocket client on raw sockets (TestClient), so a test can send any bytes —
// unmasked frames, broken UTF-8, bombs — and read the server's frames as they are on the wire.
#pragma once
#include <optional>
#include <string>
#include <string_view>

#include "waitless/http/test_client.hpp"
#include "waitless/http/websocket_deflate.hpp"
#include "waitless/http/websocket_frame.hpp"

namespace waitless::http::testing {

inline constexpr std::string_view kSampleKey = "dGhlIHNhbXBsZSBub25jZQ==";  // RFC 6455 1.3

inline std::string ws_request(std::string_view path = "/", std::string_view extra = {}) {
  return "GET " + std::string(path) +
         " HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " +
         std::string(kSampleKey) + "\r\nSec-WebSocket-Version: 13\r\n" + std::string(extra) + "\r\n";
}

struct WireFrame {
  uint8_t opcode = 0;
  bool fin = false;
  bool rsv1 = false;
  std::string payload;
  uint16_t close_code() const {
    return payload.size() >= 2 ? static_cast<uint16_t>((static_cast<uint8_t>(payload[0]) << 8) |
                                                       static_cast<uint8_t>(payload[1]))
                               : 0;
  }
};

class RawWebSocket {
 public:
  explicit RawWebSocket(uint16_t port, int timeout_ms = 5000) : c_(port, timeout_ms) {}
  TestClient& http() { return c_; }

  // Sends the upgrade request (plus `after`, in the same write) and reads the response head.
  std::optional<TestResponse> open(std::string_view extra = {}, std::string_view after = {}) {
    if (!c_.send(ws_request("/", extra) + std::string(after))) return std::nullopt;
    return c_.read_response(true);
  }
  // A masked client frame.
  static std::string frame(ws::Opcode op, std::string_view payload, bool fin = true, bool rsv1 = false) {
    static constexpr uint8_t kMask[4] = {0xa1, 0xb2, 0xc3, 0xd4};
    std::string out;
    ws::append_frame(out, op, payload, fin, rsv1, kMask);
    return out;
  }
  bool send(std::string_view bytes) { return c_.send(bytes); }
  bool send_frame(ws::Opcode op, std::string_view payload, bool fin = true, bool rsv1 = false) {
    return c_.send(frame(op, payload, fin, rsv1));
  }
  // The next frame from the server; nullopt on EOF or timeout.
  std::optional<WireFrame> read_frame() {
    std::string& b = c_.buffered();
    if (!need(2)) return std::nullopt;
    WireFrame f;
    const auto b0 = static_cast<uint8_t>(b[0]), b1 = static_cast<uint8_t>(b[1]);
    f.fin = b0 & 0x80;
    f.rsv1 = b0 & 0x40;
    f.opcode = b0 & 0x0f;
    uint64_t len = b1 & 0x7f;
    std::size_t at = 2;
    if (len == 126) {
      if (!need(4)) return std::nullopt;
      len = (uint64_t{static_cast<uint8_t>(b[2])} << 8) | static_cast<uint8_t>(b[3]);
      at = 4;
    } else if (len == 127) {
      if (!need(10)) return std::nullopt;
      len = 0;
      for (int i = 0; i < 8; ++i) len = (len << 8) | static_cast<uint8_t>(b[2 + static_cast<std::size_t>(i)]);
      at = 10;
    }
    if (b1 & 0x80) return std::nullopt;  // a server never masks
    if (!need(at + len)) return std::nullopt;
    f.payload = b.substr(at, len);
    b.erase(0, at + len);
    return f;
  }
  bool closed_within(int ms) { return c_.closed_within(ms); }

 private:
  bool need(std::size_t n) {
    std::string& b = c_.buffered();
    while (b.size() < n) {
      char tmp[65536];
      ssize_t r = ::recv(c_.fd(), tmp, sizeof tmp, 0);
      if (r <= 0) return false;
      b.append(tmp, static_cast<std::size_t>(r));
    }
    return true;
  }
  TestClient c_;
};

}  // namespace waitless::http::testing
