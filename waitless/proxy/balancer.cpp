#include "waitless/proxy/balancer.hpp"

#include <algorithm>
#include <cmath>

namespace waitless::proxy {

uint64_t hash_key(std::string_view key) noexcept {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : key) {
    h ^= c;
    h *= 1099511628211ull;
  }
  // splitmix64's finalizer: FNV alone leaves keys differing in their last byte close together.
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebull;
  h ^= h >> 31;
  return h;
}

int RoundRobin::pick(std::span<const Candidate> servers, uint64_t) {
  if (current_.size() != servers.size()) current_.assign(servers.size(), 0);
  int64_t total = 0;
  int best = -1;
  for (std::size_t i = 0; i < servers.size(); ++i) {
    if (servers[i].weight == 0) continue;
    current_[i] += servers[i].weight;
    total += servers[i].weight;
    if (best < 0 || current_[i] > current_[std::size_t(best)]) best = int(i);
  }
  if (best >= 0) current_[std::size_t(best)] -= total;
  return best;
}

int LeastConn::pick(std::span<const Candidate> servers, uint64_t) {
  const std::size_t n = servers.size();
  if (n == 0) return -1;
  int best = -1;
  // Compare load / weight without division: a.load * b.weight < b.load * a.weight.
  for (std::size_t k = 0; k < n; ++k) {
    std::size_t i = (start_ + k) % n;
    const Candidate& c = servers[i];
    if (c.weight == 0) continue;
    if (best < 0) {
      best = int(i);
      continue;
    }
    const Candidate& b = servers[std::size_t(best)];
    if (uint64_t(c.load) * b.weight < uint64_t(b.load) * c.weight) best = int(i);
  }
  start_ = (start_ + 1) % n;
  return best;
}

ConsistentHash::ConsistentHash(const std::vector<std::string>& names, const std::vector<unsigned>& weights,
                               double load_factor)
    : load_factor_(load_factor) {
  for (std::size_t s = 0; s < names.size(); ++s) {
    const unsigned nodes = kVnodesPerWeight * std::max(1u, weights[s]);
    for (unsigned i = 0; i < nodes; ++i) {
      ring_.push_back({hash_key(names[s] + "#" + std::to_string(i)), uint32_t(s)});
    }
  }
  std::sort(ring_.begin(), ring_.end(), [](const Node& a, const Node& b) { return a.point < b.point; });
}

int ConsistentHash::pick(std::span<const Candidate> servers, uint64_t key) {
  if (ring_.empty()) return -1;
  uint64_t total = 0;
  std::size_t available = 0;
  for (const Candidate& c : servers) {
    if (c.weight == 0) continue;
    total += c.load;
    ++available;
  }
  if (available == 0) return -1;
  const auto bound = static_cast<uint64_t>(std::ceil(load_factor_ * double(total + 1) / double(available)));
  auto it = std::lower_bound(ring_.begin(), ring_.end(), key,
                             [](const Node& n, uint64_t k) { return n.point < k; });
  int fallback = -1;  // the first available server clockwise, if every one is over the bound
  for (std::size_t k = 0; k < ring_.size(); ++k, ++it) {
    if (it == ring_.end()) it = ring_.begin();
    const uint32_t s = it->server;
    if (s >= servers.size() || servers[s].weight == 0) continue;
    if (fallback < 0) fallback = int(s);
    if (servers[s].load < bound) return int(s);
  }
  return fallback;
}

std::unique_ptr<Balancer> make_balancer(const UpstreamSpec& spec) {
  switch (spec.balance) {
    case Balance::least_conn:
      return std::make_unique<LeastConn>();
    case Balance::hash: {
      std::vector<std::string> names;
      std::vector<unsigned> weights;
      for (const ServerSpec& s : spec.servers) {
        names.push_back(s.addr);
        weights.push_back(s.weight);
      }
      return std::make_unique<ConsistentHash>(names, weights, spec.hash_load_factor);
    }
    case Balance::round_robin:
      break;
  }
  return std::make_unique<RoundRobin>(spec.servers.size());
}

}  // namespace waitless::proxy
