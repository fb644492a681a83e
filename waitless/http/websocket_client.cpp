#include "waitless/http/websocket_client.hpp"

#include "waitless/async/timeout.hpp"
#include "waitless/base/log.hpp"
#include "waitless/http/header.hpp"
#include "waitless/http/url.hpp"
#include "waitless/net/tcp_stream.hpp"

namespace waitless::http {

namespace {

struct Answer {
  std::unique_ptr<net::TcpStream> stream;
  std::string protocol;
  std::optional<ws::DeflateParams> deflate;
  std::string rest;  // bytes after the head: the first frames
};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Checks the server's answer head (status line and fields, without the blank line).
Result<Answer> check_answer(std::string_view head, std::string_view key,
                            const WebSocketClientOptions& options, const ws::DeflateOptions& deflate) {
  std::size_t eol = head.find("\r\n");
  const std::string_view status_line = head.substr(0, eol);
  if (status_line.size() < 12 || status_line.substr(0, 9) != "HTTP/1.1 " ||
      status_line.substr(9, 3) != "101") {
    log::debug("websocket client: answer '{}'", status_line);
    return Error::protocol_error;
  }
  bool upgrade = false, connection = false, accepted = false;
  Answer a;
  bool has_extensions = false;
  std::string extensions;
  while (eol != std::string_view::npos) {
    head.remove_prefix(eol + 2);
    eol = head.find("\r\n");
    const std::string_view line = head.substr(0, eol);
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) return Error::protocol_error;
    const std::string_view name = line.substr(0, colon), value = trim(line.substr(colon + 1));
    if (iequals(name, "upgrade")) {
      upgrade = upgrade || ws::has_token(value, "websocket");
    } else if (iequals(name, "connection")) {
      connection = connection || ws::has_token(value, "upgrade");
    } else if (iequals(name, "sec-websocket-accept")) {
      accepted = value == ws::accept_key(key);
    } else if (iequals(name, "sec-websocket-protocol")) {
      bool offered = false;
      for (const std::string& p : options.protocols) offered = offered || p == value;
      if (!offered || !a.protocol.empty()) return Error::protocol_error;
      a.protocol.assign(value);
    } else if (iequals(name, "sec-websocket-extensions")) {
      if (has_extensions) extensions += ", ";
      extensions.append(value);
      has_extensions = true;
    }
  }
  if (!upgrade || !connection || !accepted) return Error::protocol_error;
  if (has_extensions) {
    if (!deflate.enabled) return Error::protocol_error;  // nothing was offered
    a.deflate = ws::accept_deflate_response(extensions, deflate);
    if (!a.deflate) return Error::protocol_error;
  }
  return a;
}

Task<Result<Answer>> handshake(Loop& loop, std::string host, uint16_t port, std::string request,
                               std::string key, const WebSocketClientOptions& options,
                               const ws::DeflateOptions& deflate) {
  auto s = co_await net::TcpStream::connect(loop, host, port);
  if (!s) co_return s.error();
  std::unique_ptr<net::TcpStream> stream = std::move(s.value());
  (void)stream->write(request);
  if (std::error_code ec = co_await stream->drain())
    co_return ec;  // the fd is handed over with nothing queued
  std::string buf;
  std::size_t end;
  while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
    if (buf.size() > options.max_head) co_return Error::protocol_error;
    auto chunk = co_await stream->read();
    if (!chunk) co_return chunk.error();
    if (chunk->empty()) co_return Error::closed;
    buf += *chunk;
  }
  auto a = check_answer(std::string_view(buf).substr(0, end), key, options, deflate);
  if (!a) co_return a.error();
  a->stream = std::move(stream);
  a->rest = buf.substr(end + 4);
  co_return std::move(a.value());
}

}  // namespace

Task<Result<WebSocket*>> connect_websocket(Loop& loop, std::string url,
                                           std::shared_ptr<const WebSocketConfig> config,
                                           WebSocketClientOptions options, std::any user_data) {
  if (!config) co_return Error::invalid_argument;
  // parse_url speaks http: ws:// is the same authority and target.
  if (url.size() >= 5 && iequals(std::string_view(url).substr(0, 5), "ws://")) {
    url = "http://" + url.substr(5);
  } else {
    co_return Error::invalid_argument;  // wss:// needs TLS
  }
  auto u = parse_url(url);
  if (!u) co_return u.error();
  const std::string key = ws::make_client_key();
  std::string request = "GET ";
  request += u->target.empty()
                 ? "/"
                 : (u->target.front() == '?' ? "/" + std::string(u->target) : std::string(u->target));
  request += " HTTP/1.1\r\nHost: ";
  request += u->authority;
  request +=
      "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ";
  request += key;
  request += "\r\n";
  if (!options.protocols.empty()) {
    request += "Sec-WebSocket-Protocol: ";
    for (std::size_t i = 0; i < options.protocols.size(); ++i)
      request += (i ? ", " : "") + options.protocols[i];
    request += "\r\n";
  }
  const ws::DeflateOptions& deflate = config->options.handshake.deflate;
  if (deflate.enabled) request += "Sec-WebSocket-Extensions: " + ws::deflate_offer(deflate) + "\r\n";
  if (!options.origin.empty()) request += "Origin: " + options.origin + "\r\n";
  request += options.extra_headers;
  request += "\r\n";
  auto r = co_await with_timeout(
      handshake(loop, std::string(u->host), u->port, std::move(request), key, options, deflate),
      options.timeout);
  if (!r) co_return r.error();
  if (!r.value()) co_return r.value().error();
  Answer a = std::move(r.value().value());
  Upgraded up;
  up.loop = &loop;
  up.fd = a.stream->release_fd();
  if (up.fd < 0) co_return Error::closed;
  up.received = std::move(a.rest);
  WebSocket::Setup setup;
  setup.client = true;
  setup.protocol = std::move(a.protocol);
  setup.deflate = a.deflate;
  setup.user_data = std::move(user_data);
  WebSocket* w = WebSocket::start(std::move(up), std::move(config), std::move(setup));
  if (!w) co_return Error::closed;
  co_return w;
}

}  // namespace waitless::http
