#include "apps/demo/stats.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "waitless/loop/thread_pool.hpp"

namespace waitless::demo {
namespace {

constexpr auto kProbeInterval = std::chrono::milliseconds(100);
constexpr auto kSampleInterval = std::chrono::seconds(1);

bool long_lived(std::string_view path) noexcept { return path == "/events" || path.starts_with("/ws/"); }

double ms(uint64_t ns) { return static_cast<double>(ns) / 1e6; }

}  // namespace

web::Json Sample::to_json() const {
  return web::json::object{
      {"t", unix_ms},
      {"rps", requests_per_second},
      {"p50_ms", p50_ms},
      {"p99_ms", p99_ms},
      {"max_ms", max_ms},
      {"loop_lag_ms", loop_lag_ms},
      {"loop_utilization", loop_utilization},
      {"cpu_queue", cpu_queue},
      {"cpu_busy", cpu_busy},
      {"cpu_threads", cpu_threads},
      {"fs_queue", fs_queue},
      {"fs_busy", fs_busy},
      {"connections", connections},
      {"websockets", websockets},
      {"sse_clients", sse_clients},
      {"db_in_flight", db_in_flight},
      {"requests_total", requests_total},
  };
}

Stats::Stats(Loop& loop) : loop_(loop), probe_timer_(loop), sample_timer_(loop) {}

void Stats::start(GaugeSources sources, std::function<void(const Sample&)> on_sample) {
  sources_ = std::move(sources);
  on_sample_ = std::move(on_sample);
  last_probe_ = last_sample_ = std::chrono::steady_clock::now();
  last_utilization_ = loop_.utilization();
  (void)probe_timer_.start(
      kProbeInterval, [this] { probe(); }, kProbeInterval);
  (void)sample_timer_.start(
      kSampleInterval, [this] { sample(); }, kSampleInterval);
}

void Stats::stop() noexcept {
  (void)probe_timer_.stop();
  (void)sample_timer_.stop();
}

void Stats::probe() noexcept {
  // The probe is due every 100 ms: whatever more elapsed since the last one is how long the loop was
  // kept from running it (callbacks in the way).
  const auto now = std::chrono::steady_clock::now();
  const int64_t late =
      std::chrono::duration_cast<std::chrono::nanoseconds>(now - last_probe_ - kProbeInterval).count();
  last_probe_ = now;
  window_lag_ns_ = std::max(window_lag_ns_, std::max<int64_t>(late, 0));
  max_lag_ns_ = std::max(max_lag_ns_, window_lag_ns_);
}

void Stats::record(int status, std::optional<std::chrono::nanoseconds> latency) noexcept {
  ++requests_total_;
  ++window_requests_;
  const int cls = std::clamp(status / 100, 1, 5);
  ++by_class_[cls];
  if (!latency) return;
  const auto ns = static_cast<uint64_t>(std::max<int64_t>(latency->count(), 0));
  window_.record(ns);
  const double seconds = static_cast<double>(ns) / 1e9;
  ++timed_count_;
  timed_sum_seconds_ += seconds;
  for (std::size_t i = 0; i < kBuckets; ++i) {
    if (seconds <= kBucketsSeconds[i]) ++buckets_[i];
  }
}

web::Layer Stats::layer() {
  web::Layer layer;
  // The status a request ends with: the chain's, or the App's 404 when nothing answered.
  auto status_of = [](web::Response& res) { return res.answered() ? res.status() : 404; };
  layer.sync = [this, status_of](web::Request& req, web::Response& res, web::Next next) {
    const auto t0 = std::chrono::steady_clock::now();
    (void)next();  // the rest is plain: it has finished when next() returns
    record(status_of(res), std::chrono::steady_clock::now() - t0);
    (void)req;
  };
  layer.async = [this, status_of](web::Request& req, web::Response& res, web::Next next) -> Task<> {
    const auto t0 = std::chrono::steady_clock::now();
    const bool timed = !long_lived(req.path());
    try {
      co_await next();
    } catch (...) {
      record(500, std::nullopt);
      throw;
    }
    std::optional<std::chrono::nanoseconds> latency;
    if (timed) latency = std::chrono::steady_clock::now() - t0;
    record(status_of(res), latency);
  };
  return layer;
}

void Stats::sample() {
  const auto now = std::chrono::steady_clock::now();
  const double elapsed = std::chrono::duration<double>(now - last_sample_).count();
  last_sample_ = now;
  Sample s;
  s.unix_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::system_clock::now().time_since_epoch())
                  .count();
  s.requests_per_second = elapsed > 0 ? static_cast<double>(window_requests_) / elapsed : 0;
  s.p50_ms = ms(window_.percentile(50));
  s.p99_ms = ms(window_.percentile(99));
  s.max_ms = ms(window_.max());
  s.loop_lag_ms = static_cast<double>(window_lag_ns_) / 1e6;
  const LoopUtilization u = loop_.utilization(last_utilization_);
  last_utilization_ = loop_.utilization();
  s.loop_utilization = u.utilization;
  const ThreadPoolMetrics cpu = pools::cpu().metrics();
  s.cpu_queue = cpu.queue_depth;
  s.cpu_busy = cpu.busy_threads;
  s.cpu_threads = cpu.threads;
  const ThreadPoolMetrics fs = pools::fs().metrics();
  s.fs_queue = fs.queue_depth;
  s.fs_busy = fs.busy_threads;
  s.connections = sources_.connections ? sources_.connections() : 0;
  s.websockets = websockets_;
  s.sse_clients = sse_clients_;
  s.db_in_flight = sources_.db_in_flight ? sources_.db_in_flight() : 0;
  s.requests_total = requests_total_;
  window_.clear();
  window_requests_ = 0;
  window_lag_ns_ = 0;
  last_ = s;
  if (on_sample_) on_sample_(last_);
}

