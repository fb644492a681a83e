#include "waitless/web/urlencoded.hpp"

#include <algorithm>

#include "waitless/base/hex.hpp"
#include "waitless/web/error_table.hpp"

namespace waitless::web {
namespace {

constexpr const char* kFormMessages[] = {
    "ok",
    "invalid percent-encoding",
    "too many form fields",
    "form data too large",
};

}  // namespace

const std::error_category& form_category() noexcept {
  static const detail::TableCategory category("form", kFormMessages);
  return category;
}

bool percent_decode(std::string_view text, std::string& out, bool plus_as_space) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size()) return false;
      const int hi = hex_value(text[i + 1]), lo = hex_value(text[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out.push_back(plus_as_space && c == '+' ? ' ' : c);
    }
  }
  return true;
}

std::error_code FormFields::parse(std::string_view text, const FormLimits& limits) {
  text_.clear();
  spans_.clear();
  if (text.size() > limits.max_size) return FormError::too_large;
  // The offsets are 32-bit: a form is far below 4 GiB (max_size bounds it; the check keeps it so).
  if (text.size() > UINT32_MAX) return FormError::too_large;
  text_.reserve(text.size());
  std::size_t pos = 0;
  while (pos <= text.size()) {
    const std::size_t amp = std::min(text.find('&', pos), text.size());
    const std::string_view pair = text.substr(pos, amp - pos);
    pos = amp + 1;
    if (pair.empty()) continue;
    if (spans_.size() == limits.max_pairs) {
      spans_.clear();
      text_.clear();
      return FormError::too_many_pairs;
    }
    const std::size_t eq = std::min(pair.find('='), pair.size());
    Span s{};
    s.key_at = static_cast<uint32_t>(text_.size());
    bool ok = percent_decode(pair.substr(0, eq), text_, true);
    s.key_size = static_cast<uint32_t>(text_.size() - s.key_at);
    s.value_at = static_cast<uint32_t>(text_.size());
    if (ok && eq < pair.size()) ok = percent_decode(pair.substr(eq + 1), text_, true);
    s.value_size = static_cast<uint32_t>(text_.size() - s.value_at);
    if (!ok) {
      spans_.clear();
      text_.clear();
      return FormError::bad_percent_encoding;
    }
    spans_.push_back(s);
  }
  return {};
}

FormFields::Field FormFields::operator[](std::size_t i) const noexcept {
  const Span& s = spans_[i];
  const std::string_view t = text_;
  return {t.substr(s.key_at, s.key_size), t.substr(s.value_at, s.value_size)};
}

std::optional<std::string_view> FormFields::get(std::string_view key) const noexcept {
  for (std::size_t i = 0; i < spans_.size(); ++i) {
    const Field f = (*this)[i];
    if (f.key == key) return f.value;
  }
  return std::nullopt;
}

std::size_t FormFields::count(std::string_view key) const noexcept {
  std::size_t n = 0;
  for (std::size_t i = 0; i < spans_.size(); ++i) n += (*this)[i].key == key;
  return n;
}

std::vector<std::string_view> FormFields::all(std::string_view key) const {
  std::vector<std::string_view> values;
  for (std::size_t i = 0; i < spans_.size(); ++i) {
    const Field f = (*this)[i];
    if (f.key == key) values.push_back(f.value);
  }
  return values;
}

}  // namespace waitless::web
