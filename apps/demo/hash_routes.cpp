// POST /api/hash {"password": "...", "salt"?: "...", "iterations"?: n}: PBKDF2-HMAC-SHA256 with 200 000
// iterations (by default) — tens of milliseconds of pure CPU — run on the `cpu` pool, so the loop keeps
// answering meanwhile (the page's loop-lag chart stays flat while a burst of these runs). A full pool
// queue is a 503 at once, never a blocked loop.
#include <chrono>

#include "apps/demo/context.hpp"
#include "apps/demo/pbkdf2.hpp"
#include "waitless/async/pool_run.hpp"

namespace waitless::demo {

void add_hash_routes(web::App& app, DemoContext& ctx) {
  app.post("/api/hash", web::json_body({.limit = 16 * 1024}),
           [&ctx](web::Request& req, web::Response& res) -> Task<> {
             const web::Json& body = req.json();
             if (!body.is_object()) bad_field("password", "the body must be a JSON object with a password");
             const auto& o = body.as_object();
             const auto* password = o.if_contains("password");
             if (password == nullptr || !password->is_string() || password->as_string().empty() ||
                 password->as_string().size() > 1024) {
               bad_field("password", "must be a string of 1 to 1024 characters");
             }
             std::string salt;
             if (const auto* s = o.if_contains("salt")) {
               if (!s->is_string() || s->as_string().size() > 64)
                 bad_field("salt", "must be a string of at most 64 characters");
               salt = std::string(s->as_string());
             } else {
               salt = random_hex(16);
             }
             uint32_t iterations = 200'000;
             if (const auto* it = o.if_contains("iterations")) {
               if (!it->is_int64() || it->as_int64() < 1 || it->as_int64() > 1'000'000) {
                 bad_field("iterations", "must be a whole number from 1 to 1000000");
               }
               iterations = static_cast<uint32_t>(it->as_int64());
             }
             const auto queued = std::chrono::steady_clock::now();
             auto job = [pw = std::string(password->as_string()), salt, iterations] {
               const auto start = std::chrono::steady_clock::now();
               std::string key = pbkdf2_sha256_hex(pw, salt, iterations);
               return std::make_pair(std::move(key), std::chrono::steady_clock::now() - start);
             };
             auto r = co_await pools::cpu().run(std::move(job));
             if (!r)
               throw web::HttpError(r.error() == Error::queue_full ? 503 : 500,
                                    "the cpu pool refused the job", r.error());
             ctx.stats->count_hash_job();
             const double total_ms =
                 std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - queued).count();
             const double cpu_ms = std::chrono::duration<double, std::milli>(r->second).count();
             res.server_timing("pbkdf2", r->second, "on the cpu pool");
             res.json(web::json::object{{"algorithm", "pbkdf2-hmac-sha256"},
                                        {"iterations", iterations},
                                        {"salt", salt},
                                        {"key", r->first},
                                        {"cpu_ms", cpu_ms},
                                        {"total_ms", total_ms}});
           });
}

}  // namespace waitless::demo
