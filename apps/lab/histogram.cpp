#include "apps/lab/histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace waitless::lab {

LatencyHistogram::LatencyHistogram() : buckets_(kBucketCount, 0) {}

// Values below kSubBuckets have a bucket each. Above, a value whose top bit is bit `msb` falls in the
// block of `shift = msb - kSubBucketBits`, and in that block in the bucket of its next kSubBucketBits bits.
std::size_t LatencyHistogram::bucket_of(uint64_t value) noexcept {
  if (value < kSubBuckets) return static_cast<std::size_t>(value);
  const int msb = 63 - std::countl_zero(value);
  const int shift = msb - kSubBucketBits;
  const uint64_t top = value >> shift;  // in [kSubBuckets, 2 * kSubBuckets)
  return static_cast<std::size_t>((static_cast<uint64_t>(shift) + 1) * kSubBuckets + (top - kSubBuckets));
}

uint64_t LatencyHistogram::bucket_low(std::size_t index) noexcept {
  if (index < kSubBuckets) return index;
  const uint64_t shift = index / kSubBuckets - 1;
  const uint64_t top = kSubBuckets + index % kSubBuckets;
  return top << shift;
}

uint64_t LatencyHistogram::bucket_high(std::size_t index) noexcept {
  if (index < kSubBuckets) return index;
  const uint64_t shift = index / kSubBuckets - 1;
  const uint64_t top = kSubBuckets + index % kSubBuckets;
  // The last bucket ends at UINT64_MAX: (top + 1) << 56 would overflow there.
  if (top + 1 == 2 * kSubBuckets && shift == 63 - kSubBucketBits) return UINT64_MAX;
  return ((top + 1) << shift) - 1;
}

void LatencyHistogram::record(uint64_t value) noexcept {
  ++buckets_[bucket_of(value)];
  ++count_;
  min_ = std::min(min_, value);
  max_ = std::max(max_, value);
  sum_ += static_cast<double>(value);
}

void LatencyHistogram::merge(const LatencyHistogram& other) noexcept {
  if (other.count_ == 0) return;
  for (std::size_t i = 0; i < kBucketCount; ++i) buckets_[i] += other.buckets_[i];
  count_ += other.count_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
  sum_ += other.sum_;
}

void LatencyHistogram::clear() noexcept {
  std::fill(buckets_.begin(), buckets_.end(), 0);
  count_ = 0;
  min_ = UINT64_MAX;
  max_ = 0;
  sum_ = 0;
}

uint64_t LatencyHistogram::percentile(double p) const noexcept {
  if (count_ == 0) return 0;
  if (p <= 0) return min_;
  if (p >= 100) return max_;
  auto rank = static_cast<uint64_t>(std::ceil(p / 100.0 * static_cast<double>(count_)));
  rank = std::clamp<uint64_t>(rank, 1, count_);
  uint64_t seen = 0;
  for (std::size_t i = 0; i < kBucketCount; ++i) {
    seen += buckets_[i];
    if (seen >= rank) {
      const uint64_t low = bucket_low(i);
      const uint64_t mid = low + (bucket_high(i) - low) / 2;
      return std::clamp(mid, min_, max_);
    }
  }
  return max_;
}

}  // namespace waitless::lab
