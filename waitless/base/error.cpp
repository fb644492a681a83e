#include "waitless/base/error.hpp"

#include <string>

namespace waitless {
namespace {

class WaitlessCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "waitless"; }
  std::string message(int code) const override {
    switch (static_cast<Error>(code)) {
      case Error::ok:
        return "ok";
      case Error::cancelled:
        return "operation cancelled";
      case Error::timed_out:
        return "timed out";
      case Error::queue_full:
        return "queue full";
      case Error::closed:
        return "closed";
      case Error::already_closing:
        return "handle already closing";
      case Error::loop_closed:
        return "loop closed";
      case Error::not_started:
        return "not started";
      case Error::already_awaited:
        return "task already awaited";
      case Error::invalid_argument:
        return "invalid argument";
      case Error::limit_exceeded:
        return "limit exceeded";
      case Error::protocol_error:
        return "protocol error";
      case Error::eof:
        return "end of stream";
    }
    return "unknown waitless error";
  }
  std::error_condition default_error_condition(int code) const noexcept override {
    switch (static_cast<Error>(code)) {
      case Error::cancelled:
        return std::errc::operation_canceled;
      case Error::timed_out:
        return std::errc::timed_out;
      case Error::invalid_argument:
        return std::errc::invalid_argument;
      default:
        return {code, *this};
    }
  }
};

}  // namespace

const std::error_category& waitless_category() noexcept {
  static const WaitlessCategory category;
  return category;
}

}  // namespace waitless
