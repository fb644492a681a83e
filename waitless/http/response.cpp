#include "waitless/http/response.hpp"

#include <array>
#include <charconv>
#include <cstdio>
#include <cstring>

namespace waitless::http {

std::string_view reason_phrase(int status) noexcept {
  switch (status) {
    case 100:
      return "Continue";
    case 101:
      return "Switching Protocols";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 203:
      return "Non-Authoritative Information";
    case 204:
      return "No Content";
    case 205:
      return "Reset Content";
    case 206:
      return "Partial Content";
    case 300:
      return "Multiple Choices";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 303:
      return "See Other";
    case 304:
      return "Not Modified";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 402:
      return "Payment Required";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 406:
      return "Not Acceptable";
    case 407:
      return "Proxy Authentication Required";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 411:
      return "Length Required";
    case 412:
      return "Precondition Failed";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 415:
      return "Unsupported Media Type";
    case 416:
      return "Range Not Satisfiable";
    case 417:
      return "Expectation Failed";
    case 421:
      return "Misdirected Request";
    case 422:
      return "Unprocessable Content";
    case 425:
      return "Too Early";
    case 426:
      return "Upgrade Required";
    case 428:
      return "Precondition Required";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 451:
      return "Unavailable For Legal Reasons";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Unknown";
  }
}

namespace {

// Appends the header line "name: value\r\n" with one capacity check. Inline, so a constant name
// (Content-Type) is copied by a few moves.
inline void append_header_line(detail::OutBuffer& out, std::string_view name, std::string_view value) {
  char* w = out.extend(name.size() + value.size() + 4);
  std::memcpy(w, name.data(), name.size());
  w += name.size();
  std::memcpy(w, ": ", 2);
  std::memcpy(w + 2, value.data(), value.size());
  std::memcpy(w + 2 + value.size(), "\r\n", 2);
}

// "HTTP/1.1 200 OK\r\n" for every code 100..599, built once: a response copies its line.
struct StatusLines {
  std::array<std::string, 500> lines;
  StatusLines() {
    for (int code = 100; code < 600; ++code) {
      char buf[96];
      std::string_view reason = reason_phrase(code);
      int n = std::snprintf(buf, sizeof buf, "HTTP/1.1 %d %.*s\r\n", code, static_cast<int>(reason.size()),
                            reason.data());
      lines[static_cast<std::size_t>(code - 100)].assign(buf, static_cast<std::size_t>(n));
    }
  }
};

std::string_view status_line(int status) noexcept {
  static const StatusLines table;
  return table.lines[static_cast<std::size_t>(status - 100)];
}

void append_hex(detail::OutBuffer& out, uint64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v, 16);
  out.append(buf, static_cast<std::size_t>(r.ptr - buf));
}

}  // namespace

void Response::prepare(detail::ExchangePort* port, bool head_request, bool http10,
                       bool http10_keep_alive) noexcept {
  port_ = port;
  head_request_ = head_request;
  http10_ = http10;
  http10_keep_alive_ = http10_keep_alive;
}

void Response::clear() noexcept {
  headers_.clear();
  filters_ = nullptr;
  declared_ = npos;
  written_ = 0;
  error_ = {};
  status_ = 200;
  state_ = State::fresh;
  chunked_ = head_request_ = http10_ = http10_keep_alive_ = custom_server_ = custom_date_ = close_ =
      touched_ = broken_ = false;
}

std::error_code Response::set_status(int status) noexcept {
  if (status < 200 || status > 599 || state_ != State::fresh) return fail(Error::invalid_argument);
  status_ = status;
  touched_ = true;
  return {};
}

// ---- the header list ----------------------------------------------------------------------------------
// headers_ holds "Name: value\r\n" lines, exactly as they go on the wire (write_head copies them at once).
// A name is a token (no ':'), a value has no CR or LF: each line is found by its ':' and its '\n'.

namespace {

struct Line {
  std::string_view name, value;
  std::size_t begin, end;  // the line's bytes in the buffer, "\r\n" included
};

// The line starting at `at` (which is < size).
inline Line line_at(const char* data, std::size_t size, std::size_t at) noexcept {
  const char* p = data + at;
  const char* colon = static_cast<const char*>(std::memchr(p, ':', size - at));
  const char* nl =
      static_cast<const char*>(std::memchr(colon, '\n', size - static_cast<std::size_t>(colon - data)));
  return {std::string_view(p, static_cast<std::size_t>(colon - p)),
          std::string_view(colon + 2, static_cast<std::size_t>(nl - 1 - (colon + 2))), at,
          static_cast<std::size_t>(nl + 1 - data)};
}

}  // namespace

