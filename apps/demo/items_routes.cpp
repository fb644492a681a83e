// /api/items: CRUD over the shop's items, JSON in and out.
//   GET    /api/items?page=P&per_page=N&category=C   a page (N 1..100, 20 by default), newest first, with
//                                                   total, pages and a Link to the next page; a weak ETag
//                                                   of the page (If-None-Match: 304)
//   GET    /api/items/:id                           one item; ETag "<id>.<version>" (If-None-Match: 304)
//   POST   /api/items                               create (201 + Location)
//   PUT    /api/items/:id                           replace; If-Match with the ETag, else 412
//   DELETE /api/items/:id                           204
// Writes require a bearer token from POST /api/login. Validation: a 400 whose detail names the field.
#include <charconv>

#include "apps/demo/context.hpp"
#include "apps/demo/item_rows.hpp"
#include "apps/demo/items.hpp"
#include "waitless/web/etag.hpp"

namespace waitless::demo {
namespace {

constexpr Column kCount[] = {{"n", Column::Kind::integer}};

int64_t query_int(web::Request& req, std::string_view key, int64_t fallback, int64_t lo, int64_t hi) {
  auto q = req.query(key);
  if (!q) return fallback;
  int64_t v = 0;
  auto [end, ec] = std::from_chars(q->data(), q->data() + q->size(), v);
  if (ec != std::errc{} || end != q->data() + q->size() || v < lo || v > hi) {
    bad_field(key, "must be a whole number from " + std::to_string(lo) + " to " + std::to_string(hi));
  }
  return v;
}

// 304 when the client's copy is current (GET); true when answered.
bool not_modified(web::Request& req, web::Response& res, const std::string& etag) {
  (void)res.set_header("ETag", etag);
  if (req.has_header("If-None-Match") && web::if_none_match(req.header("If-None-Match"), etag)) {
    res.status(304);
    return true;
  }
  return false;
}

}  // namespace

void add_items_read_routes(web::App& app, DemoContext& ctx) {
  app.get("/api/items", [&ctx](web::Request& req, web::Response& res) -> Task<> {
    const int64_t page = query_int(req, "page", 1, 1, 1'000'000);
    const int64_t per_page = query_int(req, "per_page", 20, 1, 100);
    std::string category(req.query("category").value_or(""));
    if (!category.empty() && !valid_category(category)) bad_field("category", "unknown category");
    Store& db = *ctx.store;
    const std::string where = category.empty() ? "" : " WHERE category = $1";
    std::vector<Param> filter;
    if (!category.empty()) filter.emplace_back(category);
    std::vector<Param> paged = filter;
    paged.emplace_back(per_page);
    paged.emplace_back((page - 1) * per_page);
    const std::string n = std::to_string(paged.size() - 1), m = std::to_string(paged.size());
    auto [items, count] =
        co_await when_all(db.rows("SELECT " + std::string(kItemColumnList) + " FROM items" + where +
                                      " ORDER BY id DESC LIMIT $" + n + " OFFSET $" + m,
                                  std::move(paged), kItem),
                          db.rows("SELECT COUNT(*) AS n FROM items" + where, std::move(filter), kCount));
    web::Json list = rows_or_throw(std::move(items));
    const int64_t total = rows_or_throw(std::move(count)).as_array().at(0).as_object().at("n").as_int64();
    const int64_t pages = (total + per_page - 1) / per_page;
    std::string link_base = "/api/items?per_page=" + std::to_string(per_page);
    if (!category.empty()) link_base += "&category=" + category;
    if (page < pages)
      (void)res.set_header("Link", "<" + link_base + "&page=" + std::to_string(page + 1) + ">; rel=\"next\"");
    web::Json body = web::json::object{{"items", std::move(list)},
                                       {"page", page},
                                       {"per_page", per_page},
                                       {"total", total},
                                       {"pages", pages}};
    const std::string text = web::to_json(body);
    if (not_modified(req, res, weak_etag_of(text))) co_return;
    res.type("application/json").send(text);
  });

  app.get("/api/items/:id", [&ctx](web::Request& req, web::Response& res) -> Task<> {
    const int64_t id = req.param<int64_t>("id");
    web::Json rows = rows_or_throw(co_await ctx.store->rows(
        "SELECT " + std::string(kItemColumnList) + " FROM items WHERE id = $1", {id}, kItem));
    const web::Json* item = first_row(rows);
    if (item == nullptr) throw web::HttpError(404, "no item " + std::to_string(id));
    if (not_modified(req, res, item_etag(id, item->as_object().at("version").as_int64()))) co_return;
    res.json(*item);
  });
}

}  // namespace waitless::demo
