// Router: RouteTree registration and lookup, and path percent-decoding, against a brute-force model
// written from router.hpp's and path.hpp's contracts (not from their code).
//
// Input: lines (at most 64). A line "<c> <pattern>" with c in G, H, P, O, X, A registers the pattern for
// GET, HEAD, POST, OPTIONS, PURGE or every method (slot = the line's number); every other line is a path,
// looked up with GET, HEAD, POST, OPTIONS, PURGE and BREW.
//
// Invariants:
//   - nothing crashes, leaks or reads out of bounds (ASan);
//   - decode(encode(x)) == x for every line x whose bytes are a valid decoded segment (no control byte,
//     valid UTF-8), and decode(encode(x)) is refused with the model's reason otherwise;
//   - decode_path agrees with the model's split + decode (segments, or the same PathError);
//   - a registration is accepted exactly when the model accepts it (pattern syntax, duplicate route,
//     parameter name conflict), and refused with the model's error;
//   - a lookup gives the model's answer: the model lists every route whose pattern matches the decoded
//     segments, orders them by precedence (static < param < wildcard, segment by segment, a shorter
//     pattern before its extension), and takes the first that accepts the method (HEAD: HEAD, then GET,
//     then all); else 405/automatic OPTIONS with the union of the matching routes' methods, else 404;
//   - the match's parameters concatenated back with the pattern's static segments reproduce the path's
//     decoded segments (a wildcard's value being the rest joined with '/');
//   - a second lookup with a fresh RouteMatch gives the same answer (deterministic, no state carried).
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "waitless/web/path.hpp"
#include "waitless/web/router.hpp"

