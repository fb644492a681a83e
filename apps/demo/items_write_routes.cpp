// The writes of /api/items (items_routes.cpp has the reads), each behind `auth` (the bearer token of
// POST /api/login) and a JSON body parser:
//   POST   /api/items        create: 201, Location, ETag, the item
//   PUT    /api/items/:id    replace: If-Match (optional) must match the current ETag, else 412; the
//                            update is conditional on the version it read, so a concurrent write is a 412
//                            too, never a lost update
//   DELETE /api/items/:id    204, or 404
// A body that is not a valid item is a 400 whose detail names the field (items.hpp).
#include <chrono>
#include <variant>

#include "apps/demo/context.hpp"
#include "apps/demo/item_rows.hpp"
#include "apps/demo/items.hpp"
#include "waitless/web/etag.hpp"

namespace waitless::demo {
namespace {

const std::string kReturning = " RETURNING " + std::string(kItemColumnList);

std::string now_iso() {
  const auto t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

ItemInput item_of(web::Request& req) {
  auto parsed = parse_item(req.json());
  if (auto* e = std::get_if<FieldError>(&parsed)) bad_field(e->field, e->problem);
  return std::get<ItemInput>(std::move(parsed));
}

void answer_item(web::Response& res, const web::Json& item) {
  const auto& o = item.as_object();
  (void)res.set_header("ETag", item_etag(o.at("id").as_int64(), o.at("version").as_int64()));
  res.json(item);
}

}  // namespace

void add_items_write_routes(web::App& app, DemoContext& ctx, const web::Layer& auth) {
  const auto body = web::json_body({.limit = 16 * 1024});

  app.post("/api/items", auth, body, [&ctx](web::Request& req, web::Response& res) -> Task<> {
    const ItemInput in = item_of(req);
    web::Json rows = rows_or_throw(
        co_await ctx.store->rows("INSERT INTO items (name, category, price_cents, stock, version, "
                                 "updated_at) VALUES ($1, $2, $3, $4, 1, "
                                 "$5)" +
                                     kReturning,
                                 {in.name, in.category, in.price_cents, in.stock, now_iso()}, kItem));
    const web::Json* item = first_row(rows);
    if (item == nullptr) throw web::HttpError(500, "the insert returned no row");
    res.status(201).set_header("Location",
                               "/api/items/" + std::to_string(item->as_object().at("id").as_int64()));
    answer_item(res, *item);
  });

  app.put("/api/items/:id", auth, body, [&ctx](web::Request& req, web::Response& res) -> Task<> {
    const int64_t id = req.param<int64_t>("id");
    const ItemInput in = item_of(req);
    static constexpr Column kVersion[] = {{"version", Column::Kind::integer}};
    web::Json current =
        rows_or_throw(co_await ctx.store->rows("SELECT version FROM items WHERE id = $1", {id}, kVersion));
    const web::Json* row = first_row(current);
    if (row == nullptr) throw web::HttpError(404, "no item " + std::to_string(id));
    const int64_t version = row->as_object().at("version").as_int64();
    if (req.has_header("If-Match") && !web::if_match(req.header("If-Match"), item_etag(id, version))) {
      throw web::HttpError(412, "the item changed: its ETag is now " + item_etag(id, version));
    }
    web::Json updated = rows_or_throw(co_await ctx.store->rows(
        "UPDATE items SET name = $1, category = $2, price_cents = $3, stock = $4, version = version + 1, "
        "updated_at = $5 WHERE id = $6 AND version = $7" +
            kReturning,
        {in.name, in.category, in.price_cents, in.stock, now_iso(), id, version}, kItem));
    const web::Json* item = first_row(updated);
    if (item == nullptr) throw web::HttpError(412, "the item changed while it was being updated");
    answer_item(res, *item);
  });

  app.del("/api/items/:id", auth, [&ctx](web::Request& req, web::Response& res) -> Task<> {
    const int64_t id = req.param<int64_t>("id");
    auto gone = co_await ctx.store->exec("DELETE FROM items WHERE id = $1", {id});
    if (!gone) throw web::HttpError::from(gone.error());
    if (*gone == 0) throw web::HttpError(404, "no item " + std::to_string(id));
    res.status(204);
  });
}

}  // namespace waitless::demo
