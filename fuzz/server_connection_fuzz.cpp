// A real server connection (ServerLoop::adopt on one end of a socketpair) fed arbitrary bytes in arbitrary
// pieces, the loop stepped with run_nowait() between pieces, its output read by the fuzzer as a client
// would (optionally slowly, with a small server send buffer). The handler answers 200 with an echo of the
// request (method, target, path, query, body length and hash), and closes the connection (close_connection())
// when the target contains "close"; it throws (before answering, or after half of a streamed answer) when
// the target contains "throw".
//
// Invariants (besides no crash, leak or UB):
//   - the output is a sequence of well-formed HTTP/1.1 responses (fuzz/http_fuzz_harness.hpp's reader);
//   - never more final responses than request heads (+1 for a refused unparsable one); response i answers
//     request i of a reference RequestParser over the same bytes: a 200 carries that request's echo, any
//     other status is the server's own and says Connection: close and is the last;
//   - 100 Continue only for a request that asked for it, at most once, before its final response; never a
//     chunked response to HTTP/1.0; a request that asked to close gets Connection: close;
//   - no response after one that says Connection: close;
//   - liveness: every complete request is answered unless the server said it closes; after the client's
//     EOF the server closes; the loop ends empty after teardown. All bounded in steps, not time.
//
// Input: byte 0 = options: bits 0-1 handler (0 sync, 1 async whole body, 2 async streamed body, 3 async
// ignoring the body), bit 2 small limits, bit 3 slow client + small server send buffer, bit 4 client
// shuts its write side after the last byte, bit 5 response streamed with write()/end(), bit 6 async
// handler yields once (sleep 0) first, bit 7 no Server header. Byte 1: bits 4-7 = n, then n piece lengths
// (cyclic, 0 = an empty step); the rest is the byte stream sent.
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "http_fuzz_harness.hpp"
#include "waitless/async/sleep.hpp"
#include "waitless/http/parser.hpp"
#include "waitless/http/request.hpp"
#include "waitless/http/response.hpp"

namespace {

using namespace waitless::http;
using Event = RequestParser::Event;
constexpr const char* kTarget = "server_connection_fuzz";

uint64_t fnv(uint64_t h, std::string_view s) {
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}
constexpr uint64_t kFnvInit = 14695981039346656037ull;

std::string echo(std::string_view method, std::string_view target, std::string_view path,
                 std::string_view query, uint64_t body_len, uint64_t body_hash) {
  std::string s;
  s.append(method).append(" ").append(target).append(" ").append(path).append(" ").append(query);
  s += " " + std::to_string(body_len) + " " + std::to_string(body_hash);
  return s;
}

// What a reference parser (same limits) sees in the stream: the requests the server must answer, in order.
struct RefRequest {
  std::string method, target;
  bool head = false, expect_continue = false, keep_alive = true, http10 = false, has_body = false,
       complete = false;
  std::string body;
};
std::vector<RefRequest> reference(std::string_view stream, const Limits& limits, int* error_status) {
  std::vector<RefRequest> out;
  RequestParser p(limits);
  std::string body;
  const char* d = stream.data();
  std::size_t left = stream.size();
  *error_status = 0;
  while (true) {
    std::size_t used = 0;
    Event ev = p.parse(d, left, &used);
    d += used;
    left -= used;
    if (ev == Event::need_more) break;
    if (ev == Event::error) {
      *error_status = p.error_status();
      break;
    }
    if (ev == Event::head) {
      const RequestHead& h = p.head();
      RefRequest r;
      r.method = h.method;
      r.target = h.target;
      r.head = h.method_id == HTTP_HEAD;
      r.expect_continue = h.expect_continue;
      r.keep_alive = h.keep_alive && !h.upgrade;
      r.http10 = h.version_minor == 0;
      r.has_body = h.has_body();
      r.complete = !r.has_body;
      out.push_back(std::move(r));
      body.clear();
      if (h.has_body()) p.set_body_sink(&body, limits.max_body_size);
    } else {
      out.back().complete = true;
      out.back().body = body;
    }
  }
  return out;
}

// What the parser accepted can only hold token methods and header names, and targets and values without
// controls: anything else the handler sees is a view into memory that changed under it.
bool views_intact(const Request& req) {
  if (!is_token(req.method())) return false;
  for (char c : req.target()) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return false;
  }
  for (const Header& h : req.headers()) {
    if (!is_token(h.name) || !is_field_value(h.value)) return false;
  }
  return true;
}
constexpr int kCorrupt = 299;  // the handler's answer when views_intact() fails

