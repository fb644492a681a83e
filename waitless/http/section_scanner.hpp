// SectionScanner: what llhttp's strict mode lets through in a head or trailer section, found for both the
// request and the response parser: a bare LF (an LF not preceded by CR) and an obs-fold (a line that
// starts with SP or HTAB). Bare CR llhttp refuses itself. A section may arrive in pieces: the scanner
// carries the last byte across them, so the answer never depends on how the bytes were split.
#pragma once

namespace waitless::http {

class SectionScanner {
 public:
  // Starts a section. after_crlf: it begins right after a CRLF (a trailer section, after the last-chunk
  // line), so a leading SP or HTAB is already a fold.
  void start(bool after_crlf = false) noexcept {
    prev_ = after_crlf ? '\n' : 0;
    lf_before_ = after_crlf;
  }
  // The first offending byte in [p, e) (the LF, or the SP/HTAB that starts a fold), or null.
  const char* scan(const char* p, const char* e) noexcept;

 private:
  char prev_ = 0;           // the last byte scanned
  bool lf_before_ = false;  // it was an LF: the next byte must not start a fold
};

}  // namespace waitless::http
