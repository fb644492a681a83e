// The error categories of the web units (multipart, urlencoded, cookie, jwt, ...): each unit declares an
// enum whose values index a table of messages, and one TableCategory names them. Keeps each unit's
// errors typed (the framework compares them against the enum) with a few lines per unit.
#pragma once
#include <span>
#include <string>
#include <system_error>

namespace waitless::web::detail {

class TableCategory final : public std::error_category {
 public:
  // messages[i] describes the enum value i (value 0 is "ok"); both arrays outlive the category.
  constexpr TableCategory(const char* name, std::span<const char* const> messages) noexcept
      : name_(name), messages_(messages) {}
  const char* name() const noexcept override { return name_; }
  std::string message(int code) const override {
    if (code >= 0 && static_cast<std::size_t>(code) < messages_.size()) return messages_[code];
    return std::string(name_) + " error " + std::to_string(code);
  }

 private:
  const char* name_;
  std::span<const char* const> messages_;
};

}  // namespace waitless::web::detail
