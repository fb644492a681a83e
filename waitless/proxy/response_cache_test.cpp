// The response cache of a route, through the proxy's handler on one loop: a real upstream that counts what
// reaches it and answers the Cache-Control / Vary / Set-Cookie it is asked for, the proxy's front server,
// and the HTTP client as the user.
#include "waitless/proxy/response_cache.hpp"

#include <gtest/gtest.h>

#include <map>

#include "waitless/async/sleep.hpp"
#include "waitless/async/when_all.hpp"

#include "waitless/proxy/proxy_test_support.hpp"

namespace waitless::proxy {
namespace {

using http::testing::run_bounded;
using http::testing::TestServer;
using testing::config_for;
using testing::finish_all;
using testing::Front;

TEST(ProxyCacheControl, ParsesTheDirectivesThisCacheReads) {
  auto cc = parse_cache_control("public, max-age=60, S-MAXAGE=\"120\"");
  EXPECT_TRUE(cc.is_public);
  EXPECT_EQ(cc.max_age, 60);
  EXPECT_EQ(cc.s_maxage, 120);
  EXPECT_FALSE(cc.no_store || cc.no_cache || cc.is_private);
  cc = parse_cache_control("no-store,no-cache=\"Set-Cookie\", private, must-revalidate");
  EXPECT_TRUE(cc.no_store && cc.no_cache && cc.is_private && cc.must_revalidate);
  EXPECT_EQ(cc.max_age, -1);
  EXPECT_EQ(parse_cache_control("max-age=abc").max_age, 0);  // malformed: stale
  EXPECT_EQ(parse_cache_control("max-age=99999999999").max_age, int64_t(1) << 31);
  EXPECT_EQ(parse_cache_control("").max_age, -1);
}

// Answers "<path> #<n>" (n: how many requests that path got) with the fields named in the query:
// ?cc=<Cache-Control>&vary=<Vary>&cookie=1&age=<Age>&size=<body bytes>&status=<code>&delay=<ms>.
struct Origin {
  std::map<std::string, int> hits;
  int total = 0;
  http::Handler handler() {
    return [this](http::Request& req, http::Response& res) -> Task<> {
      ++total;
      const int n = ++hits[std::string(req.path())];
      std::map<std::string, std::string> q;
      std::string_view query = req.query();
      while (!query.empty()) {
        const auto amp = query.find('&');
        const std::string_view kv = query.substr(0, amp);
        const auto eq = kv.find('=');
        std::string value(kv.substr(eq + 1));
        for (char& c : value) c = c == '+' ? ' ' : c;
        q[std::string(kv.substr(0, eq))] = value;
        if (amp == std::string_view::npos) break;
        query.remove_prefix(amp + 1);
      }
      if (q.count("cc")) (void)res.set_header("Cache-Control", q["cc"]);
      if (q.count("vary")) (void)res.set_header("Vary", q["vary"]);
      if (q.count("age")) (void)res.set_header("Age", q["age"]);
      if (q.count("cookie")) (void)res.set_header("Set-Cookie", "s=1");
      if (q.count("delay")) co_await sleep(std::chrono::milliseconds(std::stoi(q["delay"])));
      const int status = q.count("status") ? std::stoi(q["status"]) : 200;
      std::string body = std::string(req.path()) + " #" + std::to_string(n);
      if (q.count("vary")) body += " " + std::string(req.header(q["vary"]));
      if (q.count("size")) body.resize(std::stoul(q["size"]), 'x');
      (void)res.send(status, body, "text/plain");
      co_return;
    };
  }
};

struct Got {
  int status = 0;
  std::string body, x_cache, age;
};

struct CacheBench {
  explicit CacheBench(Loop& loop, CacheSpec spec = {}) : loop(loop), origin_server(loop, origin.handler()) {
    ProxyConfig cfg = config_for({origin_server.port()});
    spec.enabled = true;
    cfg.routes[0].cache = spec;
    front.emplace(loop, cfg);
  }
  ~CacheBench() { finish_all(loop, {&*front->server, &origin_server}); }

