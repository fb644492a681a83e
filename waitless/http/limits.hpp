// Every limit and timeout of the HTTP/1.1 server, with its safe default and the answer when it is crossed.
// One struct so a deployment can see (and a test can cross) every bound in one place.
#pragma once
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace waitless::http {

// A body buffer is reserved up to this much when its length is declared; it grows as bytes arrive beyond
// (geometrically: a 1 MiB body costs a handful of reallocations). Small on purpose: a declared length is
// the client's claim, and a flood of heads declaring large bodies must not make the server reserve more
// than a few KiB for each (tests/reliability: "RLIMIT_AS ... heads declaring 1 MiB bodies").
inline constexpr uint64_t kMaxBodyReserve = 4 * 1024;

struct Limits {
  // Request line + header fields, counted from the first byte of the method to the end of the blank line
  // (both CRLFs included). A head of exactly this size is accepted; one byte more is answered 431.
  std::size_t max_head_size = 16 * 1024;
  // Header fields per request (trailer fields count separately against the same bound). More: 431.
  std::size_t max_headers = 100;
  // Request body, Content-Length or chunked: 413 (at once when Content-Length announces more).
  uint64_t max_body_size = 1024 * 1024;
  // Bytes of chunk extensions (names + values) on one chunk-size line. More: 400.
  std::size_t max_chunk_extension = 16 * 1024;
  // Requests of one connection whose handlers are still running before the server stops reading it
  // (pipelined requests beyond this wait in the socket buffer).
  std::size_t max_in_flight = 64;
  // Unsent response bytes queued for one connection above which the server stops reading its requests
  // (a client that pipelines without reading cannot grow memory without bound); reading resumes below
  // write_low_water. `co_await res.drain()` waits for the low-water mark too.
  std::size_t write_high_water = 256 * 1024;
  std::size_t write_low_water = 64 * 1024;
  // An unread request body this small is read and discarded after the response, keeping the connection;
  // a larger one closes the connection after the response (Connection: close).
  uint64_t max_drain = 64 * 1024;

  // Time from the first byte of a request to the end of its head: 408, close.
  std::chrono::milliseconds headers_timeout{60'000};
  // Time without a body byte while the server is reading a body: 408, close.
  std::chrono::milliseconds body_timeout{30'000};
  // Idle time between requests on a keep-alive connection (longer than common load-balancer idle
  // timeouts, so the balancer closes first): close without a response.
  std::chrono::milliseconds keep_alive_timeout{65'000};
  // Time from the accept of a TLS connection to the end of its handshake (and to its first request's
  // bytes): close without a word.
  std::chrono::milliseconds tls_handshake_timeout{10'000};
  // Time without progress while response bytes wait for a client that does not read: close.
  std::chrono::milliseconds send_timeout{65'000};
};

}  // namespace waitless::http
