#include "waitless/web/vary.hpp"

#include <string>

#include "waitless/http/header.hpp"
#include "waitless/http/response.hpp"

namespace waitless::web {
namespace {}  // namespace

void add_vary(http::Response& res, std::string_view field) {
  std::string joined;
  bool named = false;
  std::size_t lines = 0;
  for (const http::Header h : res.headers()) {
    if (!http::iequals(h.name, "Vary")) continue;
    ++lines;
    std::string_view list = h.value;
    while (true) {
      const std::size_t comma = list.find(',');
      const std::string_view item = http::trim_ows(list.substr(0, comma));
      if (item == "*") return;
      if (!item.empty()) {
        if (http::iequals(item, field)) named = true;
        if (!joined.empty()) joined += ", ";
        joined += item;
      }
      if (comma == std::string_view::npos) break;
      list.remove_prefix(comma + 1);
    }
  }
  if (named && lines <= 1) return;  // already there, on one line
  if (!named) {
    if (!joined.empty()) joined += ", ";
    joined += field;
  }
  res.set("Vary", joined);
}

}  // namespace waitless::web
