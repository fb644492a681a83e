#include "waitless/web/chain.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "waitless/async/frame_allocator.hpp"
#include "waitless/async/sleep.hpp"
#include "waitless/loop/test_support.hpp"
#include "waitless/web/request.hpp"
#include "waitless/web/response.hpp"

namespace waitless::web {
namespace {

using namespace std::chrono_literals;

// A request/response pair without a connection: enough for running chains.
struct Fixture {
  http::Request raw_req;
  http::Response raw_res;
  detail::RequestState rq;
  detail::ResponseState rs;
  TrustProxy trust;
  Request req{raw_req, rq, trust};
  Response res{raw_res, rs};
};

Layer mark(std::string& log, std::string name) {
  return make_layer([&log, name](Request&, Response&, Next next) {
    log += name + ">";
    next();
    log += "<" + name;
  });
}

Layer amark(std::string& log, std::string name, bool suspend) {
  return make_layer([&log, name, suspend](Request&, Response&, Next next) -> Task<> {
    log += name + ">";
    if (suspend) co_await sleep(1ms);
    co_await next();
    log += "<" + name;
  });
}

TEST(WebChain, PlainOnionRunsInOrderWithoutCoroutineFrames) {
  Fixture f;
  std::string log;
  std::vector<Layer> outer{mark(log, "a"), mark(log, "b")};
  std::vector<Layer> inner{make_layer([&log](Request&, Response& res) {
    log += "h";
    res.send("ok");
  })};
  const uint64_t frames = waitless::detail::frames_allocated();
  {
    detail::Chain chain(outer, inner, f.req, f.res, {}, true);
    NextCall rest = chain.start();
    EXPECT_TRUE(rest.await_ready());
  }
  EXPECT_EQ(waitless::detail::frames_allocated(), frames);
  EXPECT_EQ(log, "a>b>h<b<a");
  EXPECT_EQ(f.res.body_text(), "ok");
}

TEST(WebChain, MixedOnionAwaitsTheRestAcrossSuspensions) {
  Loop loop;
  Fixture f;
  std::string log;
  std::vector<Layer> outer{amark(log, "a", false), mark(log, "p"), amark(log, "b", true)};
  std::vector<Layer> inner{make_layer([&log](Request&, Response&) -> Task<> {
    co_await sleep(1ms);
    log += "h";
  })};
  run(
      [&]() -> Task<> {
        detail::Chain chain(outer, inner, f.req, f.res, {}, false);
        NextCall rest = chain.start();
        EXPECT_FALSE(rest.await_ready());
        // The plain middleware's code after next() ran at the first suspension below it.
        EXPECT_EQ(log, "a>p>b><p");
        co_await rest;
      }(),
      loop);
  EXPECT_EQ(log, "a>p>b><ph<b<a");
  test::expect_empty(loop);
}

TEST(WebChain, AMiddlewareThatDoesNotCallNextEndsTheChain) {
  Fixture f;
  std::string log;
  std::vector<Layer> outer{mark(log, "a"), make_layer([&log](Request&, Response& res, Next) {
                             log += "stop";
                             res.status(401);
                           })};
  std::vector<Layer> inner{make_layer([&log](Request&, Response&) { log += "h"; })};
  detail::Chain chain(outer, inner, f.req, f.res, {}, true);
  (void)chain.start();
  EXPECT_EQ(log, "a>stop<a");
  EXPECT_EQ(f.res.status(), 401);
}

TEST(WebChain, CallingNextTwiceIsALogicError) {
  Fixture f;
  int runs = 0;
  std::vector<Layer> outer{make_layer([](Request&, Response&, Next next) {
    next();
    next();
  })};
  std::vector<Layer> inner{make_layer([&runs](Request&, Response&) { ++runs; })};
  detail::Chain chain(outer, inner, f.req, f.res, {}, true);
  EXPECT_THROW((void)chain.start(), std::logic_error);
  EXPECT_EQ(runs, 1);
}

TEST(WebChain, ExceptionsReachThePlainAndTheCoroutineMiddlewareBeforeThem) {
  Loop loop;
  Fixture f;
  std::string seen;
  std::vector<Layer> outer{make_layer([&seen](Request&, Response&, Next next) -> Task<> {
                             try {
                               co_await next();
                             } catch (const HttpError& e) {
                               seen += "async:" + std::to_string(e.status());
                             }
                           }),
                           make_layer([&seen](Request&, Response&, Next next) {
                             try {
                               next();
                             } catch (const HttpError& e) {
                               seen += "plain:" + std::to_string(e.status()) + ";";
                               throw;
                             }
                           })};
  std::vector<Layer> inner{make_layer([](Request&, Response&) { throw HttpError(418); })};
  run(
      [&]() -> Task<> {
        detail::Chain chain(outer, inner, f.req, f.res, {}, false);
        NextCall rest = chain.start();
        co_await rest;
      }(),
      loop);
  EXPECT_EQ(seen, "plain:418;async:418");

  // After a suspension, the coroutine middleware still catches it.
  seen.clear();
  std::vector<Layer> inner2{make_layer([](Request&, Response&) -> Task<> {
    co_await sleep(1ms);
    throw HttpError(409);
  })};
  std::vector<Layer> outer2{outer[0]};
  run(
      [&]() -> Task<> {
        detail::Chain chain(outer2, inner2, f.req, f.res, {}, false);
        NextCall rest = chain.start();
        co_await rest;
      }(),
      loop);
  EXPECT_EQ(seen, "async:409");
  test::expect_empty(loop);
}

TEST(WebChain, ADualLayerIsPlainInAPlainChainAndACoroutineOtherwise) {
  Loop loop;
  Fixture f;
  std::string log;
  Layer dual;
  dual.sync = [&log](Request&, Response&, Next next) {
    log += "S";
    next();
  };
  dual.async = [&log](Request&, Response&, Next next) -> Task<> {
    log += "A";
    co_await next();
  };
  std::vector<Layer> outer{dual};
  std::vector<Layer> plain{make_layer([](Request&, Response&) {})};
  {
    detail::Chain chain(outer, plain, f.req, f.res, {}, true);
    (void)chain.start();
  }
  run(
      [&]() -> Task<> {
        detail::Chain chain(outer, plain, f.req, f.res, {}, false);
        NextCall rest = chain.start();
        co_await rest;
      }(),
      loop);
  EXPECT_EQ(log, "SA");
  test::expect_empty(loop);
}

}  // namespace
}  // namespace waitless::web
