// Errors are values: waitless's own conditions as a std::error_code category, beside errno's.
#pragma once
#include <system_error>

namespace waitless {

enum class Error {
  ok = 0,
  cancelled,         // the operation's cancel token fired
  timed_out,         // a deadline passed
  queue_full,        // a bounded queue refused the work at once
  closed,            // the handle, stream or loop is closed
  already_closing,   // close() called twice on one handle
  loop_closed,       // post() to a loop that no longer runs
  not_started,       // cancel/stop of something that is not running (documented no-op reported)
  already_awaited,   // a Task awaited twice, or a moved-from Task awaited
  invalid_argument,  // misuse detected at the call
  limit_exceeded,    // a configured size/count limit was crossed
  protocol_error,    // the peer broke the protocol
  eof,               // end of stream
};

const std::error_category& waitless_category() noexcept;
inline std::error_code make_error_code(Error e) noexcept {
  return {static_cast<int>(e), waitless_category()};
}

// errno as a std::error_code (system_category), for syscalls.
inline std::error_code errno_code(int err) noexcept { return {err, std::system_category()}; }

}  // namespace waitless

template <>
struct std::is_error_code_enum<waitless::Error> : std::true_type {};
