#include "waitless/web/base64.hpp"

#include <array>
#include <cstdint>

namespace waitless::web {
namespace {

constexpr std::string_view kStd = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr std::string_view kUrl = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

// 0..63 for an alphabet character, 64 otherwise.
constexpr std::array<uint8_t, 256> reverse(std::string_view alphabet) {
  std::array<uint8_t, 256> r{};
  r.fill(64);
  for (std::size_t i = 0; i < alphabet.size(); ++i)
    r[static_cast<unsigned char>(alphabet[i])] = static_cast<uint8_t>(i);
  return r;
}
constexpr auto kStdReverse = reverse(kStd);
constexpr auto kUrlReverse = reverse(kUrl);

void encode(std::string_view in, std::string& out, std::string_view alphabet, bool pad) {
  out.reserve(out.size() + (in.size() + 2) / 3 * 4);
  std::size_t i = 0;
  auto byte = [&](std::size_t k) { return static_cast<uint32_t>(static_cast<unsigned char>(in[k])); };
  for (; i + 3 <= in.size(); i += 3) {
    const uint32_t v = byte(i) << 16 | byte(i + 1) << 8 | byte(i + 2);
    for (int shift : {18, 12, 6, 0}) out.push_back(alphabet[(v >> shift) & 63]);
  }
  const std::size_t rest = in.size() - i;
  if (rest == 0) return;
  const uint32_t v = byte(i) << 16 | (rest == 2 ? byte(i + 1) << 8 : 0);
  out.push_back(alphabet[(v >> 18) & 63]);
  out.push_back(alphabet[(v >> 12) & 63]);
  if (rest == 2) out.push_back(alphabet[(v >> 6) & 63]);
  if (pad) out.append(rest == 1 ? "==" : "=");
}

// `text` without padding; its length mod 4 is 0, 2 or 3.
bool decode(std::string_view text, std::string& out, const std::array<uint8_t, 256>& rev) {
  if (text.size() % 4 == 1) return false;
  const std::size_t start = out.size();
  out.reserve(start + text.size() / 4 * 3 + 2);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    const uint8_t v = rev[static_cast<unsigned char>(c)];
    if (v == 64) {
      out.resize(start);
      return false;
    }
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  if ((acc & ((1u << bits) - 1)) != 0) {  // leftover bits must be zero: one spelling per byte string
    out.resize(start);
    return false;
  }
  return true;
}

}  // namespace

void append_base64(std::string_view bytes, std::string& out) { encode(bytes, out, kStd, true); }
void append_base64url(std::string_view bytes, std::string& out) { encode(bytes, out, kUrl, false); }

bool decode_base64(std::string_view text, std::string& out) {
  if (text.size() % 4 != 0) return false;
  std::size_t pad = 0;
  while (pad < 2 && pad < text.size() && text[text.size() - 1 - pad] == '=') ++pad;
  return decode(text.substr(0, text.size() - pad), out, kStdReverse);
}

bool decode_base64url(std::string_view text, std::string& out) { return decode(text, out, kUrlReverse); }

}  // namespace waitless::web
