#include "waitless/http/request.hpp"

#include <cstring>

namespace waitless::http {

namespace {

Method method_from(uint8_t id) noexcept {
  switch (id) {
    case 0:
    case 1:
    case 2:
    case 3:
    case 4:
    case 5:
    case 6:
    case 7:
    case 28:
      return static_cast<Method>(id);
    default:
      return Method::other;
  }
}

// Splits a request-target into path and query. The absolute form ("http://host/p?q") loses its scheme
// and authority; the authority form (CONNECT) and "*" have no query.
void split_target(std::string_view target, std::string_view& path, std::string_view& query) noexcept {
  std::string_view t = target;
  if (!t.empty() && t.front() != '/' && t != "*") {
    std::size_t scheme = t.find("://");
    if (scheme != std::string_view::npos) {
      std::size_t slash = t.find_first_of("/?", scheme + 3);
      t = slash == std::string_view::npos ? std::string_view("/") : t.substr(slash);
      if (!t.empty() && t.front() == '?') {
        query = t.substr(1);
        path = "/";
        return;
      }
    }
  }
  const void* q = std::memchr(t.data(), '?', t.size());
  if (!q) {
    path = t;
    query = {};
    return;
  }
  std::size_t at = static_cast<std::size_t>(static_cast<const char*>(q) - t.data());
  path = t.substr(0, at);
  query = t.substr(at + 1);
}

}  // namespace

const Header* Request::find_header(std::string_view name) const noexcept {
  for (const Header& h : head_.headers) {
    if (iequals(h.name, name)) return &h;
  }
  return nullptr;
}

void Request::set_body_limit(uint64_t limit) noexcept {
  if (!body_limit_fixed_) body_limit_ = limit;
}

Result<net::SocketAddress> Request::peer_address() const {
  if (!port_) return Error::closed;
  return port_->peer_address();
}

void Request::adopt(RequestHead& head) noexcept {
  head_.headers.clear();
  head_.headers.swap(head.headers);  // the parser keeps our (empty) array: no allocation either way
  head_.method = head.method;
  head_.method_id = head.method_id;
  head_.version_major = head.version_major;
  head_.version_minor = head.version_minor;
  head_.target = head.target;
  head_.content_length = head.content_length;
  head_.head_size = head.head_size;
  head_.has_content_length = head.has_content_length;
  head_.chunked = head.chunked;
  head_.keep_alive = head.keep_alive;
  head_.expect_continue = head.expect_continue;
  head_.upgrade = head.upgrade;
  method_id_ = method_from(head.method_id);
  split_target(head_.target, path_, query_);
  persisted_ = false;
}

void Request::persist() {
  if (persisted_) return;
  std::size_t total = head_.method.size() + head_.target.size();
  for (const Header& h : head_.headers) total += h.name.size() + h.value.size();
  storage_.clear();
  storage_.reserve(total);  // no reallocation below: the views taken stay valid
  auto copy = [this](std::string_view& v) {
    const char* at = storage_.data() + storage_.size();
    storage_.append(v);
    v = {at, v.size()};
  };
  copy(head_.method);
  copy(head_.target);
  for (Header& h : head_.headers) {
    copy(h.name);
    copy(h.value);
  }
  split_target(head_.target, path_, query_);
  persisted_ = true;
}

void Request::release_storage() noexcept { std::string().swap(storage_); }

}  // namespace waitless::http
