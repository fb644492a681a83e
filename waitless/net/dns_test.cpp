#include "waitless/net/dns.hpp"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "waitless/async/sleep.hpp"
#include "waitless/async/task.hpp"
#include "waitless/loop/io_watcher.hpp"
#include "waitless/net/test_support.hpp"

namespace waitless::net::dns {
namespace {

using net::test::expect_empty;
using net::test::run_task;

// A minimal authoritative DNS server on 127.0.0.1, driven by the test's loop: A for kName (and kOther) is
// 127.0.0.5 (TTL 60), AAAA for them is an empty answer (NODATA), every other name is NXDOMAIN. When `silent`,
// it counts queries and answers nothing.
class Responder {
 public:
  static constexpr const char* kName = "test.waitless";
  static constexpr const char* kOther = "two.waitless";  // answered like kName

  explicit Responder(Loop& loop) {
    fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    auto addr = SocketAddress::parse("127.0.0.1", 0);
    EXPECT_EQ(::bind(fd_, addr->data(), addr->size()), 0);
    port_ = SocketAddress::local_of(fd_)->port();
    watcher_.emplace(loop, fd_, [this](unsigned) { on_readable(); });
    (void)watcher_->start(io::readable);
  }
  ~Responder() {
    watcher_.reset();
    ::close(fd_);
  }
  std::string server() const { return "127.0.0.1:" + std::to_string(port_); }
  int queries(const std::string& name, int qtype) const {
    auto it = counts_.find(name + "/" + std::to_string(qtype));
    return it == counts_.end() ? 0 : it->second;
  }
  int total() const { return total_; }
  bool silent = false;

 private:
  void on_readable() {
    unsigned char q[512];
    sockaddr_storage from;
    socklen_t fromlen = sizeof from;
    ssize_t n = ::recvfrom(fd_, q, sizeof q, 0, reinterpret_cast<sockaddr*>(&from), &fromlen);
    if (n < 12) return;
    // Question: labels, then QTYPE and QCLASS.
    std::string name;
    std::size_t i = 12;
    while (i < static_cast<std::size_t>(n) && q[i] != 0) {
      if (!name.empty()) name += '.';
      name.append(reinterpret_cast<char*>(q + i + 1), q[i]);
      i += q[i] + 1;
    }
    std::size_t qend = i + 5;  // the root label, QTYPE, QCLASS
    if (qend > static_cast<std::size_t>(n)) return;
    int qtype = q[i + 1] << 8 | q[i + 2];
    ++counts_[name + "/" + std::to_string(qtype)];
    ++total_;
    if (silent) return;

    bool known = name == kName || name == kOther;
    bool answer = known && qtype == 1;
    std::string r(reinterpret_cast<char*>(q), qend);
    r[2] = static_cast<char>(0x84 | (q[2] & 0x01));  // QR, AA; RD echoed
    r[3] = static_cast<char>(known ? 0x80 : 0x83);   // RA; rcode 0 or 3 (NXDOMAIN)
    r[4] = 0, r[5] = 1;                              // QDCOUNT
    r[6] = 0, r[7] = answer ? 1 : 0;                 // ANCOUNT
    r[8] = r[9] = r[10] = r[11] = 0;                 // NSCOUNT, ARCOUNT (any EDNS OPT is dropped)
    if (answer) {
      const unsigned char rr[] = {0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 5};
      r.append(reinterpret_cast<const char*>(rr), sizeof rr);
    }
    (void)::sendto(fd_, r.data(), r.size(), 0, reinterpret_cast<sockaddr*>(&from), fromlen);
  }

