#include "waitless/http/websocket_handshake.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cstring>

#include "waitless/http/header.hpp"

namespace waitless::http::ws {

namespace {
constexpr std::string_view kGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

std::string base64(const unsigned char* data, std::size_t n) {
  std::string out(4 * ((n + 2) / 3), '\0');
  const int written =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(n));
  out.resize(static_cast<std::size_t>(written));
  return out;
}

// Every field named `name` joined as one list (a list-valued field may be split over several lines).
bool any_field_has_token(const Request& req, std::string_view name, std::string_view token) {
  for (const Header& h : req.headers()) {
    if (iequals(h.name, name) && has_token(h.value, token)) return true;
  }
  return false;
}

std::string joined_fields(const Request& req, std::string_view name) {
  std::string out;
  for (const Header& h : req.headers()) {
    if (!iequals(h.name, name)) continue;
    if (!out.empty()) out += ", ";
    out += h.value;
  }
  return out;
}

Handshake refuse(int status, const char* why) {
  Handshake h;
  h.status = status;
  h.error = why;
  return h;
}
}  // namespace

bool has_token(std::string_view list, std::string_view token) noexcept {
  while (!list.empty()) {
    std::size_t comma = list.find(',');
    if (iequals(trim_ows(list.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

std::string accept_key(std::string_view client_key) {
  std::string input(client_key);
  input += kGuid;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(input.data(), input.size(), digest, &len, EVP_sha1(), nullptr) != 1) return {};
  return base64(digest, len);
}

bool valid_client_key(std::string_view key) noexcept {
  // 16 bytes in base64: 22 characters and "==" (the last one holding 4 bits only: A, Q, g or w).
  if (key.size() != 24 || key[22] != '=' || key[23] != '=') return false;
  for (std::size_t i = 0; i < 22; ++i) {
    const char c = key[i];
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
          c == '/')) {
      return false;
    }
  }
  return std::strchr("AQgw", key[21]) != nullptr;
}

std::string make_client_key() {
  unsigned char raw[16];
  if (RAND_bytes(raw, sizeof raw) != 1) {
    for (unsigned char& b : raw) b = static_cast<unsigned char>(std::rand());
  }
  return base64(raw, sizeof raw);
}

Handshake server_handshake(const Request& req, const HandshakeOptions& options,
                           std::string_view extra_headers) {
  if (req.method_id() != Method::get) return refuse(405, "a WebSocket handshake is a GET");
  if (req.version_minor() < 1) return refuse(400, "a WebSocket handshake needs HTTP/1.1");
  if (!any_field_has_token(req, "upgrade", "websocket")) return refuse(400, "Upgrade: websocket missing");
  if (!any_field_has_token(req, "connection", "upgrade")) return refuse(400, "Connection: upgrade missing");
  if (trim_ows(req.header("sec-websocket-version")) != "13") {
    return refuse(426, "Sec-WebSocket-Version must be 13");
  }
  const std::string_view key = trim_ows(req.header("sec-websocket-key"));
  if (!valid_client_key(key)) return refuse(400, "Sec-WebSocket-Key is not 16 bytes in base64");
  const std::string_view origin = req.header("origin");
  if (options.check_origin) {
    if (!options.check_origin(origin)) return refuse(403, "origin not allowed");
  } else if (!options.allowed_origins.empty()) {
    bool ok = false;
    for (const std::string& o : options.allowed_origins) ok = ok || iequals(o, origin);
    if (!ok) return refuse(403, "origin not allowed");
  }
  Handshake h;
  if (!options.subprotocols.empty()) {
    const std::string offered = joined_fields(req, "sec-websocket-protocol");
    for (const std::string& p : options.subprotocols) {
      if (has_token(offered, p)) {
        h.protocol = p;
        break;
      }
    }
  }
  if (options.deflate.enabled) {
    h.deflate = negotiate_deflate(joined_fields(req, "sec-websocket-extensions"), options.deflate);
  }
  h.head.reserve(160 + extra_headers.size());
  h.head +=
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: "
      "Upgrade\r\nSec-WebSocket-Accept: ";
  h.head += accept_key(key);
  h.head += "\r\n";
  if (!h.protocol.empty()) h.head += "Sec-WebSocket-Protocol: " + h.protocol + "\r\n";
  if (h.deflate) h.head += "Sec-WebSocket-Extensions: " + h.deflate->response() + "\r\n";
  h.head += extra_headers;
  h.head += "\r\n";
  return h;
}

}  // namespace waitless::http::ws