Header Response::HeaderIterator::operator*() const noexcept {
  Line l = line_at(at_, static_cast<std::size_t>(end_ - at_), 0);
  return {l.name, l.value};
}

Response::HeaderIterator& Response::HeaderIterator::operator++() noexcept {
  at_ += line_at(at_, static_cast<std::size_t>(end_ - at_), 0).end;
  return *this;
}

std::optional<std::string_view> Response::get(std::string_view name) const noexcept {
  const char* data = headers_.data();
  const std::size_t size = headers_.size();
  for (std::size_t at = 0; at < size;) {
    Line l = line_at(data, size, at);
    if (iequals(l.name, name)) return l.value;
    at = l.end;
  }
  if (close_ && iequals(name, "connection")) return std::string_view("close");
  return std::nullopt;
}

std::size_t Response::count(std::string_view name) const noexcept {
  std::size_t n = 0;
  for (Header h : headers()) n += iequals(h.name, name);
  if (close_ && iequals(name, "connection")) ++n;
  return n;
}

void Response::erase_fields(std::string_view name) noexcept {
  const char* data = headers_.data();
  std::size_t size = headers_.size();
  for (std::size_t at = 0; at < size;) {
    Line l = line_at(data, size, at);
    if (!iequals(l.name, name)) {
      at = l.end;
      continue;
    }
    headers_.erase(l.begin, l.end - l.begin);
    data = headers_.data();
    size = headers_.size();
  }
}

std::error_code Response::check_field(std::string_view name, std::string_view value, bool& listed) noexcept {
  listed = true;
  if (state_ != State::fresh || !is_token(name) || !is_field_value(value)) return Error::invalid_argument;
  switch (name.size()) {
    case 4:
      if (iequals(name, "date")) custom_date_ = true;
      break;
    case 6:
      if (iequals(name, "server")) custom_server_ = true;
      break;
    case 10:
      if (iequals(name, "connection")) {
        if (!iequals(value, "close")) return Error::invalid_argument;
        close_ = true;
        listed = false;  // written by write_head, once
      }
      break;
    case 14:
      if (iequals(name, "content-length")) return Error::invalid_argument;
      break;
    case 17:
      if (iequals(name, "transfer-encoding")) return Error::invalid_argument;
      break;
    default:
      break;
  }
  touched_ = true;
  return {};
}

std::error_code Response::replace_header(std::string_view name, std::string_view value) {
  bool listed;
  if (auto ec = check_field(name, value, listed)) return fail(ec);
  if (!listed) return {};
  if (!headers_.empty()) erase_fields(name);
  append_header_line(headers_, name, value);
  return {};
}

std::error_code Response::set_header(std::string_view name, std::string_view value) {
  bool listed;
  if (auto ec = check_field(name, value, listed)) return fail(ec);
  if (listed) append_header_line(headers_, name, value);
  return {};
}

std::error_code Response::remove_header(std::string_view name) noexcept {
  if (state_ != State::fresh) return fail(Error::invalid_argument);
  touched_ = true;
  if (iequals(name, "connection")) {
    close_ = false;
    return {};
  }
  erase_fields(name);
  if (iequals(name, "date")) custom_date_ = false;
  if (iequals(name, "server")) custom_server_ = false;
  return {};
}

std::error_code Response::set_content_type(std::string_view type) {
  if (state_ != State::fresh || !is_field_value(type)) return fail(Error::invalid_argument);
  touched_ = true;
  if (!headers_.empty()) erase_fields("Content-Type");
  append_header_line(headers_, "Content-Type", type);
  return {};
}

std::error_code Response::set_content_length(uint64_t length) noexcept {
  if (state_ != State::fresh) return fail(Error::invalid_argument);
  declared_ = length;
  touched_ = true;
  return {};
}

Response& Response::add_body_filter(BodyFilter& filter) noexcept {
  if (state_ != State::fresh) {
    note(Error::invalid_argument);
    return *this;
  }
  touched_ = true;
  filter.next_ = filters_;
  filters_ = &filter;
  return *this;
}

// ---- the head and the body --------------------------------------------------------------------------------

