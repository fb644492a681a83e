#include "waitless/web/access_log.hpp"

#include <array>
#include <charconv>
#include <chrono>
#include <ctime>
#include <exception>
#include <string>

#include "waitless/web/http_error.hpp"
#include "waitless/web/request.hpp"
#include "waitless/web/response.hpp"

namespace waitless::web {

namespace {

using Clock = std::chrono::steady_clock;

// The bytes a quoted log field escapes: '"', '\\', control bytes and DEL.
constexpr auto kNeedsEscape = [] {
  std::array<bool, 256> t{};
  for (int c = 0; c < 0x20; ++c) t[c] = true;
  t['"'] = t['\\'] = t[0x7f] = true;
  return t;
}();
bool needs_escape(unsigned char c) noexcept { return kNeedsEscape[c]; }

// Escapes a client-supplied field for a quoted log field (both the text formats and JSON strings).
void append_escaped(std::string& out, std::string_view s) {
  // The usual field has nothing to escape: one append of the run before the first byte that has.
  std::size_t clean = 0;
  while (clean < s.size() && !needs_escape(static_cast<unsigned char>(s[clean]))) ++clean;
  out.append(s.data(), clean);
  if (clean == s.size()) return;
  for (unsigned char c : s.substr(clean)) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      static constexpr char kHex[] = "0123456789abcdef";
      const char esc[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
      out.append(esc, sizeof esc);
    } else {
      out += static_cast<char>(c);
    }
  }
}

// "[04/Dec/2026:10:31:00 +0000]" or "2026-12-04T10:31:00.123Z", the text part cached per second per thread.
void append_time(std::string& out, bool iso) {
  struct Cache {
    std::time_t second = -1;
    char clf[40];
    char iso[32];
  };
  thread_local Cache cache;
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  if (t != cache.second) {
    std::tm tm{};
    gmtime_r(&t, &tm);
    std::strftime(cache.clf, sizeof cache.clf, "[%d/%b/%Y:%H:%M:%S +0000]", &tm);
    std::strftime(cache.iso, sizeof cache.iso, "%Y-%m-%dT%H:%M:%S", &tm);
    cache.second = t;
  }
  if (!iso) {
    out += cache.clf;
    return;
  }
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  out += cache.iso;
  const char frac[5] = {'.', static_cast<char>('0' + ms / 100), static_cast<char>('0' + ms / 10 % 10),
                        static_cast<char>('0' + ms % 10), 'Z'};
  out.append(frac, sizeof frac);
}

void append_uint(std::string& out, uint64_t v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, static_cast<std::size_t>(r.ptr - buf));  // (pointer, size): not the iterator-pair append
}

// The duration in milliseconds with three decimals (as "%.3f" of ns / 1e6, rounded to the microsecond),
// formatted from the integer nanoseconds: no printf on the per-request path.
void append_ms(std::string& out, int64_t ns) {
  if (ns < 0) ns = 0;
  const uint64_t us = (static_cast<uint64_t>(ns) + 500) / 1000;
  append_uint(out, us / 1000);
  const auto frac = static_cast<unsigned>(us % 1000);
  const char digits[4] = {'.', static_cast<char>('0' + frac / 100), static_cast<char>('0' + frac / 10 % 10),
                          static_cast<char>('0' + frac % 10)};
  out.append(digits, sizeof digits);
}

struct LogEntry {
  int status;
  uint64_t bytes;
  int64_t ns;  // the duration
};

void format_line(std::string& line, LogFormat format, Request& req, const LogEntry& e) {
  const std::string_view ip = req.ip();
  const std::string_view id = req.id();
  if (format == LogFormat::json) {
    line += "{\"time\":\"";
    append_time(line, true);
    line += "\",\"ip\":\"";
    append_escaped(line, ip);
    line += "\",\"method\":\"";
    append_escaped(line, req.method());
    line += "\",\"path\":\"";
    append_escaped(line, req.target());
    line += "\",\"version\":\"";
    line += req.raw().version();
    line += "\",\"status\":";
    append_uint(line, static_cast<uint64_t>(e.status));
    line += ",\"bytes\":";
    append_uint(line, e.bytes);
    line += ",\"duration_ms\":";
    append_ms(line, e.ns);
    line += ",\"request_id\":\"";
    append_escaped(line, id);
    line += "\",\"referer\":\"";
    append_escaped(line, req.header("referer"));
    line += "\",\"user_agent\":\"";
    append_escaped(line, req.header("user-agent"));
    line += "\"}";
    return;
  }
  line += ip;
  line += " - - ";
  append_time(line, false);
  line += " \"";
  append_escaped(line, req.method());
  line += ' ';
  append_escaped(line, req.target());
  line += ' ';
  line += req.raw().version();
  line += "\" ";
  append_uint(line, static_cast<uint64_t>(e.status));
  line += ' ';
  append_uint(line, e.bytes);
  if (format == LogFormat::combined) {
    line += " \"";
    append_escaped(line, req.header("referer"));
    line += "\" \"";
    append_escaped(line, req.header("user-agent"));
    line += '"';
  }
  line += ' ';
  append_ms(line, e.ns);
  line += ' ';
  line += id;
}

struct State {
  AccessLogOptions options;

  void log(Request& req, Response& res, Clock::time_point t0, const std::exception_ptr& err) {
    LogEntry e;
    if (err) {
      e.status = 500;
      try {
        std::rethrow_exception(err);
      } catch (const HttpError& h) {
        e.status = h.status();
      } catch (...) {
      }
    } else {
      e.status = res.answered() ? res.status() : 404;
    }
    e.bytes = req.method_id() == http::Method::head ? 0
              : res.has_body()                      ? res.body_text().size()
                                                    : res.raw().body_bytes();
    e.ns = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count();
    thread_local std::string line;
    line.clear();
    format_line(line, options.format, req, e);
    options.sink->write(line);
  }
};

}  // namespace

Layer logger(AccessLogOptions options) {
  if (!options.sink) options.sink = LogSink::standard_output();
  auto state = std::make_shared<State>(State{std::move(options)});
  Layer layer;
  layer.sync = [state](Request& req, Response& res, Next next) {
    const auto t0 = Clock::now();
    try {
      next();
    } catch (...) {
      state->log(req, res, t0, std::current_exception());
      throw;
    }
    state->log(req, res, t0, nullptr);
  };
  layer.async = [state](Request& req, Response& res, Next next) -> Task<> {
    const auto t0 = Clock::now();
    std::exception_ptr err;
    try {
      co_await next();
    } catch (...) {
      err = std::current_exception();
    }
    state->log(req, res, t0, err);
    if (err) std::rethrow_exception(err);
  };
  return layer;
}

}  // namespace waitless::web
