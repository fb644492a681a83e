#include "waitless/http/client.hpp"

#include <algorithm>
#include <charconv>
#include <utility>
#include <vector>

#include "waitless/http/client_pool.hpp"
#include "waitless/http/field_list.hpp"
#include "waitless/http/url.hpp"
#include "waitless/loop/deadline.hpp"

namespace waitless::http {

namespace detail {

namespace {

// A reference on the core for as long as a request task (or its frame) lives.
class CoreRef {
 public:
  explicit CoreRef(ClientCore* c) noexcept : c_(c) { c_->add_ref(); }
  CoreRef(CoreRef&& o) noexcept : c_(std::exchange(o.c_, nullptr)) {}
  CoreRef(const CoreRef&) = delete;
  CoreRef& operator=(const CoreRef&) = delete;
  ~CoreRef() {
    if (c_) c_->release();
  }
  ClientCore& operator*() const noexcept { return *c_; }
  ClientCore* operator->() const noexcept { return c_; }

 private:
  ClientCore* c_;
};

// A request as views: get() builds one without copying anything.
struct RequestParts {
  std::string_view method;
  std::string_view url;
  const HeaderMap* headers = nullptr;
  std::string_view body;
  uint64_t max_body = 0;
  BodySource* source = nullptr;  // a streamed body (then `body` is empty)
  int64_t body_length = -1;      // with a source: Content-Length, or chunked when negative
};

RequestParts parts_of(const ClientRequest& r) noexcept {
  return {r.method, r.url, &r.headers, r.body, r.max_body, r.body_source.get(), r.body_length};
}

// What validate() learned about a request.
struct Checked {
  Url url;
  bool has_host = false;  // the caller set Host
  bool close = false;     // the caller said Connection: close
  bool head = false;
  bool upgrade = false;  // the caller sent Upgrade: a 101 may answer (stream() only)
};

bool idempotent(std::string_view m) noexcept {
  return m == "GET" || m == "HEAD" || m == "PUT" || m == "DELETE" || m == "OPTIONS" || m == "TRACE";
}

// Everything the caller gave is checked before a connection is used: nothing malformed is ever sent.
std::error_code validate(const RequestParts& r, Checked& out) {
  if (!is_token(r.method) || (r.source && !r.body.empty())) return Error::invalid_argument;
  auto url = parse_url(r.url);
  if (!url) return url.error();
  out.url = *url;
  out.head = r.method == "HEAD";
  if (!r.headers) return {};
  for (Header h : *r.headers) {
    if (!is_token(h.name) || !is_field_value(h.value)) return Error::invalid_argument;
    switch (h.name.size()) {
      case 4:
        if (iequals(h.name, "host")) {
          if (out.has_host || h.value.empty() || !is_host(h.value)) return Error::invalid_argument;
          out.has_host = true;
        }
        break;
      case 7:
        if (iequals(h.name, "upgrade")) out.upgrade = true;
        break;
      case 10:
        if (iequals(h.name, "connection") && list_has_token(h.value, "close")) out.close = true;
        break;
      case 14:  // framing is the client's: it follows the body it sends
        if (iequals(h.name, "content-length")) return Error::invalid_argument;
        break;
      case 17:
        if (iequals(h.name, "transfer-encoding")) return Error::invalid_argument;
        break;
      default:
        break;
    }
  }
  return {};
}

void serialize(std::string& out, const RequestParts& r, const Checked& c, bool add_close, bool inline_body) {
  out.clear();
  out.append(r.method);
  out += ' ';
  if (c.url.target.empty() || c.url.target.front() == '?') out += '/';
  out.append(c.url.target);
  out.append(" HTTP/1.1\r\n");
  if (!c.has_host) {
    out.append("Host: ");
    out.append(c.url.authority);
    out.append("\r\n");
  }
  if (r.headers) {
    for (Header h : *r.headers) {
      out.append(h.name);
      out.append(": ");
      out.append(h.value);
      out.append("\r\n");
    }
  }
  if (r.source && r.body_length < 0) {
    out.append("Transfer-Encoding: chunked\r\n");
  } else if (r.source) {
    char digits[24];
    auto [end, ec] = std::to_chars(digits, digits + sizeof digits, r.body_length);
    out.append("Content-Length: ");
    out.append(digits, end);
    out.append("\r\n");
  } else if (!r.body.empty() || r.method == "POST" || r.method == "PUT" || r.method == "PATCH") {
    // RFC 9110 8.6: a body is announced; POST, PUT and PATCH say 0 when they have none.
    char digits[24];
    auto [end, ec] = std::to_chars(digits, digits + sizeof digits, r.body.size());
    out.append("Content-Length: ");
    out.append(digits, end);
    out.append("\r\n");
  }
  if (add_close) out.append("Connection: close\r\n");
  out.append("\r\n");
  if (inline_body) out.append(r.body);
}

// A new connection for the lease's slot: DNS (unless the host is an IP literal), then a non-blocking
// connect to each address in turn until one answers, all within connect_timeout (and the total deadline).
Task<std::error_code> connect(ClientCore& core, Lease& lease, int64_t total) {
  Pool& pool = *lease.pool;
  const ClientOptions& o = core.options();
  const int64_t now = core.loop().now();
  const int64_t deadline =
      earliest_deadline(o.connect_timeout > Duration::zero() ? now + to_ns(o.connect_timeout) : 0, total);
  std::vector<net::SocketAddress> found;
  if (!pool.numeric) {
    auto r = core.resolver();
    if (!r) {
      ++core.counters().connect_errors;
      co_return r.error();
    }
    net::dns::ResolveOptions ro;
    if (deadline != 0) ro.timeout = Duration(std::max<int64_t>(deadline - now, 1));
    auto addresses = co_await (*r)->resolve(pool.host, ro);
    if (!addresses) {
      ++core.counters().connect_errors;
      co_return addresses.error();
    }
    found = std::move(*addresses);
    if (core.closed()) co_return Error::closed;
  } else {
    found.push_back(pool.address);
  }
  net::TlsContext* tls = nullptr;
  if (pool.tls) {
    auto t = core.tls_context();
    if (!t) {
      ++core.counters().connect_errors;
      co_return t.error();
    }
    tls = t.value();
  }
  ClientConnection* c = core.new_connection(pool);
  lease.conn = c;
  std::error_code ec = net::dns::dns_errc::not_found;
  for (net::SocketAddress& a : found) {
    a.set_port(pool.port);
    ec = c->open(a, tls, o.tls_server_name.empty() ? pool.host : o.tls_server_name, pool.key);
    if (!ec) ec = co_await c->connected(deadline);
    if (!ec || ec == Error::cancelled || ec == Error::timed_out || core.closed()) break;
  }
  if (ec) {
    ++core.counters().connect_errors;
    co_return ec;
  }
  ++core.counters().connections_opened;
  co_return std::error_code{};
}

// A request whose body comes from a source: the head, then each piece as the source gives it, waiting
// while the connection's queue is over its high-water mark; stops sending if the response comes first.
// *source_failed: the source's own error ended it (no retry then).
Task<std::error_code> send_streamed(ClientConnection& c, const ExchangeSpec& spec, BodySource& source,
                                    int64_t length, int64_t idle_ns, bool* source_failed) {
  c.begin_streamed(spec);
  const bool chunked = length < 0;
  uint64_t sent = 0;
  while (!c.response_ready()) {
    Result<std::string_view> piece = co_await source.next();
    if (c.response_ready()) break;
    if (!piece) {
      *source_failed = true;
      c.fail(piece.error());
      co_return piece.error();
    }
    sent += piece->size();
    if (!chunked && (sent > uint64_t(length) || (piece->empty() && sent != uint64_t(length)))) {
      *source_failed = true;
      c.fail(Error::invalid_argument);
      co_return Error::invalid_argument;
    }
    if (std::error_code ec = c.send_body(*piece, chunked)) co_return ec;
    if (piece->empty()) break;
    if (c.queued() > ClientConnection::kBodyHighWater) {
      if (std::error_code ec = co_await c.writable(idle_ns)) co_return ec;
    }
  }
  co_return co_await c.response();
}

// One request: a connection (idle, new, or after waiting in the queue), the exchange, and one retry on a
// new connection when a reused one turns out stale. `keep`: streaming; the lease moves there after the head.
Task<std::error_code> perform(ClientCore& core, RequestParts r, ClientResponse* res, Lease* keep) {
  ClientMetrics& m = core.counters();
  ++m.requests;
  if (core.closed()) co_return Error::closed;
  Checked chk;
  if (std::error_code ec = validate(r, chk)) co_return ec;
  const ClientOptions& o = core.options();
  Loop& loop = core.loop();
  const int64_t total = o.total_timeout > Duration::zero() ? loop.now() + to_ns(o.total_timeout) : 0;
  const bool inline_body = r.body.size() <= ClientConnection::kInlineBody;
  Pool& pool = core.pool_for(chk.url.host, chk.url.port, chk.url.tls);
  Lease lease(&core, &pool);
  for (int attempt = 0;; ++attempt) {
    if (!lease.slot) {
      if (ClientConnection* c = core.take_idle(pool)) {
        lease.conn = c;
        lease.slot = true;
      } else if (core.try_slot(pool)) {
        lease.slot = true;
      } else {
        if (core.closed()) co_return Error::closed;
        if (pool.waiting >= o.max_queued_per_origin) co_return Error::queue_full;
        PoolWaitAwaiter wait(core, pool, total);
        if (std::error_code ec = co_await wait) co_return ec;
        wait.take(lease);
      }
    }
    if (!lease.conn) {
      if (std::error_code ec = co_await connect(core, lease, total)) co_return ec;
    }
    ClientConnection& c = *lease.conn;
    const bool reused = c.served > 0;
    if (reused) ++m.connections_reused;
    serialize(c.out(), r, chk, !o.keep_alive && !chk.close, inline_body);
    ExchangeSpec spec;
    spec.response = res;
    if (!inline_body) spec.body = r.body;
    spec.head_request = chk.head;
    spec.upgrade = chk.upgrade;
    spec.collect = keep == nullptr;
    spec.close = chk.close || !o.keep_alive;
    spec.body_limit = r.max_body ? r.max_body : keep ? ~uint64_t{0} : o.max_body;
    spec.header_deadline = o.header_timeout > Duration::zero() ? loop.now() + to_ns(o.header_timeout) : 0;
    spec.total_deadline = total;
    spec.body_idle_ns = to_ns(o.body_timeout);
    spec.streamed_body = r.source != nullptr;
    spec.header_timeout_ns = to_ns(o.header_timeout);
    bool source_failed = false;
    std::error_code ec = r.source ? co_await send_streamed(c, spec, *r.source, r.body_length,
                                                           to_ns(o.body_timeout), &source_failed)
                                  : co_await c.exchange(spec);
    if (!ec) {
      if (keep) *keep = std::move(lease);
      co_return std::error_code{};
    }
    if (attempt == 0 && reused && idempotent(r.method) && c.failed_before_response() &&
        ec != Error::cancelled && ec != Error::timed_out && !core.closed() && !source_failed &&
        (!r.source || r.source->rewind())) {
      ++m.retries;
      lease.drop_connection();  // keeps the slot: the retry opens a new connection at once
      continue;
    }
    co_return ec;
  }
}

Task<Result<ClientResponse>> request_task(CoreRef core, ClientRequest req) {
  ClientResponse res;
  const RequestParts parts = parts_of(req);
  if (std::error_code ec = co_await perform(*core, parts, &res, nullptr)) co_return ec;
  co_return std::move(res);
}

Task<Result<ClientResponse>> get_task(CoreRef core, std::string url) {
  ClientResponse res;
  const RequestParts parts{"GET", url, nullptr, {}, 0};
  if (std::error_code ec = co_await perform(*core, parts, &res, nullptr)) co_return ec;
  co_return std::move(res);
}

}  // namespace

struct ClientAccess {
  static Task<Result<ClientStream>> stream(CoreRef core, ClientRequest req) {
    ClientStream s;
    const RequestParts parts = parts_of(req);
    if (std::error_code ec = co_await perform(*core, parts, &s.head_, &s.lease_)) co_return ec;
    s.body_idle_ns_ = to_ns(core->options().body_timeout);
    if (!s.lease_.conn->head_has_body() && s.head_.status != 101) {
      // Nothing follows the head: take the end now (at once), so the connection goes back to the pool.
      auto end = co_await s.read();
      if (!end) co_return end.error();
    }
    co_return std::move(s);
  }
  static Loop& loop_of(const Lease& lease) noexcept { return lease.core->loop(); }
  static Task<Result<ClientStream>> start(ClientCore* core, ClientRequest req) {
    return stream(CoreRef(core), std::move(req));
  }
};

}  // namespace detail

// ---- ClientStream -----------------------------------------------------------------------------------------

ClientStream::ReadAwaiter::ReadAwaiter(ClientStream* s) noexcept : s_(s) {
  if (!s->done_ && !s->error_ && s->lease_.conn && s->head_.status != 101) {
    inner_.emplace(s->lease_.conn, s->body_idle_ns_);
  }
}

Result<std::string_view> ClientStream::ReadAwaiter::await_resume() noexcept {
  if (!inner_) {
    if (s_->error_) return s_->error_;
    if (s_->done_ || s_->head_.status == 101) return std::string_view{};  // a 101 has no body
    return Error::closed;
  }
  Result<std::string_view> r = inner_->await_resume();
  inner_.reset();  // before the lease lets the connection go: the awaiter refers to it
  if (!r) {
    s_->error_ = r.error();
    s_->lease_.reset();
  } else if (r->empty()) {
    s_->done_ = true;
    if (s_->lease_.conn) std::swap(s_->head_.trailers, s_->lease_.conn->trailers());
    s_->lease_.reset();  // the body is complete: the connection goes back to the pool
  }
  return r;
}

ClientStream::ReadAwaiter ClientStream::read() noexcept { return ReadAwaiter(this); }

Result<Upgraded> ClientStream::take_upgraded() noexcept {
  if (head_.status != 101 || !lease_.conn) return Error::invalid_argument;
  Upgraded u;
  u.loop = &detail::ClientAccess::loop_of(lease_);
  u.fd = lease_.conn->release_switched(u.received, u.unsent, u.tls);
  lease_.reset();  // the slot goes back to the pool; the connection object is closed, not reused
  if (u.fd < 0) return Error::invalid_argument;
  done_ = true;
  return u;
}

Task<Result<std::string>> ClientStream::read_all(uint64_t limit) {
  std::string all;
  for (;;) {
    Result<std::string_view> piece = co_await read();
    if (!piece) co_return piece.error();
    if (piece->empty()) co_return std::move(all);
    if (all.size() + piece->size() > limit) {
      error_ = Error::limit_exceeded;
      lease_.reset();
      co_return Error::limit_exceeded;
    }
    all.append(*piece);
  }
}

// ---- Client -----------------------------------------------------------------------------------------------

Client::Client(Loop& loop, ClientOptions options) : core_(new detail::ClientCore(loop, std::move(options))) {}

Client::~Client() {
  core_->shutdown();
  core_->release();
}

// Each call takes its reference on the core now, not when the lazy task starts: the task may start after
// the Client is gone.
Task<Result<ClientResponse>> Client::get(std::string url) {
  return detail::get_task(detail::CoreRef(core_), std::move(url));
}

Task<Result<ClientResponse>> Client::post(std::string url, std::string body, std::string_view content_type) {
  ClientRequest req;
  req.method = "POST";
  req.url = std::move(url);
  req.body = std::move(body);
  if (!content_type.empty()) req.headers.add("Content-Type", content_type);
  return detail::request_task(detail::CoreRef(core_), std::move(req));
}

Task<Result<ClientResponse>> Client::request(ClientRequest request) {
  return detail::request_task(detail::CoreRef(core_), std::move(request));
}

Task<Result<ClientStream>> Client::stream(ClientRequest request) {
  return detail::ClientAccess::start(core_, std::move(request));
}

ClientMetrics Client::metrics() const noexcept { return core_->metrics(); }
const ClientOptions& Client::options() const noexcept { return core_->options(); }
void Client::close_idle() noexcept { core_->close_idle(); }

}  // namespace waitless::http