void Response::write_head(const detail::ExchangePort::HeadOutput& head, uint64_t length,
                          std::string_view body) {
  bool close = close_ || head.closes;
  // An HTTP/1.0 client cannot take chunked: a body of unknown length ends where the connection does.
  if (length == npos && http10_ && body_allowed()) close = true;
  std::string_view lines[3];  // status line, Server, Date
  if (status_ == 200 && !custom_server_ && !custom_date_) {
    lines[0] = head.prefix_200;  // all three: the loop's cached copy
  } else {
    lines[0] = status_line(status_);
    if (!custom_server_) lines[1] = head.server;
    if (!custom_date_) lines[2] = head.date;
  }
  // Framing, Connection and the blank line.
  char tail[96];
  char* t = tail;
  auto put = [&t](std::string_view s) {
    std::memcpy(t, s.data(), s.size());
    t += s.size();
  };
  if (body_allowed()) {
    if (length != npos) {
      put("Content-Length: ");
      t = std::to_chars(t, tail + sizeof tail, length).ptr;
      put("\r\n");
    } else if (!http10_) {
      put("Transfer-Encoding: chunked\r\n");
      chunked_ = true;
    }
  }
  close_ = close;
  if (close) {
    put("Connection: close\r\n");
  } else if (http10_keep_alive_) {
    put("Connection: keep-alive\r\n");
  }
  put("\r\n");
  const std::string_view tail_view(tail, static_cast<std::size_t>(t - tail));
  // One capacity check, then plain copies.
  const std::string_view parts[] = {lines[0],  lines[1], lines[2], {headers_.data(), headers_.size()},
                                    tail_view, body};
  std::size_t total = 0;
  for (std::string_view s : parts) total += s.size();
  char* w = head.out->extend(total);
  for (std::string_view s : parts) {
    if (s.empty()) continue;
    std::memcpy(w, s.data(), s.size());
    w += s.size();
  }
}

std::error_code Response::send(std::string_view body) {
  if (filters_) [[unlikely]] {
    return send_filtered(body);
  }
  return send_raw(body);
}

std::error_code Response::send_raw(std::string_view body) {
  if (state_ != State::fresh)
    return fail(state_ == State::finished ? Error::closed : Error::invalid_argument);
  touched_ = true;
  const detail::ExchangePort::HeadOutput head = port_->head_output();
  state_ = State::finished;
  if (!head.out) return fail(Error::closed);
  written_ = body.size();
  const bool with_body = !head_request_ && body_allowed();
  write_head(head, body_allowed() ? body.size() : npos, with_body ? body : std::string_view{});
  port_->committed(true, true);
  return {};
}

std::error_code Response::send(int status, std::string_view body, std::string_view content_type) {
  if (auto ec = set_status(status)) return ec;
  if (!content_type.empty()) {
    if (auto ec = set_content_type(content_type)) return ec;
  }
  return send(body);
}

std::error_code Response::send_error(int status, bool close) {
  if (state_ != State::fresh) return Error::invalid_argument;
  headers_.clear();
  filters_ = nullptr;  // the server's own words go out as they are
  custom_server_ = custom_date_ = false;
  declared_ = npos;
  status_ = status;
  if (close) close_ = true;
  append_header_line(headers_, "Content-Type", "text/plain");
  std::string_view reason = reason_phrase(status);
  std::string body(reason);
  body += '\n';
  return send_raw(body);
}

std::error_code Response::write(std::string_view piece) {
  if (filters_) [[unlikely]] {
    return write_filtered(piece, false);
  }
  return write_raw(piece);
}

std::error_code Response::write_raw(std::string_view piece) {
  if (state_ == State::finished) return fail(Error::closed);
  touched_ = true;
  const bool head = state_ == State::fresh;
  detail::OutBuffer* out = nullptr;
  if (head) {
    const detail::ExchangePort::HeadOutput h = port_->head_output();
    out = h.out;
    if (out) {
      write_head(h, declared_);
      state_ = State::streaming;
    }
  } else {
    out = port_->output();
  }
  if (!out) {
    state_ = State::finished;
    return fail(Error::closed);
  }
  if (!piece.empty() && !head_request_ && body_allowed()) {
    if (chunked_) {
      append_hex(*out, piece.size());
      out->append("\r\n", 2);
      out->append(piece);
      out->append("\r\n", 2);
    } else {
      if (declared_ != npos && written_ + piece.size() > declared_) {
        broken_ = true;  // more than announced: never let the excess reach the client as a next response
        piece = piece.substr(0, static_cast<std::size_t>(declared_ - written_));
      }
      out->append(piece);
    }
  }
  written_ += piece.size();
  port_->committed(head, false);
  return {};
}

