#include "common/encoding.h"

#include <array>
#include <type_traits>

namespace veil {
namespace {

constexpr char kBase64Alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr char kBase64UrlAlphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr char kHexDigits[] = "0123456789abcdef";

// Maps a character to its 6-bit value, or -1.
using DecodeTable = std::array<int8_t, 256>;

constexpr DecodeTable MakeTable(const char* alphabet) {
  DecodeTable table{};
  for (auto& v : table) v = -1;
  for (int i = 0; i < 64; ++i) table[static_cast<uint8_t>(alphabet[i])] = static_cast<int8_t>(i);
  return table;
}

constexpr DecodeTable kBase64Table = MakeTable(kBase64Alphabet);
constexpr DecodeTable kBase64UrlTable = MakeTable(kBase64UrlAlphabet);

std::string EncodeBase64With(std::span<const uint8_t> data, const char* alphabet, bool pad) {
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= data.size(); i += 3) {
    uint32_t v = (uint32_t{data[i]} << 16) | (uint32_t{data[i + 1]} << 8) | data[i + 2];
    out.push_back(alphabet[(v >> 18) & 63]);
    out.push_back(alphabet[(v >> 12) & 63]);
    out.push_back(alphabet[(v >> 6) & 63]);
    out.push_back(alphabet[v & 63]);
  }
  const size_t rest = data.size() - i;
  if (rest == 1) {
    uint32_t v = uint32_t{data[i]} << 16;
    out.push_back(alphabet[(v >> 18) & 63]);
    out.push_back(alphabet[(v >> 12) & 63]);
    if (pad) out.append("==");
  } else if (rest == 2) {
    uint32_t v = (uint32_t{data[i]} << 16) | (uint32_t{data[i + 1]} << 8);
    out.push_back(alphabet[(v >> 18) & 63]);
    out.push_back(alphabet[(v >> 12) & 63]);
    out.push_back(alphabet[(v >> 6) & 63]);
    if (pad) out.push_back('=');
  }
  return out;
}

// The unpadded payload of a base64 text and the number of bytes it decodes to.
struct Base64Layout {
  std::string_view payload;
  size_t decoded_size = 0;
};

// Validates the length and padding of `text` (padding is checked here, characters later).
Result<Base64Layout> LayoutBase64(std::string_view text, bool padded) {
  std::string_view payload = text;
  if (padded) {
    if (text.size() % 4 != 0) return InvalidArgument("base64: length is not a multiple of 4");
    // At most two '=' at the very end; a third '=' (or one elsewhere) is caught as an invalid
    // character below.
    size_t pad = 0;
    while (pad < 2 && !payload.empty() && payload.back() == '=') {
      payload.remove_suffix(1);
      ++pad;
    }
  }
  const size_t rem = payload.size() % 4;
  if (rem == 1) return InvalidArgument("base64: impossible length");
  Base64Layout layout;
  layout.payload = payload;
  layout.decoded_size = payload.size() / 4 * 3 + (rem == 0 ? 0 : rem - 1);
  return layout;
}

// Decodes a validated layout into `out` (exactly layout.decoded_size bytes).
Status DecodeBase64Into(const Base64Layout& layout, bool url, uint8_t* out) {
  std::string_view in = layout.payload;
  const DecodeTable& table = url ? kBase64UrlTable : kBase64Table;
  const char* what = url ? "base64url" : "base64";
  auto value = [&](size_t pos, uint32_t* v) -> Status {
    int8_t d = table[static_cast<uint8_t>(in[pos])];
    if (d < 0) {
      return InvalidArgument(std::string(what) + ": invalid character at offset " +
                             std::to_string(pos));
    }
    *v = static_cast<uint32_t>(d);
    return OkStatus();
  };
  size_t i = 0;
  size_t o = 0;
  uint32_t a = 0, b = 0, c = 0, d = 0;
  for (; i + 4 <= in.size(); i += 4) {
    VEIL_TRY(value(i, &a));
    VEIL_TRY(value(i + 1, &b));
    VEIL_TRY(value(i + 2, &c));
    VEIL_TRY(value(i + 3, &d));
    uint32_t v = (a << 18) | (b << 12) | (c << 6) | d;
    out[o++] = static_cast<uint8_t>(v >> 16);
    out[o++] = static_cast<uint8_t>(v >> 8);
    out[o++] = static_cast<uint8_t>(v);
  }
  const size_t rem = in.size() - i;
  if (rem == 2) {
    VEIL_TRY(value(i, &a));
    VEIL_TRY(value(i + 1, &b));
    if ((b & 0x0f) != 0) return InvalidArgument(std::string(what) + ": non-canonical final bits");
    out[o++] = static_cast<uint8_t>((a << 2) | (b >> 4));
  } else if (rem == 3) {
    VEIL_TRY(value(i, &a));
    VEIL_TRY(value(i + 1, &b));
    VEIL_TRY(value(i + 2, &c));
    if ((c & 0x03) != 0) return InvalidArgument(std::string(what) + ": non-canonical final bits");
    uint32_t v = (a << 10) | (b << 4) | (c >> 2);
    out[o++] = static_cast<uint8_t>(v >> 8);
    out[o++] = static_cast<uint8_t>(v);
  }
  return OkStatus();
}

int HexValue(char ch) {
  if (ch >= '0' && ch <= '9') return ch - '0';
  if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
  return -1;
}

Status DecodeHexInto(std::string_view text, uint8_t* out) {
  for (size_t i = 0; i < text.size(); i += 2) {
    int hi = HexValue(text[i]);
    int lo = HexValue(text[i + 1]);
    if (hi < 0 || lo < 0) {
      return InvalidArgument("hex: invalid character at offset " +
                             std::to_string(hi < 0 ? i : i + 1));
    }
    out[i / 2] = static_cast<uint8_t>((hi << 4) | lo);
  }
  return OkStatus();
}

template <typename Out>
Result<Out> DecodeBase64As(std::string_view text, bool url) {
  Base64Layout layout = VEIL_TRY_VALUE(LayoutBase64(text, /*padded=*/!url));
  Out out(layout.decoded_size);
  uint8_t* dst = nullptr;
  if constexpr (std::is_same_v<Out, SecretBytes>) {
    dst = out.RevealMutable().data();
  } else {
    dst = out.data();
  }
  VEIL_TRY(DecodeBase64Into(layout, url, dst));
  return out;
}

template <typename Out>
Result<Out> DecodeHexAs(std::string_view text) {
  if (text.size() % 2 != 0) return InvalidArgument("hex: odd length");
  Out out(text.size() / 2);
  uint8_t* dst = nullptr;
  if constexpr (std::is_same_v<Out, SecretBytes>) {
    dst = out.RevealMutable().data();
  } else {
    dst = out.data();
  }
  VEIL_TRY(DecodeHexInto(text, dst));
  return out;
}

}  // namespace

