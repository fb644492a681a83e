#include "waitless/web/response.hpp"

#include <cstdio>

#include "waitless/http/header.hpp"

namespace waitless::web {

Response& Response::status(int code) noexcept {
  if (code < 200 || code > 599 || raw_.headers_sent()) return fail(Error::invalid_argument);
  st_.status = code;
  st_.status_set = true;
  return *this;
}

Response& Response::set_header(std::string_view name, std::string_view value) {
  if (http::iequals(name, "content-type")) return type(value);
  if (auto ec = raw_.set_header(name, value)) return fail(ec);
  return *this;
}

Response& Response::type(std::string_view content_type) {
  if (raw_.headers_sent() || !http::is_field_value(content_type)) return fail(Error::invalid_argument);
  st_.content_type.assign(content_type);
  return *this;
}

Response& Response::send(std::string_view body) {
  if (raw_.headers_sent()) return fail(Error::closed);
  st_.body.assign(body);
  st_.body_set = true;
  return *this;
}

Response& Response::json(const Json& value) {
  if (raw_.headers_sent()) return fail(Error::closed);
  st_.body.clear();
  append_json(value, st_.body);
  st_.body_set = true;
  if (st_.content_type.empty()) st_.content_type = "application/json";
  return *this;
}

Response& Response::redirect(std::string_view location, int code) {
  if (code < 300 || code > 399) return fail(Error::invalid_argument);
  if (auto ec = raw_.set_header("Location", location)) return fail(ec);
  status(code);
  st_.content_type = "text/plain; charset=utf-8";
  st_.body = "Redirecting to ";
  st_.body.append(location);
  st_.body_set = true;
  return *this;
}

Response& Response::cookie(const SetCookie& c) {
  std::string value;
  if (auto ec = append_set_cookie(c, value)) return fail(ec);
  return set_header("Set-Cookie", value);
}

Response& Response::clear_cookie(std::string_view name, std::string_view path) {
  return cookie({.name = name, .value = "", .max_age = std::chrono::seconds(0), .path = path});
}

Response& Response::server_timing_ms(std::string_view metric, double ms, std::string_view description) {
  if (!http::is_token(metric) || !http::is_field_value(description) || raw_.headers_sent())
    return fail(Error::invalid_argument);
  if (!st_.timing.empty()) st_.timing += ", ";
  st_.timing.append(metric);
  if (ms >= 0) {
    char buf[32];
    int n = std::snprintf(buf, sizeof buf, ";dur=%.1f", ms);
    st_.timing.append(buf, static_cast<std::size_t>(n));
  }
  if (!description.empty()) {
    st_.timing += ";desc=\"";
    for (char c : description) {  // a quoted-string: '"' and '\' escaped
      if (c == '"' || c == '\\') st_.timing += '\\';
      st_.timing += c;
    }
    st_.timing += '"';
  }
  return *this;
}

std::error_code Response::write_head_fields() {
  if (raw_.headers_sent()) return {};
  if (auto ec = raw_.set_status(st_.status)) return ec;
  if (st_.content_type.empty() && st_.body_set && !st_.body.empty())
    st_.content_type = "text/plain; charset=utf-8";
  if (!st_.content_type.empty()) {
    if (auto ec = raw_.set_content_type(st_.content_type)) return ec;
  }
  if (!st_.timing.empty()) {
    if (auto ec = raw_.set_header("Server-Timing", st_.timing)) return ec;
  }
  return {};
}

std::error_code Response::set_content_length(uint64_t length) noexcept {
  return raw_.set_content_length(length);
}

std::error_code Response::write(std::string_view piece) {
  if (!raw_.headers_sent()) {
    if (st_.body_set) return fail(Error::invalid_argument).error();  // send() and write() do not mix
    if (auto ec = write_head_fields()) return fail(ec).error();
  }
  return raw_.write(piece);
}

Result<std::size_t> Response::write_file(int fd, uint64_t offset, std::size_t count) {
  if (!raw_.headers_sent()) {
    if (st_.body_set) return fail(Error::invalid_argument).error();  // send() and a stream do not mix
    if (auto ec = write_head_fields()) return fail(ec).error();
  }
  return raw_.write_file(fd, offset, count);
}

std::error_code Response::end(std::string_view last) {
  if (!raw_.headers_sent()) {
    if (auto ec = write_head_fields()) return fail(ec).error();
  }
  st_.committed = true;
  return raw_.end(last);
}

void Response::discard_body() noexcept {
  st_.body.clear();
  st_.content_type.clear();
  st_.body_set = false;
  st_.error = {};
}

std::error_code Response::commit() {
  if (st_.committed) return {};
  st_.committed = true;
  if (raw_.headers_sent()) return raw_.finished() ? std::error_code{} : raw_.end();
  if (auto ec = write_head_fields()) return ec;
  return raw_.send(st_.body);
}

}  // namespace waitless::web
