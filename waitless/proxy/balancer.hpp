// Balancers: which server of an upstream takes the next request. They see each server as a Candidate
// (weight now, whether it may take requests, requests in flight) and keep only their own state; health and
// counting are the Upstream's (upstream.hpp). Not thread-safe: the Upstream serializes pick().
//
// - RoundRobin: smooth weighted round-robin (nginx's): each pick adds every available server's weight to
//   its score, takes the highest and subtracts the total from it. Weights {5,1,1} give a a b a c a a, not
//   a a a a a b c; equal weights give a strict rotation.
// - LeastConn: fewest requests in flight per unit of weight; ties rotate.
// - ConsistentHash: a ring of virtual nodes (kVnodesPerWeight per unit of weight, each at the hash of
//   "addr#i"); a key goes to the first node clockwise from its hash whose server is available and not over
//   its bounded load: at most ceil(load_factor × (in flight + 1) / servers) (Mirrokni et al.'s consistent
//   hashing with bounded loads). Adding a server to n moves about 1/(n+1) of the keys.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "waitless/proxy/config.hpp"

namespace waitless::proxy {

struct Candidate {
  unsigned weight = 1;  // 0: not available (ejected, down, or excluded for a retry)
  // What the server carries now: its requests in flight and its open tunnels (an upgraded connection, a
  // WebSocket, holds one of its connections for as long as it lasts, as a request does).
  uint32_t load = 0;
};

// 64-bit hash of a key (FNV-1a, then a final mix so that close keys land far apart on the ring).
uint64_t hash_key(std::string_view key) noexcept;

class Balancer {
 public:
  virtual ~Balancer() = default;
  // The index of the chosen candidate, or -1 if none is available. `key`: the request's hash (used by
  // ConsistentHash only).
  virtual int pick(std::span<const Candidate> servers, uint64_t key) = 0;
};

class RoundRobin final : public Balancer {
 public:
  explicit RoundRobin(std::size_t servers) : current_(servers, 0) {}
  int pick(std::span<const Candidate> servers, uint64_t key) override;

 private:
  std::vector<int64_t> current_;
};

class LeastConn final : public Balancer {
 public:
  int pick(std::span<const Candidate> servers, uint64_t key) override;

 private:
  std::size_t start_ = 0;
};

class ConsistentHash final : public Balancer {
 public:
  static constexpr unsigned kVnodesPerWeight = 160;
  // `names`: a stable name per server (its address), so that the ring does not depend on the order.
  ConsistentHash(const std::vector<std::string>& names, const std::vector<unsigned>& weights,
                 double load_factor);
  int pick(std::span<const Candidate> servers, uint64_t key) override;

 private:
  struct Node {
    uint64_t point;
    uint32_t server;
  };
  std::vector<Node> ring_;  // sorted by point
  double load_factor_;
};

std::unique_ptr<Balancer> make_balancer(const UpstreamSpec& spec);

}  // namespace waitless::proxy
