#include "waitless/proxy/metrics.hpp"

#include <gtest/gtest.h>

namespace waitless::proxy {
namespace {

TEST(ProxyMetrics, PrometheusTextForEveryServer) {
  Snapshot snap;
  UpstreamSpec u;
  u.name = "app";
  u.servers = {ServerSpec{"127.0.0.1:1", "127.0.0.1", 1, 1}, ServerSpec{"127.0.0.1:2", "127.0.0.1", 2, 1}};
  snap.upstreams.push_back(std::make_shared<Upstream>(u));
  Upstream& up = *snap.upstreams[0];
  const int64_t now = Upstream::now_ns();
  up.count_request(now);
  int i = up.acquire(0, -1, now);
  ASSERT_EQ(i, 0);
  up.server(0).observe_latency(2'000);  // 2 ms
  up.release(0);
  up.set_up(1, false, now);
  const std::string text = render_metrics(snap);
  const std::string l0 = "{upstream=\"app\",server=\"127.0.0.1:1\"}";
  const std::string l1 = "{upstream=\"app\",server=\"127.0.0.1:2\"}";
  EXPECT_NE(text.find("# TYPE waitless_proxy_requests_total counter\n"), std::string::npos);
  EXPECT_NE(text.find("waitless_proxy_requests_total" + l0 + " 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("waitless_proxy_requests_total" + l1 + " 0\n"), std::string::npos);
  EXPECT_NE(text.find("waitless_proxy_up" + l0 + " 1\n"), std::string::npos);
  EXPECT_NE(text.find("waitless_proxy_up" + l1 + " 0\n"), std::string::npos);
  EXPECT_NE(
      text.find(
          "waitless_proxy_latency_seconds_bucket{upstream=\"app\",server=\"127.0.0.1:1\",le=\"0.001\"} 0\n"),
      std::string::npos)
      << text;
  EXPECT_NE(
      text.find(
          "waitless_proxy_latency_seconds_bucket{upstream=\"app\",server=\"127.0.0.1:1\",le=\"0.0025\"} 1\n"),
      std::string::npos);
  EXPECT_NE(
      text.find(
          "waitless_proxy_latency_seconds_bucket{upstream=\"app\",server=\"127.0.0.1:1\",le=\"+Inf\"} 1\n"),
      std::string::npos);
  EXPECT_NE(text.find("waitless_proxy_latency_seconds_sum" + l0 + " 0.002\n"), std::string::npos);
  EXPECT_NE(text.find("waitless_proxy_upstream_requests_total{upstream=\"app\"} 1\n"), std::string::npos);
}

}  // namespace
}  // namespace waitless::proxy
