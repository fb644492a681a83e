// The opening handshake's pieces: Sec-WebSocket-Accept (RFC 6455's own example), key validation, tokens.
#include "waitless/http/websocket_handshake.hpp"

#include <gtest/gtest.h>

namespace waitless::http::ws {
namespace {

TEST(WebSocketHandshake, AcceptKeyAndKeyValidation) {
  EXPECT_EQ(accept_key("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  EXPECT_TRUE(valid_client_key("dGhlIHNhbXBsZSBub25jZQ=="));
  EXPECT_FALSE(valid_client_key("dGhlIHNhbXBsZSBub25jZQ="));   // short
  EXPECT_FALSE(valid_client_key("dGhlIHNhbXBsZSBub25jZR=="));  // 17th byte's bits not zero
  EXPECT_FALSE(valid_client_key("dGhlIHNhbXBsZSBub2*jZQ=="));  // not base64
  EXPECT_FALSE(valid_client_key("c2hvcnQ="));
  for (int i = 0; i < 20; ++i) EXPECT_TRUE(valid_client_key(make_client_key()));
  EXPECT_NE(make_client_key(), make_client_key());
}

TEST(WebSocketHandshake, Tokens) {
  EXPECT_TRUE(has_token("keep-alive, Upgrade", "upgrade"));
  EXPECT_TRUE(has_token("WebSocket", "websocket"));
  EXPECT_FALSE(has_token("keep-alive, upgrades", "upgrade"));
  EXPECT_FALSE(has_token("", "upgrade"));
}

}  // namespace
}  // namespace waitless::http::ws
