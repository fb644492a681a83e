// SocketAddress: an IPv4, IPv6 or Unix-domain socket address, by value (a sockaddr_storage and its length).
// Parsing is strict and returns Error::invalid_argument for anything that is not a literal address: names
// go through dns::resolve, never through here.
//
//   IPv4   "127.0.0.1"                       to_string(): "127.0.0.1:8080"
//   IPv6   "::1", "fe80::1%lo" (scope id)    to_string(): "[::1]:8080"
//   Unix   "/run/app.sock", "@abstract"      to_string(): "/run/app.sock", "@abstract"
//          ('@' names the Linux abstract namespace, as in ss(8) and systemd)
#pragma once
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "waitless/base/result.hpp"

namespace waitless::net {

class SocketAddress {
 public:
  // An empty address: family() == AF_UNSPEC, size() == 0.
  SocketAddress() noexcept;

  // An IP literal (v4 or v6, no brackets) and a port.
  static Result<SocketAddress> parse(std::string_view ip, uint16_t port);
  // "ip:port", "[ipv6]:port" or a bare IP (port 0). A bare IPv6 without brackets is accepted when it
  // cannot be read as host:port (it has more than one ':').
  static Result<SocketAddress> parse_endpoint(std::string_view text);
  // A Unix-domain path; "@name" is an abstract-namespace name. Error::invalid_argument if empty or too long.
  static Result<SocketAddress> unix_path(std::string_view path);
  // Copies a kernel address (from accept, getsockname, c-ares). Error::invalid_argument for other families.
  static Result<SocketAddress> from_sockaddr(const sockaddr* sa, socklen_t len);
  // getsockname / getpeername of fd.
  static Result<SocketAddress> local_of(int fd);
  static Result<SocketAddress> peer_of(int fd);

  int family() const noexcept { return storage_.ss_family; }
  bool is_ipv4() const noexcept { return family() == AF_INET; }
  bool is_ipv6() const noexcept { return family() == AF_INET6; }
  bool is_ip() const noexcept { return is_ipv4() || is_ipv6(); }
  bool is_unix() const noexcept { return family() == AF_UNIX; }
  bool empty() const noexcept { return family() == AF_UNSPEC; }

  // Port in host order; 0 for Unix and empty addresses. set_port is a no-op on those.
  uint16_t port() const noexcept;
  void set_port(uint16_t port) noexcept;
  // The address without the port: "127.0.0.1", "::1", "fe80::1%2", "/path", "@name".
  std::string host() const;
  // The address with the port for IP ("127.0.0.1:80", "[::1]:80"); host() for Unix; "" when empty.
  std::string to_string() const;

  const sockaddr* data() const noexcept { return reinterpret_cast<const sockaddr*>(&storage_); }
  socklen_t size() const noexcept { return len_; }

  friend bool operator==(const SocketAddress& a, const SocketAddress& b) noexcept;

 private:
  sockaddr_storage storage_;
  socklen_t len_ = 0;
};

}  // namespace waitless::net
