// json_bench: the measurement behind docs/json.md's choice of JSON library. Boost.JSON 1.81 against
// simdjson 3.0 (Debian bookworm's), on payloads generated here:
//   small  one API object (~200 B)        users  a list of 50 users (~10 KB)        big  an array (~1 MB)
// Operations, each best of ROUNDS, in ns per operation and MB/s of JSON text:
//   parse     Boost.JSON: parse to boost::json::value (default allocator; and a parser + monotonic
//             resource reused, as a per-request arena would); simdjson: dom::parser (reused) to its
//             read-only DOM; ondemand (reused parser) walking every value (ondemand parses lazily, so
//             only a full walk is comparable)
//   serialize Boost.JSON: serialize(value) to a std::string; simdjson: to_string(dom element) (minify:
//             it can write back what it parsed, it cannot build or change a value)
//   typed     a described struct: Boost.JSON value_from + serialize, and parse + value_to; simdjson
//             ondemand into the struct by hand-written field code (3.0 has no struct mapping)
//   parse with simdjson_dom_to_boost: simdjson's DOM copied into a boost::json::value (arena), the cost of
//             pairing simdjson's parser with the one value type users can build
// Prints a table (ns per operation, MB/s) and `figure json_<op>_<lib>_<payload>_ns <ns>` lines.
//   ./build/json_bench [rounds]
#include <simdjson.h>

#include <boost/describe.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

namespace json = boost::json;
using Clock = std::chrono::steady_clock;

