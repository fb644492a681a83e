// accept_websocket: the server side of the opening handshake, from a request handler to a WebSocket.
#include "waitless/base/log.hpp"
#include "waitless/http/request.hpp"
#include "waitless/http/response.hpp"
#include "waitless/http/websocket.hpp"

namespace waitless::http {

std::error_code accept_websocket(Request& req, Response& res, std::shared_ptr<const WebSocketConfig> config,
                                 std::any user_data, std::string_view extra_headers) {
  if (!config) return Error::invalid_argument;
  ws::Handshake hs = ws::server_handshake(req, config->options.handshake, extra_headers);
  if (hs.status != 101) {
    log::debug("websocket: handshake refused ({}): {}", hs.status, hs.error);
    if (hs.status == 426) (void)res.set_header("Sec-WebSocket-Version", "13");
    (void)res.send(hs.status, hs.error, "text/plain");
    return Error::protocol_error;
  }
  WebSocket::Setup setup;
  setup.protocol = std::move(hs.protocol);
  setup.deflate = hs.deflate;
  setup.user_data = std::move(user_data);
  // The sink holds what the WebSocket needs until the handover (a microtask after this call returns).
  auto pending = std::make_shared<WebSocket::Setup>(std::move(setup));
  return switch_protocols(res, hs.head, [config = std::move(config), pending](Result<Upgraded> up) mutable {
    if (!up) return;  // the client left before the handover
    (void)WebSocket::start(std::move(up.value()), std::move(config), std::move(*pending));
  });
}

}  // namespace waitless::http
