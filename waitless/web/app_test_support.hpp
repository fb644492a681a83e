// For the App's tests: serves an App on a test loop while a client (http/test_client.hpp) runs on its
// own thread, then shuts down and checks the loop ends with nothing left.
#pragma once
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <thread>

#include "waitless/http/test_client.hpp"
#include "waitless/loop/test_support.hpp"
#include "waitless/web/app.hpp"

namespace waitless::web::test {

using http::testing::get;
using http::testing::TestClient;
using http::testing::TestResponse;

inline void serve(App& app, const std::function<void(uint16_t)>& client) {
  Loop loop;
  uint16_t port = 0;
  {
    Loop::Scope scope(loop);
    auto bound = app.attach(loop, net::ListenOptions{});
    ASSERT_TRUE(bound.ok()) << bound.error().message();
    port = *bound;
  }
  std::thread t([&] {
    client(port);
    app.shutdown(std::chrono::milliseconds(2000));
  });
  loop.run();
  t.join();
  app.close();
  waitless::test::expect_empty(loop);
}

// One request on a fresh connection; the response (status 0 when none came).
inline TestResponse request(uint16_t port, std::string_view raw) {
  TestClient c(port);
  if (!c.send(raw)) return {};
  auto r = c.read_response(raw.substr(0, 5) == "HEAD ");
  return r ? *r : TestResponse{};
}

inline std::string with_body(std::string_view method, std::string_view path, std::string_view type,
                             std::string_view body) {
  std::string r = std::string(method) + " " + std::string(path) + " HTTP/1.1\r\nHost: test\r\n";
  if (!type.empty()) r += "Content-Type: " + std::string(type) + "\r\n";
  r += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
  r += body;
  return r;
}

}  // namespace waitless::web::test
