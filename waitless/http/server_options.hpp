// What a Server is configured with: its handlers and options. Shared read-only by every loop.
#pragma once
#include <chrono>
#include <functional>
#include <string>

#include "waitless/async/task.hpp"
#include "waitless/http/limits.hpp"
#include "waitless/http/request.hpp"
#include "waitless/http/response.hpp"

namespace waitless::http {

// Called at the end of the request head; runs as a task on the connection's loop, cancelled (its token
// fires) when the client disconnects. It may run concurrently on every loop of the server.
using Handler = std::function<Task<>(Request&, Response&)>;
// The fast path: called once the whole request (body included) has arrived, on the loop, with views into
// the receive buffer. If it leaves the response untouched and an async Handler is set, that one runs.
using SyncHandler = std::function<void(Request&, Response&)>;
// Optional, with both handlers set: picks the handler of each request at the end of its head (views valid
// during the call; none of the body read yet). True runs the async Handler at once (the body is left for
// it to pull: nothing is collected on the sync handler's behalf); false goes the SyncHandler's way (the
// whole body collected first, within the request's body limit, which the chooser may change). The web
// App routes here: a request whose middleware and route are all plain functions never gets a coroutine.
// It must not throw.
using HandlerChooser = std::function<bool(Request&)>;

struct ServerOptions {
  Limits limits;
  // The Server header's value; empty: no Server header.
  std::string server_name = "waitless";
  // Graceful shutdown: how long a connection with no request in flight (idle keep-alive, or its last
  // response already sent without Connection: close) is still read. Its client may have sent the next
  // request in the instant the shutdown began; that request is answered, with Connection: close, instead of
  // being met by a close. A connection that sends nothing meanwhile is then closed. Bounded by the
  // shutdown's deadline; 0: such connections close at once.
  std::chrono::milliseconds shutdown_idle_grace{1000};
};

}  // namespace waitless::http
