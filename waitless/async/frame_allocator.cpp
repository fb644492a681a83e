#include "waitless/async/frame_allocator.hpp"

#include "waitless/base/block_cache.hpp"

namespace waitless::detail {
namespace {

thread_local uint64_t t_frames = 0;

}  // namespace

uint64_t frames_allocated() noexcept { return t_frames; }

void* allocate_frame(std::size_t size) {
  ++t_frames;
  return allocate_block(size);
}

void free_frame(void* p, std::size_t size) noexcept { free_block(p, size); }

}  // namespace waitless::detail
