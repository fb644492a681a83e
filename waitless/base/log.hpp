// Logging front end: leveled, one line per call, to stderr (or a sink set by the application).
// Cheap when filtered: the level check happens before formatting.
#pragma once
#include <fmt/format.h>

#include <functional>
#include <string_view>

namespace waitless::log {

enum class Level { debug = 0, info, warn, error, off };

Level level() noexcept;
void set_level(Level level) noexcept;
// Replaces the sink (default: a line to stderr with time and level). Thread-safe to call before loops start.
void set_sink(std::function<void(Level, std::string_view)> sink);
void write(Level level, std::string_view message);

template <typename... Args>
void debug(fmt::format_string<Args...> f, Args&&... args) {
  if (level() <= Level::debug) write(Level::debug, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void info(fmt::format_string<Args...> f, Args&&... args) {
  if (level() <= Level::info) write(Level::info, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void warn(fmt::format_string<Args...> f, Args&&... args) {
  if (level() <= Level::warn) write(Level::warn, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void error(fmt::format_string<Args...> f, Args&&... args) {
  if (level() <= Level::error) write(Level::error, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace waitless::log
