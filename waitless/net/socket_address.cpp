#include "waitless/net/socket_address.hpp"

#include <arpa/inet.h>
#include <net/if.h>
#include <sys/un.h>

#include <cerrno>
#include <charconv>
#include <cstring>

namespace waitless::net {
namespace {

// inet_pton needs a NUL-terminated string; literals are short, so a stack copy suffices.
bool copy_z(std::string_view s, char (&out)[INET6_ADDRSTRLEN + IF_NAMESIZE + 2]) {
  if (s.empty() || s.size() >= sizeof out) return false;
  std::memcpy(out, s.data(), s.size());
  out[s.size()] = '\0';
  return true;
}

}  // namespace

SocketAddress::SocketAddress() noexcept {
  std::memset(&storage_, 0, sizeof storage_);
  storage_.ss_family = AF_UNSPEC;
}

Result<SocketAddress> SocketAddress::parse(std::string_view ip, uint16_t port) {
  char buf[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
  if (!copy_z(ip, buf)) return Error::invalid_argument;
  SocketAddress a;
  if (ip.find(':') == std::string_view::npos) {
    auto* in = reinterpret_cast<sockaddr_in*>(&a.storage_);
    if (inet_pton(AF_INET, buf, &in->sin_addr) != 1) return Error::invalid_argument;
    in->sin_family = AF_INET;
    in->sin_port = htons(port);
    a.len_ = sizeof(sockaddr_in);
    return a;
  }
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&a.storage_);
  if (char* pct = std::strchr(buf, '%')) {
    *pct = '\0';
    const char* scope = pct + 1;
    if (*scope == '\0') return Error::invalid_argument;
    uint32_t id = 0;
    auto [end, ec] = std::from_chars(scope, scope + std::strlen(scope), id);
    if (ec != std::errc{} || *end != '\0') {
      id = if_nametoindex(scope);
      if (id == 0) return Error::invalid_argument;
    }
    in6->sin6_scope_id = id;
  }
  if (inet_pton(AF_INET6, buf, &in6->sin6_addr) != 1) return Error::invalid_argument;
  in6->sin6_family = AF_INET6;
  in6->sin6_port = htons(port);
  a.len_ = sizeof(sockaddr_in6);
  return a;
}

Result<SocketAddress> SocketAddress::parse_endpoint(std::string_view text) {
  std::string_view host = text;
  uint16_t port = 0;
  auto read_port = [&](std::string_view p) {
    if (p.empty()) return false;
    auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), port);
    return ec == std::errc{} && end == p.data() + p.size();
  };
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos) return Error::invalid_argument;
    host = text.substr(1, close - 1);
    std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':' || !read_port(rest.substr(1))) return Error::invalid_argument;
    }
    if (host.find(':') == std::string_view::npos) return Error::invalid_argument;  // brackets are for v6
  } else if (auto colon = text.find(':');
             colon != std::string_view::npos && text.find(':', colon + 1) == std::string_view::npos) {
    host = text.substr(0, colon);
    if (!read_port(text.substr(colon + 1))) return Error::invalid_argument;
  }
  return parse(host, port);
}

Result<SocketAddress> SocketAddress::unix_path(std::string_view path) {
  SocketAddress a;
  auto* un = reinterpret_cast<sockaddr_un*>(&a.storage_);
  // A filesystem path needs its NUL inside sun_path; an abstract name uses every byte it names.
  bool abstract = !path.empty() && path.front() == '@';
  if (path.empty() || path.size() > sizeof(un->sun_path) - (abstract ? 0 : 1)) return Error::invalid_argument;
  if (path.find('\0') != std::string_view::npos) return Error::invalid_argument;
  un->sun_family = AF_UNIX;
  std::memcpy(un->sun_path, path.data(), path.size());
  if (abstract) un->sun_path[0] = '\0';
  a.len_ = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + (abstract ? 0 : 1));
  return a;
}

Result<SocketAddress> SocketAddress::from_sockaddr(const sockaddr* sa, socklen_t len) {
  if (!sa) return Error::invalid_argument;
  SocketAddress a;
  switch (sa->sa_family) {
    case AF_INET:
      if (len < static_cast<socklen_t>(sizeof(sockaddr_in))) return Error::invalid_argument;
      len = sizeof(sockaddr_in);
      break;
    case AF_INET6:
      if (len < static_cast<socklen_t>(sizeof(sockaddr_in6))) return Error::invalid_argument;
      len = sizeof(sockaddr_in6);
      break;
    case AF_UNIX:
      if (len < static_cast<socklen_t>(offsetof(sockaddr_un, sun_path)) ||
          len > static_cast<socklen_t>(sizeof(sockaddr_un)))
        return Error::invalid_argument;
      break;
    default:
      return Error::invalid_argument;
  }
  std::memcpy(&a.storage_, sa, len);
  a.len_ = len;
  return a;
}

Result<SocketAddress> SocketAddress::local_of(int fd) {
  sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) < 0) return errno_code(errno);
  return from_sockaddr(reinterpret_cast<sockaddr*>(&ss), len);
}

Result<SocketAddress> SocketAddress::peer_of(int fd) {
  sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) < 0) return errno_code(errno);
  return from_sockaddr(reinterpret_cast<sockaddr*>(&ss), len);
}

uint16_t SocketAddress::port() const noexcept {
  if (is_ipv4()) return ntohs(reinterpret_cast<const sockaddr_in*>(&storage_)->sin_port);
  if (is_ipv6()) return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_port);
  return 0;
}

void SocketAddress::set_port(uint16_t port) noexcept {
  if (is_ipv4()) reinterpret_cast<sockaddr_in*>(&storage_)->sin_port = htons(port);
  if (is_ipv6()) reinterpret_cast<sockaddr_in6*>(&storage_)->sin6_port = htons(port);
}

std::string SocketAddress::host() const {
  char buf[INET6_ADDRSTRLEN];
  if (is_ipv4()) {
    // Dotted quad by hand: glibc's inet_ntop formats IPv4 with sprintf, and an access log asks per request.
    const auto* b =
        reinterpret_cast<const unsigned char*>(&reinterpret_cast<const sockaddr_in*>(&storage_)->sin_addr);
    char* p = buf;
    for (int i = 0; i < 4; ++i) {
      if (i) *p++ = '.';
      p = std::to_chars(p, buf + sizeof buf, static_cast<unsigned>(b[i])).ptr;
    }
    return std::string(buf, p);
  }
  if (is_ipv6()) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&storage_);
    inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof buf);
    std::string s = buf;
    if (in6->sin6_scope_id != 0) s += "%" + std::to_string(in6->sin6_scope_id);
    return s;
  }
  if (is_unix()) {
    const auto* un = reinterpret_cast<const sockaddr_un*>(&storage_);
    std::size_t n = len_ - offsetof(sockaddr_un, sun_path);
    if (n == 0) return {};  // unnamed (the client end of a connect without bind)
    if (un->sun_path[0] == '\0') return "@" + std::string(un->sun_path + 1, n - 1);
    return std::string(un->sun_path, strnlen(un->sun_path, n));
  }
  return {};
}

std::string SocketAddress::to_string() const {
  if (is_ipv4()) return host() + ":" + std::to_string(port());
  if (is_ipv6()) return "[" + host() + "]:" + std::to_string(port());
  return host();
}

bool operator==(const SocketAddress& a, const SocketAddress& b) noexcept {
  return a.len_ == b.len_ && std::memcmp(&a.storage_, &b.storage_, a.len_) == 0;
}

}  // namespace waitless::net
