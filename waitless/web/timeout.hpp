// request_timeout(): a deadline for the rest of the chain, as Koa's / Express's timeout middleware.
//
//   app.use(request_timeout(std::chrono::seconds(10)));
//   app.get("/report", request_timeout(30s), handler);        // per route
//
// A coroutine middleware: it arms a timer, then runs the rest. When the deadline passes first, the
// request's cancellation token fires (req.cancel_token(): the handler's pending waits — sleep, a query,
// a body read, drain() — end with Error::cancelled, as on a disconnect), and once the rest has returned
// (or thrown) the answer is 503 (HttpError, a problem document via errors()) with whatever the handler
// had recorded discarded. A handler that ignores its token is not stopped (nothing can stop a
// coroutine from outside): the 503 waits for it to return. A streamed response whose head already went
// out cannot become a 503: it is cut (the connection closes, so the client cannot take the partial body
// as complete). A response that finished before the deadline is left alone, and so is one that the handler
// still finished after it (it ignored its token, and the client got a whole answer).
#pragma once
#include <chrono>

#include "waitless/web/chain.hpp"

namespace waitless::web {

Layer request_timeout(std::chrono::milliseconds limit);

}  // namespace waitless::web
