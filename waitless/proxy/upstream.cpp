#include "waitless/proxy/upstream.hpp"

#include <algorithm>
#include <chrono>

namespace waitless::proxy {

void ServerState::observe_latency(uint64_t us) noexcept {
  std::size_t b = 0;
  while (b < kLatencyBucketsUs.size() && us > kLatencyBucketsUs[b]) ++b;
  if (b < kLatencyBucketsUs.size()) latency_buckets[b].fetch_add(1, std::memory_order_relaxed);
  latency_count.fetch_add(1, std::memory_order_relaxed);
  latency_sum_us.fetch_add(us, std::memory_order_relaxed);
}

int64_t Upstream::now_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

Upstream::Upstream(UpstreamSpec spec, const Upstream* previous) : spec_(std::move(spec)) {
  for (const ServerSpec& s : spec_.servers) {
    std::shared_ptr<ServerState> state;
    if (previous) {
      for (std::size_t i = 0; i < previous->size(); ++i) {
        if (previous->server(i).spec.addr == s.addr) state = previous->shared_server(i);
      }
    }
    if (!state) {
      state = std::make_shared<ServerState>(s);
      // A server with active checks starts up (nginx and HAProxy do the same): the first checks correct it.
    }
    state->spec.weight = s.weight;  // a reload may change the weight
    servers_.push_back(std::move(state));
  }
  balancer_ = make_balancer(spec_);
  candidates_.resize(servers_.size());
}

unsigned Upstream::effective_weight(const ServerState& s, int64_t now) const noexcept {
  const unsigned w = s.spec.weight;
  const int64_t ramp = std::chrono::duration_cast<std::chrono::nanoseconds>(spec_.slow_start).count();
  const int64_t since = s.usable_since.load(std::memory_order_relaxed);
  if (ramp <= 0 || since == 0 || now >= since + ramp) return w;
  const int64_t elapsed = std::max<int64_t>(0, now - since);
  return std::max(1u, static_cast<unsigned>(double(w) * double(elapsed) / double(ramp)));
}

int Upstream::acquire(uint64_t key, int exclude, int64_t now) {
  std::lock_guard lock(mutex_);
  for (std::size_t i = 0; i < servers_.size(); ++i) {
    const ServerState& s = *servers_[i];
    candidates_[i].weight = int(i) == exclude || !s.usable(now) ? 0 : effective_weight(s, now);
    candidates_[i].load =
        s.in_flight.load(std::memory_order_relaxed) + s.tunnels.load(std::memory_order_relaxed);
  }
  int chosen = balancer_->pick(candidates_, key);
  if (chosen < 0) {
    no_server_.fetch_add(1, std::memory_order_relaxed);
    return -1;
  }
  ServerState& s = *servers_[std::size_t(chosen)];
  s.in_flight.fetch_add(1, std::memory_order_relaxed);
  s.requests.fetch_add(1, std::memory_order_relaxed);
  return chosen;
}

std::string Upstream::sticky_id(const ServerSpec& s) {
  static constexpr char kHex[] = "0123456789abcdef";
  uint64_t h = hash_key(s.addr);
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i, h >>= 4) out[std::size_t(i)] = kHex[h & 15];
  return out;
}

int Upstream::acquire_sticky(std::string_view id, int64_t now) {
  if (id.size() != 16) return -1;
  for (std::size_t i = 0; i < servers_.size(); ++i) {
    ServerState& s = *servers_[i];
    if (sticky_id(s.spec) != id) continue;
    if (!s.usable(now)) return -1;
    s.in_flight.fetch_add(1, std::memory_order_relaxed);
    s.requests.fetch_add(1, std::memory_order_relaxed);
    return int(i);
  }
  return -1;
}

void Upstream::report_success(std::size_t i) noexcept {
  servers_[i]->consecutive_fails.store(0, std::memory_order_relaxed);
}

void Upstream::report_failure(std::size_t i, int64_t now, bool timeout) noexcept {
  ServerState& s = *servers_[i];
  s.failures.fetch_add(1, std::memory_order_relaxed);
  if (timeout) s.timeouts.fetch_add(1, std::memory_order_relaxed);
  const unsigned max_fails = spec_.passive.max_fails;
  const uint32_t fails = s.consecutive_fails.fetch_add(1, std::memory_order_relaxed) + 1;
  if (max_fails == 0 || fails < max_fails || s.ejected(now)) return;
  const int64_t eject = std::chrono::duration_cast<std::chrono::nanoseconds>(spec_.passive.eject).count();
  s.ejected_until.store(now + eject, std::memory_order_relaxed);
  s.usable_since.store(now + eject, std::memory_order_relaxed);
  s.consecutive_fails.store(max_fails - 1, std::memory_order_relaxed);  // one more failure ejects it again
  s.ejections.fetch_add(1, std::memory_order_relaxed);
}

void Upstream::set_up(std::size_t i, bool up, int64_t now) noexcept {
  ServerState& s = *servers_[i];
  const bool was = s.active_up.exchange(up, std::memory_order_relaxed);
  if (up && !was) {
    s.usable_since.store(now, std::memory_order_relaxed);
    s.consecutive_fails.store(0, std::memory_order_relaxed);
    s.ejected_until.store(0, std::memory_order_relaxed);  // the checks saw it answer: no need to wait more
  }
}

void Upstream::count_request(int64_t now) noexcept {
  requests_.fetch_add(1, std::memory_order_relaxed);
  const int64_t start = window_start_.load(std::memory_order_relaxed);
  if (now - start >= kRetryWindowNs) {
    window_start_.store(now, std::memory_order_relaxed);
    window_requests_.store(0, std::memory_order_relaxed);
    window_retries_.store(0, std::memory_order_relaxed);
  }
  window_requests_.fetch_add(1, std::memory_order_relaxed);
}

bool Upstream::take_retry(unsigned budget_percent, int64_t) noexcept {
  const uint64_t reqs = window_requests_.load(std::memory_order_relaxed);
  const uint64_t done = window_retries_.load(std::memory_order_relaxed);
  if (budget_percent == 0 || done >= kMinRetries + reqs * budget_percent / 100) {
    retries_refused_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  window_retries_.fetch_add(1, std::memory_order_relaxed);
  retries_.fetch_add(1, std::memory_order_relaxed);
  return true;
}

}  // namespace waitless::proxy
