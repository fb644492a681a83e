#include "waitless/proxy/balancer.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

namespace waitless::proxy {
namespace {

std::string sequence(Balancer& b, std::vector<Candidate> servers, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) {
    int p = b.pick(servers, 0);
    out += p < 0 ? '-' : char('a' + p);
  }
  return out;
}

TEST(ProxyBalancer, SmoothWeightedRoundRobinInterleaves) {
  RoundRobin rr(3);
  // nginx's documented sequence for weights {5, 1, 1}.
  EXPECT_EQ(sequence(rr, {{5, 0}, {1, 0}, {1, 0}}, 14), "aabacaaaabacaa");
}

TEST(ProxyBalancer, EqualWeightsRotateAndSkipUnavailable) {
  RoundRobin rr(3);
  EXPECT_EQ(sequence(rr, {{1, 0}, {1, 0}, {1, 0}}, 6), "abcabc");
  RoundRobin rr2(3);
  EXPECT_EQ(sequence(rr2, {{1, 0}, {0, 0}, {1, 0}}, 4), "acac");
  RoundRobin none(2);
  EXPECT_EQ(sequence(none, {{0, 0}, {0, 0}}, 2), "--");
}

TEST(ProxyBalancer, RoundRobinDistributionIsExactOverAWholeCycle) {
  RoundRobin rr(3);
  std::vector<Candidate> servers{{3, 0}, {2, 0}, {1, 0}};
  std::map<int, int> count;
  for (int i = 0; i < 600; ++i) ++count[rr.pick(servers, 0)];
  EXPECT_EQ(count[0], 300);
  EXPECT_EQ(count[1], 200);
  EXPECT_EQ(count[2], 100);
}

TEST(ProxyBalancer, LeastConnTakesTheFewestInFlightPerWeight) {
  LeastConn lc;
  EXPECT_EQ(lc.pick(std::vector<Candidate>{{1, 5}, {1, 2}, {1, 7}}, 0), 1);
  // 4 in flight on weight 4 (1 each) beats 2 on weight 1.
  EXPECT_EQ(lc.pick(std::vector<Candidate>{{1, 2}, {4, 4}}, 0), 1);
  EXPECT_EQ(lc.pick(std::vector<Candidate>{{0, 0}, {1, 9}}, 0), 1);
  EXPECT_EQ(lc.pick(std::vector<Candidate>{{0, 0}, {0, 0}}, 0), -1);
  // Ties rotate.
  std::map<int, int> count;
  for (int i = 0; i < 30; ++i) ++count[lc.pick(std::vector<Candidate>{{1, 0}, {1, 0}, {1, 0}}, 0)];
  EXPECT_EQ(count[0], 10);
  EXPECT_EQ(count[1], 10);
  EXPECT_EQ(count[2], 10);
}

std::vector<std::string> names(int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back("10.0.0." + std::to_string(i + 1) + ":80");
  return out;
}

// How many of `keys` keys keep their server when a server is added to n, and whether every key that moved
// went to the new server.
struct Moved {
  int kept = 0;
  int to_new = 0;
  int elsewhere = 0;
};
Moved add_one(int n, int keys) {
  ConsistentHash before(names(n), std::vector<unsigned>(std::size_t(n), 1), 1e9);
  ConsistentHash after(names(n + 1), std::vector<unsigned>(std::size_t(n + 1), 1), 1e9);
  std::vector<Candidate> a(std::size_t(n), Candidate{1, 0}), b(std::size_t(n + 1), Candidate{1, 0});
  Moved m;
  for (int k = 0; k < keys; ++k) {
    const uint64_t h = hash_key("user-" + std::to_string(k));
    const int x = before.pick(a, h), y = after.pick(b, h);
    if (x == y) {
      ++m.kept;
    } else if (y == n) {
      ++m.to_new;
    } else {
      ++m.elsewhere;
    }
  }
  return m;
}

TEST(ProxyBalancer, ConsistentHashMovesOnlyKeysToTheNewServer) {
  // 3 -> 4 servers: a quarter of the keys must move (to the new one) for the load to stay even; none moves
  // between the old ones.
  Moved small = add_one(3, 20'000);
  EXPECT_EQ(small.elsewhere, 0);
  EXPECT_GT(small.kept, 20'000 * 68 / 100);
  EXPECT_LT(small.kept, 20'000 * 82 / 100);
  // 10 -> 11: at least 90 % of the keys keep their server.
  Moved big = add_one(10, 20'000);
  EXPECT_EQ(big.elsewhere, 0);
  EXPECT_GE(big.kept, 20'000 * 90 / 100);
}

TEST(ProxyBalancer, ConsistentHashSpreadsKeysEvenly) {
  ConsistentHash ch(names(3), {1, 1, 1}, 1e9);
  std::vector<Candidate> c(3, Candidate{1, 0});
  std::map<int, int> count;
  for (int k = 0; k < 30'000; ++k) ++count[ch.pick(c, hash_key("k" + std::to_string(k)))];
  for (int s = 0; s < 3; ++s) {
    EXPECT_GT(count[s], 8'500) << s;
    EXPECT_LT(count[s], 11'500) << s;
  }
}

TEST(ProxyBalancer, ConsistentHashSkipsUnavailableAndOverloadedServers) {
  ConsistentHash ch(names(3), {1, 1, 1}, 1.25);
  std::vector<Candidate> c(3, Candidate{1, 0});
  const uint64_t key = hash_key("sticky");
  const int home = ch.pick(c, key);
  ASSERT_GE(home, 0);
  EXPECT_EQ(ch.pick(c, key), home);  // stable
  c[std::size_t(home)].weight = 0;   // down: the key goes to the next server on the ring
  const int next = ch.pick(c, key);
  EXPECT_NE(next, home);
  EXPECT_GE(next, 0);
  c[std::size_t(home)].weight = 1;
  // Bounded load: the home server holds 10 in flight, the others 0; the bound is ceil(1.25*11/3) = 5.
  c[std::size_t(home)].load = 10;
  const int spilled = ch.pick(c, key);
  EXPECT_NE(spilled, home);
  for (auto& x : c) x.load = 4;  // evenly loaded: 4 < ceil(1.25*13/3) = 6, the key stays home
  EXPECT_EQ(ch.pick(c, key), home);
  EXPECT_EQ(ch.pick(std::vector<Candidate>(3, Candidate{0, 0}), key), -1);
}

TEST(ProxyBalancer, MakeBalancerFollowsTheSpec) {
  UpstreamSpec spec;
  spec.servers = {ServerSpec{"a:1", "a", 1, 1}, ServerSpec{"b:1", "b", 1, 1}};
  spec.balance = Balance::least_conn;
  EXPECT_NE(dynamic_cast<LeastConn*>(make_balancer(spec).get()), nullptr);
  spec.balance = Balance::hash;
  EXPECT_NE(dynamic_cast<ConsistentHash*>(make_balancer(spec).get()), nullptr);
  spec.balance = Balance::round_robin;
  EXPECT_NE(dynamic_cast<RoundRobin*>(make_balancer(spec).get()), nullptr);
}

}  // namespace
}  // namespace waitless::proxy