Result<std::size_t> Response::write_file(int fd, uint64_t offset, std::size_t count) {
  if (state_ == State::fresh) {
    if (auto ec = write(std::string_view{})) return ec;  // the head; the body filters decide here
  }
  if (state_ == State::finished) return fail(Error::closed);
  if (filters_ || chunked_ || head_request_ || !body_allowed())
    return std::make_error_code(std::errc::operation_not_supported);
  auto sent = port_->send_file(fd, offset, count);
  if (!sent) {
    if (sent.error() == std::errc::operation_not_supported) return sent.error();
    state_ = State::finished;  // the client is gone, as write() finds it
    return fail(sent.error());
  }
  written_ += *sent;
  return *sent;
}

std::error_code Response::end(std::string_view last) {
  if (filters_) [[unlikely]] {
    if (state_ == State::fresh && declared_ == npos) return send_filtered(last);
    return write_filtered(last, true);
  }
  if (state_ == State::fresh && declared_ == npos) return send_raw(last);
  return end_raw(last);
}

std::error_code Response::end_raw(std::string_view last) {
  if (state_ == State::finished) return fail(Error::closed);
  if (!last.empty() || state_ == State::fresh) {
    if (auto ec = write_raw(last)) return ec;
  }
  detail::OutBuffer* out = port_->output();
  state_ = State::finished;
  if (!out) return fail(Error::closed);
  if (chunked_ && !head_request_) out->append("0\r\n\r\n", 5);
  // A response to HEAD declares the length of the body it does not carry.
  if (declared_ != npos && written_ != declared_ && !head_request_) broken_ = true;
  port_->committed(false, true);
  return {};
}

std::error_code Response::end_with_trailers(const HeaderMap& trailers) {
  if (trailers.empty() || filters_ || state_ == State::fresh || state_ == State::finished || !chunked_ ||
      head_request_) {
    return end();
  }
  detail::OutBuffer* out = port_->output();
  state_ = State::finished;
  if (!out) return fail(Error::closed);
  out->append("0\r\n", 3);
  for (Header h : trailers) {
    if (!is_token(h.name) || !is_field_value(h.value)) continue;  // never a malformed field on the wire
    out->append(h.name.data(), h.name.size());
    out->append(": ", 2);
    out->append(h.value.data(), h.value.size());
    out->append("\r\n", 2);
  }
  out->append("\r\n", 2);
  port_->committed(false, true);
  return {};
}

void Response::abandon() noexcept {
  broken_ = true;
  state_ = State::finished;
  port_->committed(false, true);
}

// ---- body filters ---------------------------------------------------------------------------------------

bool Response::start_filters(std::optional<uint64_t> length) {
  if (!body_allowed()) {
    filters_ = nullptr;  // no body: nothing to filter
    return false;
  }
  // Innermost first; a filter that passes leaves the chain.
  BodyFilter** link = &filters_;
  while (BodyFilter* f = *link) {
    if (f->on_head(*this, length) == BodyFilter::Mode::pass) {
      *link = f->next_;
    } else {
      length.reset();  // transformed: its length is unknown to the filters outside it
      link = &f->next_;
    }
  }
  return filters_ != nullptr;
}

Result<std::string_view> Response::run_filters(std::string_view in, bool last) {
  for (BodyFilter* f = filters_; f; f = f->next_) {
    auto out = f->transform(in, last);
    if (!out) return out.error();
    in = *out;
  }
  return in;
}

std::error_code Response::send_filtered(std::string_view body) {
  if (state_ != State::fresh) return send_raw(body);  // the error it reports
  if (!start_filters(body.size())) return send_raw(body);
  auto out = run_filters(body, true);
  filters_ = nullptr;
  if (!out) return fail(out.error());  // nothing went out: the server answers 500 when the handler ends
  return send_raw(*out);
}

std::error_code Response::write_filtered(std::string_view piece, bool last) {
  if (state_ == State::finished) return fail(Error::closed);
  if (state_ == State::fresh) {
    const bool declared = declared_ != npos;
    if (!start_filters(declared ? std::optional<uint64_t>(declared_) : std::nullopt)) {
      return last ? end_raw(piece) : write_raw(piece);
    }
    declared_ = npos;  // the output's length is unknown: chunked
  }
  auto out = run_filters(piece, last);
  if (!out) {
    if (state_ == State::fresh) {
      filters_ = nullptr;
      return fail(out.error());  // nothing went out: the server answers 500
    }
    abandon();
    return fail(out.error());
  }
  return last ? end_raw(*out) : write_raw(*out);
}

}  // namespace waitless::http
