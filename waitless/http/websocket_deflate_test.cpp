// permessage-deflate: negotiation (RFC 7692 section 7) from both ends, and the compressor/inflater pair
// with and without context takeover, the size cap and corrupt input.
#include "waitless/http/websocket_deflate.hpp"

#include <gtest/gtest.h>

namespace waitless::http::ws {
namespace {

TEST(WebSocketDeflate, ServerNegotiation) {
  DeflateOptions o{.enabled = true};
  auto p = negotiate_deflate("permessage-deflate; client_max_window_bits", o);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->response(), "permessage-deflate; server_no_context_takeover; client_no_context_takeover");
  // The client's window request is honoured, ours is lowered to it; client_max_window_bits with a value.
  o.server_no_context_takeover = o.client_no_context_takeover = false;
  p = negotiate_deflate("permessage-deflate; server_max_window_bits=10; client_max_window_bits=12", o);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->server_max_window_bits, 10);
  EXPECT_EQ(p->client_max_window_bits, 12);
  EXPECT_EQ(p->response(), "permessage-deflate; server_max_window_bits=10; client_max_window_bits=12");
  // A bad offer is skipped for the next one; an 8-bit server window cannot be honoured by zlib.
  p = negotiate_deflate("permessage-deflate; bogus, permessage-deflate; server_no_context_takeover", o);
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->server_no_context_takeover);
  EXPECT_FALSE(negotiate_deflate("permessage-deflate; server_max_window_bits=8", o));
  EXPECT_FALSE(negotiate_deflate("permessage-deflate; server_max_window_bits=16", o));
  EXPECT_FALSE(
      negotiate_deflate("permessage-deflate; server_no_context_takeover; server_no_context_takeover", o));
  EXPECT_FALSE(negotiate_deflate("permessage-deflate; server_no_context_takeover=1", o));
  EXPECT_FALSE(negotiate_deflate("x-webkit-deflate-frame", o));
  EXPECT_FALSE(negotiate_deflate("permessage-deflate", DeflateOptions{}));  // disabled
  // Quoted values.
  p = negotiate_deflate("permessage-deflate; client_max_window_bits=\"9\"", o);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->client_max_window_bits, 9);
}

TEST(WebSocketDeflate, ClientNegotiation) {
  DeflateOptions o{.enabled = true};
  EXPECT_EQ(
      deflate_offer(o),
      "permessage-deflate; client_max_window_bits; server_no_context_takeover; client_no_context_takeover");
  auto p =
      accept_deflate_response("permessage-deflate; server_no_context_takeover; client_max_window_bits=10", o);
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->server_no_context_takeover);
  EXPECT_EQ(p->client_max_window_bits, 10);
  EXPECT_FALSE(accept_deflate_response("permessage-deflate; client_max_window_bits", o));  // value required
  EXPECT_FALSE(accept_deflate_response("permessage-deflate, permessage-deflate", o));
  EXPECT_FALSE(accept_deflate_response("other", o));
}

TEST(WebSocketDeflate, RoundTripsWithAndWithoutContextTakeover) {
  std::string text;
  for (int i = 0; i < 500; ++i) text += "the same words again and again " + std::to_string(i % 5);
  for (bool no_takeover : {true, false}) {
    MessageDeflater d(15, no_takeover, 6, 8);
    MessageInflater in(15, no_takeover);
    std::size_t first = 0;
    for (int round = 0; round < 3; ++round) {
      std::string packed, out;
      ASSERT_TRUE(d.compress(text, packed));
      if (round == 0) first = packed.size();
      // With context takeover the second message refers to the first: smaller.
      if (round > 0 && !no_takeover) EXPECT_LT(packed.size(), first);
      if (round > 0 && no_takeover) EXPECT_EQ(packed.size(), first);
      ASSERT_EQ(in.inflate(packed, out, 1 << 20), MessageInflater::Status::ok);
      EXPECT_EQ(out, text);
    }
  }
  // An empty message.
  MessageDeflater d(15, true, 1, 8);
  MessageInflater in(15, true);
  std::string packed, out = "x";
  ASSERT_TRUE(d.compress("", packed));
  ASSERT_EQ(in.inflate(packed, out, 10), MessageInflater::Status::ok);
  EXPECT_EQ(out, "");
}

TEST(WebSocketDeflate, CapAndCorruptInput) {
  MessageDeflater d(15, true, 9, 9);
  MessageInflater in(15, true);
  std::string bomb, out;
  ASSERT_TRUE(d.compress(std::string(50'000'000, 'a'), bomb));
  EXPECT_LT(bomb.size(), 100'000u);
  EXPECT_EQ(in.inflate(bomb, out, 1'000'000), MessageInflater::Status::too_big);
  EXPECT_LE(out.capacity(), 1'000'000u + 64 * 1024);  // stopped near the cap, not at 50 MB
  EXPECT_EQ(in.inflate("\xff\xfe garbage", out, 1000), MessageInflater::Status::error);
  // The shared stream was reset: the next message inflates.
  std::string packed;
  ASSERT_TRUE(d.compress("fine", packed));
  ASSERT_EQ(in.inflate(packed, out, 1000), MessageInflater::Status::ok);
  EXPECT_EQ(out, "fine");
}

}  // namespace
}  // namespace waitless::http::ws
