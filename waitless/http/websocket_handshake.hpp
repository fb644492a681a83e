// The WebSocket opening handshake (RFC 6455 section 4): the server's validation of an upgrade request and
// its 101 response, the client's key and its check of the server's answer. Sec-WebSocket-Accept is
// base64(SHA-1(key + the RFC's GUID)), computed with OpenSSL (http sits below web, so not web/base64).
#pragma once
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "waitless/http/request.hpp"
#include "waitless/http/websocket_deflate.hpp"

namespace waitless::http::ws {

struct HandshakeOptions {
  // Subprotocols this server speaks, in its order of preference; the first one the client also offers
  // (Sec-WebSocket-Protocol) is selected. Empty: none is selected whatever the client offers.
  std::vector<std::string> subprotocols;
  // The Origin values accepted (exact, ASCII case-insensitive); empty with no check_origin: any, including
  // none (non-browser clients send none). A refused origin gets 403.
  std::vector<std::string> allowed_origins;
  std::function<bool(std::string_view origin)> check_origin;
  DeflateOptions deflate;
};

struct Handshake {
  int status = 101;                      // 101, or the error status: 400, 403, 405 (not GET), 426 (version)
  const char* error = nullptr;           // why, for the response body and the log
  std::string head;                      // the 101 response head, complete (status line to blank line)
  std::string protocol;                  // the selected subprotocol, or empty
  std::optional<DeflateParams> deflate;  // the agreed permessage-deflate parameters
};

// Validates `req` as an opening handshake (GET, HTTP/1.1, Upgrade: websocket, Connection: upgrade,
// Sec-WebSocket-Version: 13, a Sec-WebSocket-Key of 16 base64 bytes, the Origin check) and builds the
// response. `extra_headers`: more "Name: value\r\n" lines for the 101.
Handshake server_handshake(const Request& req, const HandshakeOptions& options,
                           std::string_view extra_headers = {});

std::string accept_key(std::string_view client_key);
bool valid_client_key(std::string_view key) noexcept;
// A fresh random key (16 random bytes, base64).
std::string make_client_key();
// Whether a comma-separated field value holds `token` (ASCII case-insensitive).
bool has_token(std::string_view list, std::string_view token) noexcept;

}  // namespace waitless::http::ws
