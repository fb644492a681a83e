#include "apps/demo/services.hpp"

#include "waitless/async/sleep.hpp"

namespace waitless::demo {
namespace {

using Kind = Column::Kind;
constexpr Column kServiceProfile[] = {
    {"id", Kind::integer}, {"name", Kind::text}, {"email", Kind::text}, {"city", Kind::text}};
constexpr Column kServiceRecommendations[] = {
    {"id", Kind::integer}, {"name", Kind::text}, {"price_cents", Kind::integer}, {"score", Kind::real}};

}  // namespace

std::string_view mode_name(Services::Mode m) noexcept {
  switch (m) {
    case Services::Mode::up:
      return "up";
    case Services::Mode::down:
      return "down";
    case Services::Mode::slow:
      return "slow";
  }
  return "?";
}

Services::~Services() { stop_all(); }

std::unique_ptr<web::App> Services::make_app(const std::string& name) {
  auto app = std::make_unique<web::App>();
  app->use(web::errors());
  // The mode is read per request: a slow service answers late, as an overloaded one would.
  app->use([this, name](web::Request&, web::Response&, web::Next next) -> Task<> {
    if (mode(name) == Mode::slow) co_await sleep(kSlowDelay);
    co_await next();
  });
  Store& db = store_;
  if (name == "profile") {
    app->get("/profile/:id", [&db](web::Request& req, web::Response& res) -> Task<> {
      const int64_t id = req.param<int64_t>("id");
      auto rows =
          co_await db.rows("SELECT id, name, email, city FROM users WHERE id = $1", {id}, kServiceProfile);
      if (!rows) throw web::HttpError::from(rows.error());
      const web::Json* row = first_row(*rows);
      if (row == nullptr) throw web::HttpError(404, "no user " + std::to_string(id));
      res.json(*row);
    });
  } else {
    app->get("/recommendations/:id", [&db](web::Request& req, web::Response& res) -> Task<> {
      const int64_t id = req.param<int64_t>("id");
      auto rows = co_await db.rows(
          "SELECT i.id, i.name, i.price_cents, r.score FROM recommendations r JOIN items i ON i.id = "
          "r.item_id "
          "WHERE r.user_id = $1 ORDER BY r.score DESC LIMIT 3",
          {id}, kServiceRecommendations);
      if (!rows) throw web::HttpError::from(rows.error());
      res.json(*rows);
    });
  }
  return app;
}

std::error_code Services::start_all() {
  if (services_.empty()) {
    for (auto n : names()) services_.push_back(Service{std::string(n), 0, Mode::down, nullptr});
  }
  for (auto& s : services_) {
    if (auto ec = start(s)) return ec;
    s.mode = Mode::up;
  }
  return {};
}

void Services::stop_all() {
  for (auto& s : services_) stop(s);
}

std::error_code Services::start(Service& s) {
  if (s.app) return {};
  auto app = make_app(s.name);
  // The same port as before when it comes back, so the gateway's URLs stay valid.
  auto port = app->attach(loop_, {.host = "127.0.0.1", .port = s.port});
  if (!port) {
    stopped_.push_back(std::move(app));
    return port.error();
  }
  s.port = *port;
  s.app = std::move(app);
  return {};
}

void Services::stop(Service& s) {
  if (!s.app) return;
  s.app->shutdown(std::chrono::milliseconds(0));
  stopped_.push_back(std::move(s.app));
}

std::error_code Services::set_mode(std::string_view name, Mode mode) {
  Service* s = find(name);
  if (s == nullptr) return make_error_code(Error::invalid_argument);
  if (mode == Mode::down) {
    stop(*s);
  } else if (auto ec = start(*s)) {
    return ec;
  }
  s->mode = mode;
  return {};
}

Services::Service* Services::find(std::string_view name) noexcept {
  for (auto& s : services_) {
    if (s.name == name) return &s;
  }
  return nullptr;
}
const Services::Service* Services::find(std::string_view name) const noexcept {
  for (const auto& s : services_) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

uint16_t Services::port(std::string_view name) const noexcept {
  const Service* s = find(name);
  return s ? s->port : 0;
}

Services::Mode Services::mode(std::string_view name) const noexcept {
  const Service* s = find(name);
  if (s == nullptr || !s->app) return Mode::down;
  return s->mode;
}

std::string Services::base_url(std::string_view name) const {
  return "http://127.0.0.1:" + std::to_string(port(name));
}

}  // namespace waitless::demo
