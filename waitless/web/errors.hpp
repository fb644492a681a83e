// The errors middleware: a failure anywhere after it becomes an RFC 9457 problem response.
//
//   app.use(errors({.development = !production}));   // first, so it wraps everything else
//
// What it maps (http_error.hpp for the document's shape):
//   - HttpError(status, detail): that status, its headers (Allow, WWW-Authenticate...), the detail for a
//     4xx; a 5xx's detail only in development mode.
//   - std::system_error: status_for(its code) (a file not found 404, a limit 413, ...).
//   - any other exception: 500 "Internal Server Error"; what() only in development mode.
//   - an error value left on the response (res.error(): a refused header, a bad cookie) by a chain that
//     returned normally: 500, since the response the handler meant cannot be sent.
// A 5xx is logged once (log::error, with the request id, method and path); a 4xx at debug level. A
// response whose head already went out (streaming) cannot change: the error is passed on to the server,
// which logs it (once) and cuts the connection so the client cannot take the partial body as complete.
// Without this middleware the App answers the same way (development off) for what reaches it.
#pragma once
#include <exception>

#include "waitless/web/chain.hpp"
#include "waitless/web/request.hpp"
#include "waitless/web/response.hpp"

namespace waitless::web {

struct ErrorsOptions {
  bool development = false;  // 5xx details and exception messages in the response
  bool log = true;
};

// Answers `err` on `res` (see the file comment). Returns false when it could not (the head went out).
bool answer_error(Request& req, Response& res, const std::exception_ptr& err, const ErrorsOptions& options);
// Answers `status` with a problem document (404 for nothing matched, ...).
void answer_problem(Request& req, Response& res, int status, std::string_view detail);

Layer errors(ErrorsOptions options = {});

}  // namespace waitless::web
