#include "waitless/http/upgrade.hpp"

#include "waitless/http/server_loop.hpp"

namespace waitless::http {

namespace detail {
// Response's friend: the exchange behind a response.
struct ResponseAccess {
  static Exchange* exchange(Response& res) noexcept { return res.ex_; }
};
Exchange* exchange_of(Response& res) noexcept { return ResponseAccess::exchange(res); }
}  // namespace detail

std::error_code switch_protocols(Response& res, std::string_view head, UpgradeSink sink) {
  detail::Exchange* ex = detail::exchange_of(res);
  if (!ex || !ex->conn) return Error::closed;
  return ex->conn->switch_protocols(*ex, head, std::move(sink));
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
