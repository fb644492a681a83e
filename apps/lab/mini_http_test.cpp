#include "apps/lab/mini_http.hpp"

#include <gtest/gtest.h>

#include <string>

namespace waitless::lab {
namespace {

TEST(LabMiniHttp, RequestHeadNeedsTheBlankLine) {
  MessageHead h;
  EXPECT_EQ(parse_request_head("GET / HTTP/1.1\r\nHost: x\r\n", h), HeadParse::need_more);
  EXPECT_EQ(parse_request_head("GET / HT", h), HeadParse::need_more);
  const std::string req = "GET /work?x=1 HTTP/1.1\r\nHost: x\r\n\r\nGET /next";
  ASSERT_EQ(parse_request_head(req, h), HeadParse::complete);
  EXPECT_EQ(h.method, "GET");
  EXPECT_EQ(h.target, "/work?x=1");
  EXPECT_EQ(h.head_bytes, req.find("GET /next"));
  EXPECT_EQ(h.content_length, 0u);
  EXPECT_FALSE(h.close);
}

TEST(LabMiniHttp, RequestConnectionAndLength) {
  MessageHead h;
  ASSERT_EQ(
      parse_request_head("POST /p HTTP/1.1\r\ncontent-length: 5\r\nConnection: keep-alive, Close\r\n\r\n", h),
      HeadParse::complete);
  EXPECT_EQ(h.content_length, 5u);
  EXPECT_TRUE(h.close);
  ASSERT_EQ(parse_request_head("GET / HTTP/1.0\r\n\r\n", h), HeadParse::complete);
  EXPECT_TRUE(h.close);
  ASSERT_EQ(parse_request_head("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", h), HeadParse::complete);
  EXPECT_FALSE(h.close);
}

TEST(LabMiniHttp, RequestRejectsWhatItDoesNotHandle) {
  MessageHead h;
  EXPECT_EQ(parse_request_head("GET / HTTP/2.0\r\n\r\n", h), HeadParse::bad);
  EXPECT_EQ(parse_request_head("GET  HTTP/1.1\r\n\r\n", h), HeadParse::bad);
  EXPECT_EQ(parse_request_head("GET /\r\n\r\n", h), HeadParse::bad);
  EXPECT_EQ(parse_request_head("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", h), HeadParse::bad);
  EXPECT_EQ(parse_request_head("POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", h), HeadParse::bad);
  EXPECT_EQ(parse_request_head("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", h),
            HeadParse::bad);
  EXPECT_EQ(parse_request_head("GET / HTTP/1.1\r\n folded\r\n\r\n", h), HeadParse::bad);
  EXPECT_EQ(parse_request_head("GET / HTTP/1.1\r\nNoColon\r\n\r\n", h), HeadParse::bad);
  EXPECT_EQ(parse_request_head("GET / HTTP/1.1\r\nName : v\r\n\r\n", h), HeadParse::bad);
  // An endless head is refused once the limit is buffered, not accumulated forever.
  std::string huge = "GET / HTTP/1.1\r\nX: " + std::string(kMaxHeadBytes, 'a');
  EXPECT_EQ(parse_request_head(huge, h), HeadParse::bad);
}

TEST(LabMiniHttp, ResponseHead) {
  MessageHead h;
  const std::string res = make_response(200, "OK", "hello", false);
  ASSERT_EQ(parse_response_head(res, h), HeadParse::complete);
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(h.content_length, 5u);
  EXPECT_FALSE(h.close);
  EXPECT_EQ(res.substr(h.head_bytes), "hello");
  ASSERT_EQ(parse_response_head(make_response(503, "Busy", "", true), h), HeadParse::complete);
  EXPECT_EQ(h.status, 503);
  EXPECT_TRUE(h.close);
  ASSERT_EQ(parse_response_head("HTTP/1.1 204\r\n\r\n", h), HeadParse::complete);
  EXPECT_EQ(h.status, 204);
  EXPECT_EQ(parse_response_head("HTTP/1.1 2x0 OK\r\n\r\n", h), HeadParse::bad);
  EXPECT_EQ(parse_response_head("HTTP/1.1 200 OK\r\nContent", h), HeadParse::need_more);
}

TEST(LabMiniHttp, GetRequestRoundTrips) {
  MessageHead h;
  const std::string req = make_get_request("127.0.0.1", "/work");
  ASSERT_EQ(parse_request_head(req, h), HeadParse::complete);
  EXPECT_EQ(h.target, "/work");
  EXPECT_EQ(h.head_bytes, req.size());
}

}  // namespace
}  // namespace waitless::lab
