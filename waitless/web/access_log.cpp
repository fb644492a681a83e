#include "waitless/web/access_log.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <exception>
#include <string>

#include "waitless/web/http_error.hpp"
#include "waitless/web/request.hpp"
#include "waitless/web/response.hpp"

namespace waitless::web {

namespace {

using Clock = std::chrono::steady_clock;

// Escapes a client-supplied field for a quoted log field (both the text formats and JSON strings).
void append_escaped(std::string& out, std::string_view s) {
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
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
  char buf[48];
  std::snprintf(buf, sizeof buf, "%s.%03dZ", cache.iso, static_cast<int>(ms));
  out += buf;
}

struct Entry {
  int status;
  uint64_t bytes;
  double ms;
};

void format_line(std::string& line, LogFormat format, Request& req, const Entry& e) {
  char num[64];
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
    std::snprintf(num, sizeof num, "\",\"status\":%d,\"bytes\":%llu,\"duration_ms\":%.3f", e.status,
                  static_cast<unsigned long long>(e.bytes), e.ms);
    line += num;
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
  std::snprintf(num, sizeof num, "\" %d %llu", e.status, static_cast<unsigned long long>(e.bytes));
  line += num;
  if (format == LogFormat::combined) {
    line += " \"";
    append_escaped(line, req.header("referer"));
    line += "\" \"";
    append_escaped(line, req.header("user-agent"));
    line += '"';
  }
  std::snprintf(num, sizeof num, " %.3f ", e.ms);
  line += num;
  line += id;
}

struct State {
  AccessLogOptions options;

  void log(Request& req, Response& res, Clock::time_point t0, const std::exception_ptr& err) {
    Entry e;
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
    e.ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
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
