// Strict base64 (RFC 4648 section 4, padded) and base64url (section 5, unpadded as JWS uses it, RFC 7515
// section 2). Strict means one spelling per byte string: a character outside the alphabet, whitespace,
// missing or misplaced padding, or non-zero bits after the last byte (which would let "QQ==" and "QR=="
// both mean "A") is refused. Credentials and signatures are compared on their decoded bytes, so a decoder
// that accepted two spellings would make one token or password look like two.
#pragma once
#include <string>
#include <string_view>

namespace waitless::web {

void append_base64(std::string_view bytes, std::string& out);     // padded, '+' and '/'
void append_base64url(std::string_view bytes, std::string& out);  // unpadded, '-' and '_'

// Append the decoded bytes to out; false (out unchanged) when `text` is not a strict encoding.
bool decode_base64(std::string_view text, std::string& out);
bool decode_base64url(std::string_view text, std::string& out);

}  // namespace waitless::web