namespace bench {

struct Address {
  std::string street;
  std::string city;
  std::string zip;
};
BOOST_DESCRIBE_STRUCT(Address, (), (street, city, zip))

struct User {
  int64_t id = 0;
  std::string name;
  std::string email;
  bool active = false;
  double score = 0;
  std::vector<std::string> roles;
  Address address;
};
BOOST_DESCRIBE_STRUCT(User, (), (id, name, email, active, score, roles, address))

User make_user(int i) {
  User u;
  u.id = 100000 + i;
  u.name = "User Number " + std::to_string(i);
  u.email = "user" + std::to_string(i) + "@example.com";
  u.active = i % 3 != 0;
  u.score = 50.0 + (i % 97) * 0.37;
  u.roles = {"reader", i % 5 == 0 ? "admin" : "writer"};
  u.address = {std::to_string(i) + " Main Street", "Springfield", "1234" + std::to_string(i % 10)};
  return u;
}

// The payloads, written with Boost.JSON (both libraries then read the same bytes).
std::string small_payload() { return json::serialize(json::value_from(make_user(7))); }
std::string users_payload() {
  json::array a;
  for (int i = 0; i < 50; ++i) a.push_back(json::value_from(make_user(i)));
  return json::serialize(json::object{{"users", a}, {"count", 50}, {"next", "/users?page=2"}});
}
// ~1 MB: numbers, short strings and small objects mixed (a log export, a time series).
std::string big_payload() {
  json::array a;
  for (int i = 0; a.size() < 64000; ++i) {
    switch (i % 4) {
      case 0:
        a.push_back(i * 7919 % 1000003);
        break;
      case 1:
        a.push_back(i * 0.001 + 3.25);
        break;
      case 2:
        a.push_back(json::string("item-" + std::to_string(i)));
        break;
      default:
        a.push_back(json::object{{"t", i}, {"v", i % 17 * 1.5}, {"ok", i % 2 == 0}});
        break;
    }
  }
  return json::serialize(a);
}

// A full walk of a simdjson ondemand value: every value read once (what a DOM parse does eagerly).
uint64_t walk(simdjson::ondemand::value v) {
  using T = simdjson::ondemand::json_type;
  switch (v.type().value()) {
    case T::array: {
      uint64_t n = 1;
      for (auto e : v.get_array()) n += walk(e.value());
      return n;
    }
    case T::object: {
      uint64_t n = 1;
      for (auto f : v.get_object()) {
        n += f.unescaped_key().value().size();
        n += walk(f.value().value());
      }
      return n;
    }
    case T::number:
      return static_cast<uint64_t>(v.get_double().value() != 0);
    case T::string:
      return v.get_string().value().size();
    case T::boolean:
      return v.get_bool().value();
    case T::null:
      return v.is_null();
  }
  return 0;
}

User read_user(simdjson::ondemand::object o) {
  // Hand-written: what simdjson 3.0 asks of its user for every struct. Fields in document order.
  User u;
  for (auto f : o) {
    std::string_view k = f.unescaped_key().value();
    auto v = f.value();
    if (k == "id")
      u.id = v.get_int64().value();
    else if (k == "name")
      u.name = std::string_view(v.get_string().value());
    else if (k == "email")
      u.email = std::string_view(v.get_string().value());
    else if (k == "active")
      u.active = v.get_bool().value();
    else if (k == "score")
      u.score = v.get_double().value();
    else if (k == "roles") {
      for (auto r : v.get_array()) u.roles.emplace_back(std::string_view(r.get_string().value()));
    } else if (k == "address") {
      for (auto af : v.get_object()) {
        std::string_view ak = af.unescaped_key().value();
        std::string s(std::string_view(af.value().get_string().value()));
        if (ak == "street")
          u.address.street = std::move(s);
        else if (ak == "city")
          u.address.city = std::move(s);
        else if (ak == "zip")
          u.address.zip = std::move(s);
      }
    }
  }
  return u;
}

volatile uint64_t sink;

// ns per call of fn, best of `rounds` timed batches of about 50 ms each.
double measure(int rounds, const std::function<void()>& fn) {
  int batch = 1;
  for (;;) {  // size a batch to ~50 ms
    auto t0 = Clock::now();
    for (int i = 0; i < batch; ++i) fn();
    double s = std::chrono::duration<double>(Clock::now() - t0).count();
    if (s > 0.05) break;
    batch *= 2;
  }
  double best = 1e30;
  for (int r = 0; r < rounds; ++r) {
    auto t0 = Clock::now();
    for (int i = 0; i < batch; ++i) fn();
    double ns = std::chrono::duration<double, std::nano>(Clock::now() - t0).count() / batch;
    best = std::min(best, ns);
  }
  return best;
}

void report(const char* op, const char* lib, const char* payload, double ns, std::size_t bytes) {
  std::printf("%-15s %-26s %-6s %12.0f ns %6.0f MB/s\n", op, lib, payload, ns, bytes / ns * 1e3);
  std::printf("figure json_%s_%s_%s_ns %.0f\n", op, lib, payload, ns);
  std::fflush(stdout);
}

// simdjson's read-only DOM copied into a boost::json::value: what pairing simdjson's parser with
// Boost.JSON's value (the only one of the two users can build and serialize) would cost.
json::value to_boost(simdjson::dom::element e, json::storage_ptr sp) {
  using T = simdjson::dom::element_type;
  switch (e.type()) {
    case T::ARRAY: {
      json::array a(sp);
      simdjson::dom::array items = e.get_array().value();  // named: value() && returns into the temporary
      for (simdjson::dom::element x : items) a.push_back(to_boost(x, sp));
      return a;
    }
    case T::OBJECT: {
      json::object o(sp);
      simdjson::dom::object fields = e.get_object().value();
      for (simdjson::dom::key_value_pair f : fields) o.emplace(f.key, to_boost(f.value, sp));
      return o;
    }
    case T::INT64:
      return json::value(e.get_int64().value(), sp);
    case T::UINT64:
      return json::value(e.get_uint64().value(), sp);
    case T::DOUBLE:
      return json::value(e.get_double().value(), sp);
    case T::STRING:
      return json::value(json::string_view(e.get_string().value()), sp);
    case T::BOOL:
      return json::value(e.get_bool().value(), sp);
    case T::NULL_VALUE:
      return json::value(nullptr, sp);
  }
  return nullptr;
}

}  // namespace bench

