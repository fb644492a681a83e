#include "waitless/web/errors.hpp"

#include <system_error>

#include "waitless/base/log.hpp"

namespace waitless::web {

void answer_problem(Request& req, Response& res, int status, std::string_view detail) {
  res.discard_body();
  res.status(status).type("application/problem+json").send(problem_json(status, detail, req.path()));
}

namespace {

void log_failure(Request& req, int status, std::string_view what, const ErrorsOptions& options) {
  if (!options.log) return;
  if (status >= 500) {
    log::error("web: {} {} [{}] failed with {}: {}", req.method(), req.path(), req.id(), status, what);
  } else {
    log::debug("web: {} {} [{}] answered {}: {}", req.method(), req.path(), req.id(), status, what);
  }
}

}  // namespace

bool answer_error(Request& req, Response& res, const std::exception_ptr& err, const ErrorsOptions& options) {
  // The head went out (a stream): nothing can be answered. Not logged here: the exception goes on to the
  // server, which logs it once and cuts the connection.
  if (res.headers_sent()) return false;
  int status = 500;
  std::string detail;
  std::string what;
  try {
    std::rethrow_exception(err);
  } catch (const HttpError& e) {
    status = e.status();
    what = e.what();
    if (status < 500 || options.development) detail = e.detail();
    log_failure(req, status, what, options);
    for (const auto& [name, value] : e.headers()) res.set_header(name, value);
    answer_problem(req, res, status, detail);
    return true;
  } catch (const std::system_error& e) {
    status = status_for(e.code());
    what = e.what();
    if (status < 500 || options.development) detail = e.what();
  } catch (const std::exception& e) {
    what = e.what();
    if (options.development) detail = e.what();
  } catch (...) {
    what = "a non-std exception";
    if (options.development) detail = what;
  }
  log_failure(req, status, what, options);
  answer_problem(req, res, status, detail);
  return true;
}

namespace {

void check_error_value(Request& req, Response& res, const ErrorsOptions& options) {
  if (!res.error() || res.headers_sent()) return;
  const std::string what = "the response was refused: " + res.error().message();
  log_failure(req, 500, what, options);
  answer_problem(req, res, 500, options.development ? what : std::string());
}

}  // namespace

Layer errors(ErrorsOptions options) {
  Layer layer;
  layer.sync = [options](Request& req, Response& res, Next next) {
    try {
      next();
    } catch (...) {
      if (!answer_error(req, res, std::current_exception(), options)) throw;
      return;
    }
    check_error_value(req, res, options);
  };
  layer.async = [options](Request& req, Response& res, Next next) -> Task<> {
    std::exception_ptr err;
    try {
      co_await next();
    } catch (...) {
      err = std::current_exception();
    }
    if (err) {
      if (!answer_error(req, res, err, options)) std::rethrow_exception(err);
      co_return;
    }
    check_error_value(req, res, options);
  };
  return layer;
}

}  // namespace waitless::web
