// Upstream: the live state of one upstream group, shared by every loop of the proxy (atomics and one
// mutex around the balancer). Per server: requests in flight, passive health (consecutive failures, an
// ejection deadline), active health (up/down from the checker, health.hpp), slow start, and the metrics
// (metrics.hpp renders them).
//
// A server may take requests when it is not ejected and the active checks (if any) say it is up. Passive
// health: `max_fails` consecutive failures eject it for `eject`; after that it is tried again, and one
// more failure ejects it again (the count is not reset by time, only by a success). Slow start: for
// `slow_start` after a server becomes usable again, its weight ramps from 1 to its configured weight.
//
// Times are steady-clock nanoseconds (now_ns()), the same on every thread.
//
// Reload: a new Upstream built with the previous one takes over the state of the servers with the same
// address (health, metrics, in flight), so a reload neither resets the counters nor forgets an ejection.
#pragma once
#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "waitless/proxy/balancer.hpp"
#include "waitless/proxy/config.hpp"

namespace waitless::proxy {

// Latency buckets' upper bounds in microseconds (Prometheus histogram `le`, in seconds when rendered).
inline constexpr std::array<uint64_t, 12> kLatencyBucketsUs = {
    1'000, 2'500, 5'000, 10'000, 25'000, 50'000, 100'000, 250'000, 500'000, 1'000'000, 2'500'000, 10'000'000};

struct ServerState {
  explicit ServerState(ServerSpec s) : spec(std::move(s)) {}
  ServerSpec spec;
  std::atomic<uint32_t> in_flight{0};
  std::atomic<uint32_t> tunnels{0};  // upgraded connections open now (not in in_flight)
  std::atomic<uint32_t> consecutive_fails{0};
  std::atomic<int64_t> ejected_until{0};  // 0: not ejected
  std::atomic<bool> active_up{true};
  std::atomic<int64_t> usable_since{0};  // when it last became usable (slow start), 0: from the start
  // Metrics.
  std::atomic<uint64_t> requests{0};  // sent to this server (each attempt)
  std::atomic<uint64_t> failures{0};  // attempts that got no usable response (connect, reset, timeout...)
  std::atomic<uint64_t> timeouts{0};  // of those, timeouts
  std::atomic<uint64_t> responses_5xx{0};
  std::atomic<uint64_t> ejections{0};
  std::array<std::atomic<uint64_t>, kLatencyBucketsUs.size()> latency_buckets{};  // non-cumulative counts
  std::atomic<uint64_t> latency_count{0};
  std::atomic<uint64_t> latency_sum_us{0};

  bool ejected(int64_t now) const noexcept {
    int64_t until = ejected_until.load(std::memory_order_relaxed);
    return until != 0 && now < until;
  }
  bool usable(int64_t now) const noexcept {
    return active_up.load(std::memory_order_relaxed) && !ejected(now);
  }
  void observe_latency(uint64_t us) noexcept;
};

class Upstream {
 public:
  static int64_t now_ns() noexcept;

  Upstream(UpstreamSpec spec, const Upstream* previous = nullptr);
  Upstream(const Upstream&) = delete;
  Upstream& operator=(const Upstream&) = delete;

  const UpstreamSpec& spec() const noexcept { return spec_; }
  std::size_t size() const noexcept { return servers_.size(); }
  ServerState& server(std::size_t i) const noexcept { return *servers_[i]; }
  const std::shared_ptr<ServerState>& shared_server(std::size_t i) const noexcept { return servers_[i]; }

  // Picks a usable server other than `exclude` (-1: none excluded) and counts a request in flight on it
  // (release() uncounts it). -1 when no server is usable.
  int acquire(uint64_t key, int exclude, int64_t now);
  // Sticky sessions: the server whose sticky_id() is `id`, acquired if it is usable; else -1.
  int acquire_sticky(std::string_view id, int64_t now);
  // A server's cookie value: a hash of its address (stable across reloads and restarts), 16 hex digits.
  static std::string sticky_id(const ServerSpec& s);
  void release(std::size_t i) noexcept { servers_[i]->in_flight.fetch_sub(1, std::memory_order_relaxed); }

  // Passive health: the outcome of one attempt.
  void report_success(std::size_t i) noexcept;
  void report_failure(std::size_t i, int64_t now, bool timeout) noexcept;
  // Active health: the checker's verdict (transitions only).
  void set_up(std::size_t i, bool up, int64_t now) noexcept;

  // Retry budget: whether one more retry keeps this window's retries within kMinRetries plus the
  // configured share of its requests (counts it if so). Windows last kRetryWindow; the floor lets a quiet
  // upstream retry at all.
  static constexpr uint64_t kMinRetries = 3;
  static constexpr int64_t kRetryWindowNs = 10'000'000'000;
  bool take_retry(unsigned budget_percent, int64_t now) noexcept;
  void count_request(int64_t now) noexcept;
  uint64_t retries() const noexcept { return retries_.load(std::memory_order_relaxed); }
  uint64_t retries_refused() const noexcept { return retries_refused_.load(std::memory_order_relaxed); }
  uint64_t no_server() const noexcept { return no_server_.load(std::memory_order_relaxed); }
  uint64_t requests() const noexcept { return requests_.load(std::memory_order_relaxed); }

 private:
  unsigned effective_weight(const ServerState& s, int64_t now) const noexcept;

  UpstreamSpec spec_;
  std::vector<std::shared_ptr<ServerState>> servers_;
  std::mutex mutex_;  // the balancer's state and candidates_
  std::unique_ptr<Balancer> balancer_;
  std::vector<Candidate> candidates_;
  std::atomic<uint64_t> requests_{0}, retries_{0}, retries_refused_{0}, no_server_{0};
  // The budget's window (approximate under concurrency: a reset may race a count, which is harmless).
  std::atomic<int64_t> window_start_{0};
  std::atomic<uint64_t> window_requests_{0}, window_retries_{0};
};

}  // namespace waitless::proxy
