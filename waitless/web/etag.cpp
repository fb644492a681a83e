#include "waitless/web/etag.hpp"
#include "waitless/web/header_params.hpp"

#include <algorithm>
#include <array>
#include <cstdio>

namespace waitless::web {
namespace {

struct EntityTag {
  bool weak = false;
  std::string_view opaque;  // with its quotes
};

// entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE; etagc = %x21 / %x23-7E / obs-text.
std::optional<EntityTag> parse_tag(std::string_view s) noexcept {
  EntityTag t;
  if (s.starts_with("W/")) {
    t.weak = true;
    s.remove_prefix(2);
  }
  if (s.size() < 2 || s.front() != '"' || s.back() != '"') return std::nullopt;
  for (char ch : s.substr(1, s.size() - 2)) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x21 || c == '"' || c == 0x7f) return std::nullopt;
  }
  t.opaque = s;
  return t;
}

// Calls match(tag) for each tag of a `#entity-tag` list; true as soon as one returns true. Malformed
// members are skipped ("*" is handled by the callers).
template <typename F>
bool any_tag(std::string_view list, F&& match) {
  while (!list.empty()) {
    const std::size_t comma = std::min(list.find(','), list.size());
    const auto tag = parse_tag(trim_ows(list.substr(0, comma)));
    list.remove_prefix(std::min(comma + 1, list.size()));
    if (tag && match(*tag)) return true;
  }
  return false;
}

int month_index(std::string_view m) noexcept {
  static constexpr std::array<std::string_view, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                               "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  for (int i = 0; i < 12; ++i) {
    if (kMonths[i] == m) return i;
  }
  return -1;
}

bool digits(std::string_view s, int& out) noexcept {
  if (s.empty()) return false;
  out = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    out = out * 10 + (c - '0');
  }
  return true;
}

// Days from 1970-01-01 to y-m-d (proleptic Gregorian; Howard Hinnant's days_from_civil).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) noexcept {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

std::optional<std::time_t> to_time(int year, int month, int day, std::string_view hms) noexcept {
  int h, mi, s;
  if (hms.size() != 8 || hms[2] != ':' || hms[5] != ':' || !digits(hms.substr(0, 2), h) ||
      !digits(hms.substr(3, 2), mi) || !digits(hms.substr(6, 2), s)) {
    return std::nullopt;
  }
  static constexpr int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  if (month < 0 || day < 1 || day > kDays[month] || (month == 1 && day == 29 && !leap) || h > 23 || mi > 59 ||
      s > 60) {
    return std::nullopt;
  }
  const int64_t days = days_from_civil(year, static_cast<unsigned>(month + 1), static_cast<unsigned>(day));
  return static_cast<std::time_t>(days * 86400 + int64_t{h} * 3600 + int64_t{mi} * 60 + std::min(s, 59));
}

bool weekday(std::string_view w, bool long_form) noexcept {
  static constexpr std::string_view kShort[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
  static constexpr std::string_view kLong[] = {"Monday", "Tuesday",  "Wednesday", "Thursday",
                                               "Friday", "Saturday", "Sunday"};
  for (int i = 0; i < 7; ++i) {
    if ((long_form ? kLong[i] : kShort[i]) == w) return true;
  }
  return false;
}

}  // namespace

std::string make_etag(uint64_t size, int64_t mtime_ns) {
  char buf[48];
  const int n = std::snprintf(buf, sizeof buf, "\"%llx-%llx\"", static_cast<unsigned long long>(size),
                              static_cast<unsigned long long>(mtime_ns));
  return std::string(buf, static_cast<std::size_t>(n));
}

std::optional<std::time_t> parse_http_date(std::string_view t) noexcept {
  int day, year;
  // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
  if (t.size() == 29 && t[3] == ',' && t[4] == ' ' && t[7] == ' ' && t[11] == ' ' && t[16] == ' ' &&
      t[25] == ' ' && t.substr(26) == "GMT" && weekday(t.substr(0, 3), false) &&
      digits(t.substr(5, 2), day) && digits(t.substr(12, 4), year)) {
    return to_time(year, month_index(t.substr(8, 3)), day, t.substr(17, 8));
  }
  // RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT"; a two-digit year 70-99 is 19xx, 00-69 is 20xx (RFC 9110
  // 5.6.7 reads one more than 50 years ahead as the past; a fixed pivot is that for decades to come).
  const std::size_t comma = t.find(',');
  if (comma != std::string_view::npos && weekday(t.substr(0, comma), true)) {
    const std::string_view r = t.substr(comma + 1);
    if (r.size() == 23 && r[0] == ' ' && r[3] == '-' && r[7] == '-' && r[10] == ' ' &&
        r.substr(20) == "GMT" && r[19] == ' ' && digits(r.substr(1, 2), day) &&
        digits(r.substr(8, 2), year)) {
      return to_time(year < 70 ? 2000 + year : 1900 + year, month_index(r.substr(4, 3)), day,
                     r.substr(11, 8));
    }
    return std::nullopt;
  }
  // asctime: "Sun Nov  6 08:49:37 1994"
  if (t.size() == 24 && t[3] == ' ' && t[7] == ' ' && t[10] == ' ' && t[19] == ' ' &&
      weekday(t.substr(0, 3), false) && digits(t.substr(20, 4), year)) {
    const std::string_view d = t[8] == ' ' ? t.substr(9, 1) : t.substr(8, 2);
    if (!digits(d, day)) return std::nullopt;
    return to_time(year, month_index(t.substr(4, 3)), day, t.substr(11, 8));
  }
  return std::nullopt;
}

bool if_none_match(std::string_view header, std::string_view etag) noexcept {
  header = trim_ows(header);
  if (header == "*") return true;
  const auto mine = parse_tag(etag);
  if (!mine) return false;
  return any_tag(header, [&](const EntityTag& t) { return t.opaque == mine->opaque; });  // weak comparison
}

bool if_match(std::string_view header, std::string_view etag) noexcept {
  header = trim_ows(header);
  if (header == "*") return true;
  const auto mine = parse_tag(etag);
  if (!mine || mine->weak) return false;
  return any_tag(header, [&](const EntityTag& t) { return !t.weak && t.opaque == mine->opaque; });
}

bool if_range_matches(std::string_view header, std::string_view etag, std::time_t last_modified) noexcept {
  header = trim_ows(header);
  if (header.starts_with("\"") || header.starts_with("W/")) {
    const auto theirs = parse_tag(header), mine = parse_tag(etag);
    return theirs && mine && !theirs->weak && !mine->weak && theirs->opaque == mine->opaque;
  }
  const auto date = parse_http_date(header);
  return date && *date == last_modified;
}

bool is_not_modified(std::optional<std::string_view> if_none_match_header,
                     std::optional<std::string_view> if_modified_since, std::string_view etag,
                     std::time_t last_modified) noexcept {
  if (if_none_match_header) return if_none_match(*if_none_match_header, etag);
  if (!if_modified_since) return false;
  const auto since = parse_http_date(trim_ows(*if_modified_since));
  return since && last_modified <= *since;
}

}  // namespace waitless::web
