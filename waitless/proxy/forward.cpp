#include "waitless/proxy/forward.hpp"

#include <string>

#include "waitless/http/field_list.hpp"

namespace waitless::proxy {

namespace {

bool starts_with_ci(std::string_view s, std::string_view prefix) noexcept {
  return s.size() >= prefix.size() && http::iequals(s.substr(0, prefix.size()), prefix);
}

std::string via_entry(int version_minor, std::string_view via) {
  std::string v = version_minor == 0 ? "1.0 " : "1.1 ";
  v.append(via);
  return v;
}

}  // namespace

bool is_hop_by_hop(std::string_view name, std::string_view connection) noexcept {
  static constexpr std::string_view kFixed[] = {"connection", "keep-alive",        "te",
                                                "trailer",    "transfer-encoding", "upgrade"};
  for (std::string_view f : kFixed) {
    if (http::iequals(name, f)) return true;
  }
  if (starts_with_ci(name, "proxy-")) return true;
  return !connection.empty() && http::list_has_token(connection, name);
}

void forward_request_headers(const std::vector<http::Header>& in, const ForwardInfo& info,
                             http::HeaderMap& out) {
  out.clear();
  std::string_view connection, host;
  for (const http::Header& h : in) {
    if (http::iequals(h.name, "connection")) connection = h.value;  // several: the first is enough here
  }
  std::string joined_xff, joined_forwarded, joined_via;
  auto join = [](std::string& acc, std::string_view v) {
    if (!acc.empty()) acc += ", ";
    acc.append(v);
  };
  for (const http::Header& h : in) {
    if (is_hop_by_hop(h.name, connection) || http::iequals(h.name, "content-length")) continue;
    if (http::iequals(h.name, "host")) {
      host = h.value;
      if (info.host_override.empty()) out.add(h.name, h.value);
      continue;
    }
    if (http::iequals(h.name, "x-forwarded-for")) {
      join(joined_xff, h.value);
      continue;
    }
    if (http::iequals(h.name, "forwarded")) {
      join(joined_forwarded, h.value);
      continue;
    }
    if (http::iequals(h.name, "via")) {
      join(joined_via, h.value);
      continue;
    }
    if (http::iequals(h.name, "x-forwarded-proto") || http::iequals(h.name, "x-forwarded-host")) continue;
    out.add(h.name, h.value);
  }
  if (!info.host_override.empty()) out.add("Host", info.host_override);
  join(joined_xff, info.client_ip);
  out.add("X-Forwarded-For", joined_xff);
  out.add("X-Forwarded-Proto", info.tls ? "https" : "http");
  if (!host.empty()) out.add("X-Forwarded-Host", host);
  // RFC 7239: an IPv6 address is bracketed and quoted; host is quoted (it may carry ":port").
  std::string element = "for=";
  const bool v6 = info.client_ip.find(':') != std::string_view::npos;
  if (v6) element += "\"[";
  element.append(info.client_ip);
  if (v6) element += "]\"";
  if (!host.empty() && host.find('"') == std::string_view::npos &&
      host.find('\\') == std::string_view::npos) {
    element += ";host=\"";
    element.append(host);
    element += '"';
  }
  element += info.tls ? ";proto=https" : ";proto=http";
  join(joined_forwarded, element);
  out.add("Forwarded", joined_forwarded);
  join(joined_via, via_entry(info.version_minor, info.via));
  out.add("Via", joined_via);
}

std::error_code forward_response_headers(const http::HeaderMap& in, std::string_view via,
                                         http::Response& res) {
  std::error_code first;
  const std::string_view connection = in.get("connection");
  std::string joined_via;
  for (http::Header h : in) {
    if (is_hop_by_hop(h.name, connection) || http::iequals(h.name, "content-length")) continue;
    if (http::iequals(h.name, "via")) {
      if (!joined_via.empty()) joined_via += ", ";
      joined_via.append(h.value);
      continue;
    }
    std::error_code ec = res.set_header(h.name, h.value);
    if (ec && !first) first = ec;
  }
  if (!joined_via.empty()) joined_via += ", ";
  joined_via += via_entry(1, via);
  std::error_code ec = res.set_header("Via", joined_via);
  if (ec && !first) first = ec;
  return first;
}

void forward_trailers(const http::HeaderMap& in, http::HeaderMap& out) {
  out.clear();
  for (http::Header h : in) {
    // Framing, routing and hop-by-hop fields have no place in a trailer section (RFC 9110 6.5.1).
    if (is_hop_by_hop(h.name, {}) || http::iequals(h.name, "content-length") ||
        http::iequals(h.name, "host")) {
      continue;
    }
    out.add(h.name, h.value);
  }
}

std::string switching_protocols_head(const http::HeaderMap& in, std::string_view via) {
  std::string head = "HTTP/1.1 101 Switching Protocols\r\n";
  const std::string_view connection = in.get("connection");
  std::string joined_via;
  for (http::Header h : in) {
    if (is_hop_by_hop(h.name, connection) || http::iequals(h.name, "content-length")) continue;
    if (http::iequals(h.name, "via")) {
      if (!joined_via.empty()) joined_via += ", ";
      joined_via.append(h.value);
      continue;
    }
    head.append(h.name).append(": ").append(h.value).append("\r\n");
  }
  if (!joined_via.empty()) joined_via += ", ";
  joined_via += via_entry(1, via);
  head.append("Via: ").append(joined_via).append("\r\n");
  head.append("Connection: Upgrade\r\nUpgrade: ").append(in.get("upgrade")).append("\r\n\r\n");
  return head;
}

}  // namespace waitless::proxy
