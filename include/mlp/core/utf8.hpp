// Whether text is well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing past
// U+10FFFF), for names that go into SVG, JSON and Markdown files, which must be UTF-8.
#pragma once

#include <cstddef>
#include <cstdio>
#include <string>
#include <string_view>

namespace mlp::detail {

// The offset of the first byte that is not part of a well-formed UTF-8 sequence, or text.size().
inline std::size_t first_invalid_utf8(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
    const unsigned char b = byte(i);
    std::size_t length = 0;
    unsigned char low = 0x80, high = 0xbf;  // the range of the second byte
    if (b < 0x80) {
      length = 1;
    } else if (b >= 0xc2 && b <= 0xdf) {
      length = 2;
    } else if (b >= 0xe0 && b <= 0xef) {
      length = 3;
      if (b == 0xe0) low = 0xa0;   // (overlong)
      if (b == 0xed) high = 0x9f;  // (surrogates)
    } else if (b >= 0xf0 && b <= 0xf4) {
      length = 4;
      if (b == 0xf0) low = 0x90;   // (overlong)
      if (b == 0xf4) high = 0x8f;  // (past U+10FFFF)
    } else {
      return i;
    }
    if (i + length > text.size()) return i;
    for (std::size_t k = 1; k < length; ++k) {
      const unsigned char c = byte(i + k);
      if (k == 1 ? (c < low || c > high) : (c < 0x80 || c > 0xbf)) return i;
    }
    i += length;
  }
  return text.size();
}

// XML 1.0 text (SVG): the offset of the first byte that is not well-formed UTF-8, a control character
// other than a tab, or U+FFFE or U+FFFF (valid UTF-8, but not XML characters), or text.size().
inline std::size_t first_non_xml_char(std::string_view text) {
  const std::size_t utf8_end = first_invalid_utf8(text);
  for (std::size_t i = 0; i < utf8_end; ++i) {
    const auto b = static_cast<unsigned char>(text[i]);
    if ((b < 0x20 && b != '\t') || b == 0x7f) return i;
    if (b == 0xef && i + 2 < utf8_end && static_cast<unsigned char>(text[i + 1]) == 0xbf &&
        static_cast<unsigned char>(text[i + 2]) >= 0xbe) {
      return i;
    }
  }
  return utf8_end;
}

// "0xe9": a byte for messages.
inline std::string hex_byte(char c) {
  char text[8];
  std::snprintf(text, sizeof text, "0x%02x", static_cast<unsigned>(static_cast<unsigned char>(c)));
  return text;
}

}  // namespace mlp::detail
