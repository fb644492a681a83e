#include "waitless/net/dns.hpp"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <tuple>
#include <variant>
#include <vector>

#include "waitless/async/sleep.hpp"
#include "waitless/async/task.hpp"
#include "waitless/async/when_all.hpp"
#include "waitless/loop/io_watcher.hpp"
#include "waitless/net/test_support.hpp"

namespace waitless::net::dns {
namespace {

using net::test::expect_empty;
using net::test::run_task;

// A minimal authoritative DNS server on 127.0.0.1, driven by the test's loop: A for kName (and kOther) is
// 127.0.0.5 (TTL 60), AAAA for them is an empty answer (NODATA), kRefused is REFUSED, every other name is
// NXDOMAIN. When `silent`, it counts queries and answers nothing. When `hold`, it counts queries and keeps
// their answers until release(): a test decides exactly when the answer arrives.
class Responder {
 public:
  static constexpr const char* kName = "test.waitless";
  static constexpr const char* kOther = "two.waitless";  // answered like kName
  static constexpr const char* kRefused = "refused.waitless";

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
  // Sends the answers held so far and stops holding.
  void release() {
    hold = false;
    for (auto& h : held_)
      (void)::sendto(fd_, h.answer.data(), h.answer.size(), 0, reinterpret_cast<sockaddr*>(&h.to), h.tolen);
    held_.clear();
  }
  bool silent = false;
  bool hold = false;

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
    r[2] = static_cast<char>(0x84 | (q[2] & 0x01));                           // QR, AA; RD echoed
    r[3] = static_cast<char>(known ? 0x80 : name == kRefused ? 0x85 : 0x83);  // RA; rcode 0, 5 or 3
    r[4] = 0, r[5] = 1;                                                       // QDCOUNT
    r[6] = 0, r[7] = answer ? 1 : 0;                                          // ANCOUNT
    r[8] = r[9] = r[10] = r[11] = 0;  // NSCOUNT, ARCOUNT (any EDNS OPT is dropped)
    if (answer) {
      const unsigned char rr[] = {0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 5};
      r.append(reinterpret_cast<const char*>(rr), sizeof rr);
    }
    if (hold) {
      held_.push_back({std::move(r), from, fromlen});
      return;
    }
    (void)::sendto(fd_, r.data(), r.size(), 0, reinterpret_cast<sockaddr*>(&from), fromlen);
  }

  struct Held {
    std::string answer;
    sockaddr_storage to;
    socklen_t tolen;
  };

