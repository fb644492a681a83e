#include "waitless/web/timeout.hpp"

#include <exception>
#include <string>

#include "waitless/loop/timer.hpp"
#include "waitless/web/http_error.hpp"
#include "waitless/web/request.hpp"
#include "waitless/web/response.hpp"

namespace waitless::web {

Layer request_timeout(std::chrono::milliseconds limit) {
  if (limit.count() <= 0) limit = std::chrono::milliseconds(1);
  Layer layer;
  layer.async = [limit](Request& req, Response& res, Next next) -> Task<> {
    bool fired = false;
    Loop* loop = Loop::running();  // the request's loop
    if (loop == nullptr) {
      co_await next();
      co_return;
    }
    Timer timer(*loop);
    (void)timer.start(limit, [&fired, &req, &res] {
      if (res.raw().finished()) return;  // answered in time; what runs after is not the client's wait
      fired = true;
      req.raw().cancel();
    });
    std::exception_ptr err;
    try {
      co_await next();
    } catch (...) {
      err = std::current_exception();
    }
    (void)timer.stop();
    if (fired && !res.raw().finished()) {
      throw HttpError(503, "the request took longer than " + std::to_string(limit.count()) + " ms")
          .with_header("Retry-After", "1");
    }
    if (err) std::rethrow_exception(err);
  };
  return layer;
}

}  // namespace waitless::web
