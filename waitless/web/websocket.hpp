// WebSocket routes in the App: the route's middleware (auth, rate limits...) run before the upgrade; the
// handler then performs the handshake (http/websocket.hpp) and the connection leaves HTTP.
//
//   auto chat = std::make_shared<http::WebSocketConfig>();
//   chat->handlers.message = [](http::WebSocket& ws, std::string_view m, bool) { http::publish("room", m); };
//   app.get("/chat", require_user(), web::websocket(chat, [](Request& req) -> std::any { return user_of(req);
//   }));
//
// A request that is not a valid handshake is answered there (400/403/405/426 with the reason), and the
// middleware may refuse it before (401 from auth): nothing is upgraded then. The optional `user_data`
// function runs after the middleware; its value becomes the WebSocket's user_data().
#pragma once
#include <any>
#include <functional>
#include <memory>

#include "waitless/http/websocket.hpp"
#include "waitless/web/request.hpp"
#include "waitless/web/response.hpp"

namespace waitless::web {

using WebSocketUserData = std::function<std::any(Request&)>;

// A plain route handler (no coroutine frame) that upgrades the request.
inline auto websocket(std::shared_ptr<const http::WebSocketConfig> config, WebSocketUserData user_data = {}) {
  return [config = std::move(config), user_data = std::move(user_data)](Request& req, Response& res) {
    (void)http::accept_websocket(req.raw(), res.raw(), config, user_data ? user_data(req) : std::any{});
  };
}

}  // namespace waitless::web