  int fd_ = -1;
  uint16_t port_ = 0;
  std::optional<IoWatcher> watcher_;
  std::map<std::string, int> counts_;
  int total_ = 0;
  std::vector<Held> held_;
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
  EXPECT_EQ(r->cache_entries(), 2u);  // "not found" is cached (negative_ttl), as one entry per name/family
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
  // Already cancelled before the lookup: completes at once, no query sent. (Counted by name: the first
  // lookup's queries, A and AAAA, may still be unread by the responder when the first run ends, which
  // reads one datagram per turn of the loop.)
  auto again = run_task(lookup(*r, "other.waitless").with_token(source.token()), loop);
  EXPECT_EQ(again.error(), Error::cancelled);
  run_task([]() -> Task<> { (void)co_await sleep(50ms); }(), loop);  // a query sent would now be read
  EXPECT_EQ(server.queries("other.waitless", 1) + server.queries("other.waitless", 28), 0);
  EXPECT_EQ(loop.handle_count(), 1u);
}

TEST(Dns, DestroyingTheResolverEndsLookupsWithClosed) {
  Loop loop;
  Responder server(loop);
  server.silent = true;
  auto r = make_resolver(loop, server, 5s);
  std::optional<Addrs> got, joined;
  auto waiter = [&]() -> Task<> { got.emplace(co_await r->resolve("test.waitless")); };  // outlives its frame
  auto joiner = [&]() -> Task<> { joined.emplace(co_await r->resolve("test.waitless")); };
  run_task(
      [&]() -> Task<> {
        spawn(waiter());
        spawn(joiner());  // joins the waiter's query
        co_await sleep(10ms);
        EXPECT_EQ(r->lookups_started(), 1u);
        r.reset();
        co_await sleep(1ms);
      }(),
      loop);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->error(), Error::closed);
  ASSERT_TRUE(joined.has_value());
  EXPECT_EQ(joined->error(), Error::closed);
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

// ---- lookups in flight are shared; "not found" is cached ------------------------------------------------

const ResolveOptions kV4{.family = Family::ipv4};

TEST(Dns, ConcurrentLookupsOfOneNameShareOneQuery) {
  Loop loop;
  Responder server(loop);
  auto r = make_resolver(loop, server);
  // Two at once; the second spells the name differently (same cache key), so it joins the first's query.
  auto [a, b] = run_task(
      [&]() -> Task<std::tuple<Addrs, Addrs>> {
        auto all = when_all(lookup(*r, "test.waitless", kV4), lookup(*r, "TEST.waitless.", kV4));
        co_return co_await std::move(all);
      }(),
      loop);
  ASSERT_TRUE(a.ok()) << a.error().message();
  ASSERT_TRUE(b.ok()) << b.error().message();
  EXPECT_EQ(a->at(0).host(), "127.0.0.5");
  EXPECT_EQ(b->at(0).host(), "127.0.0.5");
  EXPECT_EQ(server.queries("test.waitless", 1), 1);
  EXPECT_EQ(r->lookups_started(), 1u);
  EXPECT_EQ(r->cache_hits(), 0u);  // joined, not answered from the cache
  EXPECT_EQ(loop.pending_requests(), 0u);

  // Three at once: one pending request per waiting lookup, one query, every lookup gets the addresses.
  std::size_t base = 0, during = 0;
  auto [c, d, e, checked] = run_task(
      [&]() -> Task<std::tuple<Addrs, Addrs, Addrs, std::monostate>> {
        base = loop.pending_requests();
        auto check = [&]() -> Task<> {
          during = loop.pending_requests();
          co_return;
        };
        auto all = when_all(lookup(*r, "two.waitless", kV4), lookup(*r, "two.waitless", kV4),
                            lookup(*r, "two.waitless", kV4), check());
        co_return co_await std::move(all);
      }(),
      loop);
  EXPECT_EQ(during, base + 3);
  for (const Addrs* x : {&c, &d, &e}) {
    ASSERT_TRUE(x->ok()) << x->error().message();
    ASSERT_EQ((*x)->size(), 1u);
    EXPECT_EQ((*x)->at(0).host(), "127.0.0.5");
  }
  EXPECT_EQ(server.queries("two.waitless", 1), 1);
  EXPECT_EQ(r->lookups_started(), 2u);
  EXPECT_EQ(loop.pending_requests(), 0u);
  r.reset();
  EXPECT_EQ(loop.handle_count(), 1u);
}

TEST(Dns, OwnTimeoutEndsOnlyThatLookup) {
  Loop loop;
  Responder server(loop);
  server.hold = true;  // the answer is sent only once the first lookup has given up
  auto r = make_resolver(loop, server, 5s);
  const ResolveOptions quick{.family = Family::ipv4, .timeout = 30ms};
  auto [a, b] = run_task(
      [&]() -> Task<std::tuple<Addrs, Addrs>> {
        auto impatient = [&]() -> Task<Addrs> {
          auto res = co_await r->resolve("test.waitless", quick);  // starts the query
          EXPECT_EQ(loop.pending_requests(), 1u);                  // the other lookup still waits
          server.release();
          co_return res;
        };
        auto all = when_all(impatient(), lookup(*r, "test.waitless", kV4));
        co_return co_await std::move(all);
      }(),
      loop);
  EXPECT_EQ(a.error(), Error::timed_out);
  ASSERT_TRUE(b.ok()) << b.error().message();
  EXPECT_EQ(b->at(0).host(), "127.0.0.5");
  EXPECT_EQ(server.queries("test.waitless", 1), 1);
  EXPECT_EQ(r->lookups_started(), 1u);
  EXPECT_EQ(r->cache_entries(), 1u);
  r.reset();
  EXPECT_EQ(loop.pending_requests(), 0u);
  EXPECT_EQ(loop.handle_count(), 1u);
}

TEST(Dns, CancellingOneLookupLeavesTheOtherWaiting) {
  Loop loop;
  Responder server(loop);
  server.hold = true;
  auto r = make_resolver(loop, server, 5s);
  CancelSource source;
  auto [a, b, cancelled] = run_task(
      [&]() -> Task<std::tuple<Addrs, Addrs, std::monostate>> {
        auto first = [&]() -> Task<Addrs> {
          auto res = co_await r->resolve("test.waitless", kV4);  // starts the query
          server.release();
          co_return res;
        };
        // Children start in order, each until it suspends: both lookups wait when the third cancels.
        auto cancel = [&]() -> Task<> {
          source.cancel();
          co_return;
        };
        auto all = when_all(first().with_token(source.token()), lookup(*r, "test.waitless", kV4), cancel());
        co_return co_await std::move(all);
      }(),
      loop);
  EXPECT_EQ(a.error(), Error::cancelled);
  ASSERT_TRUE(b.ok()) << b.error().message();
  EXPECT_EQ(b->at(0).host(), "127.0.0.5");
  EXPECT_EQ(server.queries("test.waitless", 1), 1);
  EXPECT_EQ(r->lookups_started(), 1u);
  r.reset();
  EXPECT_EQ(loop.pending_requests(), 0u);
  EXPECT_EQ(loop.handle_count(), 1u);
}

TEST(Dns, DestroyedAwaiterLeavesTheOtherWaiting) {
  Loop loop;
  Responder server(loop);
  server.hold = true;
  auto r = make_resolver(loop, server, 5s);
  auto [b, done] = run_task(
      [&]() -> Task<std::tuple<Addrs, std::monostate>> {
        auto destroyer = [&]() -> Task<> {
          std::size_t pending = loop.pending_requests();
          {
            auto aw = r->resolve("test.waitless", kV4);  // suspended by hand, then destroyed while waiting
            EXPECT_FALSE(aw.await_ready());
            EXPECT_TRUE(aw.await_suspend(std::noop_coroutine()));
            EXPECT_EQ(loop.pending_requests(), pending + 1);
          }
          EXPECT_EQ(loop.pending_requests(), pending);
          EXPECT_EQ(r->lookups_started(), 1u);  // joined the first lookup's query
          server.release();
          co_return;
        };
        auto all = when_all(lookup(*r, "test.waitless", kV4), destroyer());
        co_return co_await std::move(all);
      }(),
      loop);
  ASSERT_TRUE(b.ok()) << b.error().message();
  EXPECT_EQ(b->at(0).host(), "127.0.0.5");
  EXPECT_EQ(server.queries("test.waitless", 1), 1);
  r.reset();
  EXPECT_EQ(loop.pending_requests(), 0u);
  EXPECT_EQ(loop.handle_count(), 1u);
}

TEST(Dns, FamiliesAreNotMerged) {
  Loop loop;
  Responder server(loop);
  auto r = make_resolver(loop, server);
  const ResolveOptions v6{.family = Family::ipv6};
  auto [v4, any, six] = run_task(
      [&]() -> Task<std::tuple<Addrs, Addrs, Addrs>> {
        auto all = when_all(lookup(*r, "test.waitless", kV4), lookup(*r, "test.waitless"),
                            lookup(*r, "test.waitless", v6));
        co_return co_await std::move(all);
      }(),
      loop);
  ASSERT_TRUE(v4.ok()) << v4.error().message();
  ASSERT_TRUE(any.ok()) << any.error().message();
  EXPECT_EQ(v4->at(0).host(), "127.0.0.5");
  EXPECT_EQ(any->at(0).host(), "127.0.0.5");
  EXPECT_EQ(six.error(), dns_errc::not_found);
  EXPECT_EQ(r->lookups_started(), 3u);
  EXPECT_EQ(server.queries("test.waitless", 1), 2);   // ipv4 and any
  EXPECT_EQ(server.queries("test.waitless", 28), 2);  // any and ipv6
  r.reset();
  EXPECT_EQ(loop.handle_count(), 1u);
}

TEST(Dns, NotFoundIsCachedForNegativeTtl) {
  Loop loop;
  Responder server(loop);
  auto res = Resolver::create(loop, {.servers = {server.server()},
                                     .timeout = 2s,
                                     .tries = 1,
                                     .negative_ttl = 50ms,
                                     .search_domains = false});
  ASSERT_TRUE(res.ok());
  Resolver& r = **res;
  EXPECT_EQ(run_task(lookup(r, "nope.waitless", kV4), loop).error(), dns_errc::not_found);
  EXPECT_EQ(run_task(lookup(r, "nope.waitless", kV4), loop).error(), dns_errc::not_found);
  EXPECT_EQ(server.queries("nope.waitless", 1), 1);
  EXPECT_EQ(r.cache_hits(), 1u);
  // No address of the asked family (NODATA) is "not found" too, and cached the same way.
  const ResolveOptions v6{.family = Family::ipv6};
  EXPECT_EQ(run_task(lookup(r, "test.waitless", v6), loop).error(), dns_errc::not_found);
  EXPECT_EQ(run_task(lookup(r, "test.waitless", v6), loop).error(), dns_errc::not_found);
  EXPECT_EQ(server.queries("test.waitless", 28), 1);
  EXPECT_EQ(r.lookups_started(), 2u);
  // After negative_ttl the name is asked again.
  auto wait = [&]() -> Task<> { co_await sleep(60ms); };
  run_task(wait(), loop);
  EXPECT_EQ(run_task(lookup(r, "nope.waitless", kV4), loop).error(), dns_errc::not_found);
  EXPECT_EQ(server.queries("nope.waitless", 1), 2);
  res->reset();
  EXPECT_EQ(loop.handle_count(), 1u);
}

TEST(Dns, NegativeTtlZeroDisablesItAndMaxTtlCapsIt) {
  Loop loop;
  Responder server(loop);
  auto off = Resolver::create(
      loop,
      {.servers = {server.server()}, .timeout = 2s, .tries = 1, .negative_ttl = {}, .search_domains = false});
  ASSERT_TRUE(off.ok());
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(run_task(lookup(**off, "nope.waitless", kV4), loop).error(), dns_errc::not_found);
  EXPECT_EQ(server.queries("nope.waitless", 1), 3);
  EXPECT_EQ((*off)->cache_entries(), 0u);
  off->reset();

  // negative_ttl (default 5 s) is capped by max_ttl.
  auto capped = Resolver::create(
      loop,
      {.servers = {server.server()}, .timeout = 2s, .tries = 1, .max_ttl = 20ms, .search_domains = false});
  ASSERT_TRUE(capped.ok());
  EXPECT_EQ(run_task(lookup(**capped, "gone.waitless", kV4), loop).error(), dns_errc::not_found);
  EXPECT_EQ(run_task(lookup(**capped, "gone.waitless", kV4), loop).error(), dns_errc::not_found);
  EXPECT_EQ(server.queries("gone.waitless", 1), 1);
  auto wait = [&]() -> Task<> { co_await sleep(30ms); };
  run_task(wait(), loop);
  EXPECT_EQ(run_task(lookup(**capped, "gone.waitless", kV4), loop).error(), dns_errc::not_found);
  EXPECT_EQ(server.queries("gone.waitless", 1), 2);
  capped->reset();
  EXPECT_EQ(loop.handle_count(), 1u);
}

TEST(Dns, OtherErrorsAreNotCached) {
  Loop loop;
  Responder server(loop);
  auto r = make_resolver(loop, server, 50ms);
  // REFUSED: an error value that is not "not found", asked again every time.
  auto refused = run_task(lookup(*r, Responder::kRefused, kV4), loop);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error(), dns_errc::not_found);
  int asked = server.queries(Responder::kRefused, 1);
  EXPECT_GE(asked, 1);
  EXPECT_EQ(run_task(lookup(*r, Responder::kRefused, kV4), loop).error(), refused.error());
  EXPECT_EQ(server.queries(Responder::kRefused, 1), 2 * asked);
  // A timeout (the server answers nothing) is not cached either.
  server.silent = true;
  EXPECT_EQ(run_task(lookup(*r, "test.waitless", kV4), loop).error(), Error::timed_out);
  EXPECT_EQ(run_task(lookup(*r, "test.waitless", kV4), loop).error(), Error::timed_out);
  EXPECT_EQ(server.queries("test.waitless", 1), 2);
  EXPECT_EQ(r->cache_entries(), 0u);
  r.reset();
  EXPECT_EQ(loop.handle_count(), 1u);
}

}  // namespace
}  // namespace waitless::net::dns
