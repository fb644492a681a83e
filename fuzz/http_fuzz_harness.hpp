// Shared by the HTTP server fuzz targets (header_validation_fuzz, server_connection_fuzz): a server
// connection driven over a socketpair on a Loop in the fuzzer's own thread (no sleeps, no threads: each
// step is one run_nowait()), and a strict reader for the response stream it writes.
#pragma once
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "waitless/http/header.hpp"
#include "waitless/http/server_loop.hpp"
#include "waitless/loop/loop.hpp"

namespace fuzzh {

using waitless::http::iequals;

// WAITLESS_FUZZ_TOLERATE="a|b": invariants (whose message contains a or b) reported but not fatal, to keep
// fuzzing past a known, reported bug. run_all.sh never sets it: a known bug keeps the run red until fixed.
inline bool tolerated(const char* what) {
  static const std::string env =
      std::getenv("WAITLESS_FUZZ_TOLERATE") ? std::getenv("WAITLESS_FUZZ_TOLERATE") : "";
  std::string_view rest = env, w = what;
  while (!rest.empty()) {
    std::size_t bar = rest.find('|');
    std::string_view part = rest.substr(0, bar);
    if (!part.empty() && w.find(part) != std::string_view::npos) return true;
    rest = bar == std::string_view::npos ? std::string_view() : rest.substr(bar + 1);
  }
  return false;
}

inline void fail(const char* target, const std::string& what, const std::string& detail = {}) {
  if (tolerated(what.c_str())) return;
  std::fprintf(stderr, "%s: invariant broken: %s\n", target, what.c_str());
  if (!detail.empty()) std::fprintf(stderr, "%.4000s\n", detail.c_str());
  std::abort();
}

// Printable form of bytes for reports.
inline std::string escape(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (c == '\r') {
      out += "\\r";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c < 0x20 || c >= 0x7f || c == '\\') {
      char b[5];
      std::snprintf(b, sizeof b, "\\x%02x", c);
      out += b;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

struct ParsedResponse {
  int status = 0;
  std::string reason;
  std::vector<std::pair<std::string, std::string>> headers;  // as written: value after ": ", untrimmed
  std::string body;
  bool close = false;      // Connection: close
  bool until_eof = false;  // body delimited by the end of the connection
  const std::string* find(std::string_view name) const {
    for (const auto& h : headers) {
      if (iequals(h.first, name)) return &h.second;
    }
    return nullptr;
  }
  std::size_t count(std::string_view name) const {
    std::size_t n = 0;
    for (const auto& h : headers) n += iequals(h.first, name);
    return n;
  }
};

// Reads a server's whole output strictly: status line "HTTP/1.1 DDD reason", "name: value" fields (token
// names, no control bytes but HTAB in values, CRLF only), framing by Content-Length (once, digits), by
// "Transfer-Encoding: chunked" (bare hex sizes, no extensions, no trailers) or, with Connection: close, by
// the end of the stream. 1xx responses are interim (no body). `head_request(i)`: whether the i-th final
// response answers a HEAD request (no body, whatever its framing says).
class ResponseReader {
 public:
  // Returns an empty string, or what is malformed. `eof`: the server closed; otherwise an incomplete
  // last response is left unread (rest() says how much).
  std::string read(std::string_view in, bool eof, const std::function<bool(std::size_t)>& head_request) {
    pos_ = 0;
    in_ = in;
    while (pos_ < in_.size()) {
      std::size_t start = pos_;
      ParsedResponse r;
      std::string err = one(r, eof, head_request ? head_request(finals_) : false);
      if (err == kIncomplete) {
        pos_ = start;
        if (eof) return "truncated response at byte " + std::to_string(start);
        return {};
      }
      if (!err.empty()) return err + " (response at byte " + std::to_string(start) + ")";
      if (r.status >= 200) ++finals_;
      responses.push_back(std::move(r));
    }
    return {};
  }
  std::size_t rest() const { return in_.size() - pos_; }
  std::vector<ParsedResponse> responses;

 private:
  static constexpr const char* kIncomplete = "\x01incomplete";

  bool line(std::string_view& out) {
    std::size_t e = in_.find("\r\n", pos_);
    if (e == std::string_view::npos) return false;
    out = in_.substr(pos_, e - pos_);
    pos_ = e + 2;
    return true;
  }

  std::string one(ParsedResponse& r, bool eof, bool head) {
    std::string_view l;
    if (!line(l)) return in_.size() - pos_ > 16384 ? "status line too long" : kIncomplete;
    if (l.size() < 13 || l.substr(0, 9) != "HTTP/1.1 " || l[12] != ' ')
      return "bad status line: " + escape(l);
    for (int i = 9; i < 12; ++i) {
      if (l[i] < '0' || l[i] > '9') return "bad status code: " + escape(l);
    }
    r.status = (l[9] - '0') * 100 + (l[10] - '0') * 10 + (l[11] - '0');
    if (r.status < 100) return "status below 100";
    r.reason = l.substr(13);
    if (r.reason.empty() || !waitless::http::is_field_value(r.reason)) return "bad reason: " + escape(l);
    for (;;) {
      if (!line(l)) return kIncomplete;
      if (l.empty()) break;
      if (l.find('\n') != std::string_view::npos || l.find('\r') != std::string_view::npos) {
        return "CR or LF inside a header line: " + escape(l);
      }
      std::size_t colon = l.find(':');
      if (colon == std::string_view::npos) return "header line without a colon: " + escape(l);
      std::string_view name = l.substr(0, colon), value = l.substr(colon + 1);
      if (!waitless::http::is_token(name)) return "header name not a token: " + escape(l);
      if (value.substr(0, 1) != " ") return "no SP after the colon: " + escape(l);
      value.remove_prefix(1);
      if (!waitless::http::is_field_value(value)) return "control byte in a header value: " + escape(l);
      r.headers.emplace_back(name, value);
    }
    const std::string* te = r.find("Transfer-Encoding");
    const std::string* cl = r.find("Content-Length");
    const std::string* conn = r.find("Connection");
    r.close = conn && iequals(*conn, "close");
    if (r.count("Content-Length") > 1 || r.count("Transfer-Encoding") > 1) return "framing header repeated";
    if (te && cl) return "Content-Length with Transfer-Encoding";
    if (r.count("Connection") > 1) return "Connection repeated";
    if (r.status < 200) {
      if (te || cl) return "framing on an interim response";
      return {};
    }
    if (r.count("Date") == 0) return "Date missing";  // several only when user code set them
    uint64_t length = 0;
    if (cl) {
      if (cl->empty() || cl->size() > 19) return "bad Content-Length: " + escape(*cl);
      for (char c : *cl) {
        if (c < '0' || c > '9') return "bad Content-Length: " + escape(*cl);
        length = length * 10 + static_cast<uint64_t>(c - '0');
      }
    }
    if (te && *te != "chunked") return "Transfer-Encoding other than chunked: " + escape(*te);
    if (r.status == 204 || r.status == 304) {
      if (te || (cl && length != 0)) return "framing on a 204/304";
      return {};
    }
    if (head) return {};
    if (cl) {
      if (in_.size() - pos_ < length) return kIncomplete;
      r.body = in_.substr(pos_, length);
      pos_ += length;
      return {};
    }
    if (te) {
      for (;;) {
        if (!line(l)) return kIncomplete;
        if (l.empty() || l.size() > 16) return "bad chunk size line: " + escape(l);
        uint64_t size = 0;
        for (char c : l) {
          int d = c >= '0' && c <= '9'   ? c - '0'
                  : c >= 'a' && c <= 'f' ? c - 'a' + 10
                  : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                         : -1;
          if (d < 0) return "bad chunk size line: " + escape(l);
          size = size * 16 + static_cast<uint64_t>(d);
        }
        if (size == 0) {
          if (!line(l)) return kIncomplete;
          if (!l.empty()) return "trailers or garbage after the last chunk: " + escape(l);
          return {};
        }
        if (in_.size() - pos_ < size + 2) return kIncomplete;
        r.body.append(in_.substr(pos_, size));
        pos_ += size;
        if (in_.substr(pos_, 2) != "\r\n") return "chunk data not followed by CRLF";
        pos_ += 2;
      }
    }
    // Delimited by the end of the connection: the response must say it closes.
    if (!r.close) return "body without framing on a response that does not close";
    if (!eof) return kIncomplete;
    r.until_eof = true;
    r.body = in_.substr(pos_);
    pos_ = in_.size();
    return {};
  }

  std::string_view in_;
  std::size_t pos_ = 0;
  std::size_t finals_ = 0;
};

// One server connection on a Loop of its own, fed through a socketpair by the fuzzer's thread.
class ServerHarness {
 public:
  // sndbuf: the server side's SO_SNDBUF (0: the default), small to make the server's writes block.
  ServerHarness(std::shared_ptr<const waitless::http::detail::ServerConfig> config, int sndbuf = 0) {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0) std::abort();
    client_ = sv[0];
    if (sndbuf > 0) (void)::setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    server_ = std::make_unique<waitless::http::detail::ServerLoop>(loop_, std::move(config));
    waitless::Loop::Scope scope(loop_);
    server_->adopt(sv[1]);
  }
  ServerHarness(const ServerHarness&) = delete;
  ServerHarness& operator=(const ServerHarness&) = delete;

  // Tears down (connections aborted, handlers cancelled) and checks the loop ends with nothing left.
  ~ServerHarness() { finish(); }
  void finish() {
    if (!server_) return;
    if (client_ >= 0) ::close(client_);
    client_ = -1;
    {
      waitless::Loop::Scope scope(loop_);
      server_.reset();
    }
    for (int i = 0; i < 64 && loop_.alive(); ++i) loop_.run_nowait();
    if (loop_.alive() || loop_.handle_count() != 0) {
      fail("http_fuzz_harness", "loop not empty after the server was destroyed");
    }
  }

  waitless::Loop& loop() { return loop_; }
  waitless::http::detail::ServerLoop& server() { return *server_; }

  // Writes what the socket takes now; returns the bytes written (the server has not read them yet).
  std::size_t write_some(std::string_view data) {
    if (client_ < 0 || write_shut_ || data.empty()) return 0;
    ssize_t n = ::send(client_, data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
      peer_gone_ = true;  // EPIPE / ECONNRESET: the server closed
      return 0;
    }
    return static_cast<std::size_t>(n);
  }
  void shutdown_write() {
    if (client_ >= 0 && !write_shut_) ::shutdown(client_, SHUT_WR);
    write_shut_ = true;
  }
  // Reads what the server wrote so far (up to `max` bytes: a slow reader keeps the rest in the socket).
  // Returns whether anything new arrived.
  bool read_some(std::size_t max = ~std::size_t{0}) {
    bool got = false;
    char buf[16384];
    while (client_ >= 0 && !eof_ && max > 0) {
      ssize_t n = ::recv(client_, buf, std::min(sizeof buf, max), MSG_DONTWAIT);
      if (n > 0) {
        output_.append(buf, static_cast<std::size_t>(n));
        max -= static_cast<std::size_t>(n);
        got = true;
      } else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        eof_ = true;
      } else {
        break;
      }
    }
    return got;
  }
  // One loop iteration that never blocks.
  void step() { loop_.run_nowait(); }

  const std::string& output() const { return output_; }
  bool eof() const { return eof_; }
  bool peer_gone() const { return peer_gone_ || eof_; }
  bool write_shut() const { return write_shut_; }

 private:
  waitless::Loop loop_;
  std::unique_ptr<waitless::http::detail::ServerLoop> server_;
  int client_ = -1;
  std::string output_;
  bool eof_ = false;
  bool write_shut_ = false;
  bool peer_gone_ = false;
};

inline std::shared_ptr<waitless::http::detail::ServerConfig> make_config(
    waitless::http::Handler handler, waitless::http::SyncHandler sync,
    waitless::http::ServerOptions options) {
  auto cfg = std::make_shared<waitless::http::detail::ServerConfig>();
  cfg->handler = std::move(handler);
  cfg->sync_handler = std::move(sync);
  cfg->options = std::move(options);
  if (!cfg->options.server_name.empty()) cfg->server_line = "Server: " + cfg->options.server_name + "\r\n";
  return cfg;
}

}  // namespace fuzzh
