// The WebSocket client: connects to ws://host:port/path or wss://host:port/path, performs the opening
// handshake (RFC 6455 4.1) and starts a client-side WebSocket (websocket.hpp: masked frames out, unmasked
// expected in) with the given handlers. For tests, the gateway and the proxy. wss:// goes through an
// http::Client with TLS (options.tls: a client context, e.g. with a test CA; null: the system's store),
// whose connection hands its TLS session over to the WebSocket with the socket (upgrade.hpp).
//
//   auto ws = co_await connect_websocket(loop, "ws://127.0.0.1:8080/chat", config);
//   if (!ws) co_return;          // refused, a bad answer (Error::protocol_error), timed out...
//   (*ws)->send("hello");        // valid until config->handlers.close has run
//
// The server's answer is checked: 101, Upgrade: websocket, Connection: upgrade, Sec-WebSocket-Accept of
// our key, a subprotocol among those offered, permessage-deflate only if offered and with parameters we
// accept. Bytes that follow the answer's head are the WebSocket's first input.
#pragma once
#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "waitless/async/task.hpp"
#include "waitless/base/result.hpp"
#include "waitless/http/websocket.hpp"
#include "waitless/net/tls_context.hpp"

namespace waitless::http {

struct WebSocketClientOptions {
  std::vector<std::string> protocols;         // Sec-WebSocket-Protocol offers
  std::string origin;                         // sent as Origin when not empty
  std::string extra_headers;                  // "Name: value\r\n" lines
  std::chrono::milliseconds timeout{10'000};  // connect + handshake
  std::size_t max_head = 16 * 1024;           // the server's answer head
  std::shared_ptr<net::TlsContext> tls;       // wss://: the client context (null: the system's CAs)
  std::string tls_server_name;                // wss://: SNI and the name verified (empty: the URL's host)
};

// config->options.handshake.deflate.enabled offers permessage-deflate.
Task<Result<WebSocket*>> connect_websocket(Loop& loop, std::string url,
                                           std::shared_ptr<const WebSocketConfig> config,
                                           WebSocketClientOptions options = {}, std::any user_data = {});

}  // namespace waitless::http
