// The gateway's two internal services, served by the demo's process on their own loopback ports (each
// its own App on the demo's loop), so GET /api/gateway/:userId makes real HTTP calls:
//   profile          GET /profile/:id           the user's profile
//   recommendations  GET /recommendations/:id   the user's top recommendations
// Each can be put down (its listener closed: calls are refused), slow (answers after 2 s: the gateway's
// timeout fires) or up again, from POST /api/services/:name/{up,down,slow}, to watch the gateway degrade.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "apps/demo/store.hpp"
#include "waitless/web/app.hpp"

namespace waitless::demo {

class Services {
 public:
  enum class Mode { up, down, slow };
  static constexpr std::chrono::milliseconds kSlowDelay{2000};

  Services(Loop& loop, Store& store) : loop_(loop), store_(store) {}
  ~Services();
  Services(const Services&) = delete;
  Services& operator=(const Services&) = delete;

  // Starts both on 127.0.0.1, any free port, on the loop given to the constructor.
  std::error_code start_all();
  void stop_all();
  // Error::invalid_argument for an unknown name; the listen error when it cannot come back up.
  std::error_code set_mode(std::string_view name, Mode mode);

  static std::vector<std::string_view> names() { return {"profile", "recommendations"}; }
  uint16_t port(std::string_view name) const noexcept;
  Mode mode(std::string_view name) const noexcept;
  std::string base_url(std::string_view name) const;

 private:
  struct Service {
    std::string name;
    uint16_t port = 0;
    Mode mode = Mode::down;
    std::unique_ptr<web::App> app;
  };
  Service* find(std::string_view name) noexcept;
  const Service* find(std::string_view name) const noexcept;
  std::error_code start(Service& s);
  void stop(Service& s);
  std::unique_ptr<web::App> make_app(const std::string& name);

  Loop& loop_;
  Store& store_;
  std::vector<Service> services_;
  // Stopped Apps finish their graceful shutdown on the loop; they are released with the Services.
  std::vector<std::unique_ptr<web::App>> stopped_;
};

std::string_view mode_name(Services::Mode m) noexcept;

}  // namespace waitless::demo
