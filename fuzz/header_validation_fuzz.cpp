// Response header validation: what user code puts into a response can never split or corrupt it.
//   - is_token / is_field_value (header.hpp) against a model written from RFC 9110 (tchar; field-vchar,
//     obs-text, SP, HTAB).
//   - Response::set_header / set_content_type / set_status, called by a real handler on a real server
//     connection: a call is accepted exactly when its input is valid (names token, values without CR, LF,
//     NUL or other controls but HTAB; Content-Length / Transfer-Encoding / Connection other than "close"
//     refused as the server's framing) and the response on the wire, read strictly, carries exactly the
//     accepted fields, in order, byte for byte, and the body sent.
//
// Input: byte 0 = options (bit 0 server name empty, bit 1 async handler, bit 2 HEAD request, bit 3 HTTP/1.0
// request). Then operations until the input ends: an op byte (low 2 bits: 0 set_header, 1
// set_content_type, 2 set_status, 3 the rest of the input is the body), each string one length byte and
// that many bytes. Up to 24 operations.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "http_fuzz_harness.hpp"
#include "waitless/http/header.hpp"
#include "waitless/http/response.hpp"

namespace {

using namespace waitless::http;
constexpr const char* kTarget = "header_validation_fuzz";

bool model_tchar(unsigned char c) {
  static constexpr std::string_view kSpecials = "!#$%&'*+-.^_`|~";
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c != 0 && kSpecials.find(static_cast<char>(c)) != std::string_view::npos);
}
bool model_token(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!model_tchar(static_cast<unsigned char>(c))) return false;
  }
  return true;
}
bool model_value(std::string_view s) {
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (!(c == '\t' || c == ' ' || (c >= 0x21 && c <= 0x7e) || c >= 0x80)) return false;
  }
  return true;
}

struct Op {
  int kind;
  std::string a, b;
  int status = 0;
};