  Got get(std::string path, std::vector<std::pair<std::string, std::string>> fields = {},
          std::string method = "GET") {
    return run_bounded(loop, [&]() -> Task<Got> {
      http::ClientRequest req{.method = method, .url = front->url(path)};
      for (auto& [k, v] : fields) req.headers.add(k, v);
      auto r = co_await client.request(std::move(req));
      if (!r) co_return Got{-1, r.error().message(), "", ""};
      co_return Got{r->status, r->body, std::string(r->header("x-cache")), std::string(r->header("age"))};
    }());
  }
  double metric(const std::string& name) { return testing::metric(front->proxy, name + "{route=\"/\"}"); }

  Loop& loop;
  Origin origin;
  TestServer origin_server;
  std::optional<Front> front;
  http::Client client{loop};
};

TEST(ProxyResponseCache, MissThenHitWithAgeAndTheUpstreamAskedOnce) {
  Loop loop;
  {
    CacheBench b(loop);
    auto first = b.get("/a?cc=max-age=60");
    EXPECT_EQ(first.status, 200);
    EXPECT_EQ(first.body, "/a #1");
    EXPECT_EQ(first.x_cache, "MISS");
    for (int i = 0; i < 3; ++i) {
      auto hit = b.get("/a?cc=max-age=60");
      EXPECT_EQ(hit.status, 200);
      EXPECT_EQ(hit.body, "/a #1");
      EXPECT_EQ(hit.x_cache, "HIT");
      EXPECT_EQ(hit.age, "0");
    }
    EXPECT_EQ(b.origin.hits["/a"], 1);
    // The query is part of the key; HEAD is answered from the stored GET.
    EXPECT_EQ(b.get("/a?cc=max-age=60&x=1").body, "/a #2");
    auto head = b.get("/a?cc=max-age=60", {}, "HEAD");
    EXPECT_EQ(head.x_cache, "HIT");
    EXPECT_EQ(head.body, "");
    // The upstream's Age counts: stored at age 5 it is served at age 5 (and max-age 6 leaves 1 s).
    EXPECT_EQ(b.get("/old?cc=max-age=600&age=5").x_cache, "MISS");
    EXPECT_EQ(b.get("/old?cc=max-age=600&age=5").age, "5");
    // s-maxage wins over max-age=0 for a shared cache.
    b.get("/s?cc=max-age=0,+s-maxage=60");
    EXPECT_EQ(b.get("/s?cc=max-age=0,+s-maxage=60").x_cache, "HIT");
    EXPECT_EQ(b.metric("waitless_proxy_cache_hits_total"), 6);
    EXPECT_EQ(b.metric("waitless_proxy_cache_stores_total"), 4);
    EXPECT_GT(b.metric("waitless_proxy_cache_bytes"), 0);
  }
  net::test::expect_empty(loop);
}

TEST(ProxyResponseCache, WhatMustNotBeStoredNeverHits) {
  Loop loop;
  {
    CacheBench b(loop);
    const char* never[] = {"/ns?cc=no-store",
                           "/nc?cc=no-cache,+max-age=60",
                           "/p?cc=private,+max-age=60",
                           "/plain",
                           "/ck?cc=max-age=60&cookie=1",
                           "/vs?cc=max-age=60&vary=*",
                           "/e?cc=max-age=60&status=500",
                           "/z?cc=max-age=0",
                           "/y?cc=max-age=3&age=4"};
    for (const char* path : never) {
      for (int i = 0; i < 2; ++i) {
        auto g = b.get(path);
        EXPECT_EQ(g.x_cache, "MISS") << path;
        EXPECT_NE(g.body.find(" #" + std::to_string(i + 1)), std::string::npos) << path << ": " << g.body;
      }
    }
    EXPECT_EQ(b.metric("waitless_proxy_cache_stores_total"), 0);
    EXPECT_EQ(b.metric("waitless_proxy_cache_hits_total"), 0);
    // A 404 with max-age is stored (RFC 9111 lets a cache reuse it).
    b.get("/missing?cc=max-age=60&status=404");
    auto g = b.get("/missing?cc=max-age=60&status=404");
    EXPECT_EQ(g.status, 404);
    EXPECT_EQ(g.x_cache, "HIT");
  }
  net::test::expect_empty(loop);
}

TEST(ProxyResponseCache, RequestDirectivesAuthorizationAndUnsafeMethods) {
  Loop loop;
  {
    CacheBench b(loop);
    b.get("/r?cc=max-age=60");
    EXPECT_EQ(b.get("/r?cc=max-age=60", {{"Cache-Control", "no-cache"}}).body, "/r #2");  // bypass, refresh
    EXPECT_EQ(b.get("/r?cc=max-age=60").body, "/r #2");                                   // the refreshed one
    EXPECT_EQ(b.get("/r?cc=max-age=60", {{"Pragma", "no-cache"}}).body, "/r #3");
    EXPECT_EQ(b.get("/r?cc=max-age=60", {{"Cache-Control", "no-store"}}).body, "/r #4");
    EXPECT_EQ(b.get("/r?cc=max-age=60").body, "/r #3");  // no-store stored nothing
    // Authorization: stored only when the response allows a shared cache to.
    b.get("/auth?cc=max-age=60", {{"Authorization", "Bearer x"}});
    EXPECT_EQ(b.get("/auth?cc=max-age=60", {{"Authorization", "Bearer x"}}).x_cache, "MISS");
    b.get("/pub?cc=public,+max-age=60", {{"Authorization", "Bearer x"}});
    EXPECT_EQ(b.get("/pub?cc=public,+max-age=60", {{"Authorization", "Bearer x"}}).x_cache, "HIT");
    // A POST to the target invalidates it.
    b.get("/r?cc=max-age=60", {}, "POST");
    EXPECT_EQ(b.get("/r?cc=max-age=60").x_cache, "MISS");
    // Range requests are passed through.
    EXPECT_EQ(b.get("/r?cc=max-age=60", {{"Range", "bytes=0-1"}}).x_cache, "MISS");
  }
  net::test::expect_empty(loop);
}

TEST(ProxyResponseCache, VaryKeysOnTheNamedRequestFields) {
  Loop loop;
  {
    CacheBench b(loop);
    const std::string path = "/v?cc=max-age=60&vary=Accept-Language";
    EXPECT_EQ(b.get(path, {{"Accept-Language", "fr"}}).body, "/v #1 fr");
    EXPECT_EQ(b.get(path, {{"Accept-Language", "de"}}).body, "/v #2 de");
    auto fr = b.get(path, {{"Accept-Language", "fr"}});
    EXPECT_EQ(fr.body, "/v #1 fr");
    EXPECT_EQ(fr.x_cache, "HIT");
    EXPECT_EQ(b.get(path, {{"Accept-Language", "de"}}).body, "/v #2 de");
    EXPECT_EQ(b.get(path).x_cache, "MISS");  // without the field: its own variant
    EXPECT_EQ(b.origin.hits["/v"], 3);
  }
  net::test::expect_empty(loop);
}

TEST(ProxyResponseCache, BigResponsesStreamUnstoredAndTheBytesStayBounded) {
  Loop loop;
  {
    CacheSpec spec;
    spec.max_bytes = 64 * 1024;
    spec.max_entry_bytes = 16 * 1024;
    CacheBench b(loop, spec);
    for (int i = 0; i < 2; ++i) {
      auto big = b.get("/big?cc=max-age=60&size=2000000");  // 2 MB through a 16 KiB entry bound
      EXPECT_EQ(big.body.size(), 2'000'000u);
      EXPECT_EQ(big.x_cache, "MISS");
    }
    EXPECT_EQ(b.metric("waitless_proxy_cache_stores_total"), 0);
    // 40 entries of 8 KB through a 64 KiB cache: the least recently used go, the bytes stay within it.
    for (int i = 0; i < 40; ++i) b.get("/f" + std::to_string(i) + "?cc=max-age=60&size=8000");
    EXPECT_EQ(b.metric("waitless_proxy_cache_stores_total"), 40);
    EXPECT_LE(b.metric("waitless_proxy_cache_bytes"), 64 * 1024);
    EXPECT_GT(b.metric("waitless_proxy_cache_bytes"), 40 * 1024);
    EXPECT_EQ(b.get("/f39?cc=max-age=60&size=8000").x_cache, "HIT");
    EXPECT_EQ(b.get("/f0?cc=max-age=60&size=8000").x_cache, "MISS");
  }
  net::test::expect_empty(loop);
}

TEST(ProxyResponseCache, ConcurrentMissesOfOneKeyAskTheUpstreamOnce) {
  Loop loop;
  {
    CacheBench b(loop);
    auto one = [&](std::string path) -> Task<Got> {
      http::ClientRequest req{.url = b.front->url(path)};
      auto r = co_await b.client.request(std::move(req));
      if (!r) co_return Got{-1, r.error().message(), "", ""};
      co_return Got{r->status, r->body, std::string(r->header("x-cache")), std::string(r->header("age"))};
    };
    auto all = run_bounded(loop, [&]() -> Task<std::vector<Got>> {
      std::vector<Task<Got>> tasks;
      for (int i = 0; i < 5; ++i) tasks.push_back(one("/slow?cc=max-age=60&delay=100"));
      co_return co_await when_all(std::move(tasks));
    }());
    int hits = 0;
    for (const Got& g : all) {
      EXPECT_EQ(g.body, "/slow #1");
      hits += g.x_cache == "HIT";
    }
    EXPECT_EQ(hits, 4);
    EXPECT_EQ(b.origin.hits["/slow"], 1);
    EXPECT_EQ(b.metric("waitless_proxy_cache_coalesced_total"), 4);
    // A response that may not be stored: the waiters then go to the upstream themselves.
    auto uncached = run_bounded(loop, [&]() -> Task<std::vector<Got>> {
      std::vector<Task<Got>> tasks;
      for (int i = 0; i < 3; ++i) tasks.push_back(one("/private?cc=private&delay=50"));
      co_return co_await when_all(std::move(tasks));
    }());
    for (const Got& g : uncached) EXPECT_EQ(g.x_cache, "MISS");
    EXPECT_EQ(b.origin.hits["/private"], 3);
  }
  net::test::expect_empty(loop);
}

TEST(ProxyResponseCache, DefaultTtlStoresResponsesWithoutFreshness) {
  Loop loop;
  {
    CacheSpec spec;
    spec.default_ttl = std::chrono::milliseconds(60'000);
    CacheBench b(loop, spec);
    b.get("/plain");
    EXPECT_EQ(b.get("/plain").x_cache, "HIT");
    b.get("/e?status=500");  // not a status a cache may reuse without being told
    EXPECT_EQ(b.get("/e?status=500").x_cache, "MISS");
  }
  net::test::expect_empty(loop);
}

}  // namespace
}  // namespace waitless::proxy

namespace waitless::proxy {
namespace {

TEST(ProxyResponseCacheConfig, ParsedStrictly) {
  auto text = [](const std::string& cache) {
    return R"({"listen": "127.0.0.1:1", "upstreams": {"a": {"servers": ["127.0.0.1:2"]}},
               "routes": [{"prefix": "/", "upstream": "a", "cache": )" +
           cache + "}]}";
  };
  std::string message;
  auto c = parse_config(
      text(R"({"max_bytes": 16777216, "max_entry_bytes": 1048576, "default_ttl_ms": 5000})"), &message);
  ASSERT_TRUE(c.ok()) << message;
  const CacheSpec& s = c->routes[0].cache;
  EXPECT_TRUE(s.enabled);
  EXPECT_EQ(s.max_bytes, 16777216u);
  EXPECT_EQ(s.max_entry_bytes, 1048576u);
  EXPECT_EQ(s.default_ttl, std::chrono::milliseconds(5000));
  c = parse_config(text("{}"), &message);
  ASSERT_TRUE(c.ok()) << message;
  EXPECT_TRUE(c->routes[0].cache.enabled);
  EXPECT_FALSE(parse_config(text(R"({"max_bytes": 10000, "max_entry_bytes": 20000})"), &message).ok());
  EXPECT_EQ(message, "routes[0].cache.max_entry_bytes: larger than max_bytes");
  EXPECT_FALSE(parse_config(text(R"({"ttl": 1})"), &message).ok());
  EXPECT_EQ(message, "routes[0].cache.ttl: unknown key");
}

}  // namespace
}  // namespace waitless::proxy
