// The little XML the S3 API speaks: a writer for response documents and a strict parser for the
// request bodies S3 defines (CreateBucketConfiguration, Delete, CompleteMultipartUpload,
// ServerSideEncryptionConfiguration).
//
// The parser accepts one root element with nested elements, character data, comments, an optional
// XML declaration, CDATA sections, attributes (kept, e.g. xmlns) and the five predefined entities
// plus numeric character references. It refuses everything else that makes XML dangerous or
// ambiguous: DOCTYPE (so no external or expanding entities), processing instructions after the
// declaration, unknown entities, mismatched or unclosed tags, text outside the root, more than
// kMaxXmlDepth levels or kMaxXmlElements elements. Element names keep no namespace prefix
// ("s3:Key" -> "Key"), as S3 ignores them. Errors are kInvalidArgument naming what is wrong at
// which byte offset, never echoing the body. Fuzzed (fuzz/cos_sigv4_fuzz.cc, xml mode).
//
// Thread-safety: values and pure functions.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace veil::cos {

inline constexpr size_t kMaxXmlDepth = 16;
inline constexpr size_t kMaxXmlElements = 100000;

struct XmlElement {
  std::string name;  // local name, without a namespace prefix
  std::vector<std::pair<std::string, std::string>> attributes;
  std::string text;  // the character data directly inside, concatenated
  std::vector<XmlElement> children;

  // The first child called `name`, or nullptr.
  const XmlElement* Child(std::string_view name) const;
  // Every child called `name`, in order.
  std::vector<const XmlElement*> Children(std::string_view name) const;
};

[[nodiscard]] Result<XmlElement> ParseXml(std::string_view document);

// `text` with & < > " ' escaped (common/encoding.h AppendXmlEscaped), for element content and
// attribute values.
std::string XmlEscape(std::string_view text);

// Builds a document: Open("ListBucketResult", "http://s3.amazonaws.com/doc/2006-03-01/"),
// Element("Name", name), ..., Close(). The declaration comes first.
class XmlWriter {
 public:
  XmlWriter();
  XmlWriter& Open(std::string_view name, std::string_view xmlns = {});
  XmlWriter& Element(std::string_view name, std::string_view text);
  XmlWriter& Close();
  // The document; every opened element must be closed.
  std::string Finish();

 private:
  std::string out_;
  std::vector<std::string> open_;
};

}  // namespace veil::cos
