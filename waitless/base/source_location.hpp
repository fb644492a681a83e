// Where a callback was registered, for logs and the watchdog: file and line from the __builtin_FILE/LINE
// intrinsics (gcc and clang alike, no <source_location> needed). Converts from std::source_location where
// that exists.
#pragma once
#include <cstdint>
#if __has_include(<source_location>)
#include <source_location>
#endif

namespace waitless {

class SourceLocation {
 public:
  constexpr SourceLocation() noexcept = default;
  static constexpr SourceLocation current(const char* file = __builtin_FILE(),
                                          uint32_t line = __builtin_LINE()) noexcept {
    SourceLocation l;
    l.file_ = file;
    l.line_ = line;
    return l;
  }
#if defined(__cpp_lib_source_location)
  constexpr SourceLocation(const std::source_location& l) noexcept  // NOLINT(google-explicit-constructor)
      : file_(l.file_name()), line_(l.line()) {}
#endif
  constexpr const char* file_name() const noexcept { return file_; }
  constexpr uint32_t line() const noexcept { return line_; }

 private:
  const char* file_ = "";
  uint32_t line_ = 0;
};

}  // namespace waitless
