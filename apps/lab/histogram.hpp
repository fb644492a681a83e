// LatencyHistogram: HDR-style log-linear buckets over non-negative integers (nanoseconds here). Each power
// of two is split into kSubBuckets linear buckets, so any recorded value is reported within 1/kSubBuckets
// (0.8 %) of itself, whatever its magnitude, in a fixed 58 KiB with O(1) recording and no allocation after
// construction. Exact count, min, max and sum are kept beside the buckets.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace waitless::lab {

class LatencyHistogram {
 public:
  static constexpr int kSubBucketBits = 7;
  static constexpr uint64_t kSubBuckets = uint64_t{1} << kSubBucketBits;
  static constexpr std::size_t kBucketCount = (64 - kSubBucketBits + 1) * kSubBuckets;

  LatencyHistogram();

  void record(uint64_t value) noexcept;
  // Adds every value recorded in `other`.
  void merge(const LatencyHistogram& other) noexcept;
  void clear() noexcept;

  uint64_t count() const noexcept { return count_; }
  uint64_t min() const noexcept { return count_ ? min_ : 0; }
  uint64_t max() const noexcept { return max_; }
  double mean() const noexcept { return count_ ? sum_ / static_cast<double>(count_) : 0; }
  // The value at percentile p (0..100): the smallest recorded value v such that at least p % of the values
  // are <= v, reported as the middle of v's bucket (clamped to [min, max]). 0 when empty.
  uint64_t percentile(double p) const noexcept;

  // Bucket arithmetic, exposed for tests.
  static std::size_t bucket_of(uint64_t value) noexcept;
  static uint64_t bucket_low(std::size_t index) noexcept;
  static uint64_t bucket_high(std::size_t index) noexcept;

 private:
  std::vector<uint64_t> buckets_;
  uint64_t count_ = 0;
  uint64_t min_ = UINT64_MAX;
  uint64_t max_ = 0;
  double sum_ = 0;  // for the mean: 53 bits are plenty
};

}  // namespace waitless::lab