struct Reader {
  const uint8_t* p;
  const uint8_t* e;
  bool more() const { return p < e; }
  uint8_t byte() { return p < e ? *p++ : 0; }
  std::string str() {
    std::size_t n = std::min<std::size_t>(byte(), static_cast<std::size_t>(e - p));
    std::string s(reinterpret_cast<const char*>(p), n);
    p += n;
    return s;
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t opts = data[0];
  Reader in{data + 1, data + size};
  std::vector<Op> ops;
  std::string body;
  while (in.more() && ops.size() < 24) {
    uint8_t op = in.byte();
    if ((op & 3) == 3) {
      body.assign(reinterpret_cast<const char*>(in.p), static_cast<std::size_t>(in.e - in.p));
      break;
    }
    Op o;
    o.kind = op & 3;
    if (o.kind == 0) {
      o.a = in.str();
      o.b = in.str();
    } else if (o.kind == 1) {
      o.b = in.str();
    } else {
      o.status = (in.byte() << 8 | in.byte()) % 1000 - 100;
    }
    ops.push_back(std::move(o));
  }

  // The pure predicates against the model.
  for (const Op& o : ops) {
    if (is_token(o.a) != model_token(o.a))
      fuzzh::fail(kTarget, "is_token disagrees with RFC 9110", fuzzh::escape(o.a));
    if (is_field_value(o.b) != model_value(o.b)) {
      fuzzh::fail(kTarget, "is_field_value disagrees with RFC 9110", fuzzh::escape(o.b));
    }
  }

  // What the response must carry, decided by the model while the handler calls the API.
  std::vector<std::pair<std::string, std::string>> expected;
  int expected_status = 200;
  bool custom_server = false, custom_date = false, close = false, ran = false;
  auto replace = [&expected](std::string_view name, std::string_view value) {
    std::erase_if(expected, [name](const auto& f) { return iequals(f.first, name); });
    expected.emplace_back(name, value);
  };
  auto run_ops = [&](Response& res) {
    ran = true;
    for (const Op& o : ops) {
      if (o.kind == 0) {
        bool framing = iequals(o.a, "content-length") || iequals(o.a, "transfer-encoding");
        bool conn = iequals(o.a, "connection");
        bool valid = model_token(o.a) && model_value(o.b) && !framing && (!conn || iequals(o.b, "close"));
        bool accepted = !res.set_header(o.a, o.b);
        if (accepted != valid) {
          fuzzh::fail(kTarget,
                      accepted ? "set_header accepted an invalid field" : "set_header refused a valid field",
                      fuzzh::escape(o.a) + ": " + fuzzh::escape(o.b));
        }
        if (!accepted) continue;
        if (conn) {
          close = true;
          continue;
        }
        custom_server |= iequals(o.a, "server");
        custom_date |= iequals(o.a, "date");
        expected.emplace_back(o.a, o.b);  // set_header adds (set() replaces)
      } else if (o.kind == 1) {
        bool accepted = !res.set_content_type(o.b);
        if (accepted != model_value(o.b)) {
          fuzzh::fail(kTarget, "set_content_type accepts exactly valid values", fuzzh::escape(o.b));
        }
        if (accepted) replace("Content-Type", o.b);
      } else {
        bool accepted = !res.set_status(o.status);
        if (accepted != (o.status >= 200 && o.status <= 599)) {
          fuzzh::fail(kTarget, "set_status accepts exactly 200..599", std::to_string(o.status));
        }
        if (accepted) expected_status = o.status;
      }
    }
    if (res.send(body)) fuzzh::fail(kTarget, "send failed on a live connection");
  };

  ServerOptions options;
  if (opts & 1) options.server_name.clear();
  Handler async;
  SyncHandler sync;
  if (opts & 2) {
    async = [&](Request&, Response& res) -> waitless::Task<> {
      run_ops(res);
      co_return;
    };
  } else {
    sync = [&](Request&, Response& res) { run_ops(res); };
  }
  const bool head = opts & 4;
  const bool http10 = opts & 8;
  std::string request =
      std::string(head ? "HEAD" : "GET") + " /h HTTP/1." + (http10 ? "0" : "1") + "\r\nHost: fuzz\r\n\r\n";
  fuzzh::ServerHarness h(fuzzh::make_config(async, sync, options));
  if (h.write_some(request) != request.size()) fuzzh::fail(kTarget, "request not written at once");
  fuzzh::ResponseReader reader;
  for (int i = 0; i < 64; ++i) {
    h.step();
    h.read_some();
    if (h.eof()) break;
    reader.responses.clear();
    if (reader.read(h.output(), false, [&](std::size_t) { return head; }).empty() &&
        !reader.responses.empty()) {
      break;
    }
  }
  if (!ran) fuzzh::fail(kTarget, "handler did not run");
  // An HTTP/1.0 client without keep-alive gets a close after its response: read until EOF.
  for (int i = 0; i < 64 && http10 && !h.eof(); ++i) {
    h.step();
    h.read_some();
  }
  fuzzh::ResponseReader final_reader;
  std::string err = final_reader.read(h.output(), h.eof(), [&](std::size_t) { return head; });
  if (!err.empty()) fuzzh::fail(kTarget, "response malformed: " + err, fuzzh::escape(h.output()));
  if (final_reader.responses.size() != 1) {
    fuzzh::fail(kTarget, "not exactly one response", fuzzh::escape(h.output()));
  }
  const fuzzh::ParsedResponse& r = final_reader.responses[0];
  if (r.status != expected_status)
    fuzzh::fail(kTarget, "status differs from set_status", fuzzh::escape(h.output()));
  // The handler's fields, in order, between the automatic ones.
  std::vector<std::pair<std::string, std::string>> got;
  for (const auto& f : r.headers) {
    if ((!custom_server && iequals(f.first, "server")) || (!custom_date && iequals(f.first, "date")) ||
        iequals(f.first, "content-length") || iequals(f.first, "transfer-encoding") ||
        iequals(f.first, "connection")) {
      continue;
    }
    got.push_back(f);
  }
  if (got != expected)
    fuzzh::fail(kTarget, "response fields differ from the accepted ones", fuzzh::escape(h.output()));
  if (close && !r.close)
    fuzzh::fail(kTarget, "Connection: close set but not sent", fuzzh::escape(h.output()));
  bool body_allowed = expected_status != 204 && expected_status != 304;
  if (!head && body_allowed && r.body != body)
    fuzzh::fail(kTarget, "body differs", fuzzh::escape(h.output()));
  if (body_allowed && !http10) {
    const std::string* cl = r.find("Content-Length");
    if (!cl || *cl != std::to_string(body.size()))
      fuzzh::fail(kTarget, "Content-Length differs from the body sent");
  }
  return 0;
}
