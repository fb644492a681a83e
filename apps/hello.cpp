// `waitless hello [--port P] [--threads N] [--host H] [--tls-cert F --tls-key F]`: the TechEmpower-style
// benchmark server. With --tls-cert/--tls-key (PEM chain and key) it speaks HTTPS only; SIGHUP reads the
// two files again for new connections (established ones keep theirs).
//   GET /plaintext -> "Hello, World!" (text/plain)
//   GET /json      -> {"message":"Hello, World!"} (application/json, serialized per request)
// Both with Server and Date headers; 404 elsewhere, 405 for other methods. Sync handler: the fast path.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>

#include "apps/commands.hpp"
#include "waitless/http/server.hpp"

namespace waitless::apps {
namespace {

// A JSON string literal for `s` (quotes, backslashes and control characters escaped).
void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

void handle(http::Request& req, http::Response& res) {
  const std::string_view path = req.path();
  const bool readable = req.method_id() == http::Method::get || req.method_id() == http::Method::head;
  if (path == "/plaintext") {
    if (!readable) {
      (void)res.set_header("Allow", "GET, HEAD");
      (void)res.send(405, "Method Not Allowed\n", "text/plain");
      return;
    }
    (void)res.set_content_type("text/plain");
    (void)res.send("Hello, World!");
  } else if (path == "/json") {
    if (!readable) {
      (void)res.set_header("Allow", "GET, HEAD");
      (void)res.send(405, "Method Not Allowed\n", "text/plain");
      return;
    }
    thread_local std::string body;  // reused: no allocation per request once warm
    body.clear();
    body += "{\"message\":";
    append_json_string(body, "Hello, World!");
    body += '}';
    (void)res.set_content_type("application/json");
    (void)res.send(body);
  } else {
    (void)res.send(404, "Not Found\n", "text/plain");
  }
}

struct HelloOptions {
  int port = 8080;
  http::ListenConfig listen;
  std::string tls_cert, tls_key;
};

int serve(HelloOptions options) {
  if (options.tls_cert.empty() != options.tls_key.empty()) {
    std::fprintf(stderr, "waitless hello: --tls-cert and --tls-key go together\n");
    return 2;
  }
  if (!options.tls_cert.empty()) {
    auto tls = net::TlsContext::server({.certificate = {options.tls_cert, options.tls_key}});
    if (!tls) {
      std::fprintf(stderr, "waitless hello: TLS: %s (%s, %s)\n", tls.error().message().c_str(),
                   options.tls_cert.c_str(), options.tls_key.c_str());
      return 1;
    }
    options.listen.tls = std::move(tls.value());
  }
  http::Server server(handle);
  auto bound = server.listen(static_cast<uint16_t>(options.port), options.listen);
  if (!bound) {
    std::fprintf(stderr, "waitless hello: cannot listen on %s:%d: %s\n", options.listen.host.c_str(),
                 options.port, bound.error().message().c_str());
    return 1;
  }
  std::printf("waitless hello listening on %s://%s:%u\n", options.listen.tls ? "https" : "http",
              options.listen.host.c_str(), unsigned(bound.value()));
  std::fflush(stdout);
  return server.wait();
}

}  // namespace

Runner define_hello(CLI::App& cmd) {
  auto options = std::make_shared<HelloOptions>();
  cmd.add_option("--port", options->port, "TCP port to listen on (0: any free port)")
      ->capture_default_str()
      ->check(integer_in(0, 65535));
  cmd.add_option("--threads", options->listen.threads,
                 "event loops, each on its own thread (0: one per core)")
      ->capture_default_str()
      ->check(integer_in(0, 1024));
  cmd.add_option("--host", options->listen.host, "address to bind (0.0.0.0 or :: for every interface)")
      ->capture_default_str();
  cmd.add_option("--tls-cert", options->tls_cert, "PEM certificate chain: serve HTTPS (SIGHUP reloads it)");
  cmd.add_option("--tls-key", options->tls_key, "PEM private key of --tls-cert");
  return [options] { return serve(*options); };
}

}  // namespace waitless::apps