  int fd_ = -1;
  uint16_t port_ = 0;
  std::optional<IoWatcher> watcher_;
  std::map<std::string, int> counts_;
  int total_ = 0;
};

std::unique_ptr<Resolver> make_resolver(Loop& loop, const Responder& r, Duration timeout = 2s) {
  auto res = Resolver::create(
      loop, {.servers = {r.server()}, .timeout = timeout, .tries = 1, .search_domains = false});
  EXPECT_TRUE(res.ok()) << res.error().message();
  return std::move(*res);
}

using Addrs = Result<std::vector<SocketAddress>>;

Task<Addrs> lookup(Resolver& r, std::string name, ResolveOptions o = {}) {
  co_return co_await r.resolve(name, o);
}

TEST(Dns, NumericHostsNeedNoQuery) {
  Loop loop;
  // A server nobody answers on: any query would time out.
  auto r = Resolver::create(loop, {.servers = {"127.0.0.1:9"}, .timeout = 10ms, .tries = 1});
  ASSERT_TRUE(r.ok());
  auto v4 = run_task(lookup(**r, "127.0.0.1"), loop);
  ASSERT_TRUE(v4.ok());
  EXPECT_EQ(v4->at(0).to_string(), "127.0.0.1:0");
  auto v6 = run_task(lookup(**r, "[::1]", {.family = Family::ipv6}), loop);
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->at(0).host(), "::1");
  EXPECT_EQ(run_task(lookup(**r, "::1", {.family = Family::ipv4}), loop).error(), dns_errc::not_found);
  EXPECT_EQ(run_task(lookup(**r, ""), loop).error(), Error::invalid_argument);
  EXPECT_EQ((*r)->lookups_started(), 0u);
  auto d = run_task([&]() -> Task<Addrs> { co_return co_await resolve(loop, "10.1.2.3"); }(),
                    loop);  // default resolver
  EXPECT_EQ(d->at(0).host(), "10.1.2.3");
  r->reset();
  expect_empty(loop);
}

TEST(Dns, ResolvesThroughTheServerAndCachesByTtl) {
  Loop loop;
  Responder server(loop);
  auto r = make_resolver(loop, server);
  auto a = run_task(lookup(*r, "test.waitless", {.family = Family::ipv4}), loop);
  ASSERT_TRUE(a.ok()) << a.error().message();
  ASSERT_EQ(a->size(), 1u);
  EXPECT_EQ(a->at(0).host(), "127.0.0.5");
  EXPECT_EQ(server.queries("test.waitless", 1), 1);
  EXPECT_EQ(loop.pending_requests(), 0u);

  // Cache hit: no second query; the name is case-insensitive and a trailing dot is the same name.
  auto b = run_task(lookup(*r, "TEST.waitless.", {.family = Family::ipv4}), loop);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->at(0).host(), "127.0.0.5");
  EXPECT_EQ(server.total(), 1);
  EXPECT_EQ(r->cache_hits(), 1u);
  EXPECT_EQ(r->lookups_started(), 1u);

  // Family::any asks A and AAAA; the empty AAAA answer leaves the A address.
  auto c = run_task(lookup(*r, "test.waitless"), loop);
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_EQ(c->at(0).host(), "127.0.0.5");
  EXPECT_EQ(server.queries("test.waitless", 28), 1);

  r->clear_cache();
  EXPECT_EQ(r->cache_entries(), 0u);
  ASSERT_TRUE(run_task(lookup(*r, "test.waitless", {.family = Family::ipv4}), loop).ok());
  EXPECT_EQ(server.queries("test.waitless", 1), 3);  // 1 + the A of Family::any + after clearing

  r.reset();
  EXPECT_EQ(loop.handle_count(), 1u);  // only the responder's watcher: c-ares' sockets are gone
}

TEST(Dns, CacheIsBoundedAndTtlCapped) {
  Loop loop;
  Responder server(loop);
  auto res = Resolver::create(loop, {.servers = {server.server()},
                                     .timeout = 2s,
                                     .tries = 1,
                                     .cache_size = 1,
                                     .max_ttl = 50ms,
                                     .search_domains = false});
  ASSERT_TRUE(res.ok());
  Resolver& r = **res;
  const ResolveOptions v4{.family = Family::ipv4};
  ASSERT_TRUE(run_task(lookup(r, "test.waitless", v4), loop).ok());
  ASSERT_TRUE(run_task(lookup(r, "two.waitless", v4), loop).ok());  // evicts test.waitless
  EXPECT_EQ(r.cache_entries(), 1u);
  ASSERT_TRUE(run_task(lookup(r, "two.waitless", v4), loop).ok());   // hit
  ASSERT_TRUE(run_task(lookup(r, "test.waitless", v4), loop).ok());  // miss: asked again
  EXPECT_EQ(server.queries("test.waitless", 1), 2);
  EXPECT_EQ(server.queries("two.waitless", 1), 1);
  // The answer's TTL is 60 s, capped at max_ttl: after 50 ms it is asked again.
  test::run_for(loop, 60ms);
  ASSERT_TRUE(run_task(lookup(r, "test.waitless", v4), loop).ok());
  EXPECT_EQ(server.queries("test.waitless", 1), 3);
  res->reset();
  EXPECT_EQ(loop.handle_count(), 1u);
}

TEST(Dns, NxdomainIsAnErrorValue) {
  Loop loop;
  Responder server(loop);
  auto r = make_resolver(loop, server);
  auto a = run_task(lookup(*r, "nope.waitless", {.family = Family::ipv4}), loop);
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.error(), dns_errc::not_found);
  EXPECT_EQ(a.error().category(), dns_category());
  EXPECT_FALSE(a.error().message().empty());
  // No address of the asked family is also "not found".
  EXPECT_EQ(run_task(lookup(*r, "test.waitless", {.family = Family::ipv6}), loop).error(),
            dns_errc::not_found);
  EXPECT_EQ(r->cache_entries(), 0u);  // errors are not cached
}

