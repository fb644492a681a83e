// Tunnel: after a switch of protocols (101, upgrade.hpp), the proxy copies bytes both ways between the
// client's connection and the upstream's, without understanding them (WebSocket or any other Upgrade token).
// Each side is plain TCP or TLS (a TLS listener, an https upstream): the TLS session comes with the socket
// (http::Upgraded::tls) and the tunnel carries plaintext between the two layers. The bytes each side still
// owed the other at the switch go first: the wire's unsent bytes as they are, then the bytes read past the
// 101 (or the request's head) through the other side's layer.
//
// Backpressure both ways: a side is read only while the other side's write queue (ciphertext toward a TLS
// side) is at most high_water; once over it, reading stops and resumes when that queue falls to low_water
// (so a tunnel holds at most about high_water + one read per direction, whatever the peers do).
//
// Ending: a FIN from one side (over TLS: close_notify, or a FIN between records) is passed on to the other
// as a FIN (toward a TLS side: close_notify, then FIN), a half-close: the other direction goes on. When
// both directions have ended and the queues are sent, the tunnel closes. An error (reset, broken pipe, a
// bad record) on either side closes both at once. No byte either way for idle_timeout closes both.
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

// Both sockets must be on the current loop; each Upgraded's fd and TLS layer are taken. Errors (both fds
// closed): the fds cannot be watched.
std::error_code start_tunnel(http::Upgraded client, http::Upgraded upstream, const TunnelOptions& options,
                             std::function<void()> on_close);

// This thread's tunnels (tests).
TunnelStats tunnel_stats() noexcept;
// Forgets max_queued (tests that bound it for their own tunnels only).
void reset_tunnel_stats() noexcept;

}  // namespace waitless::proxy
