#include "waitless/proxy/upstream.hpp"

#include <gtest/gtest.h>

#include <map>

namespace waitless::proxy {
namespace {

UpstreamSpec three(Balance b = Balance::round_robin) {
  UpstreamSpec u;
  u.name = "app";
  for (int i = 1; i <= 3; ++i) {
    u.servers.push_back(ServerSpec{"127.0.0.1:900" + std::to_string(i), "127.0.0.1", uint16_t(9000 + i), 1});
  }
  u.balance = b;
  u.passive.max_fails = 2;
  u.passive.eject = Millis(100);
  return u;
}

constexpr int64_t kMs = 1'000'000;

TEST(ProxyUpstream, AcquireCountsInFlightAndRequests) {
  Upstream up(three());
  const int64_t now = 1000 * kMs;
  int a = up.acquire(0, -1, now);
  int b = up.acquire(0, -1, now);
  EXPECT_NE(a, b);
  EXPECT_EQ(up.server(std::size_t(a)).in_flight.load(), 1u);
  EXPECT_EQ(up.server(std::size_t(a)).requests.load(), 1u);
  up.release(std::size_t(a));
  up.release(std::size_t(b));
  EXPECT_EQ(up.server(std::size_t(a)).in_flight.load(), 0u);
  // Excluded for a retry: never that one.
  for (int i = 0; i < 6; ++i) {
    int c = up.acquire(0, 1, now);
    EXPECT_NE(c, 1);
    up.release(std::size_t(c));
  }
}

// least_conn counts open tunnels (WebSockets) as load, like requests in flight: long-lived tunnels on two
// servers send the next requests to the third until it carries as much.
TEST(ProxyUpstream, LeastConnCountsOpenTunnels) {
  Upstream up(three(Balance::least_conn));
  const int64_t now = 1000 * kMs;
  up.server(0).tunnels.store(5);
  up.server(1).tunnels.store(3);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(up.acquire(0, -1, now), 2);  // loads 5, 3, 0 -> 5, 3, 3
  up.server(0).tunnels.store(0);                                     // its tunnels closed: 0, 3, 3
  EXPECT_EQ(up.acquire(0, -1, now), 0);
}

TEST(ProxyUpstream, PassiveFailuresEjectForTheBackOffPeriod) {
  Upstream up(three());
  const int64_t t0 = 1000 * kMs;
  up.report_failure(0, t0, false);
  EXPECT_TRUE(up.server(0).usable(t0));  // one failure of two
  up.report_success(0);
  up.report_failure(0, t0, false);
  EXPECT_TRUE(up.server(0).usable(t0));  // the success reset the count
  up.report_failure(0, t0, true);
  EXPECT_FALSE(up.server(0).usable(t0));
  EXPECT_EQ(up.server(0).ejections.load(), 1u);
  EXPECT_EQ(up.server(0).timeouts.load(), 1u);
  EXPECT_EQ(up.server(0).failures.load(), 3u);
  for (int i = 0; i < 10; ++i) {
    int c = up.acquire(0, -1, t0 + 50 * kMs);
    EXPECT_NE(c, 0);
    up.release(std::size_t(c));
  }
  // After the back-off it is tried again; one more failure ejects it at once.
  EXPECT_TRUE(up.server(0).usable(t0 + 100 * kMs));
  up.report_failure(0, t0 + 100 * kMs, false);
  EXPECT_FALSE(up.server(0).usable(t0 + 150 * kMs));
  EXPECT_EQ(up.server(0).ejections.load(), 2u);
}

TEST(ProxyUpstream, NoUsableServerCountsANoServer) {
  Upstream up(three());
  const int64_t now = 1000 * kMs;
  for (std::size_t i = 0; i < 3; ++i) up.set_up(i, false, now);
  EXPECT_EQ(up.acquire(0, -1, now), -1);
  EXPECT_EQ(up.no_server(), 1u);
  up.set_up(2, true, now);
  EXPECT_EQ(up.acquire(0, -1, now), 2);
}

TEST(ProxyUpstream, ActiveUpClearsAPassiveEjection) {
  Upstream up(three());
  const int64_t now = 1000 * kMs;
  up.set_up(0, false, now);
  up.report_failure(0, now, false);
  up.report_failure(0, now, false);
  EXPECT_FALSE(up.server(0).usable(now));
  up.set_up(0, true, now);
  EXPECT_TRUE(up.server(0).usable(now));
}

TEST(ProxyUpstream, SlowStartRampsTheWeightOfARecoveredServer) {
  UpstreamSpec spec = three();
  spec.slow_start = Millis(1000);
  for (auto& s : spec.servers) s.weight = 10;
  Upstream up(spec);
  const int64_t t0 = 1000 * kMs;
  up.set_up(0, false, t0);
  up.set_up(0, true, t0);  // back at t0: weight 1 of 10 at first, 10 after a second
  auto share = [&](int64_t now) {
    int first = 0;
    for (int i = 0; i < 210; ++i) {
      int c = up.acquire(0, -1, now);
      first += c == 0;
      up.release(std::size_t(c));
    }
    return first;
  };
  EXPECT_EQ(share(t0 + 1 * kMs), 10);     // weights 1, 10, 10: 1/21 of 210
  EXPECT_EQ(share(t0 + 1000 * kMs), 70);  // full weight: a third
}

TEST(ProxyUpstream, RetryBudgetCapsRetriesAtTheShareOfRequests) {
  Upstream up(three());
  const int64_t t0 = 1000 * kMs;
  for (int i = 0; i < 10; ++i) up.count_request(t0);
  // 3 (the floor) + 20 % of 10 = 5 retries in this window.
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(up.take_retry(20, t0)) << i;
  EXPECT_FALSE(up.take_retry(20, t0));
  EXPECT_EQ(up.retries(), 5u);
  EXPECT_EQ(up.retries_refused(), 1u);
  EXPECT_FALSE(up.take_retry(0, t0));
  // A new window starts with its own budget.
  up.count_request(t0 + Upstream::kRetryWindowNs);
  EXPECT_TRUE(up.take_retry(20, t0 + Upstream::kRetryWindowNs));
  EXPECT_EQ(up.requests(), 11u);
}

TEST(ProxyUpstream, AReloadKeepsTheStateOfServersWithTheSameAddress) {
  Upstream first(three());
  const int64_t now = 1000 * kMs;
  first.report_failure(1, now, false);
  first.report_failure(1, now, false);
  UpstreamSpec next = three();
  next.servers.erase(next.servers.begin());                                    // 9001 removed
  next.servers.push_back(ServerSpec{"127.0.0.1:9004", "127.0.0.1", 9004, 3});  // 9004 added
  Upstream second(next, &first);
  ASSERT_EQ(second.size(), 3u);
  EXPECT_EQ(&second.server(0), &first.server(1));  // 9002: the same state, still ejected
  EXPECT_FALSE(second.server(0).usable(now));
  EXPECT_EQ(second.server(2).spec.weight, 3u);
  EXPECT_TRUE(second.server(2).usable(now));
}

TEST(ProxyUpstream, LatencyHistogramBuckets) {
  ServerState s(ServerSpec{"a:1", "a", 1, 1});
  s.observe_latency(500);         // <= 1 ms
  s.observe_latency(3'000);       // <= 5 ms
  s.observe_latency(60'000'000);  // beyond the last bucket: only in count and sum
  EXPECT_EQ(s.latency_buckets[0].load(), 1u);
  EXPECT_EQ(s.latency_buckets[2].load(), 1u);
  EXPECT_EQ(s.latency_count.load(), 3u);
  EXPECT_EQ(s.latency_sum_us.load(), 60'003'500u);
}

}  // namespace
}  // namespace waitless::proxy
