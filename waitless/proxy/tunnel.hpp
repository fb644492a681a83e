// Tunnel: after a switch of protocols (101, upgrade.hpp), the proxy copies bytes both ways between the
// client's socket and the upstream's, without understanding them (WebSocket or any other Upgrade token).
//
// Backpressure both ways: a side is read only while the other side's write queue is at most high_water;
// once over it, reading stops and resumes when that queue falls to low_water (so a tunnel holds at most
// about high_water + one read per direction, whatever the peers do).
//
// Ending: a FIN from one side is passed on as a FIN to the other (half-close: the other direction goes
// on); when both directions have ended and the queues are sent, the tunnel closes. An error (reset,
// broken pipe) on either side closes both at once. No byte either way for idle_timeout closes both.
//
// The tunnel owns itself: started by start_tunnel(), it frees itself once closed. It joins the client's
// server (http::UpgradedSession): at a graceful shutdown it half-closes both sides (the peers see the
// end of the stream and close), at the shutdown's deadline it closes at once. on_close runs once when
// the tunnel closes (the proxy's gauge of open tunnels).
#pragma once
#include <cstddef>
#include <functional>
#include <system_error>

#include "waitless/http/upgrade.hpp"
#include "waitless/loop/loop.hpp"

namespace waitless::proxy {

struct TunnelOptions {
  Duration idle_timeout = std::chrono::hours(1);  // zero: none
  std::size_t high_water = std::size_t{256} * 1024;
  std::size_t low_water = std::size_t{64} * 1024;
};

struct TunnelStats {
  std::size_t open = 0;        // tunnels open on this thread now
  std::size_t max_queued = 0;  // the largest write queue any tunnel side had (tests: bounded buffering)
};

// Both sockets must be on the current loop. Errors (both fds closed, on_close not called): the fds
// cannot be watched.
std::error_code start_tunnel(http::Upgraded client, http::Upgraded upstream, const TunnelOptions& options,
                             std::function<void()> on_close);

// This thread's tunnels (tests).
TunnelStats tunnel_stats() noexcept;

}  // namespace waitless::proxy
