// The exchange's lifecycle table (exchange.hpp): every order of its events ends in `done` exactly when
// both the handler ended and the response left, and never before.
#include "waitless/http/exchange.hpp"

#include <gtest/gtest.h>

namespace waitless::http::detail {
namespace {

using Stage = Exchange::Stage;
using Event = Exchange::Event;

Stage run(Stage s, std::initializer_list<Event> events) {
  for (Event e : events) s = Exchange::stage_after(s, e);
  return s;
}

TEST(HttpExchange, DoneOnlyWhenTheHandlerEndedAndTheResponseLeft) {
  // A handler that answers and returns; one that returns before its response's turn; one that keeps
  // running after its response left (an async handler doing more work).
  EXPECT_EQ(run(Stage::receiving, {Event::dispatched, Event::response_left, Event::handler_ended}),
            Stage::done);
  EXPECT_EQ(run(Stage::receiving, {Event::dispatched, Event::handler_ended, Event::response_left}),
            Stage::done);
  EXPECT_EQ(run(Stage::receiving, {Event::dispatched, Event::response_left}), Stage::answered);
  EXPECT_EQ(run(Stage::receiving, {Event::dispatched, Event::handler_ended}), Stage::responding);
  // A sync handler that falls through to the async one: dispatched twice, still one handler.
  EXPECT_EQ(run(Stage::receiving, {Event::dispatched, Event::dispatched}), Stage::handling);
  // No handler at all (a server-made error, or a body that failed before a sync handler ran).
  EXPECT_EQ(run(Stage::receiving, {Event::handler_ended}), Stage::responding);
  EXPECT_EQ(run(Stage::receiving, {Event::handler_ended, Event::response_left}), Stage::done);
  // Nothing leaves done, and a response cannot leave before anything was dispatched or ended.
  for (Event e : {Event::dispatched, Event::handler_ended, Event::response_left}) {
    EXPECT_EQ(Exchange::stage_after(Stage::done, e), Stage::done);
  }
  EXPECT_EQ(Exchange::stage_after(Stage::receiving, Event::response_left), Stage::receiving);
}

TEST(HttpExchange, HandlerRunningAndAwaitingBodyFollowTheStage) {
  Exchange ex(nullptr);
  EXPECT_TRUE(ex.awaiting_body());
  EXPECT_FALSE(ex.handler_running());
  ex.on(Event::dispatched);
  EXPECT_TRUE(ex.handler_running());
  ex.on(Event::response_left);
  EXPECT_TRUE(ex.handler_running());
  EXPECT_EQ(ex.on(Event::handler_ended), Stage::done);
  EXPECT_FALSE(ex.handler_running());
  ex.clear();
  EXPECT_EQ(ex.stage, Stage::receiving);
}

}  // namespace
}  // namespace waitless::http::detail
