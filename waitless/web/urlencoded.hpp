// application/x-www-form-urlencoded bodies and query strings (WHATWG URL, "application/x-www-form-urlencoded
// parsing"), decoded: "a=1&b=x+y&a=%C3%A9" gives (a,"1"), (b,"x y"), (a,"é"), in order, repeated keys kept.
//
//   FormFields form;
//   if (auto ec = form.parse(body, limits)) ...                // 413 for a limit, 400 for bad encoding
//   form.get("a") == "1"; for (auto [k, v] : form) ...; form.count("a") == 2
//
// Rules: pairs are separated by '&' (empty ones, as in "a&&b", are skipped); a pair splits at its first
// '=' (none: the value is empty); '+' is a space; %XX is the byte XX. Unlike WHATWG (which keeps them as
// text) a '%' not followed by two hex digits is refused: such input is a client bug or an attack, and a
// silent guess would differ from what another parser on the path decides. Decoded bytes are not checked as
// UTF-8 (a value may be binary); a query string is passed without its '?'.
//
// Memory: the decoded keys and values live in one buffer reserved to the input's size (decoding never
// grows text), so a FormFields reused for many requests stops allocating after the largest one.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace waitless::web {

enum class FormError {
  ok = 0,
  bad_percent_encoding,  // '%' without two hex digits after it
  too_many_pairs,        // limit: more than max_pairs pairs
  too_large,             // limit: the text is longer than max_size
};
const std::error_category& form_category() noexcept;
inline std::error_code make_error_code(FormError e) noexcept {
  return {static_cast<int>(e), form_category()};
}

struct FormLimits {
  std::size_t max_pairs = 1000;
  std::size_t max_size = std::size_t{1024} * 1024;  // bytes of encoded text; exactly this many pass
};

// Appends the percent-decoding of `text` to out ('+' as a space when plus_as_space). False (out partly
// appended) on a '%' not followed by two hex digits.
bool percent_decode(std::string_view text, std::string& out, bool plus_as_space);

class FormFields {
 public:
  struct Field {
    std::string_view key;
    std::string_view value;
  };

  // Replaces the fields with those of `text`. On an error the fields are empty.
  std::error_code parse(std::string_view text, const FormLimits& limits = {});

  std::size_t size() const noexcept { return spans_.size(); }
  bool empty() const noexcept { return spans_.empty(); }
  Field operator[](std::size_t i) const noexcept;
  // The first value of `key` (exact, case-sensitive match), or nullopt.
  std::optional<std::string_view> get(std::string_view key) const noexcept;
  std::size_t count(std::string_view key) const noexcept;
  // Every value of `key`, in order.
  std::vector<std::string_view> all(std::string_view key) const;

  class Iterator {
   public:
    Iterator(const FormFields* f, std::size_t i) : f_(f), i_(i) {}
    Field operator*() const noexcept { return (*f_)[i_]; }
    Iterator& operator++() noexcept {
      ++i_;
      return *this;
    }
    bool operator==(const Iterator& o) const noexcept { return i_ == o.i_; }

   private:
    const FormFields* f_;
    std::size_t i_;
  };
  Iterator begin() const noexcept { return {this, 0}; }
  Iterator end() const noexcept { return {this, spans_.size()}; }

 private:
  // Offsets into text_ rather than views: a FormFields stays valid when copied or moved.
  struct Span {
    uint32_t key_at, key_size, value_at, value_size;
  };
  std::string text_;
  std::vector<Span> spans_;
};

}  // namespace waitless::web

template <>
struct std::is_error_code_enum<waitless::web::FormError> : std::true_type {};
