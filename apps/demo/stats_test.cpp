#include "apps/demo/stats.hpp"

#include <gtest/gtest.h>

namespace waitless::demo {
namespace {

using namespace std::chrono_literals;

std::string line_of(const std::string& text, std::string_view metric) {
  // A sample line starts a line (the HELP and TYPE lines name the metric after "# ...").
  auto at = text.find("\n" + std::string(metric) + " ");
  if (at == std::string::npos) return {};
  ++at;
  return text.substr(at, text.find('\n', at) - at);
}

TEST(DemoStats, PrometheusCountsWhatWasRecorded) {
  Loop loop;
  {
    Stats stats(loop);
    stats.record(200, 2ms);
    stats.record(201, 30ms);
    stats.record(404, std::nullopt);  // counted, not timed
    stats.record(503, 3s);
    stats.count_hash_job();
    stats.count_gateway(true);
    const std::string text = stats.prometheus();
    EXPECT_EQ(line_of(text, "waitless_demo_http_requests_total{code=\"2xx\"}"),
              "waitless_demo_http_requests_total{code=\"2xx\"} 2");
    EXPECT_EQ(line_of(text, "waitless_demo_http_requests_total{code=\"4xx\"}"),
              "waitless_demo_http_requests_total{code=\"4xx\"} 1");
    EXPECT_EQ(line_of(text, "waitless_demo_http_requests_total{code=\"5xx\"}"),
              "waitless_demo_http_requests_total{code=\"5xx\"} 1");
    // Cumulative buckets: 2 ms is under 0.0025 s, 30 ms under 0.05 s, 3 s only in +Inf.
    EXPECT_EQ(line_of(text, "waitless_demo_http_request_duration_seconds_bucket{le=\"0.001\"}"),
              "waitless_demo_http_request_duration_seconds_bucket{le=\"0.001\"} 0");
    EXPECT_EQ(line_of(text, "waitless_demo_http_request_duration_seconds_bucket{le=\"0.0025\"}"),
              "waitless_demo_http_request_duration_seconds_bucket{le=\"0.0025\"} 1");
    EXPECT_EQ(line_of(text, "waitless_demo_http_request_duration_seconds_bucket{le=\"0.05\"}"),
              "waitless_demo_http_request_duration_seconds_bucket{le=\"0.05\"} 2");
    EXPECT_EQ(line_of(text, "waitless_demo_http_request_duration_seconds_bucket{le=\"2.5\"}"),
              "waitless_demo_http_request_duration_seconds_bucket{le=\"2.5\"} 2");
    EXPECT_EQ(line_of(text, "waitless_demo_http_request_duration_seconds_bucket{le=\"+Inf\"}"),
              "waitless_demo_http_request_duration_seconds_bucket{le=\"+Inf\"} 3");
    EXPECT_EQ(line_of(text, "waitless_demo_http_request_duration_seconds_count"),
              "waitless_demo_http_request_duration_seconds_count 3");
    EXPECT_EQ(line_of(text, "waitless_demo_hash_jobs_total"), "waitless_demo_hash_jobs_total 1");
    EXPECT_EQ(line_of(text, "waitless_demo_gateway_requests_total{result=\"degraded\"}"),
              "waitless_demo_gateway_requests_total{result=\"degraded\"} 1");
    // Every metric has its HELP and TYPE.
    EXPECT_NE(text.find("# TYPE waitless_demo_event_loop_utilization gauge"), std::string::npos);
    EXPECT_NE(text.find("# TYPE waitless_demo_http_request_duration_seconds histogram"), std::string::npos);
  }
  EXPECT_EQ(loop.handle_count(), 0u);
  EXPECT_FALSE(loop.alive());
}

}  // namespace
}  // namespace waitless::demo
