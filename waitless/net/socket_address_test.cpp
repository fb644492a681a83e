#include "waitless/net/socket_address.hpp"

#include <gtest/gtest.h>
#include <sys/un.h>
#include <unistd.h>

namespace waitless::net {
namespace {

TEST(SocketAddress, ParsesAndFormatsIPv4) {
  auto a = SocketAddress::parse("127.0.0.1", 8080);
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(a->is_ipv4());
  EXPECT_EQ(a->port(), 8080);
  EXPECT_EQ(a->host(), "127.0.0.1");
  EXPECT_EQ(a->to_string(), "127.0.0.1:8080");
  EXPECT_EQ(a->size(), sizeof(sockaddr_in));
}

TEST(SocketAddress, ParsesAndFormatsIPv6) {
  auto a = SocketAddress::parse("::1", 443);
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(a->is_ipv6());
  EXPECT_EQ(a->to_string(), "[::1]:443");
  auto b = SocketAddress::parse("2001:DB8:0:0::1", 0);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->host(), "2001:db8::1");  // canonical form
  auto scoped = SocketAddress::parse("fe80::1%1", 80);
  ASSERT_TRUE(scoped.ok());
  EXPECT_EQ(scoped->host(), "fe80::1%1");
  auto named = SocketAddress::parse("fe80::1%lo", 80);
  ASSERT_TRUE(named.ok());
  EXPECT_NE(named->host().find('%'), std::string::npos);
}

TEST(SocketAddress, RejectsWhatIsNotALiteral) {
  for (const char* bad : {"", "localhost", "1.2.3", "1.2.3.4.5", "256.1.1.1", "::g", "1.2.3.4 ", "fe80::1%",
                          "fe80::1%nosuchif0"}) {
    EXPECT_EQ(SocketAddress::parse(bad, 1).error(), Error::invalid_argument) << bad;
  }
  EXPECT_EQ(SocketAddress::parse(std::string(200, '1'), 1).error(), Error::invalid_argument);
}

TEST(SocketAddress, ParsesEndpoints) {
  EXPECT_EQ(SocketAddress::parse_endpoint("10.0.0.1:53")->to_string(), "10.0.0.1:53");
  EXPECT_EQ(SocketAddress::parse_endpoint("[::1]:5353")->to_string(), "[::1]:5353");
  EXPECT_EQ(SocketAddress::parse_endpoint("[::1]")->to_string(), "[::1]:0");
  EXPECT_EQ(SocketAddress::parse_endpoint("::1")->to_string(), "[::1]:0");
  EXPECT_EQ(SocketAddress::parse_endpoint("10.0.0.1")->port(), 0);
  for (const char* bad :
       {"10.0.0.1:", "10.0.0.1:65536", "10.0.0.1:x", "[::1", "[::1]x", "[::1]:", "[1.2.3.4]:1", "host:80"}) {
    EXPECT_FALSE(SocketAddress::parse_endpoint(bad).ok()) << bad;
  }
}

TEST(SocketAddress, UnixPathsAndAbstractNames) {
  auto p = SocketAddress::unix_path("/run/app.sock");
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p->is_unix());
  EXPECT_EQ(p->port(), 0);
  EXPECT_EQ(p->to_string(), "/run/app.sock");
  auto a = SocketAddress::unix_path("@name");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->to_string(), "@name");
  EXPECT_EQ(a->size(), offsetof(sockaddr_un, sun_path) + 5);  // no trailing NUL in the abstract namespace
  EXPECT_FALSE(SocketAddress::unix_path("").ok());
  EXPECT_FALSE(SocketAddress::unix_path(std::string(sizeof(sockaddr_un::sun_path), 'x')).ok());
  EXPECT_TRUE(SocketAddress::unix_path(std::string(sizeof(sockaddr_un::sun_path) - 1, 'x')).ok());
  EXPECT_FALSE(SocketAddress::unix_path(std::string("a\0b", 3)).ok());
}

TEST(SocketAddress, RoundTripsThroughTheKernel) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  auto want = SocketAddress::parse("127.0.0.1", 0);
  ASSERT_EQ(::bind(fd, want->data(), want->size()), 0);
  auto got = SocketAddress::local_of(fd);
  ASSERT_TRUE(got.ok());
  EXPECT_NE(got->port(), 0);
  want->set_port(got->port());
  EXPECT_EQ(*got, *want);
  EXPECT_FALSE(SocketAddress::peer_of(fd).ok());  // not connected: ENOTCONN as a value
  ::close(fd);
  EXPECT_EQ(SocketAddress::from_sockaddr(nullptr, 0).error(), Error::invalid_argument);
  EXPECT_TRUE(SocketAddress().empty());
  EXPECT_EQ(SocketAddress().to_string(), "");
}

}  // namespace
}  // namespace waitless::net
