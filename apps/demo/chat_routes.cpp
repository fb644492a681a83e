// /ws/chat?room=R&name=N: chat rooms over WebSocket. A client joins room R (subscribes to its topic);
// each text message it sends ({"text": "..."} or plain text, at most 2000 characters) is published to the
// room as {"type":"message","room","from","text","t"}; joins and leaves are announced. POST /api/broadcast
// {"text"} sends an announcement to every room (the page's "broadcast" button).
#include <chrono>

#include "apps/demo/context.hpp"

namespace waitless::demo {
namespace {

struct ChatUser {
  std::string room;
  std::string name;
};

bool valid_word(std::string_view s) {
  if (s.empty() || s.size() > 32) return false;
  for (char c : s) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string event(std::string_view type, const ChatUser& u, std::string_view text) {
  return web::to_json(web::Json(web::json::object{
      {"type", type}, {"room", u.room}, {"from", u.name}, {"text", text}, {"t", now_ms()}}));
}

const ChatUser& user_of(http::WebSocket& ws) {
  return *std::any_cast<std::shared_ptr<ChatUser>>(ws.user_data());
}

}  // namespace

void add_chat_routes(web::App& app, DemoContext& ctx) {
  auto config = std::make_shared<http::WebSocketConfig>();
  Stats* stats = ctx.stats;
  config->options.max_message_size = 64 * 1024;
  config->handlers.open = [stats](http::WebSocket& ws) {
    stats->websocket_opened();
    const ChatUser& u = user_of(ws);
    ws.subscribe("chat:" + u.room);
    ws.subscribe("chat:*");
    web::App::publish("chat:" + u.room, event("join", u, u.name + " joined"));
  };
  config->handlers.message = [stats](http::WebSocket& ws, std::string_view message, bool binary) {
    if (binary) return;
    const ChatUser& u = user_of(ws);
    std::string text(message);
    if (auto j = web::parse_json(message); j && j->is_object()) {
      if (const auto* t = j->as_object().if_contains("text"); t && t->is_string())
        text = std::string(t->as_string());
    }
    if (text.empty() || text.size() > 2000) return;
    stats->count_chat_message();
    web::App::publish("chat:" + u.room, event("message", u, text));
  };
  config->handlers.close = [stats](http::WebSocket& ws, uint16_t, std::string_view) {
    stats->websocket_closed();
    const ChatUser& u = user_of(ws);
    web::App::publish("chat:" + u.room, event("leave", u, u.name + " left"));
  };

  app.get("/ws/chat", web::websocket(config, [](web::Request& req) -> std::any {
            auto room = req.query("room").value_or("lobby");
            auto name = req.query("name").value_or("guest");
            if (!valid_word(room)) bad_field("room", "1 to 32 characters of [A-Za-z0-9_-]");
            if (!valid_word(name)) bad_field("name", "1 to 32 characters of [A-Za-z0-9_-]");
            return std::make_shared<ChatUser>(ChatUser{std::string(room), std::string(name)});
          }));

  app.post("/api/broadcast", web::json_body({.limit = 8 * 1024}), [](web::Request& req, web::Response& res) {
    const web::Json& body = req.json();
    const auto* text = body.is_object() ? body.as_object().if_contains("text") : nullptr;
    if (text == nullptr || !text->is_string() || text->as_string().empty() ||
        text->as_string().size() > 2000) {
      bad_field("text", "must be a string of 1 to 2000 characters");
    }
    const ChatUser server{"*", "server"};
    const std::size_t reached = web::App::publish("chat:*", event("broadcast", server, text->as_string()));
    res.json(web::json::object{{"delivered", reached}});
  });
}

}  // namespace waitless::demo
