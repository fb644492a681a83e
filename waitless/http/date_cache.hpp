// DateCache: the Date header line (RFC 9110 IMF-fixdate), formatted once a second rather than per response.
// The server refreshes it from a loop timer; a response copies the cached line. One per loop (no sharing).
#pragma once
#include <ctime>
#include <string_view>

namespace waitless::http {

class DateCache {
 public:
  static constexpr std::size_t kValueSize = 29;  // "Sun, 06 Nov 1994 08:49:37 GMT"

  DateCache() noexcept { refresh(); }
  // Reads the wall clock (precisely: time() reads a coarse clock that can lag a second boundary by a few
  // ms, and the refresh runs just after one); returns whether the second changed.
  bool refresh() noexcept {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return refresh(ts.tv_sec);
  }
  bool refresh(std::time_t now) noexcept;

  std::string_view value() const noexcept { return {line_ + 6, kValueSize}; }
  // "Date: <value>\r\n", ready to append to a response head.
  std::string_view line() const noexcept { return {line_, kValueSize + 8}; }
  std::time_t time() const noexcept { return time_; }

 private:
  std::time_t time_ = -1;
  char line_[6 + kValueSize + 2 + 1] = "Date: ";
};

// Formats `t` as an IMF-fixdate into out[0..29).
void format_http_date(std::time_t t, char* out) noexcept;

}  // namespace waitless::http
