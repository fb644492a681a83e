#include "apps/lab/mini_http.hpp"

#include <charconv>

#include "waitless/http/header.hpp"

namespace waitless::lab {
namespace {

// Whether a comma-separated Connection value lists `token`.
bool lists_token(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    const auto comma = value.find(',');
    if (http::iequals(http::trim_ows(value.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

// Finds the head, splits off its first line, and reads the header fields every message shares.
HeadParse parse_common(std::string_view buf, MessageHead& out, bool http10) {
  const auto end = buf.find("\r\n\r\n");
  if (end == std::string_view::npos)
    return buf.size() >= kMaxHeadBytes ? HeadParse::bad : HeadParse::need_more;
  if (end + 4 > kMaxHeadBytes) return HeadParse::bad;
  out = MessageHead{};
  out.head_bytes = end + 4;
  std::string_view head = buf.substr(0, end + 2);  // every line ends with CRLF
  const auto eol = head.find("\r\n");
  head.remove_prefix(eol + 2);
  bool keep_alive = false, seen_length = false;
  while (!head.empty()) {
    const auto line_end = head.find("\r\n");
    const std::string_view line = head.substr(0, line_end);
    head.remove_prefix(line_end + 2);
    const auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0 || line.front() == ' ' || line.front() == '\t') {
      return HeadParse::bad;
    }
    const std::string_view name = line.substr(0, colon);
    if (name.back() == ' ' || name.back() == '\t') return HeadParse::bad;
    const std::string_view value = http::trim_ows(line.substr(colon + 1));
    if (http::iequals(name, "content-length")) {
      uint64_t n = 0;
      auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (ec != std::errc() || p != value.data() + value.size() || value.empty()) return HeadParse::bad;
      if (seen_length && n != out.content_length) return HeadParse::bad;
      seen_length = true;
      out.content_length = n;
    } else if (http::iequals(name, "transfer-encoding")) {
      return HeadParse::bad;
    } else if (http::iequals(name, "connection")) {
      if (lists_token(value, "close")) out.close = true;
      if (lists_token(value, "keep-alive")) keep_alive = true;
    }
  }
  // HTTP/1.0 closes unless it asked to be kept alive (the callers checked the version).
  if (http10 && !keep_alive) out.close = true;
  return HeadParse::complete;
}

bool parse_version(std::string_view v, bool& http10) {
  if (v == "HTTP/1.1") {
    http10 = false;
    return true;
  }
  if (v == "HTTP/1.0") {
    http10 = true;
    return true;
  }
  return false;
}

}  // namespace

HeadParse parse_request_head(std::string_view buf, MessageHead& out) {
  // The version is on the first line, which parse_common splits off: peek at it first.
  const auto eol = buf.find("\r\n");
  if (eol == std::string_view::npos)
    return buf.size() >= kMaxHeadBytes ? HeadParse::bad : HeadParse::need_more;
  const std::string_view line = buf.substr(0, eol);
  const auto sp1 = line.find(' ');
  const auto sp2 = line.rfind(' ');
  bool http10 = false;
  if (sp1 == std::string_view::npos || sp1 == sp2 || sp1 == 0 || sp2 == sp1 + 1) return HeadParse::bad;
  if (!parse_version(line.substr(sp2 + 1), http10)) return HeadParse::bad;
  const HeadParse r = parse_common(buf, out, http10);
  if (r != HeadParse::complete) return r;
  out.method = line.substr(0, sp1);
  out.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  if (out.target.find(' ') != std::string_view::npos) return HeadParse::bad;
  return HeadParse::complete;
}

HeadParse parse_response_head(std::string_view buf, MessageHead& out) {
  const auto eol = buf.find("\r\n");
  if (eol == std::string_view::npos)
    return buf.size() >= kMaxHeadBytes ? HeadParse::bad : HeadParse::need_more;
  const std::string_view line = buf.substr(0, eol);
  // "HTTP/1.1 200 OK": version, a space, three digits, then a space and a reason (possibly empty).
  bool http10 = false;
  if (line.size() < 12 || line[8] != ' ' || (line.size() > 12 && line[12] != ' ')) return HeadParse::bad;
  if (!parse_version(line.substr(0, 8), http10)) return HeadParse::bad;
  int status = 0;
  for (int i = 9; i < 12; ++i) {
    if (line[i] < '0' || line[i] > '9') return HeadParse::bad;
    status = status * 10 + (line[i] - '0');
  }
  const HeadParse r = parse_common(buf, out, http10);
  if (r != HeadParse::complete) return r;
  out.status = status;
  return HeadParse::complete;
}

std::string make_get_request(std::string_view host, std::string_view target) {
  std::string r;
  r.reserve(40 + host.size() + target.size());
  r += "GET ";
  r += target;
  r += " HTTP/1.1\r\nHost: ";
  r += host;
  r += "\r\n\r\n";
  return r;
}

std::string make_response(int status, std::string_view reason, std::string_view body, bool close) {
  std::string r = "HTTP/1.1 " + std::to_string(status) + " ";
  r += reason;
  r += "\r\nContent-Type: text/plain\r\nContent-Length: ";
  r += std::to_string(body.size());
  r += close ? "\r\nConnection: close\r\n\r\n" : "\r\n\r\n";
  r += body;
  return r;
}

}  // namespace waitless::lab
