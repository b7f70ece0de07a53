#include "cos/xml.h"

#include <cstdint>

#include "common/encoding.h"
#include "common/result.h"

namespace veil::cos {
namespace {

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || c == '.' || c == ':' || static_cast<unsigned char>(c) >= 0x80;
}

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

void AppendUtf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

class Parser {
 public:
  explicit Parser(std::string_view doc) : doc_(doc) {}

  Result<XmlElement> Document() {
    SkipBom();
    if (Starts("<?xml")) {
      size_t end = doc_.find("?>", pos_);
      if (end == std::string_view::npos) return Bad("unterminated XML declaration");
      pos_ = end + 2;
    }
    VEIL_TRY(SkipMisc());
    if (pos_ >= doc_.size() || doc_[pos_] != '<') return Bad("expected the root element");
    XmlElement root;
    VEIL_TRY(ParseElement(root, 1));
    VEIL_TRY(SkipMisc());
    if (pos_ != doc_.size()) return Bad("content after the root element");
    return root;
  }

 private:
  tl::unexpected<Error> Bad(std::string_view what) const {
    return InvalidArgument("malformed XML at byte " + std::to_string(pos_) + ": " +
                           std::string(what));
  }
  bool Starts(std::string_view s) const { return doc_.substr(pos_).starts_with(s); }
  void SkipBom() {
    if (Starts("\xEF\xBB\xBF")) pos_ += 3;
  }
  void SkipSpace() {
    while (pos_ < doc_.size() && IsSpace(doc_[pos_])) ++pos_;
  }
  // Spaces and comments; a DOCTYPE or processing instruction is refused.
  Status SkipMisc() {
    for (;;) {
      SkipSpace();
      if (Starts("<!--")) {
        VEIL_TRY(SkipComment());
      } else if (Starts("<!") || Starts("<?")) {
        return Bad("DOCTYPE and processing instructions are not accepted");
      } else {
        return OkStatus();
      }
    }
  }
  Status SkipComment() {
    size_t end = doc_.find("-->", pos_ + 4);
    if (end == std::string_view::npos) return Bad("unterminated comment");
    pos_ = end + 3;
    return OkStatus();
  }
  Result<std::string> Name() {
    size_t start = pos_;
    while (pos_ < doc_.size() && IsNameChar(doc_[pos_])) ++pos_;
    if (pos_ == start) return Bad("expected a name");
    return std::string(doc_.substr(start, pos_ - start));
  }
  static std::string LocalName(std::string name) {
    size_t colon = name.rfind(':');
    return colon == std::string::npos ? name : name.substr(colon + 1);
  }
  // An entity or character reference at pos_ ('&'), appended to `out`.
  Status Reference(std::string& out) {
    size_t end = doc_.find(';', pos_);
    if (end == std::string_view::npos || end - pos_ > 12) return Bad("malformed reference");
    std::string_view ref = doc_.substr(pos_ + 1, end - pos_ - 1);
    pos_ = end + 1;
    if (ref == "amp") return out += '&', OkStatus();
    if (ref == "lt") return out += '<', OkStatus();
    if (ref == "gt") return out += '>', OkStatus();
    if (ref == "quot") return out += '"', OkStatus();
    if (ref == "apos") return out += '\'', OkStatus();
    if (ref.size() < 2 || ref[0] != '#') return Bad("unknown entity");
    bool hex = ref[1] == 'x';
    std::string_view digits = ref.substr(hex ? 2 : 1);
    if (digits.empty()) return Bad("malformed character reference");
    uint32_t cp = 0;
    for (char c : digits) {
      int v = (c >= '0' && c <= '9')          ? c - '0'
              : hex && (c >= 'a' && c <= 'f') ? c - 'a' + 10
              : hex && (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                              : -1;
      if (v < 0) return Bad("malformed character reference");
      cp = cp * (hex ? 16 : 10) + static_cast<uint32_t>(v);
      if (cp > 0x10FFFF) return Bad("character reference out of range");
    }
    if (cp == 0 || (cp >= 0xD800 && cp <= 0xDFFF)) return Bad("invalid character reference");
    AppendUtf8(out, cp);
    return OkStatus();
  }
  Status Attributes(XmlElement& element) {
    for (;;) {
      SkipSpace();
      if (pos_ >= doc_.size()) return Bad("unterminated tag");
      if (doc_[pos_] == '>' || doc_[pos_] == '/') return OkStatus();
      std::string name = VEIL_TRY_VALUE(Name());
      SkipSpace();
      if (pos_ >= doc_.size() || doc_[pos_] != '=') return Bad("expected '=' after an attribute");
      ++pos_;
      SkipSpace();
      if (pos_ >= doc_.size() || (doc_[pos_] != '"' && doc_[pos_] != '\'')) {
        return Bad("expected a quoted attribute value");
      }
      const char quote = doc_[pos_++];
      std::string value;
      while (pos_ < doc_.size() && doc_[pos_] != quote) {
        if (doc_[pos_] == '<') return Bad("'<' in an attribute value");
        if (doc_[pos_] == '&') {
          VEIL_TRY(Reference(value));
        } else {
          value += doc_[pos_++];
        }
      }
      if (pos_ >= doc_.size()) return Bad("unterminated attribute value");
      ++pos_;
      element.attributes.emplace_back(std::move(name), std::move(value));
    }
  }
  Status ParseElement(XmlElement& element, size_t depth) {
    if (depth > kMaxXmlDepth) return Bad("elements nested too deep");
    if (++elements_ > kMaxXmlElements) return Bad("too many elements");
    ++pos_;  // '<'
    const std::string raw_name = VEIL_TRY_VALUE(Name());
    element.name = LocalName(raw_name);
    VEIL_TRY(Attributes(element));
    if (doc_[pos_] == '/') {
      if (pos_ + 1 >= doc_.size() || doc_[pos_ + 1] != '>') return Bad("malformed empty tag");
      pos_ += 2;
      return OkStatus();
    }
    ++pos_;  // '>'
    return Content(element, raw_name, depth);
  }
  Status Content(XmlElement& element, const std::string& raw_name, size_t depth) {
    for (;;) {
      if (pos_ >= doc_.size()) return Bad("unclosed element");
      const char c = doc_[pos_];
      if (c == '&') {
        VEIL_TRY(Reference(element.text));
      } else if (c != '<') {
        element.text += c;
        ++pos_;
      } else if (Starts("</")) {
        pos_ += 2;
        const std::string closing = VEIL_TRY_VALUE(Name());
        SkipSpace();
        if (closing != raw_name || pos_ >= doc_.size() || doc_[pos_] != '>') {
          return Bad("mismatched closing tag");
        }
        ++pos_;
        return OkStatus();
      } else if (Starts("<!--")) {
        VEIL_TRY(SkipComment());
      } else if (Starts("<![CDATA[")) {
        size_t end = doc_.find("]]>", pos_ + 9);
        if (end == std::string_view::npos) return Bad("unterminated CDATA section");
        element.text.append(doc_.substr(pos_ + 9, end - pos_ - 9));
        pos_ = end + 3;
      } else if (Starts("<!") || Starts("<?")) {
        return Bad("DOCTYPE and processing instructions are not accepted");
      } else {
        XmlElement child;
        VEIL_TRY(ParseElement(child, depth + 1));
        element.children.push_back(std::move(child));
      }
    }
  }

  std::string_view doc_;
  size_t pos_ = 0;
  size_t elements_ = 0;
};

}  // namespace

const XmlElement* XmlElement::Child(std::string_view child_name) const {
  for (const XmlElement& child : children) {
    if (child.name == child_name) return &child;
  }
  return nullptr;
}

std::vector<const XmlElement*> XmlElement::Children(std::string_view child_name) const {
  std::vector<const XmlElement*> found;
  for (const XmlElement& child : children) {
    if (child.name == child_name) found.push_back(&child);
  }
  return found;
}

Result<XmlElement> ParseXml(std::string_view document) { return Parser(document).Document(); }

std::string XmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  AppendXmlEscaped(out, text);
  return out;
}

XmlWriter::XmlWriter() : out_("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n") {}

XmlWriter& XmlWriter::Open(std::string_view name, std::string_view xmlns) {
  out_ += '<';
  out_ += name;
  if (!xmlns.empty()) {
    out_ += " xmlns=\"";
    out_ += XmlEscape(xmlns);
    out_ += '"';
  }
  out_ += '>';
  open_.emplace_back(name);
  return *this;
}

XmlWriter& XmlWriter::Element(std::string_view name, std::string_view text) {
  out_ += '<';
  out_ += name;
  out_ += '>';
  out_ += XmlEscape(text);
  out_ += "</";
  out_ += name;
  out_ += '>';
  return *this;
}

XmlWriter& XmlWriter::Close() {
  VEIL_CHECK(!open_.empty());
  out_ += "</";
  out_ += open_.back();
  out_ += '>';
  open_.pop_back();
  return *this;
}

std::string XmlWriter::Finish() {
  VEIL_CHECK(open_.empty());
  return std::move(out_);
}

}  // namespace veil::cos
