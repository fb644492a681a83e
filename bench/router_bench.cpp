// router_bench: route matching time with 10 routes against 1 000 (issue 9's goal: within 1.5x).
// Both trees hold the same 10 REST-shaped routes; the 1 000-route tree adds 990 more of the same shapes
// (static, :param and *wildcard, nested under shared prefixes like a real API). The same request paths
// (static, parameter and wildcard hits, a 404 and a 405) are looked up in both, with one reused RouteMatch
// (the App's per-connection one). ROUNDS rounds alternate which tree goes first; figures are medians over
// the rounds, the ratio the median of the per-round ratios (bench/README.md's method). Prints
//   figure router_<kind>_<10|1000>_routes_ns <ns per lookup>
//   figure router_spread_1000_routes_ns <ns>   (paths spread over the 1 000-route tree's own routes)
//   ratio router_1000_vs_10_routes <10-route time / 1 000-route time, summed over the kinds>
// Higher is better; the goal (1 000 routes within 1.5x of 10) is a ratio >= 0.667.
//   ./build/router_bench [rounds]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "waitless/web/router.hpp"

using namespace waitless::web;
using Clock = std::chrono::steady_clock;

namespace {

const std::vector<std::pair<const char*, const char*>> kBase = {
    {"GET", "/"},
    {"GET", "/health"},
    {"POST", "/login"},
    {"GET", "/users"},
    {"GET", "/users/:id"},
    {"PUT", "/users/:id"},
    {"GET", "/users/:id/posts"},
    {"GET", "/users/:id/posts/:post"},
    {"GET", "/api/v1/items/:id"},
    {"GET", "/static/*path"},
};

RouteTree make_tree(std::size_t count) {
  RouteTree t;
  uint32_t slot = 0;
  for (auto [m, p] : kBase) {
    if (!t.add(m, p, slot++)) std::abort();
  }
  static const char* kShapes[] = {
      "", "/:id", "/:id/comments", "/:id/comments/:cid", "/search", "/:id/files/*path"};
  static const char* kMethods[] = {"GET", "POST", "DELETE"};
  for (int r = 0; t.routes().size() < count; ++r) {
    std::string base = "/api/v" + std::to_string(r % 3 + 1) + "/res" + std::to_string(r);
    for (const char* shape : kShapes) {
      for (const char* m : kMethods) {
        if (t.routes().size() >= count) break;
        if (!t.add(m, base + shape, slot++)) std::abort();
      }
    }
  }
  if (t.routes().size() != count) std::abort();
  return t;
}

struct Kind {
  const char* name;
  const char* method;
  std::vector<std::string> paths;
};

std::vector<Kind> kinds() {
  return {
      {"static", "GET", {"/health", "/users", "/", "/health/"}},
      {"param", "GET", {"/users/42", "/users/1234567/posts", "/users/7/posts/99", "/api/v1/items/abc-123"}},
      {"wildcard",
       "GET",
       {"/static/css/site.css", "/static/js/app.min.js", "/static/img/a%20b.png", "/static/x"}},
      {"not_found", "GET", {"/nope", "/users/1/nope", "/api/v9/x", "/healthz"}},
      {"method_not_allowed", "DELETE", {"/users/1", "/login", "/health", "/users/1/posts"}},
  };
}

volatile uint32_t sink;

// ns per lookup for one batch of `iters` passes over `paths`, with `m` already warmed up.
double time_lookups(const RouteTree& t, const char* method, const std::vector<std::string>& paths, int iters,
                    RouteMatch& m) {
  auto t0 = Clock::now();
  for (int i = 0; i < iters; ++i) {
    for (const auto& p : paths) {
      auto s = t.find(method, p, m);
      sink = sink + static_cast<uint32_t>(s.ok() ? static_cast<int>(s.value()) : 9) + m.slot();
    }
  }
  return std::chrono::duration<double, std::nano>(Clock::now() - t0).count() / (iters * paths.size());
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

}  // namespace

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::max(1, std::atoi(argv[1])) : 7;
  const int iters = 50000;
  const RouteTree small = make_tree(10), large = make_tree(1000);
  const std::vector<Kind> ks = kinds();
  RouteMatch m_small, m_large;  // the App's per-connection matches: warmed up once
  for (const Kind& k : ks) {
    for (const auto& p : k.paths) {
      (void)small.find(k.method, p, m_small);
      (void)large.find(k.method, p, m_large);
    }
  }
  // Rounds alternate which tree goes first; the ratio is taken within a round (bench/README.md).
  std::vector<std::vector<double>> ns_small(ks.size()), ns_large(ks.size());
  std::vector<double> ratios;
  for (int r = 0; r < rounds; ++r) {
    double total_small = 0, total_large = 0;
    for (std::size_t i = 0; i < ks.size(); ++i) {
      double a, b;
      if (r % 2 == 0) {
        a = time_lookups(small, ks[i].method, ks[i].paths, iters, m_small);
        b = time_lookups(large, ks[i].method, ks[i].paths, iters, m_large);
      } else {
        b = time_lookups(large, ks[i].method, ks[i].paths, iters, m_large);
        a = time_lookups(small, ks[i].method, ks[i].paths, iters, m_small);
      }
      ns_small[i].push_back(a);
      ns_large[i].push_back(b);
      total_small += a;
      total_large += b;
    }
    ratios.push_back(total_small / total_large);
    std::printf("round %d: 10 routes %.1f ns, 1000 routes %.1f ns (sum over the %zu kinds)\n", r + 1,
                total_small, total_large, ks.size());
    std::fflush(stdout);
  }
  for (std::size_t i = 0; i < ks.size(); ++i) {
    std::printf("figure router_%s_10_routes_ns %.1f\n", ks[i].name, median(ns_small[i]));
    std::printf("figure router_%s_1000_routes_ns %.1f\n", ks[i].name, median(ns_large[i]));
  }
  // Lookups spread over the large tree's own routes (each shape, many resources).
  std::vector<std::string> spread;
  for (int r = 0; r < 56; r += 3) {
    std::string base = "/api/v" + std::to_string(r % 3 + 1) + "/res" + std::to_string(r);
    for (std::string p : {base, base + "/17", base + "/17/comments", base + "/17/comments/5",
                          base + "/search", base + "/17/files/a/b.txt"})
      spread.push_back(p);
  }
  std::vector<double> spread_ns;
  for (int r = 0; r < rounds; ++r)
    spread_ns.push_back(time_lookups(large, "GET", spread, iters / 20, m_large));
  std::printf("figure router_spread_1000_routes_ns %.1f\n", median(spread_ns));
  std::printf("ratio router_1000_vs_10_routes %.3f (goal >= 0.667: 1 000 routes within 1.5x of 10)\n",
              median(ratios));
  return 0;
}