namespace {

using namespace waitless::web;

[[noreturn]] void broken(const char* what, std::string_view detail) {
  std::fprintf(stderr, "router_fuzz: invariant broken: %s [%.*s]\n", what, static_cast<int>(detail.size()),
               detail.data());
  std::abort();
}

// ---- the model --------------------------------------------------------------------------------------------

int hexv(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = static_cast<char>(c | 0x20);
  return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

// Valid decoded segment: code points decoded one by one, then range checks.
PathError model_check(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7F) return PathError::control_character;
    if (c < 0x80) {
      ++i;
      continue;
    }
    int len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 0;
    if (len == 0 || c > 0xF4 || i + len > s.size()) return PathError::invalid_utf8;
    uint32_t cp = c & (0x7F >> len);
    for (int k = 1; k < len; ++k) {
      auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return PathError::invalid_utf8;
      cp = cp << 6 | (cc & 0x3F);
    }
    static const uint32_t min_for_len[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_for_len[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      return PathError::invalid_utf8;
    i += static_cast<std::size_t>(len);
  }
  return PathError::ok;
}

// Split at '/', decode each piece; drop one trailing empty segment.
std::optional<std::vector<std::string>> model_decode(std::string_view path, PathError& err) {
  err = PathError::ok;
  if (path.empty() || path[0] != '/') {
    err = PathError::not_absolute;
    return std::nullopt;
  }
  std::vector<std::string> segs;
  std::string cur;
  auto finish = [&]() -> bool {
    if ((err = model_check(cur)) != PathError::ok) return false;
    if (cur == "." || cur == "..") {
      err = PathError::dot_segment;
      return false;
    }
    segs.push_back(cur);
    cur.clear();
    return true;
  };
  for (std::size_t i = 1; i <= path.size(); ++i) {
    if (i == path.size() || path[i] == '/') {
      if (!finish()) return std::nullopt;
    } else if (path[i] == '%') {
      if (i + 2 >= path.size() + 0 || hexv(path[i + 1]) < 0 || hexv(path[i + 2]) < 0 || path[i + 1] == '/' ||
          path[i + 2] == '/') {
        err = PathError::bad_percent;
        return std::nullopt;
      }
      cur.push_back(static_cast<char>(hexv(path[i + 1]) * 16 + hexv(path[i + 2])));
      i += 2;
    } else {
      cur.push_back(path[i]);
    }
  }
  if (segs.back().empty()) segs.pop_back();
  return segs;
}

struct ModelSeg {
  int kind;  // 0 static, 1 param, 2 wildcard
  std::string text;
};
struct ModelRoute {
  std::string method;  // "" = all
  std::vector<ModelSeg> segs;
  uint32_t slot;
};

bool name_ok(std::string_view n) {
  return !n.empty() && std::all_of(n.begin(), n.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  });
}

std::optional<std::vector<ModelSeg>> model_pattern(std::string_view p) {
  if (p.empty() || p[0] != '/' || p.find("//") != std::string_view::npos) return std::nullopt;
  if (p.size() > 1 && p.back() == '/') p.remove_suffix(1);
  std::vector<ModelSeg> out;
  if (p == "/") return out;
  std::size_t start = 1;
  while (start <= p.size()) {
    std::size_t end = std::min(p.find('/', start), p.size());
    std::string_view raw = p.substr(start, end - start);
    if (raw.empty()) return std::nullopt;
    if (!out.empty() && out.back().kind == 2) return std::nullopt;
    ModelSeg s;
    if (raw[0] == ':' || raw[0] == '*') {
      s.kind = raw[0] == ':' ? 1 : 2;
      s.text = raw == "*" ? "*" : std::string(raw.substr(1));
      if (!(raw == "*" || name_ok(s.text))) return std::nullopt;
      for (const auto& o : out) {
        if (o.kind != 0 && o.text == s.text) return std::nullopt;
      }
    } else {
      PathError e;
      auto d = model_decode("/" + std::string(raw), e);
      if (!d || d->size() != 1) return std::nullopt;
      s.kind = 0;
      s.text = (*d)[0];
    }
    out.push_back(std::move(s));
    start = end + 1;
  }
  return out;
}

// Registration as the contract says: the first conflicting position decides.
RouteError model_register(const std::vector<ModelRoute>& routes, const ModelRoute& r) {
  for (const auto& e : routes) {
    std::size_t n = std::min(e.segs.size(), r.segs.size());
    std::size_t j = 0;
    for (; j < n; ++j) {
      const auto &a = e.segs[j], &b = r.segs[j];
      if (a.kind != b.kind) break;
      if (a.text != b.text) {
        if (a.kind != 0) return RouteError::param_name_conflict;
        break;
      }
    }
    if (j == n && e.segs.size() == r.segs.size() && e.method == r.method) return RouteError::duplicate_route;
  }
  return RouteError::ok;
}

// The route's parameters when it matches, in order.
std::optional<std::vector<std::pair<std::string, std::string>>> model_match(
    const ModelRoute& r, const std::vector<std::string>& segs) {
  std::vector<std::pair<std::string, std::string>> params;
  for (std::size_t j = 0; j < r.segs.size(); ++j) {
    const auto& s = r.segs[j];
    if (s.kind == 2) {
      std::string rest;
      for (std::size_t k = j; k < segs.size(); ++k) rest += (k > j ? "/" : "") + segs[k];
      params.emplace_back(s.text, rest);
      return params;
    }
    if (j >= segs.size()) return std::nullopt;
    if (s.kind == 0 && s.text != segs[j]) return std::nullopt;
    if (s.kind == 1) {
      if (segs[j].empty()) return std::nullopt;
      params.emplace_back(s.text, segs[j]);
    }
  }
  if (r.segs.size() != segs.size()) return std::nullopt;
  return params;
}

constexpr const char* kLookupMethods[] = {"GET", "HEAD", "POST", "OPTIONS", "PURGE", "BREW"};

std::string answer(const RouteTree& t, const RouteMatch& m, RouteStatus s) {
  std::string out = std::to_string(static_cast<int>(s));
  if (s == RouteStatus::found) {
    out += " slot " + std::to_string(m.slot()) + (m.head_from_get() ? " viaGET" : "");
    for (const auto& p : m.params()) out += " " + std::string(p.name) + "=" + std::string(p.value);
  } else if (s != RouteStatus::not_found) {
    out += " allow ";
    t.append_allow(m.allowed(), out);
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> lines;
  while (!input.empty() && lines.size() < 64) {
    std::size_t nl = input.find('\n');
    lines.push_back(input.substr(0, nl));
    input = nl == std::string_view::npos ? std::string_view{} : input.substr(nl + 1);
  }

  RouteTree tree;
  std::vector<ModelRoute> model;
  std::vector<std::string_view> paths;
  for (std::size_t li = 0; li < lines.size(); ++li) {
    std::string_view line = lines[li];
    // decode(encode(x)) == x
    {
      std::string enc = percent_encode_segment(line), back;
      PathError e = percent_decode_segment(enc, back);
      if (e != model_check(line)) broken("decode(encode(x)) refusal differs from the model", line);
      if (e == PathError::ok && back != line) broken("decode(encode(x)) != x", line);
    }
    static constexpr std::string_view kCodes = "GHPOXA";
    static constexpr const char* kMethods[] = {"GET", "HEAD", "POST", "OPTIONS", "PURGE", ""};
    if (line.size() >= 2 && line[1] == ' ' && kCodes.find(line[0]) != std::string_view::npos) {
      std::string method = kMethods[kCodes.find(line[0])];
      std::string_view pattern = line.substr(2);
      auto slot = static_cast<uint32_t>(li);
      auto r = method.empty() ? tree.add_all(pattern, slot) : tree.add(method, pattern, slot);
      auto parsed = model_pattern(pattern);
      RouteError expect = RouteError::invalid_pattern;
      ModelRoute mr{method, {}, slot};
      if (parsed) {
        mr.segs = *parsed;
        expect = model_register(model, mr);
      }
      std::error_code want = expect == RouteError::ok ? std::error_code{} : make_error_code(expect);
      if (r.error() != want) broken("registration differs from the model", line);
      if (r) model.push_back(std::move(mr));
    } else {
      paths.push_back(line);
    }
  }

  RouteMatch reused;
  for (std::string_view path : paths) {
    PathError derr;
    auto segs = model_decode(path, derr);
    DecodedPath dp;
    auto d = decode_path(path, dp);
    if (d.ok() != segs.has_value()) broken("decode_path acceptance differs from the model", path);
    if (!d.ok()) {
      if (d.error() != make_error_code(derr)) broken("decode_path error differs from the model", path);
    } else if (!std::equal(segs->begin(), segs->end(), dp.segments().begin(), dp.segments().end())) {
      broken("decode_path segments differ from the model", path);
    }

    for (const char* method : kLookupMethods) {
      auto s = tree.find(method, path, reused);
      if (s.ok() != segs.has_value()) broken("find acceptance differs from decode", path);
      if (!s.ok()) continue;
      RouteMatch fresh;
      auto s2 = tree.find(method, path, fresh);
      if (!s2.ok() || *s2 != *s || answer(tree, reused, *s) != answer(tree, fresh, *s2))
        broken("lookup is not deterministic", path);

      // The model's answer.
      std::vector<std::pair<std::vector<int>, std::size_t>> candidates;  // (kinds, route index)
      for (std::size_t i = 0; i < model.size(); ++i) {
        if (!model_match(model[i], *segs)) continue;
        std::vector<int> kinds;
        for (const auto& sg : model[i].segs) kinds.push_back(sg.kind);
        candidates.emplace_back(std::move(kinds), i);
      }
      std::stable_sort(candidates.begin(), candidates.end(),
                       [](const auto& a, const auto& b) { return a.first < b.first; });
      std::string m = method;
      std::optional<std::size_t> winner;
      bool via_get = false;
      std::vector<std::string> allowed;
      // Group the candidates by pattern (same kinds = the same node); per group: exact, HEAD->GET, all.
      for (std::size_t c = 0; c < candidates.size() && !winner;) {
        std::size_t end = c;
        while (end < candidates.size() && candidates[end].first == candidates[c].first) ++end;
        auto find = [&](const std::string& meth) -> std::optional<std::size_t> {
          for (std::size_t k = c; k < end; ++k) {
            if (model[candidates[k].second].method == meth) return candidates[k].second;
          }
          return std::nullopt;
        };
        if (auto w = find(m)) {
          winner = w;
        } else if (m == "HEAD" && find("GET")) {
          winner = find("GET");
          via_get = true;
        } else if (auto a = find("")) {
          winner = a;
        }
        for (std::size_t k = c; k < end; ++k) {
          if (!model[candidates[k].second].method.empty())
            allowed.push_back(model[candidates[k].second].method);
        }
        c = end;
      }
      std::string expect;
      if (winner) {
        expect = std::to_string(static_cast<int>(RouteStatus::found)) + " slot " +
                 std::to_string(model[*winner].slot) + (via_get ? " viaGET" : "");
        auto params = model_match(model[*winner], *segs);
        for (const auto& [n, v] : *params) expect += " " + n + "=" + v;
      } else if (candidates.empty()) {
        expect = std::to_string(static_cast<int>(RouteStatus::not_found));
      } else {
        auto st = m == "OPTIONS" ? RouteStatus::options : RouteStatus::method_not_allowed;
        expect = std::to_string(static_cast<int>(st)) + " allow ";
        allowed.push_back("OPTIONS");
        if (std::find(allowed.begin(), allowed.end(), "GET") != allowed.end()) allowed.push_back("HEAD");
        bool first = true;
        for (const char* std_m : {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "PURGE"}) {
          if (std::find(allowed.begin(), allowed.end(), std_m) == allowed.end()) continue;
          expect += (first ? "" : ", ") + std::string(std_m);
          first = false;
        }
      }
      std::string got = answer(tree, reused, *s);
      if (got != expect) {
        std::fprintf(stderr, "router_fuzz: %s %.*s\n  got:    %s\n  expect: %s\n", method,
                     static_cast<int>(path.size()), path.data(), got.c_str(), expect.c_str());
        broken("lookup differs from the model", path);
      }
      // Params + static segments give back the decoded segments.
      if (*s == RouteStatus::found) {
        const auto& route = model[*winner];
        std::string rebuilt, want;
        std::size_t p = 0;
        for (const auto& sg : route.segs)
          rebuilt += "/" + (sg.kind == 0 ? sg.text : std::string(reused.params()[p++].value));
        for (const auto& sg : *segs) want += "/" + sg;
        if (route.segs.empty() || route.segs.back().kind != 2 || reused.wildcard_segment() < segs->size()) {
          if (rebuilt != want) broken("params do not rebuild the path", path);
        } else if (rebuilt != want + "/") {  // a wildcard covering zero segments
          broken("params do not rebuild the path (empty wildcard)", path);
        }
      }
    }
  }
  return 0;
}
