#include "waitless/web/router.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace waitless::web {
namespace {

// Registers each (method, pattern) with slot = its index; a method of "" registers `all`.
struct Table {
  RouteTree tree;
  RouteMatch m;
  void add(std::string_view method, std::string_view pattern) {
    auto slot = static_cast<uint32_t>(tree.routes().size());
    auto r = method.empty() ? tree.add_all(pattern, slot) : tree.add(method, pattern, slot);
    ASSERT_TRUE(r.ok()) << method << " " << pattern << ": " << r.error().message();
  }
  // The matched route's pattern, or "404", "405 <Allow>", "OPTIONS <Allow>", "400 <error>".
  std::string route(std::string_view method, std::string_view path) {
    auto s = tree.find(method, path, m);
    if (!s) return "400 " + s.error().message();
    std::string allow;
    tree.append_allow(m.allowed(), allow);
    switch (*s) {
      case RouteStatus::found:
        EXPECT_EQ(m.status(), RouteStatus::found);
        return tree.routes()[m.route_index()].pattern;
      case RouteStatus::not_found:
        return "404";
      case RouteStatus::method_not_allowed:
        return "405 " + allow;
      case RouteStatus::options:
        return "OPTIONS " + allow;
    }
    return "?";
  }
  std::map<std::string, std::string> params() const {
    std::map<std::string, std::string> out;
    for (const RouteParam& p : m.params()) out.emplace(p.name, p.value);
    return out;
  }
};

using Params = std::map<std::string, std::string>;

TEST(Router, StaticParamAndWildcard) {
  Table t;
  t.add("GET", "/");
  t.add("GET", "/users");
  t.add("GET", "/users/:id");
  t.add("GET", "/users/:id/posts/:post");
  t.add("GET", "/static/*path");
  EXPECT_EQ(t.route("GET", "/"), "/");
  EXPECT_EQ(t.route("GET", "/users"), "/users");
  EXPECT_EQ(t.route("GET", "/users/42"), "/users/:id");
  EXPECT_EQ(t.params(), (Params{{"id", "42"}}));
  EXPECT_EQ(t.route("GET", "/users/42/posts/7"), "/users/:id/posts/:post");
  EXPECT_EQ(t.params(), (Params{{"id", "42"}, {"post", "7"}}));
  EXPECT_EQ(t.route("GET", "/static/css/site.css"), "/static/*path");
  EXPECT_EQ(t.params(), (Params{{"path", "css/site.css"}}));
  EXPECT_EQ(t.m.wildcard_segment(), 1u);
  EXPECT_EQ(t.route("GET", "/nope"), "404");
  EXPECT_EQ(t.route("GET", "/users/42/posts"), "404");
  EXPECT_EQ(t.route("GET", "/users/42/posts/7/x"), "404");
}

TEST(Router, StaticBeatsParamBeatsWildcard) {
  Table t;
  t.add("GET", "/a/*rest");
  t.add("GET", "/a/:p");
  t.add("GET", "/a/b");
  EXPECT_EQ(t.route("GET", "/a/b"), "/a/b");  // registration order does not matter
  EXPECT_EQ(t.route("GET", "/a/c"), "/a/:p");
  EXPECT_EQ(t.route("GET", "/a/c/d"), "/a/*rest");
  EXPECT_EQ(t.params(), (Params{{"rest", "c/d"}}));
  EXPECT_EQ(t.route("GET", "/a"), "/a/*rest");  // a wildcard covers zero segments too
  EXPECT_EQ(t.params(), (Params{{"rest", ""}}));
  t.add("GET", "/a");
  EXPECT_EQ(t.route("GET", "/a"), "/a");  // ...after a route that ends there
}

TEST(Router, BacktracksWhenTheStaticBranchDeadEnds) {
  Table t;
  t.add("GET", "/users/new/edit");
  t.add("GET", "/users/:id/profile");
  t.add("GET", "/users/:id/:tab/x");
  t.add("GET", "/*all");
  EXPECT_EQ(t.route("GET", "/users/new/edit"), "/users/new/edit");
  EXPECT_EQ(t.route("GET", "/users/new/profile"), "/users/:id/profile");
  EXPECT_EQ(t.params(), (Params{{"id", "new"}}));  // the dead branch left no parameter behind
  EXPECT_EQ(t.route("GET", "/users/new/edit/x"), "/users/:id/:tab/x");
  EXPECT_EQ(t.params(), (Params{{"id", "new"}, {"tab", "edit"}}));
  EXPECT_EQ(t.route("GET", "/users/new/zzz"), "/*all");  // both branches dead: the root wildcard
  EXPECT_EQ(t.params(), (Params{{"all", "users/new/zzz"}}));
  EXPECT_EQ(t.m.wildcard_segment(), 0u);
}

TEST(Router, MethodDecidesBetweenOverlappingRoutes) {
  Table t;
  t.add("GET", "/users/new");
  t.add("POST", "/users/:id");
  t.add("DELETE", "/users/*rest");
  EXPECT_EQ(t.route("GET", "/users/new"), "/users/new");
  EXPECT_EQ(t.route("POST", "/users/new"), "/users/:id");      // the static route has no POST
  EXPECT_EQ(t.route("DELETE", "/users/new"), "/users/*rest");  // nor the parameter one DELETE
  EXPECT_EQ(t.route("PUT", "/users/new"), "405 GET, HEAD, POST, DELETE, OPTIONS");  // union of matches
  EXPECT_EQ(t.route("PUT", "/users/7"), "405 POST, DELETE, OPTIONS");
}

TEST(Router, MethodNotAllowedListsAllow) {
  Table t;
  t.add("GET", "/items");
  t.add("POST", "/items");
  t.add("PURGE", "/items");
  EXPECT_EQ(t.route("DELETE", "/items"), "405 GET, HEAD, POST, OPTIONS, PURGE");
  EXPECT_EQ(t.m.status(), RouteStatus::method_not_allowed);
  EXPECT_EQ(t.route("PURGE", "/items"), "/items");
  EXPECT_EQ(t.route("purge", "/items").substr(0, 3), "405");  // methods are case-sensitive
  EXPECT_EQ(t.route("BREW", "/items").substr(0, 3), "405");   // unknown to the tree
  EXPECT_EQ(t.route("DELETE", "/other"), "404");
}

TEST(Router, HeadFallsBackToGet) {
  Table t;
  t.add("GET", "/a");
  t.add("GET", "/b");
  t.add("HEAD", "/b");
  t.add("", "/c");
  t.add("GET", "/c");
  EXPECT_EQ(t.route("HEAD", "/a"), "/a");
  EXPECT_TRUE(t.m.head_from_get());
  EXPECT_EQ(t.route("HEAD", "/b"), "/b");
  EXPECT_EQ(t.m.slot(), 2u);  // the HEAD route
  EXPECT_FALSE(t.m.head_from_get());
  EXPECT_EQ(t.route("HEAD", "/c"), "/c");
  EXPECT_EQ(t.m.slot(), 4u);  // GET before `all`
  EXPECT_TRUE(t.m.head_from_get());
  EXPECT_EQ(t.route("GET", "/a"), "/a");
  EXPECT_FALSE(t.m.head_from_get());
}

TEST(Router, OptionsAnsweredAutomaticallyUnlessRouted) {
  Table t;
  t.add("GET", "/a");
  t.add("PUT", "/a");
  t.add("OPTIONS", "/b");
  t.add("GET", "/b");
  t.add("", "/c");
  EXPECT_EQ(t.route("OPTIONS", "/a"), "OPTIONS GET, HEAD, PUT, OPTIONS");
  EXPECT_EQ(t.m.status(), RouteStatus::options);
  EXPECT_EQ(t.route("OPTIONS", "/b"), "/b");
  EXPECT_EQ(t.route("OPTIONS", "/c"), "/c");  // `all` takes OPTIONS too
  EXPECT_EQ(t.route("OPTIONS", "/d"), "404");
}

TEST(Router, AllTakesEveryMethodAfterTheExplicitOne) {
  Table t;
  t.add("", "/x");
  t.add("POST", "/x");
  EXPECT_EQ(t.route("BREW", "/x"), "/x");
  EXPECT_EQ(t.m.slot(), 0u);
  EXPECT_EQ(t.route("POST", "/x"), "/x");
  EXPECT_EQ(t.m.slot(), 1u);
}

TEST(Router, RegistrationErrorsAreValues) {
  RouteTree t;
  ASSERT_TRUE(t.add("GET", "/users/:id", 0).ok());
  EXPECT_EQ(t.add("GET", "/users/:id", 1).error(), RouteError::duplicate_route);
  EXPECT_EQ(t.add("GET", "/users/:id/", 1).error(), RouteError::duplicate_route);  // trailing slash ignored
  EXPECT_EQ(t.add("GET", "/users/:name", 1).error(), RouteError::param_name_conflict);
  EXPECT_EQ(t.add("POST", "/users/:uid/x", 1).error(), RouteError::param_name_conflict);
  EXPECT_TRUE(t.add("POST", "/users/:id", 1).ok());
  ASSERT_TRUE(t.add_all("/any", 2).ok());
  EXPECT_EQ(t.add_all("/any", 3).error(), RouteError::duplicate_route);
  ASSERT_TRUE(t.add("GET", "/files/*path", 4).ok());
  EXPECT_EQ(t.add("PUT", "/files/*p", 5).error(), RouteError::param_name_conflict);
  for (const char* bad : {"", "users", "/a//b", "/a//", "//", "/:", "/:a-b", "/*x/y", "/*a-b", "/%zz", "/%00",
                          "/..", "/a/%2e", "/:id/:id", "/:id/*id"}) {
    EXPECT_EQ(t.add("GET", bad, 9).error(), RouteError::invalid_pattern) << bad;
  }
  for (const char* bad : {"", "G T", "GET\r\n", "(GET)"}) {
    EXPECT_EQ(t.add(bad, "/m", 9).error(), RouteError::invalid_method) << bad;
  }
  EXPECT_EQ(t.routes().size(), 4u);  // refused registrations changed nothing
  RouteMatch m;
  ASSERT_TRUE(t.find("GET", "/users/name", m).ok());
  EXPECT_EQ(m.params()[0].name, "id");
}

TEST(Router, TooManyMethods) {
  RouteTree t;
  for (int i = 0; i < 57; ++i) ASSERT_TRUE(t.add("M" + std::to_string(i), "/", 0).ok()) << i;
  EXPECT_EQ(t.add("ONEMORE", "/", 0).error(), RouteError::too_many_methods);
  EXPECT_TRUE(t.add("M3", "/x", 0).ok());  // a known name still registers
  RouteMatch m;
  ASSERT_EQ(t.find("M56", "/", m).value(), RouteStatus::found);
  ASSERT_EQ(t.find("GET", "/", m).value(), RouteStatus::method_not_allowed);
  std::string allow;
  t.append_allow(m.allowed(), allow);
  EXPECT_EQ(allow.substr(0, 13), "OPTIONS, M0, ");
  EXPECT_EQ(allow.substr(allow.size() - 5), ", M56");
}

TEST(Router, LiteralColonAndStarThroughEncoding) {
  Table t;
  t.add("GET", "/%3Aid");   // a literal ":id" segment
  t.add("GET", "/v1/a*b");  // '*' not at a segment's start is literal
  t.add("GET", "/:p");
  EXPECT_EQ(t.route("GET", "/:id"), "/%3Aid");
  EXPECT_EQ(t.route("GET", "/%3aid"), "/%3Aid");
  EXPECT_EQ(t.route("GET", "/id"), "/:p");
  EXPECT_EQ(t.route("GET", "/v1/a*b"), "/v1/a*b");
}

TEST(Router, EncodedSegmentsMatchDecoded) {
  Table t;
  t.add("GET", "/files/:name");
  t.add("GET", "/caf\xC3\xA9/menu");
  t.add("GET", "/a b");
  EXPECT_EQ(t.route("GET", "/files/a%2Fb"), "/files/:name");  // %2F does not split
  EXPECT_EQ(t.params(), (Params{{"name", "a/b"}}));
  EXPECT_EQ(t.route("GET", "/files/a/b"), "404");
  EXPECT_EQ(t.route("GET", "/caf%C3%A9/menu"), "/caf\xC3\xA9/menu");
  EXPECT_EQ(t.route("GET", "/caf%c3%a9/menu"), "/caf\xC3\xA9/menu");
  EXPECT_EQ(t.route("GET", "/a%20b"), "/a b");
  EXPECT_EQ(t.route("GET", "/files/%E2%82%AC%20100"), "/files/:name");
  EXPECT_EQ(t.params(), (Params{{"name", "\xE2\x82\xAC 100"}}));
  EXPECT_EQ(t.route("GET", "/Files/x"), "404");  // case-sensitive
}

TEST(Router, InvalidEncodingsAreTypedErrors) {
  Table t;
  t.add("GET", "/*all");
  RouteMatch m;
  for (auto [path, err] :
       std::vector<std::pair<const char*, PathError>>{{"/a%", PathError::bad_percent},
                                                      {"/a%4", PathError::bad_percent},
                                                      {"/%xy", PathError::bad_percent},
                                                      {"/%00", PathError::control_character},
                                                      {"/a%0Ab", PathError::control_character},
                                                      {"/%C3%28", PathError::invalid_utf8},
                                                      {"/%2e%2e/etc", PathError::dot_segment},
                                                      {"/a/../b", PathError::dot_segment},
                                                      {"x", PathError::not_absolute}}) {
    auto s = t.tree.find("GET", path, m);
    ASSERT_FALSE(s.ok()) << path;
    EXPECT_EQ(s.error(), err) << path;
    EXPECT_EQ(s.error().category(), path_category());
  }
}

TEST(Router, TrailingSlashAndEmptySegments) {
  Table t;
  t.add("GET", "/users/");  // same as "/users"
  t.add("GET", "/u/:id");
  t.add("GET", "/w/*rest");
  EXPECT_EQ(t.route("GET", "/users"), "/users/");
  EXPECT_EQ(t.route("GET", "/users/"), "/users/");
  EXPECT_EQ(t.route("GET", "/users//"), "404");  // an empty segment
  EXPECT_EQ(t.route("GET", "/u/7/"), "/u/:id");
  EXPECT_EQ(t.route("GET", "/u//"), "404");          // a parameter never matches an empty segment
  EXPECT_EQ(t.route("GET", "/w/a//b"), "/w/*rest");  // a wildcard covers empty segments
  EXPECT_EQ(t.params(), (Params{{"rest", "a//b"}}));
  EXPECT_EQ(t.route("GET", "/w/"), "/w/*rest");
  EXPECT_EQ(t.params(), (Params{{"rest", ""}}));
  EXPECT_EQ(t.route("GET", "//users"), "404");
}

TEST(Router, WildcardValueKeepsSegmentBoundaries) {
  Table t;
  t.add("GET", "/s/*");
  EXPECT_EQ(t.route("GET", "/s/a%2Fb/c"), "/s/*");
  EXPECT_EQ(t.params(), (Params{{"*", "a/b/c"}}));
  auto segs = t.m.path().segments().subspan(t.m.wildcard_segment());
  ASSERT_EQ(segs.size(), 2u);
  EXPECT_EQ(segs[0], "a/b");
  EXPECT_EQ(segs[1], "c");
}

TEST(Router, TypedParams) {
  Table t;
  t.add("GET", "/n/:i/:d/:b/:s");
  ASSERT_EQ(t.route("GET", "/n/-42/2.5e3/true/hello%20you"), "/n/:i/:d/:b/:s");
  EXPECT_EQ(t.m.param<int64_t>("i").value(), -42);
  EXPECT_EQ(t.m.param<double>("d").value(), 2500.0);
  EXPECT_EQ(t.m.param<bool>("b").value(), true);
  EXPECT_EQ(t.m.param<std::string_view>("s").value(), "hello you");
  EXPECT_EQ(t.m.param<std::string>("s").value(), "hello you");
  EXPECT_EQ(t.m.param<int64_t>("nope").error(), RouteError::missing_param);
  EXPECT_EQ(t.m.param<int64_t>("d").error(), RouteError::bad_param);  // trailing text
  EXPECT_EQ(t.m.param<uint32_t>("i").error(), RouteError::bad_param);
  EXPECT_EQ(t.m.param<int64_t>("s").error(), RouteError::bad_param);
  EXPECT_EQ(parse_param<int8_t>("200").error(), RouteError::param_out_of_range);
  EXPECT_EQ(parse_param<int64_t>("9223372036854775808").error(), RouteError::param_out_of_range);
  EXPECT_EQ(parse_param<int64_t>("9223372036854775807").value(), INT64_MAX);
  EXPECT_EQ(parse_param<int64_t>("+1").error(), RouteError::bad_param);
  EXPECT_EQ(parse_param<int64_t>(" 1").error(), RouteError::bad_param);
  EXPECT_EQ(parse_param<int64_t>("").error(), RouteError::bad_param);
  EXPECT_EQ(parse_param<double>("1e999").error(), RouteError::param_out_of_range);
  EXPECT_EQ(parse_param<double>("nan").error(), RouteError::bad_param);
  EXPECT_EQ(parse_param<double>("inf").error(), RouteError::bad_param);
  EXPECT_EQ(parse_param<float>("0.5").value(), 0.5f);
  EXPECT_EQ(parse_param<bool>("yes").error(), RouteError::bad_param);
  EXPECT_EQ(parse_param<bool>("0").value(), false);
}

TEST(Router, MountsSubRoutersOnPrefixes) {
  RouteTree api;
  ASSERT_TRUE(api.add("GET", "/", 0).ok());
  ASSERT_TRUE(api.add("GET", "/users/:id", 1).ok());
  ASSERT_TRUE(api.add_all("/ping", 2).ok());
  RouteTree app;
  ASSERT_TRUE(app.add("GET", "/", 0).ok());
  ASSERT_TRUE(app.mount("/api/v1", api, 10).ok());
  ASSERT_TRUE(app.mount("/orgs/:org/", api, 20).ok());
  ASSERT_TRUE(app.mount("/", api, 30).ok() == false);  // "/" is taken by GET / already
  RouteMatch m;
  auto slot = [&](std::string_view method, std::string_view path) -> int {
    auto s = app.find(method, path, m);
    return s && *s == RouteStatus::found ? static_cast<int>(m.slot()) : -1;
  };
  EXPECT_EQ(slot("GET", "/"), 0);
  EXPECT_EQ(slot("GET", "/api/v1"), 10);
  EXPECT_EQ(slot("GET", "/api/v1/"), 10);
  EXPECT_EQ(slot("GET", "/api/v1/users/5"), 11);
  EXPECT_EQ(m.param<int>("id").value(), 5);
  EXPECT_EQ(slot("PATCH", "/api/v1/ping"), 12);
  EXPECT_EQ(slot("GET", "/orgs/acme/users/5"), 21);
  EXPECT_EQ(m.find_param("org").value_or(""), "acme");
  EXPECT_EQ(slot("GET", "/api/users/5"), -1);
  EXPECT_EQ(app.mount("/x/*", api).error(), RouteError::invalid_pattern);
  EXPECT_EQ(app.mount("x", api).error(), RouteError::invalid_pattern);
  EXPECT_EQ(app.mount("/orgs/:name", api).error(), RouteError::param_name_conflict);
}

TEST(Router, BasicRouterKeepsHandlers) {
  BasicRouter<std::string> api;
  ASSERT_TRUE(api.get("/items", "list").ok());
  ASSERT_TRUE(api.post("/items", "create").ok());
  ASSERT_TRUE(api.del("/items/:id", "remove").ok());
  BasicRouter<std::string> app;
  ASSERT_TRUE(app.get("/", "home").ok());
  ASSERT_TRUE(app.mount("/api", api).ok());
  EXPECT_EQ(app.get("/", "again").error(), RouteError::duplicate_route);
  RouteMatch m;
  ASSERT_EQ(app.find("POST", "/api/items", m).value(), RouteStatus::found);
  EXPECT_EQ(app.handler(m), "create");
  ASSERT_EQ(app.find("DELETE", "/api/items/3", m).value(), RouteStatus::found);
  EXPECT_EQ(app.handler(m), "remove");
  ASSERT_EQ(app.find("GET", "/", m).value(), RouteStatus::found);
  EXPECT_EQ(app.handler(m), "home");
}

TEST(Router, LongPathsAndManySegments) {
  Table t;
  std::string pattern, path;
  for (int i = 0; i < 200; ++i) {
    pattern += i % 2 ? "/:p" + std::to_string(i) : "/s" + std::to_string(i);
    path += i % 2 ? "/v" + std::to_string(i) : "/s" + std::to_string(i);
  }
  t.add("GET", pattern);
  t.add("GET", "/long/*rest");
  EXPECT_EQ(t.route("GET", path), pattern);
  EXPECT_EQ(t.m.params().size(), 100u);
  EXPECT_EQ(t.m.find_param("p199").value_or(""), "v199");
  std::string long_path = "/long/" + std::string(100000, 'x');
  for (int i = 0; i < 3000; ++i) long_path += "/%41";
  EXPECT_EQ(t.route("GET", long_path), "/long/*rest");
  EXPECT_EQ(t.m.params()[0].value.size(), 100000 + 3000 * 2u);
  EXPECT_EQ(t.route("GET", path + "/extra"), "404");
}

TEST(Router, ThousandRoutes) {
  Table t;
  for (int i = 0; i < 250; ++i) {
    std::string base = "/api/v1/res" + std::to_string(i);
    t.add("GET", base);
    t.add("POST", base);
    t.add("GET", base + "/:id");
    t.add("GET", base + "/:id/items/*rest");
  }
  ASSERT_EQ(t.tree.routes().size(), 1000u);
  for (int i = 0; i < 250; i += 7) {
    std::string base = "/api/v1/res" + std::to_string(i);
    EXPECT_EQ(t.route("GET", base), base);
    EXPECT_EQ(t.route("POST", base), base);
    EXPECT_EQ(t.m.slot(), static_cast<uint32_t>(4 * i + 1));
    EXPECT_EQ(t.route("GET", base + "/9"), base + "/:id");
    EXPECT_EQ(t.route("GET", base + "/9/items/a/b"), base + "/:id/items/*rest");
    EXPECT_EQ(t.params(), (Params{{"id", "9"}, {"rest", "a/b"}}));
    EXPECT_EQ(t.route("DELETE", base), "405 GET, HEAD, POST, OPTIONS");
  }
  EXPECT_EQ(t.route("GET", "/api/v1/res250"), "404");
}

TEST(Router, ReusedMatchDoesNotGrowAfterWarmUp) {
  Table t;
  t.add("GET", "/a/:x/:y/*z");
  ASSERT_EQ(t.route("GET", "/a/1/2/3/4/5/6"), "/a/:x/:y/*z");
  const char* seg0 = t.m.path().segments()[0].data();
  const RouteParam* p0 = t.m.params().data();
  for (int i = 0; i < 100; ++i) ASSERT_EQ(t.route("GET", "/a/9/8/7"), "/a/:x/:y/*z");
  EXPECT_EQ(t.m.path().segments()[0].data(), seg0);  // same buffers
  EXPECT_EQ(t.m.params().data(), p0);
}

TEST(Router, ErrorsHaveMessages) {
  std::error_code ec = RouteError::param_name_conflict;
  EXPECT_EQ(ec.category().name(), std::string("waitless.route"));
  EXPECT_EQ(ec.message(), "two parameter names at one position");
}

}  // namespace
}  // namespace waitless::web
