// POST /api/login {"email", "password"}: checks the password (PBKDF2, on the `cpu` pool) and answers a
// bearer token: an HS256 JWT for the user, valid one hour, signed with the process's random key.
// 401 with WWW-Authenticate for wrong credentials (the same answer whether the email exists or not);
// rate limited per client. The items' writes check the token with bearer_jwt (demo_server.cpp).
#include <chrono>

#include "apps/demo/context.hpp"
#include "apps/demo/pbkdf2.hpp"
#include "waitless/async/pool_run.hpp"
#include "waitless/web/jwt.hpp"

namespace waitless::demo {
namespace {

using Kind = Column::Kind;
constexpr Column kAccount[] = {{"id", Kind::integer}, {"password_hash", Kind::text}};
constexpr auto kTokenLife = std::chrono::hours(1);

std::string_view string_field(const web::json::object& o, std::string_view key, std::size_t max) {
  const auto* v = o.if_contains(key);
  if (v == nullptr || !v->is_string() || v->as_string().empty() || v->as_string().size() > max) {
    bad_field(key, "must be a string of 1 to " + std::to_string(max) + " characters");
  }
  return v->as_string();
}

}  // namespace

std::string issue_token(const DemoContext& ctx, int64_t user) {
  const auto now = std::chrono::system_clock::now();
  const auto seconds = [](auto tp) {
    return std::chrono::duration_cast<std::chrono::seconds>(tp.time_since_epoch()).count();
  };
  web::Json claims = web::json::object{{"sub", std::to_string(user)},
                                       {"iss", "waitless-demo"},
                                       {"iat", seconds(now)},
                                       {"exp", seconds(now + kTokenLife)}};
  auto token = web::sign_jwt_hs256(web::to_json(claims), ctx.token_key);
  if (!token) throw web::HttpError(500, "cannot sign the token", token.error());
  return std::move(*token);
}

void add_auth_routes(web::App& app, DemoContext& ctx) {
  // At most 10 attempts a minute per client address (then 429 with Retry-After): guessing is slow.
  app.post("/api/login", web::rate_limit({.limit = 10, .window = std::chrono::minutes(1)}),
           web::json_body({.limit = 4 * 1024}), [&ctx](web::Request& req, web::Response& res) -> Task<> {
             const web::Json& body = req.json();
             if (!body.is_object())
               bad_field("email", "the body must be a JSON object with email and password");
             const std::string email(string_field(body.as_object(), "email", 200));
             const std::string password(string_field(body.as_object(), "password", 200));
             auto rows = co_await ctx.store->rows("SELECT id, password_hash FROM users WHERE email = $1",
                                                  {email}, kAccount);
             if (!rows) throw web::HttpError::from(rows.error());
             const web::Json* account = first_row(*rows);
             int64_t user = 0;
             std::string stored;
             if (account != nullptr && account->as_object().at("password_hash").is_string()) {
               user = account->as_object().at("id").as_int64();
               stored = std::string(account->as_object().at("password_hash").as_string());
             }
             // A missing account costs the same as a wrong password: the check runs against a dummy hash.
             if (stored.empty()) stored = "pbkdf2_sha256$20000$00$00";
             auto check = [password, stored] { return verify_password(password, stored); };
             auto ok = co_await pools::cpu().run(std::move(check));
             if (!ok) throw web::HttpError(503, "the cpu pool refused the job", ok.error());
             if (!*ok || user == 0) {
               throw web::HttpError(401, "wrong email or password")
                   .with_header("WWW-Authenticate", "Bearer realm=\"waitless-demo\"");
             }
             res.json(web::json::object{{"token", issue_token(ctx, user)},
                                        {"token_type", "Bearer"},
                                        {"expires_in", std::chrono::seconds(kTokenLife).count()},
                                        {"user_id", user}});
           });
}

}  // namespace waitless::demo
