#include "waitless/web/jwt_json.hpp"

#include <algorithm>
#include <charconv>

#include "waitless/web/utf8.hpp"

namespace waitless::web::detail {
namespace {

constexpr int kMaxDepth = 32;

class Reader {
 public:
  explicit Reader(std::string_view s) : s_(s) {}

  void skip_ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
  }
  bool at_end() const { return i_ == s_.size(); }
  bool eat(char c) {
    skip_ws();
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }

  // A value; `out` (may be null) receives what JsonMember records of it.
  bool value(JsonMember* out, int depth) {
    skip_ws();
    if (i_ == s_.size() || depth > kMaxDepth) return false;
    const char c = s_[i_];
    if (c == '"') {
      std::string text;
      if (!string(text)) return false;
      if (out) out->kind = JsonMember::Kind::string, out->text = std::move(text);
      return true;
    }
    if (c == '{') return object(out, depth);
    if (c == '[') return array(out, depth);
    if (c == '-' || (c >= '0' && c <= '9')) {
      double n;
      if (!number(n)) return false;
      if (out) out->kind = JsonMember::Kind::number, out->number = n;
      return true;
    }
    for (auto [word, kind] : {std::pair{std::string_view("true"), JsonMember::Kind::boolean},
                              std::pair{std::string_view("false"), JsonMember::Kind::boolean},
                              std::pair{std::string_view("null"), JsonMember::Kind::null}}) {
      if (s_.substr(i_).starts_with(word)) {
        i_ += word.size();
        if (out) out->kind = kind;
        return true;
      }
    }
    return false;
  }

  // The top level calls f for each member; nested objects only check.
  bool object(JsonMember* out, int depth,
              const std::function<void(std::string_view, const JsonMember&)>* f = nullptr) {
    if (!eat('{')) return false;
    if (out) out->kind = JsonMember::Kind::object;
    std::vector<std::string> names;
    if (eat('}')) return true;
    do {
      skip_ws();
      std::string name;
      if (!string(name) || !eat(':')) return false;
      if (f) {
        if (std::find(names.begin(), names.end(), name) != names.end()) return false;
        JsonMember member;
        if (!value(&member, depth + 1)) return false;
        (*f)(name, member);
        names.push_back(std::move(name));
      } else if (!value(nullptr, depth + 1)) {
        return false;
      }
    } while (eat(','));
    return eat('}');
  }

 private:
  bool array(JsonMember* out, int depth) {
    if (!eat('[')) return false;
    if (out) out->kind = JsonMember::Kind::array;
    if (eat(']')) return true;
    do {
      JsonMember element;
      if (!value(out ? &element : nullptr, depth + 1)) return false;
      if (out && element.kind == JsonMember::Kind::string) {
        out->strings.push_back(std::move(element.text));
      } else if (out) {
        out->all_strings = false;
      }
    } while (eat(','));
    return eat(']');
  }

  bool hex4(uint32_t& v) {
    if (i_ + 4 > s_.size()) return false;
    v = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = s_[i_++];
      const int d = (c >= '0' && c <= '9')   ? c - '0'
                    : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                    : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                             : -1;
      if (d < 0) return false;
      v = v * 16 + static_cast<uint32_t>(d);
    }
    return true;
  }

  static void put_utf8(uint32_t cp, std::string& out) {
    if (cp < 0x80) {
      out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out.push_back(static_cast<char>(0xc0 | (cp >> 6)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else if (cp < 0x10000) {
      out.push_back(static_cast<char>(0xe0 | (cp >> 12)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else {
      out.push_back(static_cast<char>(0xf0 | (cp >> 18)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    }
  }

  bool string(std::string& out) {
    if (i_ == s_.size() || s_[i_] != '"') return false;
    ++i_;
    for (;;) {
      if (i_ == s_.size()) return false;
      const char c = s_[i_++];
      if (c == '"') return is_valid_utf8(out);
      if (static_cast<unsigned char>(c) < 0x20) return false;
      if (c != '\\') {
        out.push_back(c);
        continue;
      }
      if (i_ == s_.size()) return false;
      const char e = s_[i_++];
      switch (e) {
        case '"':
        case '\\':
        case '/':
          out.push_back(e);
          break;
        case 'b':
          out.push_back('\b');
          break;
        case 'f':
          out.push_back('\f');
          break;
        case 'n':
          out.push_back('\n');
          break;
        case 'r':
          out.push_back('\r');
          break;
        case 't':
          out.push_back('\t');
          break;
        case 'u': {
          uint32_t cp;
          if (!hex4(cp)) return false;
          if (cp >= 0xdc00 && cp <= 0xdfff) return false;  // a lone low surrogate
          if (cp >= 0xd800 && cp <= 0xdbff) {
            uint32_t low;
            if (!s_.substr(i_).starts_with("\\u")) return false;
            i_ += 2;
            if (!hex4(low) || low < 0xdc00 || low > 0xdfff) return false;
            cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
          }
          put_utf8(cp, out);
          break;
        }
        default:
          return false;
      }
    }
  }

  // RFC 8259 6: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?
  bool number(double& n) {
    const std::size_t start = i_;
    auto digits = [&] {
      const std::size_t from = i_;
      while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
      return i_ > from;
    };
    if (s_[i_] == '-') ++i_;
    if (i_ < s_.size() && s_[i_] == '0') {
      ++i_;
    } else if (!digits()) {
      return false;
    }
    if (i_ < s_.size() && s_[i_] == '.') {
      ++i_;
      if (!digits()) return false;
    }
    if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
      ++i_;
      if (i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-')) ++i_;
      if (!digits()) return false;
    }
    const auto r = std::from_chars(s_.data() + start, s_.data() + i_, n);
    return r.ec == std::errc{} && r.ptr == s_.data() + i_;
  }

  std::string_view s_;
  std::size_t i_ = 0;
};

}  // namespace

bool read_json_object(std::string_view json,
                      const std::function<void(std::string_view name, const JsonMember& member)>& f) {
  Reader r(json);
  if (!r.object(nullptr, 0, &f)) return false;
  r.skip_ws();
  return r.at_end();
}

}  // namespace waitless::web::detail
