// The frame codec on raw bytes: every rejection with its close code, input split at every position,
// fragmentation with interleaved control frames, the writer's length forms and masking.
#include "waitless/http/websocket_frame.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace waitless::http::ws {
namespace {

constexpr uint8_t kMask[4] = {0x12, 0x34, 0x56, 0x78};

std::string client_frame(Opcode op, std::string_view payload, bool fin = true, bool rsv1 = false) {
  std::string out;
  append_frame(out, op, payload, fin, rsv1, kMask);
  return out;
}

struct Seen {
  std::vector<std::pair<Opcode, std::string>> events;
  uint16_t error = 0;
  std::string reason;
};

// Feeds `input` in pieces of `step` bytes (0: all at once), collecting events until an error.
Seen feed(FrameParser& p, std::string_view input, std::size_t step = 0) {
  Seen seen;
  std::size_t at = 0;
  while (at < input.size() || at == 0) {
    std::size_t piece = step ? std::min(step, input.size() - at) : input.size() - at;
    std::string_view chunk = input.substr(at, piece);
    at += piece;
    while (true) {
      std::size_t used = 0;
      auto ev = p.next(chunk.data(), chunk.size(), &used);
      chunk.remove_prefix(used);
      if (ev == FrameParser::Event::error) {
        seen.error = p.error_code();
        seen.reason = p.error_reason();
        return seen;
      }
      if (ev == FrameParser::Event::need_more) break;
      seen.events.emplace_back(p.message().opcode, std::string(p.message().payload));
    }
    if (input.empty()) break;
  }
  return seen;
}

uint16_t reject(std::string_view bytes, ParserOptions options = {}) {
  FrameParser p(options);
  return feed(p, bytes).error;
}

TEST(WebSocketFrame, TextMessageSplitAnywhere) {
  std::string text = "h\xc3\xa9llo w\xe2\x82\xacrld " + std::string(300, 'x');  // 16-bit length form
  std::string wire = client_frame(Opcode::text, text);
  for (std::size_t step = 1; step <= wire.size(); ++step) {
    FrameParser p;
    Seen s = feed(p, wire, step);
    ASSERT_EQ(s.error, 0) << step;
    ASSERT_EQ(s.events.size(), 1u) << step;
    EXPECT_EQ(s.events[0].first, Opcode::text);
    EXPECT_EQ(s.events[0].second, text);
  }
}

TEST(WebSocketFrame, FragmentsWithInterleavedControlFrames) {
  std::string wire = client_frame(Opcode::text, "Hel", false) + client_frame(Opcode::ping, "p1") +
                     client_frame(Opcode::continuation, "lo \xe2", false) + client_frame(Opcode::pong, "") +
                     client_frame(Opcode::continuation, "\x82\xac", true) +
                     client_frame(Opcode::binary, std::string(70000, '\x01')) +  // 64-bit length form
                     client_frame(Opcode::close, close_payload(1000, "bye"));
  for (std::size_t step : {0u, 1u, 3u, 7u, 1000u}) {
    FrameParser p;
    Seen s = feed(p, wire, step);
    ASSERT_EQ(s.error, 0) << s.reason;
    ASSERT_EQ(s.events.size(), 5u);
    EXPECT_EQ(s.events[0], std::make_pair(Opcode::ping, std::string("p1")));
    EXPECT_EQ(s.events[1], std::make_pair(Opcode::pong, std::string()));
    EXPECT_EQ(s.events[2], std::make_pair(Opcode::text, std::string("Hello \xe2\x82\xac")));
    EXPECT_EQ(s.events[3].second, std::string(70000, '\x01'));
    EXPECT_EQ(s.events[4].first, Opcode::close);
    auto c = parse_close_payload(s.events[4].second);
    EXPECT_EQ(c.code, 1000);
    EXPECT_EQ(c.reason, "bye");
    EXPECT_EQ(c.error, 0);
  }
}

TEST(WebSocketFrame, RejectionsWithTheirCloseCodes) {
  // Unmasked client frame.
  std::string unmasked;
  append_frame(unmasked, Opcode::text, "hi");
  EXPECT_EQ(reject(unmasked), close_code::protocol_error);
  // A masked frame to a client.
  EXPECT_EQ(reject(client_frame(Opcode::text, "hi"), {.server = false}), close_code::protocol_error);
  // RSV1 without permessage-deflate; RSV2; RSV3.
  EXPECT_EQ(reject(client_frame(Opcode::text, "hi", true, true)), close_code::protocol_error);
  for (uint8_t bit : {0x20, 0x10}) {
    std::string f = client_frame(Opcode::text, "hi");
    f[0] = static_cast<char>(f[0] | bit);
    EXPECT_EQ(reject(f), close_code::protocol_error);
  }
  // Unknown opcodes (3-7 data, 11-15 control).
  for (uint8_t op : {3, 7, 11, 15}) {
    std::string f = client_frame(Opcode::binary, "x");
    f[0] = static_cast<char>(0x80 | op);
    EXPECT_EQ(reject(f), close_code::protocol_error) << int(op);
  }
  // Control frame longer than 125 bytes; fragmented control frame; RSV1 on a control frame.
  EXPECT_EQ(reject(client_frame(Opcode::ping, std::string(126, 'p'))), close_code::protocol_error);
  EXPECT_EQ(reject(client_frame(Opcode::ping, "p", false)), close_code::protocol_error);
  EXPECT_EQ(reject(client_frame(Opcode::ping, "p", true, true), {.rsv1_allowed = true}),
            close_code::protocol_error);
  // Continuation without a message; a new message inside a fragmented one; RSV1 on a continuation.
  EXPECT_EQ(reject(client_frame(Opcode::continuation, "x")), close_code::protocol_error);
  EXPECT_EQ(reject(client_frame(Opcode::text, "a", false) + client_frame(Opcode::text, "b")),
            close_code::protocol_error);
  EXPECT_EQ(reject(client_frame(Opcode::text, "a", false, true) +
                       client_frame(Opcode::continuation, "b", true, true),
                   {.rsv1_allowed = true}),
            close_code::protocol_error);
  // Invalid UTF-8: in one frame, across fragments (the fragment is valid so far, the next breaks it), and a
  // message ending inside a sequence.
  EXPECT_EQ(reject(client_frame(Opcode::text, "ok \xff")), close_code::invalid_payload);
  EXPECT_EQ(reject(client_frame(Opcode::text, "ok \xe2", false) + client_frame(Opcode::continuation, "\x28")),
            close_code::invalid_payload);
  EXPECT_EQ(reject(client_frame(Opcode::text, "ok \xe2\x82")), close_code::invalid_payload);
  EXPECT_EQ(reject(client_frame(Opcode::text, "\xed\xa0\x80")), close_code::invalid_payload);  // surrogate
  // Binary is not validated.
  EXPECT_EQ(reject(client_frame(Opcode::binary, "\xff\xfe")), 0);
  // Message size limit: in one frame (rejected at its header) and as the sum of fragments.
  EXPECT_EQ(reject(client_frame(Opcode::binary, std::string(101, 'x')), {.max_message_size = 100}),
            close_code::message_too_big);
  EXPECT_EQ(reject(client_frame(Opcode::binary, std::string(60, 'x'), false) +
                       client_frame(Opcode::continuation, std::string(60, 'x')),
                   {.max_message_size = 100}),
            close_code::message_too_big);
  // A 64-bit length with its top bit set (rejected at the header: no payload needed).
  std::string huge = {static_cast<char>(0x82), static_cast<char>(0x80 | 127)};
  huge += std::string("\x80\0\0\0\0\0\0\0", 8) + "\x01\x02\x03\x04";
  EXPECT_EQ(reject(huge), close_code::protocol_error);
}

TEST(WebSocketFrame, ErrorsAreReportedWithoutWaitingForThePayload) {
  // Two header bytes are enough to refuse an unmasked frame or a long control frame.
  FrameParser p;
  std::size_t used = 0;
  const char unmasked[2] = {static_cast<char>(0x81), 0x05};
  EXPECT_EQ(p.next(unmasked, 2, &used), FrameParser::Event::error);
  EXPECT_EQ(p.error_code(), close_code::protocol_error);
  // Sticky.
  EXPECT_EQ(p.next(unmasked, 2, &used), FrameParser::Event::error);
  EXPECT_EQ(used, 0u);
}

TEST(WebSocketFrame, EmptyFramesAndSplitUtf8AcrossFragments) {
  std::string euro = "\xe2\x82\xac";
  std::string wire =
      client_frame(Opcode::text, "", false) + client_frame(Opcode::continuation, euro.substr(0, 1), false) +
      client_frame(Opcode::continuation, euro.substr(1), true) + client_frame(Opcode::text, "");
  FrameParser p;
  Seen s = feed(p, wire, 1);
  ASSERT_EQ(s.error, 0) << s.reason;
  ASSERT_EQ(s.events.size(), 2u);
  EXPECT_EQ(s.events[0].second, euro);
  EXPECT_EQ(s.events[1].second, "");
}

TEST(WebSocketFrame, CompressedMessagesAreFlaggedAndNotValidatedHere) {
  FrameParser p({.rsv1_allowed = true});
  Seen s = feed(p, client_frame(Opcode::text, "\xff\x00", true, true));
  ASSERT_EQ(s.error, 0);
  ASSERT_EQ(s.events.size(), 1u);
  EXPECT_TRUE(p.message().compressed);
}

TEST(WebSocketFrame, WriterLengthFormsAndServerFramesParseOnTheClientSide) {
  for (std::size_t n : {0u, 125u, 126u, 65535u, 65536u}) {
    std::string out;
    append_frame(out, Opcode::binary, std::string(n, 'b'));
    EXPECT_EQ(out.size(), n + (n < 126 ? 2 : n <= 65535 ? 4 : 10));
    FrameParser p({.server = false});
    Seen s = feed(p, out);
    ASSERT_EQ(s.events.size(), 1u);
    EXPECT_EQ(s.events[0].second.size(), n);
  }
}

TEST(WebSocketFrame, MaskingAtAnyOffset) {
  std::string data = "The quick brown fox jumps over the lazy dog";
  std::string a = data;
  mask_payload(a.data(), a.size(), kMask);
  std::string b = data;
  mask_payload(b.data(), 5, kMask);
  mask_payload(b.data() + 5, b.size() - 5, kMask, 5);
  EXPECT_EQ(a, b);
  mask_payload(a.data(), a.size(), kMask);
  EXPECT_EQ(a, data);
}

TEST(WebSocketFrame, ClosePayloads) {
  EXPECT_EQ(parse_close_payload("").code, close_code::no_status);
  EXPECT_EQ(parse_close_payload("\x03").error, close_code::protocol_error);
  for (uint16_t bad : {0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000}) {
    const char raw[2] = {static_cast<char>(bad >> 8), static_cast<char>(bad & 0xff)};
    EXPECT_EQ(parse_close_payload(std::string_view(raw, 2)).error, close_code::protocol_error) << bad;
  }
  for (uint16_t good : {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1013, 3000, 4999}) {
    EXPECT_EQ(parse_close_payload(close_payload(good, "r")).error, 0) << good;
  }
  EXPECT_EQ(parse_close_payload(close_payload(1000, "\xff")).error, close_code::invalid_payload);
  // A long reason is cut to 123 bytes at a character boundary.
  std::string euros;
  for (int i = 0; i < 60; ++i) euros += "\xe2\x82\xac";
  std::string cut = close_payload(1000, euros);
  EXPECT_LE(cut.size(), 125u);
  EXPECT_TRUE(is_valid_utf8(cut.substr(2)));
}

TEST(WebSocketFrame, Utf8Validator) {
  EXPECT_TRUE(is_valid_utf8("plain ascii text that is longer than eight bytes"));
  EXPECT_TRUE(is_valid_utf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));
  EXPECT_FALSE(is_valid_utf8("\xc0\xaf"));
  EXPECT_FALSE(is_valid_utf8("\xf4\x90\x80\x80"));
  EXPECT_FALSE(is_valid_utf8("\x80"));
  Utf8Validator v;
  EXPECT_TRUE(v.feed("\xf0\x9f"));
  EXPECT_FALSE(v.complete());
  EXPECT_TRUE(v.feed("\x98\x80"));
  EXPECT_TRUE(v.complete());
}

}  // namespace
}  // namespace waitless::http::ws
