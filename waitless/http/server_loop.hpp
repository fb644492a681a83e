// ServerLoop (internal): the HTTP server's state on one loop. Owns that loop's listener, its connections,
// the loop-wide output buffer (the receive buffer is the transport's, one per loop), the pools of exchanges
// and connection states, the Date cache and one 1-second timer that refreshes the date and sweeps connection
// deadlines (and, during a graceful shutdown, one timer that ends the idle connections' grace and one for
// the deadline). Nothing here is shared with another loop; the configuration it reads is immutable.
#pragma once
#include <netinet/in.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "waitless/base/intrusive_list.hpp"
#include "waitless/base/result.hpp"
#include "waitless/http/date_cache.hpp"
#include "waitless/http/server_connection.hpp"
#include "waitless/http/server_options.hpp"
#include "waitless/http/upgrade.hpp"
#include "waitless/loop/second_tick.hpp"
#include "waitless/loop/timer.hpp"
#include "waitless/net/tcp_listener.hpp"
#include "waitless/net/tls_context.hpp"

namespace waitless::http::detail {

// The immutable part, shared by every loop of a server.
struct SessionTag;

struct ServerConfig {
  Handler handler;
  SyncHandler sync_handler;
  HandlerChooser chooser;
  ServerOptions options;
  std::string server_line;  // "Server: name\r\n" or empty
};

class ServerLoop {
 public:
  ServerLoop(Loop& loop, std::shared_ptr<const ServerConfig> config);
  ~ServerLoop();
  ServerLoop(const ServerLoop&) = delete;
  ServerLoop& operator=(const ServerLoop&) = delete;

  // Listens and starts accepting; returns the bound port. With `tls`, every connection speaks TLS.
  Result<uint16_t> listen(const net::ListenOptions& options, std::shared_ptr<net::TlsContext> tls = nullptr);
  // Takes an accepted fd (non-blocking) as a connection; the listener calls this.
  void adopt(int fd);
  // Graceful shutdown: stop accepting, finish in-flight requests (their last response says
  // Connection: close); idle connections get options.shutdown_idle_grace (at most `deadline`) to send one
  // more request, answered with Connection: close, then close; after `deadline` close the rest, cancelling
  // handlers.
  // `done` runs once nothing is left (no connection, no handler): the loop can then end.
  void shutdown(std::chrono::milliseconds deadline, std::function<void()> done = {});
  bool finished() const noexcept {
    return shutting_down_ && connections_ == 0 && exchanges_out_ == 0 && sessions_.empty();
  }

  Loop& loop() const noexcept { return loop_; }
  const ServerConfig& config() const noexcept { return *config_; }
  const Limits& limits() const noexcept { return config_->options.limits; }
  const DateCache& date() const noexcept { return date_; }
  // "HTTP/1.1 200 OK\r\n" + Server line + Date line, rebuilt when the date changes: most responses start
  // with one copy of it.
  std::string_view prefix_200() const noexcept { return prefix_200_; }
  std::size_t connection_count() const noexcept { return connections_; }
  net::TlsContext* tls() const noexcept { return tls_.get(); }
  uint16_t port() const noexcept { return listener_ ? listener_->port() : 0; }

  // For connections.
  OutBuffer& shared_out() noexcept { return out_; }
  ServerConnection* batching = nullptr;  // the connection whose read is being processed (owns shared_out)
  ConnState* acquire_state();
  void release_state(ConnState* st) noexcept;
  Exchange* acquire_exchange();
  // The one exchange of the sync fast path (a bodiless request, nothing in flight before it, no async
  // handler): used and cleared within one handler call, so one per loop is enough.
  Exchange& fast_exchange() noexcept { return fast_; }
  void release_exchange(Exchange* ex) noexcept;
  // An exchange whose connection closed while its handler runs: kept here until the handler ends.
  void orphan(Exchange& ex) noexcept { orphans_.push_back(ex); }
  void connection_opened(ServerConnection& c) noexcept;
  void connection_closed(ServerConnection& c) noexcept;
  bool shutting_down() const noexcept { return shutting_down_; }
  // Connections upgraded to another protocol (upgrade.hpp): counted by shutdown, told when it begins.
  void session_joined(UpgradedSession& s) noexcept;
  void session_left(UpgradedSession& s) noexcept;
  std::size_t session_count() const noexcept { return sessions_.size(); }
  // A connection's client address (an access log asks for it on every request): getpeername once per
  // connection, then kept by fd (IP peers only) until forget_peer(fd) — a new connection on that fd.
  Result<net::SocketAddress> peer_of(int fd);
  void forget_peer(int fd) noexcept {
    if (fd >= 0 && static_cast<std::size_t>(fd) < peers_.size()) peers_[fd].len = 0;
  }

 private:
  void on_tick() noexcept;
  void start_tick();
  void stop_tick() noexcept;
  void refresh_date() noexcept;
  void check_done() noexcept;
  void end_grace() noexcept;
  void tell_sessions() noexcept;
  void abort_sessions() noexcept;

  Loop& loop_;
  std::shared_ptr<const ServerConfig> config_;
  OutBuffer out_;
  DateCache date_;
  std::string prefix_200_;
  SecondTick tick_;
  Timer deadline_timer_;
  Timer grace_timer_;  // one per loop, not per connection: ends every idle connection's grace at once
  std::unique_ptr<net::TcpListener> listener_;
  std::shared_ptr<net::TlsContext> tls_;
  IntrusiveList<ServerConnection, ConnListTag> conns_;
  IntrusiveList<Exchange, LiveTag> orphans_;
  IntrusiveList<UpgradedSession, SessionTag> sessions_;
  std::size_t connections_ = 0;
  std::size_t exchanges_out_ = 0;  // taken from the pool and not returned
  ConnState* free_states_ = nullptr;
  std::size_t free_state_count_ = 0;
  std::vector<Exchange*> free_exchanges_;
  struct PeerSlot {
    union {
      sockaddr sa;
      sockaddr_in in4;
      sockaddr_in6 in6;
    } addr;
    socklen_t len = 0;  // 0: not known
  };
  std::vector<PeerSlot> peers_;  // by fd, filled on demand (an app that never asks has none)
  Exchange fast_{this};
  bool shutting_down_ = false;
  std::function<void()> done_;
};

}  // namespace waitless::http::detail