TEST(Dns, SilentServerTimesOut) {
  Loop loop;
  Responder server(loop);
  server.silent = true;
  auto r = make_resolver(loop, server, 100ms);
  int64_t t0 = loop.now();
  auto a = run_task(lookup(*r, "test.waitless", {.family = Family::ipv4}), loop);
  EXPECT_EQ(a.error(), Error::timed_out);
  EXPECT_GE(server.total(), 1);
  EXPECT_LT(loop.now() - t0, 2'000'000'000);
  r.reset();
  EXPECT_EQ(loop.handle_count(), 1u);
}

TEST(Dns, PerLookupTimeoutAbandonsTheQuery) {
  Loop loop;
  Responder server(loop);
  server.silent = true;
  auto r = make_resolver(loop, server, 5s);
  int64_t t0 = loop.now();
  auto a = run_task(lookup(*r, "test.waitless", {.family = Family::ipv4, .timeout = 50ms}), loop);
  EXPECT_EQ(a.error(), Error::timed_out);
  EXPECT_LT(loop.now() - t0, 1'000'000'000);
  // The abandoned query was cancelled in c-ares: no socket, timer or request of the resolver remains.
  EXPECT_EQ(loop.pending_requests(), 0u);
  EXPECT_EQ(loop.handle_count(), 1u);
}

TEST(Dns, CancelledByTheAwaitingTasksToken) {
  Loop loop;
  Responder server(loop);
  server.silent = true;
  auto r = make_resolver(loop, server, 5s);
  CancelSource source;
  std::optional<Addrs> got;
  auto task = [&]() -> Task<> { got.emplace(co_await r->resolve("test.waitless")); };
  auto canceller = [&]() -> Task<> {
    co_await sleep(20ms);
    source.cancel();
  };
  run_task(
      [&]() -> Task<> {
        spawn(task(), source.token());
        co_await canceller();
      }(),
      loop);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->error(), Error::cancelled);
  // Already cancelled before the lookup: completes at once, no query sent.
  int before = server.total();
  auto again = run_task(lookup(*r, "other.waitless").with_token(source.token()), loop);
  EXPECT_EQ(again.error(), Error::cancelled);
  EXPECT_EQ(server.total(), before);
  EXPECT_EQ(loop.handle_count(), 1u);
}

TEST(Dns, DestroyingTheResolverEndsLookupsWithClosed) {
  Loop loop;
  Responder server(loop);
  server.silent = true;
  auto r = make_resolver(loop, server, 5s);
  std::optional<Addrs> got;
  auto waiter = [&]() -> Task<> { got.emplace(co_await r->resolve("test.waitless")); };  // outlives its frame
  run_task(
      [&]() -> Task<> {
        spawn(waiter());
        co_await sleep(10ms);
        r.reset();
        co_await sleep(1ms);
      }(),
      loop);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->error(), Error::closed);
  EXPECT_EQ(loop.pending_requests(), 0u);
  EXPECT_EQ(loop.handle_count(), 1u);
}

TEST(Dns, HostsFileIsConsulted) {
  std::ifstream hosts("/etc/hosts");
  std::stringstream text;
  text << hosts.rdbuf();
  if (text.str().find("localhost") == std::string::npos) GTEST_SKIP() << "no localhost in /etc/hosts";
  Loop loop;
  // The only server answers nothing: the answer can only come from /etc/hosts.
  Responder server(loop);
  server.silent = true;
  auto r = make_resolver(loop, server, 100ms);
  auto a = run_task(lookup(*r, "localhost"), loop);
  ASSERT_TRUE(a.ok()) << a.error().message();
  bool loopback = false;
  for (const auto& addr : *a) loopback |= addr.host() == "127.0.0.1" || addr.host() == "::1";
  EXPECT_TRUE(loopback);
  EXPECT_EQ(server.total(), 0);
  r.reset();
  EXPECT_EQ(loop.handle_count(), 1u);
}

TEST(Dns, BadServerIsAnErrorValue) {
  Loop loop;
  EXPECT_EQ(Resolver::create(loop, {.servers = {"dns.example:53"}}).error(), Error::invalid_argument);
  EXPECT_EQ(Resolver::create(loop, {.tries = 0}).error(), Error::invalid_argument);
  expect_empty(loop);
}

}  // namespace
}  // namespace waitless::net::dns
