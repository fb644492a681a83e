#include "waitless/base/log.hpp"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <mutex>
#include <string>

namespace waitless::log {
namespace {

Level initial_level() {
  const char* env = std::getenv("WAITLESS_LOG");
  if (!env) return Level::info;
  std::string_view v(env);
  if (v == "debug") return Level::debug;
  if (v == "warn") return Level::warn;
  if (v == "error") return Level::error;
  if (v == "off") return Level::off;
  return Level::info;
}

std::atomic<Level> g_level{initial_level()};
std::mutex g_sink_mutex;
std::function<void(Level, std::string_view)> g_sink;

const char* name(Level l) {
  switch (l) {
    case Level::debug:
      return "debug";
    case Level::info:
      return "info";
    case Level::warn:
      return "warn";
    case Level::error:
      return "error";
    case Level::off:
      break;
  }
  return "";
}

}  // namespace

Level level() noexcept { return g_level.load(std::memory_order_relaxed); }
void set_level(Level l) noexcept { g_level.store(l, std::memory_order_relaxed); }

void set_sink(std::function<void(Level, std::string_view)> sink) {
  std::lock_guard lock(g_sink_mutex);
  g_sink = std::move(sink);
}

void write(Level l, std::string_view message) {
  std::lock_guard lock(g_sink_mutex);
  if (g_sink) {
    g_sink(l, message);
    return;
  }
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  tm utc{};
  gmtime_r(&ts.tv_sec, &utc);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &utc);
  std::fprintf(stderr, "%s.%03ldZ %-5s %.*s\n", stamp, ts.tv_nsec / 1000000, name(l),
               static_cast<int>(message.size()), message.data());
}

}  // namespace waitless::log