std::string Base64Encode(std::span<const uint8_t> data) {
  return EncodeBase64With(data, kBase64Alphabet, /*pad=*/true);
}

std::string Base64UrlEncode(std::span<const uint8_t> data) {
  return EncodeBase64With(data, kBase64UrlAlphabet, /*pad=*/false);
}

std::string HexEncode(std::span<const uint8_t> data) {
  std::string out;
  out.reserve(data.size() * 2);
  for (uint8_t b : data) AppendHex(&out, b);
  return out;
}

void AppendHex(std::string* out, uint8_t byte) {
  out->push_back(kHexDigits[byte >> 4]);
  out->push_back(kHexDigits[byte & 0x0f]);
}

void HexEncodeInto(std::span<const uint8_t> data, std::span<uint8_t> out) {
  VEIL_CHECK(out.size() == 2 * data.size());
  for (size_t i = 0; i < data.size(); ++i) {
    out[2 * i] = static_cast<uint8_t>(kHexDigits[data[i] >> 4]);
    out[2 * i + 1] = static_cast<uint8_t>(kHexDigits[data[i] & 0x0f]);
  }
}

Result<std::vector<uint8_t>> Base64Decode(std::string_view text) {
  return DecodeBase64As<std::vector<uint8_t>>(text, /*url=*/false);
}
Result<std::vector<uint8_t>> Base64UrlDecode(std::string_view text) {
  return DecodeBase64As<std::vector<uint8_t>>(text, /*url=*/true);
}
Result<std::string> PercentDecode(std::string_view text) {
  auto hex_value = [](char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size()) return InvalidArgument("truncated percent-encoding");
      const int hi = hex_value(text[i + 1]);
      const int lo = hex_value(text[i + 2]);
      if (hi < 0 || lo < 0) return InvalidArgument("malformed percent-encoding");
      c = static_cast<char>(hi * 16 + lo);
      i += 2;
    }
    if (c == '\0') return InvalidArgument("NUL in request target");
    out.push_back(c);
  }
  return out;
}

Result<std::vector<uint8_t>> HexDecode(std::string_view text) {
  return DecodeHexAs<std::vector<uint8_t>>(text);
}
Result<SecretBytes> DecodeBase64Secret(std::string_view text) {
  return DecodeBase64As<SecretBytes>(text, /*url=*/false);
}
Result<SecretBytes> DecodeBase64UrlSecret(std::string_view text) {
  return DecodeBase64As<SecretBytes>(text, /*url=*/true);
}
Result<SecretBytes> DecodeHexSecret(std::string_view text) {
  return DecodeHexAs<SecretBytes>(text);
}

void AppendXmlEscaped(std::string& out, std::string_view text) {
  for (char c : text) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        // XML 1.0 has no spelling for most control characters: a space stands in.
        out += (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n') ? ' ' : c;
    }
  }
}

}  // namespace veil
