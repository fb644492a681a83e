#include "waitless/http/section_scanner.hpp"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace waitless::http {

const char* SectionScanner::scan(const char* p, const char* e) noexcept {
  if (p >= e) return nullptr;
  // Whether the byte before the current one is a CR / an LF (across pieces: prev_, lf_before_).
  unsigned cr_before = prev_ == '\r';
  unsigned lf_before = lf_before_;
  const char* q = p;
#if defined(__SSE2__)
  // 16 bytes per step, no branch per line: bit i of `bad` marks byte i as an LF without a CR before it,
  // or an SP/HTAB right after an LF (a fold).
  const __m128i nl = _mm_set1_epi8('\n'), cr = _mm_set1_epi8('\r'), sp = _mm_set1_epi8(' '),
                ht = _mm_set1_epi8('\t');
  for (; e - q >= 16; q += 16) {
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q));
    const auto lf = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(b, nl)));
    const auto crs = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(b, cr)));
    const auto ws =
        static_cast<unsigned>(_mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(b, sp), _mm_cmpeq_epi8(b, ht))));
    const unsigned bad = ((lf & ~((crs << 1) | cr_before)) | (((lf << 1) | lf_before) & ws)) & 0xffff;
    if (bad) return q + __builtin_ctz(bad);
    cr_before = (crs >> 15) & 1;
    lf_before = (lf >> 15) & 1;
  }
#endif
  for (; q < e; ++q) {
    const char ch = *q;
    if ((ch == '\n' && !cr_before) || (lf_before && (ch == ' ' || ch == '\t'))) return q;
    cr_before = ch == '\r';
    lf_before = ch == '\n';
  }
  lf_before_ = lf_before;
  prev_ = e[-1];
  return nullptr;
}

}  // namespace waitless::http
