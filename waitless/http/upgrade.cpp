#include "waitless/http/upgrade.hpp"

#include "waitless/http/server_loop.hpp"

namespace waitless::http {

namespace detail {
// Response's friend: the port behind a response.
struct ResponseAccess {
  static ExchangePort* port(Response& res) noexcept { return res.port_; }
};
ExchangePort* port_of(Response& res) noexcept { return ResponseAccess::port(res); }
}  // namespace detail

std::error_code switch_protocols(Response& res, std::string_view head, UpgradeSink sink) {
  detail::ExchangePort* port = detail::port_of(res);
  if (!port) return Error::closed;
  return port->switch_protocols(head, std::move(sink));
}

bool UpgradedSession::join_server(detail::ServerLoop* server) noexcept {
  if (!server || server_) return false;
  server_ = server;
  server->session_joined(*this);
  return server->shutting_down();
}

void UpgradedSession::leave_server() noexcept {
  if (detail::ServerLoop* s = std::exchange(server_, nullptr)) s->session_left(*this);
}

}  // namespace waitless::http
