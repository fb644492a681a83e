#include "waitless/http/date_cache.hpp"

#include <cstring>

namespace waitless::http {

void format_http_date(std::time_t t, char* out) noexcept {
  static constexpr char kDays[] = "SunMonTueWedThuFriSat";
  static constexpr char kMonths[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
  std::tm tm{};
  gmtime_r(&t, &tm);
  auto two = [](char* p, int v) {
    p[0] = static_cast<char>('0' + v / 10);
    p[1] = static_cast<char>('0' + v % 10);
  };
  std::memcpy(out, kDays + 3 * tm.tm_wday, 3);
  out[3] = ',';
  out[4] = ' ';
  two(out + 5, tm.tm_mday);
  out[7] = ' ';
  std::memcpy(out + 8, kMonths + 3 * tm.tm_mon, 3);
  out[11] = ' ';
  int year = tm.tm_year + 1900;
  two(out + 12, year / 100 % 100);
  two(out + 14, year % 100);
  out[16] = ' ';
  two(out + 17, tm.tm_hour);
  out[19] = ':';
  two(out + 20, tm.tm_min);
  out[22] = ':';
  two(out + 23, tm.tm_sec);
  std::memcpy(out + 25, " GMT", 4);
}

bool DateCache::refresh(std::time_t now) noexcept {
  if (now == time_) return false;
  time_ = now;
  format_http_date(now, line_ + 6);
  line_[6 + kValueSize] = '\r';
  line_[6 + kValueSize + 1] = '\n';
  line_[6 + kValueSize + 2] = '\0';
  return true;
}

}  // namespace waitless::http
