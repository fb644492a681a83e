#include "waitless/data/sqlite_rows.hpp"

namespace waitless::data::sqlite {

const Value* Row::value(int column) const noexcept {
  if (column < 0 || column >= rows_->columns() || index_ >= rows_->size()) return nullptr;
  return &rows_->values_[index_ * rows_->columns_.size() + static_cast<std::size_t>(column)];
}

bool Row::is_null(int column) const noexcept {
  const Value* v = value(column);
  return !v || std::holds_alternative<std::monostate>(*v);
}

int Row::column_index(std::string_view name) const noexcept {
  for (std::size_t i = 0; i < rows_->columns_.size(); ++i) {
    if (rows_->columns_[i] == name) return static_cast<int>(i);
  }
  return -1;
}

std::string_view Rows::column_name(int i) const noexcept {
  if (i < 0 || i >= columns()) return {};
  return columns_[static_cast<std::size_t>(i)];
}

}  // namespace waitless::data::sqlite
