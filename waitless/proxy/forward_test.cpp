#include "waitless/proxy/forward.hpp"

#include <gtest/gtest.h>

#include <string>

namespace waitless::proxy {
namespace {

std::string dump(const http::HeaderMap& m) {
  std::string out;
  for (http::Header h : m) {
    out.append(h.name);
    out += ": ";
    out.append(h.value);
    out += '\n';
  }
  return out;
}

TEST(ProxyForward, HopByHopFields) {
  EXPECT_TRUE(is_hop_by_hop("Connection", ""));
  EXPECT_TRUE(is_hop_by_hop("keep-alive", ""));
  EXPECT_TRUE(is_hop_by_hop("Proxy-Authorization", ""));
  EXPECT_TRUE(is_hop_by_hop("TE", ""));
  EXPECT_TRUE(is_hop_by_hop("Trailer", ""));
  EXPECT_TRUE(is_hop_by_hop("Transfer-Encoding", ""));
  EXPECT_TRUE(is_hop_by_hop("Upgrade", ""));
  EXPECT_TRUE(is_hop_by_hop("X-Secret", "keep-alive, x-secret"));
  EXPECT_FALSE(is_hop_by_hop("X-Secret", "keep-alive"));
  EXPECT_FALSE(is_hop_by_hop("Host", "close"));
}

TEST(ProxyForward, RequestHeadersAreRewrittenExactly) {
  std::vector<http::Header> in = {{"Host", "example.com:8080"},
                                  {"User-Agent", "t"},
                                  {"Connection", "keep-alive, X-Drop"},
                                  {"X-Drop", "1"},
                                  {"Keep-Alive", "timeout=5"},
                                  {"Proxy-Authorization", "Basic x"},
                                  {"TE", "trailers"},
                                  {"Upgrade", "h2c"},
                                  {"Content-Length", "3"},
                                  {"X-Forwarded-For", "1.2.3.4"},
                                  {"X-Forwarded-Proto", "https"},
                                  {"Via", "1.0 first"},
                                  {"Forwarded", "for=1.2.3.4"},
                                  {"Accept", "*/*"}};
  http::HeaderMap out;
  forward_request_headers(in, ForwardInfo{"127.0.0.1", false, 1, "waitless", {}}, out);
  EXPECT_EQ(dump(out),
            "Host: example.com:8080\n"
            "User-Agent: t\n"
            "Accept: */*\n"
            "X-Forwarded-For: 1.2.3.4, 127.0.0.1\n"
            "X-Forwarded-Proto: http\n"
            "X-Forwarded-Host: example.com:8080\n"
            "Forwarded: for=1.2.3.4, for=127.0.0.1;host=\"example.com:8080\";proto=http\n"
            "Via: 1.0 first, 1.1 waitless\n");
}

TEST(ProxyForward, HostRewriteIPv6AndHttp10) {
  std::vector<http::Header> in = {{"Host", "front"}};
  http::HeaderMap out;
  forward_request_headers(in, ForwardInfo{"::1", true, 0, "edge", "10.0.0.1:80"}, out);
  EXPECT_EQ(dump(out),
            "Host: 10.0.0.1:80\n"
            "X-Forwarded-For: ::1\n"
            "X-Forwarded-Proto: https\n"
            "X-Forwarded-Host: front\n"
            "Forwarded: for=\"[::1]\";host=\"front\";proto=https\n"
            "Via: 1.0 edge\n");
}

}  // namespace
}  // namespace waitless::proxy
