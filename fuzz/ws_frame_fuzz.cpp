// Differential fuzz target for the WebSocket FrameParser: the same bytes parsed in one piece and in pieces
// chosen by the input must give the same events (opcode, payload, compressed flag) and the same error
// code. Each piece lives in its own exact-size heap buffer freed right after it is parsed, so a payload
// view kept into old input is a use-after-free for ASan. Every accepted text message must be valid UTF-8
// (uncompressed), every control payload at most 125 bytes, every message within the size limit.
//
// Input: byte 0 = config: bit 0 client side (expects unmasked frames), bit 1 RSV1 allowed, bit 2 a small
// message limit (300 bytes), bits 4-7 = n. Bytes 1..n: piece lengths used cyclically (0 = an empty piece).
// The rest is the byte stream.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "waitless/http/websocket_frame.hpp"

using namespace waitless::http::ws;

namespace {

void fail(const char* what) {
  std::fprintf(stderr, "ws_frame_fuzz: invariant broken: %s\n", what);
  std::abort();
}

struct Outcome {
  std::vector<std::string> events;  // opcode byte + compressed byte + payload
  uint16_t error = 0;
};

void record(FrameParser& p, FrameParser::Event ev, const ParserOptions& o, Outcome& out) {
  const auto& m = p.message();
  if (ev == FrameParser::Event::control && m.payload.size() > 125) fail("control payload > 125");
  if (ev == FrameParser::Event::message) {
    if (m.payload.size() > o.max_message_size) fail("message over the limit");
    if (m.opcode == Opcode::text && !m.compressed && !is_valid_utf8(m.payload))
      fail("invalid UTF-8 accepted");
    if (m.compressed && !o.rsv1_allowed) fail("compressed without RSV1 allowed");
  }
  std::string e;
  e.push_back(static_cast<char>(m.opcode));
  e.push_back(m.compressed ? 'c' : 'u');
  e.append(m.payload);
  out.events.push_back(std::move(e));
}

Outcome run(const ParserOptions& o, const uint8_t* data, std::size_t size, const uint8_t* lens,
            std::size_t n) {
  FrameParser p(o);
  Outcome out;
  std::size_t at = 0, k = 0;
  while (at < size) {
    std::size_t piece = n ? lens[k++ % n] : size;
    if (piece > size - at) piece = size - at;
    auto buf = std::make_unique<char[]>(piece ? piece : 1);
    std::memcpy(buf.get(), data + at, piece);
    at += piece;
    const char* cur = buf.get();
    std::size_t left = piece;
    for (;;) {
      std::size_t used = 0;
      auto ev = p.next(cur, left, &used);
      if (used > left) fail("consumed more than given");
      cur += used;
      left -= used;
      if (ev == FrameParser::Event::error) {
        out.error = p.error_code();
        if (out.error == 0) fail("error without a code");
        return out;
      }
      if (ev == FrameParser::Event::need_more) {
        if (left != 0) fail("need_more with input left");
        break;
      }
      record(p, ev, o, out);
    }
    if (n && k > 100000) break;  // all-zero lengths: stop
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const uint8_t cfg = data[0];
  ParserOptions o;
  o.server = !(cfg & 1);
  o.rsv1_allowed = cfg & 2;
  o.max_message_size = (cfg & 4) ? 300 : (16u << 20);
  std::size_t n = cfg >> 4;
  if (size < 1 + n) return 0;
  const uint8_t* lens = data + 1;
  bool any = false;
  for (std::size_t i = 0; i < n; ++i) any |= lens[i] != 0;
  if (!any) n = 0;
  const uint8_t* stream = data + 1 + (cfg >> 4);
  const std::size_t len = size - 1 - (cfg >> 4);
  Outcome whole = run(o, stream, len, nullptr, 0);
  Outcome split = run(o, stream, len, lens, n);
  // All-zero-length pieces can stop early; otherwise the split run saw every byte.
  if (whole.error != split.error) fail("split: error differs from whole:");
  if (whole.events != split.events) fail("split: events differ from whole:");
  return 0;
}
