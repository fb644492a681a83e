// The access log middleware: one line per request, written through a LogSink (log_sink.hpp) so the loop
// never waits on the disk.
//
//   app.use(logger());                                            // combined format, to stdout
//   app.use(logger({.format = LogFormat::json, .sink = file_sink}));
//
// Formats (each ends with the duration in milliseconds and the request id, which is also sent back as
// X-Request-Id):
//   common    127.0.0.1 - - [04/Dec/2026:10:31:00 +0000] "GET /a?b=1 HTTP/1.1" 200 13 0.052 <id>
//   combined  common's fields, then "Referer" "User-Agent", then the duration and id
//   json      {"time":"2026-12-04T10:31:00.123Z","ip":"127.0.0.1","method":"GET","path":"/a?b=1",
//              "version":"HTTP/1.1","status":200,"bytes":13,"duration_ms":0.052,"request_id":"...",
//              "referer":"","user_agent":"curl/7.88"}
// The status is the one the chain answered (404 when nothing did, the error's status when an exception
// passes through: the errors middleware or the App answers it after). Bytes: the body's size (0 for a
// HEAD), or what a stream wrote so far. Put logger() first so its duration covers everything after it.
// Text fields are escaped ('"' and '\' with a backslash, control bytes as \xHH) so a client cannot forge a
// line.
#pragma once
#include <memory>

#include "waitless/web/chain.hpp"
#include "waitless/web/log_sink.hpp"

namespace waitless::web {

enum class LogFormat { common, combined, json };

struct AccessLogOptions {
  LogFormat format = LogFormat::combined;
  std::shared_ptr<LogSink> sink;  // default: standard output
};

Layer logger(AccessLogOptions options = {});

}  // namespace waitless::web
