#include "waitless/web/http_error.hpp"

#include <boost/json.hpp>
#include <string_view>

#include "waitless/base/error.hpp"
#include "waitless/http/response.hpp"
#include "waitless/web/cookie.hpp"
#include "waitless/web/router.hpp"
#include "waitless/web/urlencoded.hpp"

namespace waitless::web {

HttpError HttpError::from(std::error_code ec, std::string detail) {
  if (detail.empty()) detail = ec.message();
  return HttpError(status_for(ec), std::move(detail), ec);
}

const char* HttpError::what() const noexcept {
  try {
    if (what_.empty()) {
      what_ = std::to_string(status_) + " " + std::string(http::reason_phrase(status_));
      if (!detail_.empty()) what_ += ": " + detail_;
    }
    return what_.c_str();
  } catch (...) {
    return "HttpError";
  }
}

int status_for(std::error_code ec) noexcept {
  if (!ec) return 200;
  const std::error_category& cat = ec.category();
  if (cat == waitless_category()) {
    switch (static_cast<Error>(ec.value())) {
      case Error::limit_exceeded:
        return 413;
      case Error::protocol_error:
      case Error::invalid_argument:
        return 400;
      case Error::timed_out:
      case Error::cancelled:
        return 503;
      default:
        return 500;
    }
  }
  // Boost.JSON's errors reach us through boost::system's std::error_category adaptor: known by name.
  if (cat == route_category() || cat == path_category() || cat == form_category() ||
      cat == cookie_category() || std::string_view(cat.name()) == "boost.json") {
    return 400;
  }
  if (ec == std::errc::no_such_file_or_directory) return 404;
  if (ec == std::errc::permission_denied) return 403;
  return 500;
}

std::string problem_json(int status, std::string_view detail, std::string_view instance) {
  boost::json::object o;
  o["type"] = "about:blank";
  o["title"] = http::reason_phrase(status);
  o["status"] = status;
  if (!detail.empty()) o["detail"] = detail;
  if (!instance.empty()) o["instance"] = instance;
  return boost::json::serialize(o);
}

}  // namespace waitless::web
