#include "waitless/http/websocket_client.hpp"

#include "waitless/async/timeout.hpp"
#include "waitless/base/log.hpp"
#include "waitless/http/client.hpp"
#include "waitless/http/header.hpp"
#include "waitless/http/url.hpp"
#include "waitless/net/tcp_stream.hpp"

namespace waitless::http {

namespace {

struct Answer {
  std::unique_ptr<net::TcpStream> stream;  // ws://
  Upgraded upgraded;                       // wss://: the connection and its TLS layer
  std::string protocol;
  std::optional<ws::DeflateParams> deflate;
  std::string rest;  // bytes after the head: the first frames
};

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
    const std::string_view name = line.substr(0, colon), value = trim_ows(line.substr(colon + 1));
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

// wss://: the request goes through an http::Client with TLS (it verifies the server's certificate, and
// its connection hands its TLS layer over with the socket, upgrade.hpp). The answer's head is rebuilt as
// text for the same checks as over plain TCP.
Task<Result<Answer>> handshake_tls(Loop& loop, std::string url, std::string_view fields, std::string key,
                                   const WebSocketClientOptions& options, const ws::DeflateOptions& deflate) {
  ClientOptions client_options;
  client_options.max_connections_per_origin = 1;
  client_options.tls = options.tls;
  client_options.tls_server_name = options.tls_server_name;
  Client client(loop, std::move(client_options));
  ClientRequest req;
  req.url = std::move(url);
  // "Name: value\r\n" lines, made by connect_websocket (extra_headers included).
  while (!fields.empty()) {
    const std::size_t eol = fields.find("\r\n");
    const std::string_view line = fields.substr(0, eol);
    fields.remove_prefix(eol == std::string_view::npos ? fields.size() : eol + 2);
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    req.headers.add(trim_ows(line.substr(0, colon)), trim_ows(line.substr(colon + 1)));
  }
  auto s = co_await client.stream(std::move(req));
  if (!s) co_return s.error();
  std::string head = "HTTP/1.1 " + std::to_string(s->status()) + " " + s->reason();
  if (head.size() > options.max_head) co_return Error::protocol_error;
  for (const Header h : s->headers()) {
    head += "\r\n";
    head += h.name;
    head += ": ";
    head += h.value;
  }
  auto a = check_answer(head, key, options, deflate);
  if (!a) co_return a.error();
  auto up = s->take_upgraded();
  if (!up) co_return up.error();
  a->upgraded = std::move(*up);
  co_return std::move(a.value());
}

}  // namespace

Task<Result<WebSocket*>> connect_websocket(Loop& loop, std::string url,
                                           std::shared_ptr<const WebSocketConfig> config,
                                           WebSocketClientOptions options, std::any user_data) {
  if (!config) co_return Error::invalid_argument;
  // parse_url speaks http: ws:// is the same authority and target, wss:// that of https://.
  bool tls = false;
  if (url.size() >= 5 && iequals(std::string_view(url).substr(0, 5), "ws://")) {
    url = "http://" + url.substr(5);
  } else if (url.size() >= 6 && iequals(std::string_view(url).substr(0, 6), "wss://")) {
    url = "https://" + url.substr(6);
    tls = true;
  } else {
    co_return Error::invalid_argument;
  }
  auto u = parse_url(url);
  if (!u) co_return u.error();
  const std::string key = ws::make_client_key();
  // The fields after Host; over TLS the http::Client writes the request line and Host itself.
  std::string fields =
      "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ";
  fields += key;
  fields += "\r\n";
  if (!options.protocols.empty()) {
    fields += "Sec-WebSocket-Protocol: ";
    for (std::size_t i = 0; i < options.protocols.size(); ++i)
      fields += (i ? ", " : "") + options.protocols[i];
    fields += "\r\n";
  }
  const ws::DeflateOptions& deflate = config->options.handshake.deflate;
  if (deflate.enabled) fields += "Sec-WebSocket-Extensions: " + ws::deflate_offer(deflate) + "\r\n";
  if (!options.origin.empty()) fields += "Origin: " + options.origin + "\r\n";
  fields += options.extra_headers;
  Upgraded up;
  Answer a;
  if (tls) {
    auto r = co_await with_timeout(handshake_tls(loop, std::move(url), fields, key, options, deflate),
                                   options.timeout);
    if (!r) co_return r.error();
    if (!r.value()) co_return r.value().error();
    a = std::move(r.value().value());
    up = std::move(a.upgraded);
  } else {
    std::string request = "GET ";
    request += u->target.empty()
                   ? "/"
                   : (u->target.front() == '?' ? "/" + std::string(u->target) : std::string(u->target));
    request += " HTTP/1.1\r\nHost: ";
    request += u->authority;
    request += "\r\n";
    request += fields;
    request += "\r\n";
    auto r = co_await with_timeout(
        handshake(loop, std::string(u->host), u->port, std::move(request), key, options, deflate),
        options.timeout);
    if (!r) co_return r.error();
    if (!r.value()) co_return r.value().error();
    a = std::move(r.value().value());
    up.fd = a.stream->release_fd();
    if (up.fd < 0) co_return Error::closed;
    up.received = std::move(a.rest);
  }
  up.loop = &loop;
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
