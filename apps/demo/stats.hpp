// Stats: what the demo measures about itself, from real counters: every request's status and latency (the
// middleware below), the loop's lag (a 100 ms probe timer's lateness) and utilisation, the thread pools'
// queues, open connections, WebSockets and SSE clients. Once a second sample() turns the counters into a
// Sample (the last second's rate and percentiles), which the SSE feed sends and /metrics reports.
// Everything here lives on the demo's one loop thread (the pools' metrics are read through their locks).
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "apps/lab/histogram.hpp"
#include "waitless/loop/loop.hpp"
#include "waitless/loop/timer.hpp"
#include "waitless/web/app.hpp"

namespace waitless::demo {

// One second of the server's life.
struct Sample {
  int64_t unix_ms = 0;
  double requests_per_second = 0;
  double p50_ms = 0, p99_ms = 0, max_ms = 0;  // latency of the requests completed in the second
  double loop_lag_ms = 0;                     // the probe's worst lateness in the second
  double loop_utilization = 0;                // busy / (busy + idle) over the second, 0..1
  std::size_t cpu_queue = 0, cpu_busy = 0, cpu_threads = 0;
  std::size_t fs_queue = 0, fs_busy = 0;
  std::size_t connections = 0, websockets = 0, sse_clients = 0;
  uint64_t db_in_flight = 0;
  uint64_t requests_total = 0;
  web::Json to_json() const;
};

// Gauges the Stats cannot see by itself (they belong to the server, the store...), read at each sample.
struct GaugeSources {
  std::function<std::size_t()> connections;
  std::function<uint64_t()> db_in_flight;
};

class Stats {
 public:
  static constexpr double kBucketsSeconds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                               0.05,   0.1,   0.25,   0.5,   1,    2.5};
  static constexpr std::size_t kBuckets = sizeof(kBucketsSeconds) / sizeof(double);

  explicit Stats(Loop& loop);
  Stats(const Stats&) = delete;
  Stats& operator=(const Stats&) = delete;

  // Starts the probe and the one-second sampler; `on_sample` gets every Sample.
  void start(GaugeSources sources, std::function<void(const Sample&)> on_sample);
  void stop() noexcept;

  // The middleware: times every request through the rest of the chain and counts its status. Long-lived
  // exchanges (the SSE feed, WebSocket upgrades) are counted but not timed: their "latency" is their life.
  web::Layer layer();
  void record(int status, std::optional<std::chrono::nanoseconds> latency) noexcept;

  void websocket_opened() noexcept { ++websockets_; }
  void websocket_closed() noexcept { --websockets_; }
  void sse_opened() noexcept { ++sse_clients_; }
  void sse_closed() noexcept { --sse_clients_; }
  void count_chat_message() noexcept { ++chat_messages_; }
  void count_hash_job() noexcept { ++hash_jobs_; }
  void count_gateway(bool degraded) noexcept { ++(degraded ? gateway_degraded_ : gateway_ok_); }

  const Sample& last() const noexcept { return last_; }
  // Prometheus text exposition format 0.0.4.
  std::string prometheus() const;

 private:
  void probe() noexcept;
  void sample();

  Loop& loop_;
  Timer probe_timer_, sample_timer_;
  GaugeSources sources_;
  std::function<void(const Sample&)> on_sample_;
  std::chrono::steady_clock::time_point last_probe_{}, last_sample_{};
  int64_t window_lag_ns_ = 0;
  LoopUtilization last_utilization_{};
  lab::LatencyHistogram window_;  // latencies (ns) completed since the last sample
  uint64_t window_requests_ = 0;
  // Cumulative, for /metrics.
  uint64_t requests_total_ = 0;
  uint64_t by_class_[6] = {};  // 1xx..5xx at [1..5]
  uint64_t buckets_[kBuckets] = {};
  uint64_t timed_count_ = 0;
  double timed_sum_seconds_ = 0;
  int64_t max_lag_ns_ = 0;
  std::size_t websockets_ = 0, sse_clients_ = 0;
  uint64_t chat_messages_ = 0, hash_jobs_ = 0, gateway_ok_ = 0, gateway_degraded_ = 0;
  Sample last_;
};

}  // namespace waitless::demo