std::string Stats::prometheus() const {
  std::string out;
  auto metric = [&out](std::string_view name, std::string_view type, std::string_view help) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  };
  metric("waitless_demo_http_requests_total", "counter", "HTTP requests answered, by status class.");
  for (int c = 1; c <= 5; ++c) {
    out += fmt::format("waitless_demo_http_requests_total{{code=\"{}xx\"}} {}\n", c, by_class_[c]);
  }
  metric("waitless_demo_http_request_duration_seconds", "histogram",
         "Time from the request head to the end of the handler chain (long-lived streams excluded).");
  for (std::size_t i = 0; i < kBuckets; ++i) {
    out += fmt::format("waitless_demo_http_request_duration_seconds_bucket{{le=\"{}\"}} {}\n",
                       kBucketsSeconds[i], buckets_[i]);
  }
  out += fmt::format("waitless_demo_http_request_duration_seconds_bucket{{le=\"+Inf\"}} {}\n", timed_count_);
  out += fmt::format("waitless_demo_http_request_duration_seconds_sum {}\n", timed_sum_seconds_);
  out += fmt::format("waitless_demo_http_request_duration_seconds_count {}\n", timed_count_);
  auto gauge = [&](std::string_view name, std::string_view help, auto value) {
    metric(name, "gauge", help);
    out += fmt::format("{} {}\n", name, value);
  };
  gauge("waitless_demo_requests_per_second", "Requests completed in the last second.",
        last_.requests_per_second);
  gauge("waitless_demo_request_latency_p50_seconds", "Median latency over the last second.",
        last_.p50_ms / 1e3);
  gauge("waitless_demo_request_latency_p99_seconds", "99th percentile latency over the last second.",
        last_.p99_ms / 1e3);
  gauge("waitless_demo_event_loop_lag_seconds",
        "Worst lateness of the 100 ms probe timer in the last second.", last_.loop_lag_ms / 1e3);
  gauge("waitless_demo_event_loop_lag_max_seconds", "Worst lateness of the probe timer since start.",
        static_cast<double>(max_lag_ns_) / 1e9);
  gauge("waitless_demo_event_loop_utilization", "Busy share of the loop's time over the last second (0-1).",
        last_.loop_utilization);
  metric("waitless_demo_pool_queue_depth", "gauge", "Jobs waiting for a thread, by pool.");
  out += fmt::format("waitless_demo_pool_queue_depth{{pool=\"cpu\"}} {}\n", last_.cpu_queue);
  out += fmt::format("waitless_demo_pool_queue_depth{{pool=\"fs\"}} {}\n", last_.fs_queue);
  metric("waitless_demo_pool_busy_threads", "gauge", "Threads running a job, by pool.");
  out += fmt::format("waitless_demo_pool_busy_threads{{pool=\"cpu\"}} {}\n", last_.cpu_busy);
  out += fmt::format("waitless_demo_pool_busy_threads{{pool=\"fs\"}} {}\n", last_.fs_busy);
  gauge("waitless_demo_open_connections", "HTTP connections open on the demo's port.", last_.connections);
  gauge("waitless_demo_open_websockets", "WebSocket connections open now.", websockets_);
  gauge("waitless_demo_sse_clients", "Clients of the /events feed now.", sse_clients_);
  gauge("waitless_demo_db_queries_in_flight", "Database statements running now.", last_.db_in_flight);
  metric("waitless_demo_chat_messages_total", "counter", "Chat messages received over WebSocket.");
  out += fmt::format("waitless_demo_chat_messages_total {}\n", chat_messages_);
  metric("waitless_demo_hash_jobs_total", "counter", "PBKDF2 jobs completed on the cpu pool.");
  out += fmt::format("waitless_demo_hash_jobs_total {}\n", hash_jobs_);
  metric("waitless_demo_gateway_requests_total", "counter", "Gateway calls, complete or degraded.");
  out += fmt::format("waitless_demo_gateway_requests_total{{result=\"complete\"}} {}\n", gateway_ok_);
  out += fmt::format("waitless_demo_gateway_requests_total{{result=\"degraded\"}} {}\n", gateway_degraded_);
  return out;
}

}  // namespace waitless::demo