struct Options {
  int mode;
  bool small, slow, shut, stream_response, yield, no_server;
};

waitless::Task<> respond(Request& req, Response& res, const Options& o, uint64_t len, uint64_t hash) {
  if (!views_intact(req)) {
    (void)res.send(kCorrupt, "corrupt");
    co_return;
  }
  std::string e = echo(req.method(), req.target(), req.path(), req.query(), len, hash);
  if (req.target().find("close") != std::string_view::npos) res.close_connection();
  const bool fails = req.target().find("throw") != std::string_view::npos;
  if (fails && !o.stream_response) throw std::runtime_error("handler failed before answering");
  if (o.stream_response) {
    (void)res.set_content_type("text/plain");
    (void)res.write(std::string_view(e).substr(0, e.size() / 2));
    if (o.yield) co_await waitless::sleep(std::chrono::milliseconds(0));
    if (fails) throw std::runtime_error("handler failed mid-response");
    (void)res.end(std::string_view(e).substr(e.size() / 2));
  } else {
    (void)res.send(e);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const Options o{data[0] & 3,         (data[0] & 4) != 0,  (data[0] & 8) != 0,  (data[0] & 16) != 0,
                  (data[0] & 32) != 0, (data[0] & 64) != 0, (data[0] & 128) != 0};
  const std::size_t n = data[1] >> 4;
  if (size < 2 + n) return 0;
  std::vector<std::size_t> lengths(data + 2, data + 2 + n);
  std::string_view stream(reinterpret_cast<const char*>(data + 2 + n), size - 2 - n);
  std::size_t sum = 0;
  for (std::size_t l : lengths) sum += l;
  if (sum == 0) lengths = {stream.size() ? stream.size() : 1};

  ServerOptions options;
  if (o.small) {
    Limits& l = options.limits;
    l.max_head_size = 512;
    l.max_headers = 16;
    l.max_body_size = 256;
    l.max_chunk_extension = 32;
    l.max_in_flight = 2;
    l.write_high_water = 512;
    l.write_low_water = 128;
    l.max_drain = 64;
  }
  if (o.no_server) options.server_name.clear();
  int ref_error = 0;
  const std::vector<RefRequest> ref = reference(stream, options.limits, &ref_error);

  Handler async;
  SyncHandler sync;
  if (o.mode == 0) {
    sync = [&o](Request& req, Response& res) {
      if (!views_intact(req)) {
        (void)res.send(kCorrupt, "corrupt");
        return;
      }
      std::string_view b = req.body_view();
      std::string e = echo(req.method(), req.target(), req.path(), req.query(), b.size(), fnv(kFnvInit, b));
      if (req.target().find("close") != std::string_view::npos) res.close_connection();
      const bool fails = req.target().find("throw") != std::string_view::npos;
      if (fails && !o.stream_response) throw std::runtime_error("handler failed before answering");
      if (o.stream_response) {
        (void)res.write(std::string_view(e).substr(0, e.size() / 2));
        if (fails) throw std::runtime_error("handler failed mid-response");
        (void)res.end(std::string_view(e).substr(e.size() / 2));
      } else {
        (void)res.send(e);
      }
    };
  } else {
    async = [&o](Request& req, Response& res) -> waitless::Task<> {
      if (o.yield) co_await waitless::sleep(std::chrono::milliseconds(0));
      uint64_t len = 0, hash = kFnvInit;
      if (o.mode == 1 && req.has_body()) {
        auto body = co_await req.body();
        if (!body) co_return;  // the server answers the failure (413, 400...)
        len = body->size();
        hash = fnv(hash, *body);
      } else if (o.mode == 2 && req.has_body()) {
        for (int guard = 0; guard < 100000; ++guard) {
          auto piece = co_await req.read();
          if (!piece) co_return;
          if (piece->empty()) break;
          len += piece->size();
          hash = fnv(hash, *piece);
        }
      }
      co_await respond(req, res, o, len, hash);
    };
  }

  fuzzh::ServerHarness h(fuzzh::make_config(async, sync, options), o.slow ? 2048 : 0);
  const std::size_t read_max = o.slow ? 700 : ~std::size_t{0};
  std::size_t pos = 0, piece = 0, piece_left = std::min(lengths[0], stream.size());
  int idle = 0;
  constexpr int kMaxSteps = 20000;
  int step = 0;
  for (; step < kMaxSteps; ++step) {
    bool progress = false;
    if (pos < stream.size()) {
      if (piece_left == 0) {
        piece = (piece + 1) % lengths.size();
        piece_left = std::min(lengths[piece], stream.size() - pos);
      }
      std::size_t w = h.write_some(stream.substr(pos, piece_left));
      pos += w;
      piece_left -= w;
      progress |= w > 0;
      if (h.peer_gone()) pos = stream.size();  // the server closed: the rest cannot be sent
    } else if (o.shut && !h.write_shut()) {
      h.shutdown_write();
      progress = true;
    }
    h.step();
    progress |= h.read_some(read_max);
    if (h.eof() && pos >= stream.size()) break;
    idle = progress ? 0 : idle + 1;
    // Everything sent and nothing moves for a while: the connection is waiting for the client.
    if (pos >= stream.size() && idle > 64) break;
  }
  const bool eof = h.eof();
  if (o.shut && !eof) {
    fuzzh::fail(kTarget, "server did not close after the client's EOF",
                "steps " + std::to_string(step) + ", output " + fuzzh::escape(h.output()));
  }

  // The output, read strictly: request i of the reference is answered by final response i.
  fuzzh::ResponseReader reader;
  std::string err =
      reader.read(h.output(), eof, [&](std::size_t i) { return i < ref.size() && ref[i].head; });
  std::string ctx = "output: " + fuzzh::escape(h.output().substr(0, 3000));
  // The client's EOF cancels what is in flight (ServerConnection::on_eof, as Go's net/http): a response cut
  // there is expected. Only the last can be cut, detectably, except a body delimited by the connection's
  // end (HTTP/1.0 streaming), whose content is then not checked.
  // So is a response whose handler threw after sending part of it (abandoned: the connection closes).
  bool throws = false;
  for (const RefRequest& q : ref) throws |= q.target.find("throw") != std::string::npos;
  const bool may_cut = o.shut || (throws && o.stream_response);
  bool truncated = err.rfind("truncated response", 0) == 0;
  if (err.find("bad chunk size line: HTTP/1.") != std::string::npos) {
    // A status line where the rest of a chunked body should be: the response was cut (abandoned) and the
    // next one written after it.
    fuzzh::fail(kTarget, "response written after an abandoned (cut) response", ctx);
    err.clear();
    truncated = true;  // (tolerated) nothing after it can be read: skip the liveness check
  }
  if (!err.empty() && !(may_cut && truncated)) fuzzh::fail(kTarget, "malformed response stream: " + err, ctx);
  bool left_open = false;
  if (!eof) {
    // Read as if the connection had ended: a response whose body only the close can end must see that close.
    fuzzh::ResponseReader at_close;
    if (at_close.read(h.output(), true, [&](std::size_t i) { return i < ref.size() && ref[i].head; })
            .empty() &&
        !at_close.responses.empty() && at_close.responses.back().until_eof) {
      fuzzh::fail(kTarget, "connection left open after a response delimited by its end", ctx);
      left_open = true;  // (tolerated) the reader cannot end that response: skip the liveness check
    }
  }
  std::size_t finals = 0, continues = 0;
  bool closed = false;
  for (const fuzzh::ParsedResponse& r : reader.responses) {
    if (closed) fuzzh::fail(kTarget, "response after Connection: close", ctx);
    if (r.status < 200) {
      if (r.status != 100) fuzzh::fail(kTarget, "interim response other than 100", ctx);
      if (finals >= ref.size() || !ref[finals].expect_continue || ++continues > 1) {
        fuzzh::fail(kTarget, "100 Continue not asked for, or repeated", ctx);
      }
      continue;
    }
    continues = 0;
    closed = r.close;
    if (finals < ref.size()) {
      const RefRequest& q = ref[finals];
      if (q.http10 && r.find("Transfer-Encoding")) fuzzh::fail(kTarget, "chunked response to HTTP/1.0", ctx);
      if (!q.keep_alive && !r.close)
        fuzzh::fail(kTarget, "request asked to close; response keeps alive", ctx);
    }
    // Echoes never hold CRLF: one in a body that ends with the connection is a response written after it.
    if (r.until_eof && r.body.find("\r\n") != std::string::npos) {
      fuzzh::fail(kTarget, "response written after one delimited by the connection's end", ctx);
      ++finals;
      continue;
    }
    if (r.status == kCorrupt) {
      fuzzh::fail(kTarget, "handler saw corrupted request views (method, target or fields changed under it)",
                  ctx);
    } else if (r.status == 200) {
      if (finals >= ref.size()) fuzzh::fail(kTarget, "handler answer without a request", ctx);
      const RefRequest& q = ref[finals];
      // The path/query split is the server's; the method, target and body must be the request's.
      std::string prefix = q.method + " " + q.target + " ";
      std::string_view got = r.body;
      if (q.head || (may_cut && r.until_eof)) {
        // no body on the wire (its Content-Length is the echo's), or one the client's EOF may have cut
      } else if (got.substr(0, prefix.size()) != prefix) {
        fuzzh::fail(kTarget, "response does not answer its request (order or content)",
                    "expected prefix " + fuzzh::escape(prefix) + "\n" + ctx);
      } else if (o.mode != 3 && q.complete) {
        std::string tail = " " + std::to_string(q.body.size()) + " " + std::to_string(fnv(kFnvInit, q.body));
        if (got.size() < tail.size() || got.substr(got.size() - tail.size()) != tail) {
          fuzzh::fail(kTarget, "handler saw another body than the request's", ctx);
        }
      }
    } else {
      // A handler that throws before answering gets a 500 on a connection that goes on; the server's
      // other answers (400, 413, 501...) close it.
      bool thrown = finals < ref.size() && ref[finals].target.find("throw") != std::string::npos;
      if (r.status < 400) fuzzh::fail(kTarget, "server answer with a non-error status", ctx);
      if (!r.close && !(thrown && r.status == 500)) {
        fuzzh::fail(kTarget, "server error response keeps the connection", ctx);
      }
    }
    ++finals;
  }
  if (std::getenv("WAITLESS_FUZZ_VERBOSE")) {
    std::fprintf(stderr, "steps %d eof %d: %zu requests (%s error %d), %zu final responses\n%s\n", step, eof,
                 ref.size(), ref.size() && ref.back().complete ? "last complete" : "last incomplete",
                 ref_error, finals, ctx.c_str());
  }
  if (finals > ref.size() + 1) fuzzh::fail(kTarget, "more responses than requests", ctx);
  // Liveness: requests that arrived whole are answered, unless the server announced a close.
  std::size_t complete = 0;
  while (complete < ref.size() && ref[complete].complete) ++complete;
  if (!o.shut && !closed && !left_open && !truncated && finals < complete) {
    fuzzh::fail(kTarget, "complete request left unanswered",
                std::to_string(finals) + " of " + std::to_string(complete) + " answered; " + ctx);
  }
  h.finish();
  return 0;
}
