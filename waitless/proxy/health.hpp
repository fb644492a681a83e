// Active health checks: GET `health.path` on every server of every upstream that has a "health" section,
// each `interval`, on one loop (the proxy's control loop: checks never run on the request loops). A check
// succeeds on a 2xx or 3xx answer within `timeout`; `rise` successes in a row bring a down server up,
// `fall` failures in a row take an up server down (Upstream::set_up). A check is not started while the
// previous one of the same server runs.
//
// The checker follows reloads: each tick it reads the Proxy's current snapshot, so servers added by a
// reload are checked and removed ones are forgotten (their counters live in ServerState).
//
//   CancelSource stop;
//   { Loop::Scope on(control); spawn(run_health_checks(proxy, control), stop.token()); }
//   stop.cancel();                                    // ends it and every check in flight
#pragma once
#include <chrono>

#include "waitless/async/task.hpp"
#include "waitless/proxy/proxy.hpp"

namespace waitless::proxy {

// Runs until the awaiting task's token is cancelled; returns once every check it started has ended.
// `tick`: how often it looks for due checks.
// Create it on `loop` (inside a Loop::Scope or a task running there): its checks' client lives there.
Task<> run_health_checks(Proxy& proxy, Loop& loop,
                         std::chrono::milliseconds tick = std::chrono::milliseconds(20));

}  // namespace waitless::proxy
