// HttpError: how a handler or a middleware ends a request with an error status from anywhere in the chain
// (`throw HttpError(404)`, `throw HttpError(422, "name is required")`), and how the framework reports its
// own (a bad route parameter is a 400, a body over its limit a 413). The chain catches it; the errors
// middleware (errors.hpp), or the App when there is none, answers with an RFC 9457 problem document:
//
//   HTTP/1.1 404 Not Found
//   Content-Type: application/problem+json
//   {"type":"about:blank","title":"Not Found","status":404,"detail":"no route for /x","instance":"/x"}
//
// `detail` is meant for the client: it is sent for 4xx errors. A 5xx (and any other exception) says only
// its title unless the errors middleware runs in development mode; its detail goes to the log.
// Errors as values: status_for(std::error_code) maps the library's errors to the status they deserve, so a
// handler can `throw HttpError::from(ec)` or hand an error_code to the errors middleware.
#pragma once
#include <exception>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace waitless::web {

class HttpError : public std::exception {
 public:
  explicit HttpError(int status, std::string detail = {}, std::error_code code = {})
      : status_(status < 400 || status > 599 ? 500 : status), detail_(std::move(detail)), code_(code) {}
  // The status status_for(ec) gives, with ec's message as the detail.
  static HttpError from(std::error_code ec, std::string detail = {});

  int status() const noexcept { return status_; }
  const std::string& detail() const noexcept { return detail_; }
  std::error_code code() const noexcept { return code_; }
  // Response headers that belong to this error (Allow for a 405, WWW-Authenticate for a 401...).
  const std::vector<std::pair<std::string, std::string>>& headers() const noexcept { return headers_; }
  HttpError& with_header(std::string name, std::string value) {
    headers_.emplace_back(std::move(name), std::move(value));
    return *this;
  }
  const char* what() const noexcept override;

 private:
  int status_;
  std::string detail_;
  std::error_code code_;
  std::vector<std::pair<std::string, std::string>> headers_;
  mutable std::string what_;
};

// The HTTP status an error deserves: a waitless::Error (limit_exceeded 413, timed_out 408/503 as the
// context says: 503 here, protocol_error 400, cancelled 503, invalid_argument 400), a route/form/cookie/JSON
// error 400, a filesystem not-found 404 and permission 403, anything else 500.
int status_for(std::error_code ec) noexcept;

// The problem document (application/problem+json) for `status`: title from the reason phrase, `detail` and
// `instance` (the request path) when not empty.
std::string problem_json(int status, std::string_view detail, std::string_view instance);

}  // namespace waitless::web
