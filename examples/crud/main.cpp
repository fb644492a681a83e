// crud: a JSON API over an in-memory table. Typed bodies (a described struct, read with json_as: a body
// of another shape is a 400), validation (422), problem documents for every error (RFC 9457).
//   PORT=8080 ./crud
//   curl -d '{"name":"pen","price_cents":150}' -H 'Content-Type: application/json' localhost:8080/items
//   curl localhost:8080/items/1
#include <cstdint>
#include <cstdlib>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "waitless/web/app.hpp"

using namespace waitless::web;

struct ItemInput {  // what clients send
  std::string name;
  int64_t price_cents = 0;  // money in integer cents: 1.5 is refused (400), never rounded
};
BOOST_DESCRIBE_STRUCT(ItemInput, (), (name, price_cents))

struct Item {  // what the API answers
  int64_t id = 0;
  std::string name;
  int64_t price_cents = 0;
};
BOOST_DESCRIBE_STRUCT(Item, (), (id, name, price_cents))

// The table. listen() runs one loop per core, so handlers on different threads share it: a mutex guards
// it (held for a map operation only, never across a co_await).
class Items {
 public:
  Item add(const ItemInput& in) {
    std::lock_guard lock(mutex_);
    Item item{next_id_++, in.name, in.price_cents};
    items_[item.id] = item;
    return item;
  }
  std::optional<Item> find(int64_t id) {
    std::lock_guard lock(mutex_);
    auto it = items_.find(id);
    return it == items_.end() ? std::nullopt : std::optional<Item>(it->second);
  }
  std::vector<Item> all() {
    std::lock_guard lock(mutex_);
    std::vector<Item> out;
    for (const auto& [id, item] : items_) out.push_back(item);
    return out;
  }
  bool replace(int64_t id, const ItemInput& in) {
    std::lock_guard lock(mutex_);
    auto it = items_.find(id);
    if (it == items_.end()) return false;
    it->second = Item{id, in.name, in.price_cents};
    return true;
  }
  bool remove(int64_t id) {
    std::lock_guard lock(mutex_);
    return items_.erase(id) > 0;
  }

 private:
  std::mutex mutex_;
  std::map<int64_t, Item> items_;
  int64_t next_id_ = 1;
};

// The rules a well-formed body must also follow: 422 Unprocessable Content, with the reason.
ItemInput valid_input(const Request& req) {
  auto in = req.json_as<ItemInput>();  // a body that is not {"name": string, "price_cents": integer}: 400
  if (in.name.empty() || in.name.size() > 100) throw HttpError(422, "name must have 1 to 100 characters");
  if (in.price_cents < 0) throw HttpError(422, "price_cents must be >= 0");
  return in;
}

int main() {
  const char* port = std::getenv("PORT");
  Items items;
  App app;
  app.use(errors());  // every failure below (HttpError, a bad :id, a bad body) becomes a problem document
  app.get("/items", [&](Request&, Response& res) { res.json(items.all()); });
  app.get("/items/:id", [&](Request& req, Response& res) {
    auto item = items.find(req.param<int64_t>("id"));  // "/items/abc": 400
    if (!item) throw HttpError(404, "no item " + std::string(*req.param_view("id")));
    res.json(*item);
  });
  // json_body(): parses application/json bodies up to its limit (413 beyond; 400 at a syntax error, with
  // the line and column; 415 for another Content-Type).
  app.post("/items", json_body(), [&](Request& req, Response& res) {
    Item item = items.add(valid_input(req));
    res.status(201).set_header("Location", "/items/" + std::to_string(item.id)).json(item);
  });
  app.put("/items/:id", json_body(), [&](Request& req, Response& res) {
    auto id = req.param<int64_t>("id");
    if (!items.replace(id, valid_input(req))) throw HttpError(404, "no item " + std::to_string(id));
    res.json(*items.find(id));
  });
  app.del("/items/:id", [&](Request& req, Response& res) {
    auto id = req.param<int64_t>("id");
    if (!items.remove(id)) throw HttpError(404, "no item " + std::to_string(id));
    res.status(204);
  });
  return app.listen(port ? static_cast<uint16_t>(std::atoi(port)) : 8080);
}