int main(int argc, char** argv) {
  using namespace bench;
  int rounds = argc > 1 ? std::atoi(argv[1]) : 5;
  struct Payload {
    const char* name;
    std::string text;
  };
  std::vector<Payload> payloads = {
      {"small", small_payload()}, {"users", users_payload()}, {"big", big_payload()}};
  for (auto& p : payloads) std::printf("payload %s %zu bytes\n", p.name, p.text.size());

  simdjson::dom::parser dom_parser;
  simdjson::ondemand::parser od_parser;
  json::parser reused_parser;
  for (auto& p : payloads) {
    const std::string& text = p.text;
    simdjson::padded_string padded(text);
    json::value parsed = json::parse(text);
    // Parse.
    report("parse", "boost", p.name, measure(rounds, [&] { sink = json::parse(text).is_object(); }),
           text.size());
    std::vector<unsigned char> arena(text.size() * 4 + 4096);
    report("parse", "boost_arena", p.name,
           measure(rounds,
                   [&] {
                     json::monotonic_resource mr(arena.data(), arena.size());
                     reused_parser.reset(&mr);
                     reused_parser.write(text);
                     sink = reused_parser.release().is_object();
                   }),
           text.size());
    report("parse", "simdjson_dom", p.name,
           measure(rounds, [&] { sink = dom_parser.parse(padded).is_object(); }), text.size());
    report("parse", "simdjson_dom_to_boost", p.name,
           measure(rounds,
                   [&] {
                     json::monotonic_resource mr(arena.data(), arena.size());
                     json::storage_ptr sp(&mr);
                     sink = to_boost(dom_parser.parse(padded).value(), sp).is_object();
                   }),
           text.size());
    report("parse", "simdjson_ondemand_walk", p.name,
           measure(rounds,
                   [&] {
                     auto doc = od_parser.iterate(padded);
                     sink = walk(doc.get_value().value());
                   }),
           text.size());
    // Serialize what was parsed.
    report("serialize", "boost", p.name, measure(rounds, [&] { sink = json::serialize(parsed).size(); }),
           text.size());
    simdjson::dom::element element = dom_parser.parse(padded).value();
    report("serialize", "simdjson_dom", p.name,
           measure(rounds, [&] { sink = simdjson::to_string(element).size(); }), text.size());
  }

  // Typed struct <-> JSON: one user, and the list of 50.
  std::vector<User> users;
  for (int i = 0; i < 50; ++i) users.push_back(make_user(i));
  const User one = make_user(7);
  const std::string one_text = json::serialize(json::value_from(one));
  const std::string list_text = json::serialize(json::value_from(users));
  simdjson::padded_string one_padded(one_text), list_padded(list_text);
  report("struct_to_json", "boost", "small",
         measure(rounds, [&] { sink = json::serialize(json::value_from(one)).size(); }), one_text.size());
  report("struct_to_json", "boost", "users",
         measure(rounds, [&] { sink = json::serialize(json::value_from(users)).size(); }), list_text.size());
  report("json_to_struct", "boost", "small",
         measure(rounds, [&] { sink = json::value_to<User>(json::parse(one_text)).id; }), one_text.size());
  report("json_to_struct", "boost", "users",
         measure(rounds, [&] { sink = json::value_to<std::vector<User>>(json::parse(list_text)).size(); }),
         list_text.size());
  report("json_to_struct", "simdjson_handwritten", "small",
         measure(rounds,
                 [&] {
                   auto doc = od_parser.iterate(one_padded);
                   sink = read_user(doc.get_object().value()).id;
                 }),
         one_text.size());
  report("json_to_struct", "simdjson_handwritten", "users",
         measure(rounds,
                 [&] {
                   auto doc = od_parser.iterate(list_padded);
                   std::vector<User> out;
                   for (auto e : doc.get_array()) out.push_back(read_user(e.get_object().value()));
                   sink = out.size();
                 }),
         list_text.size());
  // Check that both sides read the same thing.
  {
    auto doc = od_parser.iterate(one_padded);
    User a = read_user(doc.get_object().value());
    User b = json::value_to<User>(json::parse(one_text));
    if (json::serialize(json::value_from(a)) != json::serialize(json::value_from(b))) {
      std::fprintf(stderr, "json_bench: the two readers disagree\n");
      return 1;
    }
  }
  return 0;
}
