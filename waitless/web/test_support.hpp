// Helpers shared by the web units' tests.
#pragma once
#include <malloc.h>

#include <cstddef>

namespace waitless::web::test {

// Bytes of heap in use: small blocks and mmapped ones (mallinfo2; all arenas).
inline std::size_t heap_in_use() {
  const auto m = mallinfo2();
  return m.uordblks + m.hblkhd;
}

}  // namespace waitless::web::test
