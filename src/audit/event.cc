#include "audit/event.h"

#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <string>
#include <string_view>

#include "common/encoding.h"

namespace veil::audit {
namespace {

// Length of the valid UTF-8 sequence starting at s[i], or 0 when it is not one (overlong forms,
// surrogates and code points above U+10FFFF are invalid, as in RFC 3629).
std::size_t Utf8SequenceLength(std::string_view s, std::size_t i) {
  auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = byte(i);
  if (c < 0x80) return 1;
  std::size_t len;
  unsigned char lo = 0x80;
  unsigned char hi = 0xbf;
  if (c >= 0xc2 && c <= 0xdf) {
    len = 2;
  } else if (c >= 0xe0 && c <= 0xef) {
    len = 3;
    if (c == 0xe0) lo = 0xa0;  // overlong
    if (c == 0xed) hi = 0x9f;  // surrogates
  } else if (c >= 0xf0 && c <= 0xf4) {
    len = 4;
    if (c == 0xf0) lo = 0x90;  // overlong
    if (c == 0xf4) hi = 0x8f;  // above U+10FFFF
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  if (byte(i + 1) < lo || byte(i + 1) > hi) return 0;
  for (std::size_t k = 2; k < len; ++k) {
    if (byte(i + k) < 0x80 || byte(i + k) > 0xbf) return 0;
  }
  return len;
}

// Event fields carry client-supplied text (User-Agent, paths, names). Invalid UTF-8 would make
// the line unreadable to a strict JSON parser, and to `veil audit verify`: replace each bad byte
// with U+FFFD so that every event stays valid JSON.
std::string SanitizeUtf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    std::size_t len = Utf8SequenceLength(s, i);
    if (len == 0) {
      out += "\xef\xbf\xbd";
      ++i;
    } else {
      out.append(s.substr(i, len));
      i += len;
    }
  }
  return out;
}

boost::json::value SanitizeValue(const boost::json::value& v);

boost::json::object SanitizeObject(const boost::json::object& o) {
  boost::json::object out;
  out.reserve(o.size());
  for (const auto& kv : o) out[SanitizeUtf8(kv.key())] = SanitizeValue(kv.value());
  return out;
}

boost::json::value SanitizeValue(const boost::json::value& v) {
  if (const auto* s = v.if_string()) return boost::json::string(SanitizeUtf8(*s));
  if (const auto* o = v.if_object()) return SanitizeObject(*o);
  if (const auto* a = v.if_array()) {
    boost::json::array out;
    out.reserve(a->size());
    for (const auto& e : *a) out.push_back(SanitizeValue(e));
    return out;
  }
  return v;
}

// Sets obj[key] = value unless value is empty ("omit empty optional fields").
void PutIfSet(boost::json::object& obj, std::string_view key, const std::string& value) {
  if (!value.empty()) obj[key] = SanitizeUtf8(value);
}

// --- AppendJson: the text ToJson's object serializes to, written directly.

// `s` sanitized as SanitizeUtf8 does, then quoted and escaped as boost::json::serialize does:
// '"' and '\\' escaped, \b \f \n \r \t in their short forms, other bytes below 0x20 as \u00xx
// (lowercase hex), everything else (0x7f, valid multi-byte sequences) as is.
void AppendQuoted(std::string_view s, std::string* out) {
  out->push_back('"');
  std::size_t run = 0;  // start of the bytes not yet copied
  for (std::size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
      ++i;
      continue;
    }
    if (c >= 0x80) {
      std::size_t len = Utf8SequenceLength(s, i);
      if (len != 0) {
        i += len;
        continue;
      }
    }
    out->append(s.data() + run, i - run);
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\b':
        out->append("\\b");
        break;
      case '\f':
        out->append("\\f");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        if (c < 0x20) {
          out->append("\\u00");
          AppendHex(out, c);
        } else {
          out->append("\xef\xbf\xbd");  // an invalid byte
        }
        break;
    }
    run = ++i;
  }
  out->append(s.data() + run, s.size() - run);
  out->push_back('"');
}

// Writes the members of one JSON object; tracks the commas.
class ObjectWriter {
 public:
  explicit ObjectWriter(std::string* out) : out_(out) { out_->push_back('{'); }
  void Close() { out_->push_back('}'); }

  // "key": (keys are ASCII constants, or sanitized client text through Key()).
  void Name(std::string_view constant_key) {
    if (!first_) out_->push_back(',');
    first_ = false;
    out_->push_back('"');
    out_->append(constant_key);
    out_->append("\":");
  }
  void Key(std::string_view client_key) {
    if (!first_) out_->push_back(',');
    first_ = false;
    AppendQuoted(client_key, out_);
    out_->push_back(':');
  }
  void String(std::string_view key, std::string_view value) {
    Name(key);
    AppendQuoted(value, out_);
  }
  // PutIfSet's rule: omitted when empty.
  void StringIfSet(std::string_view key, std::string_view value) {
    if (!value.empty()) String(key, value);
  }
  void Raw(std::string_view key, std::string_view json) {
    Name(key);
    out_->append(json);
  }

 private:
  std::string* out_;
  bool first_ = true;
};

bool IsValidUtf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    std::size_t len = Utf8SequenceLength(s, i);
    if (len == 0) return false;
    i += len;
  }
  return true;
}

// Whether every key in `o` (at any depth) is valid UTF-8. SanitizeObject may merge two keys that
// differ only in invalid bytes; such rare objects take ToJson's own path.
bool KeysAreValidUtf8(const boost::json::value& v);
bool KeysAreValidUtf8(const boost::json::object& o) {
  for (const auto& kv : o) {
    if (!IsValidUtf8(kv.key()) || !KeysAreValidUtf8(kv.value())) return false;
  }
  return true;
}
bool KeysAreValidUtf8(const boost::json::value& v) {
  if (const auto* o = v.if_object()) return KeysAreValidUtf8(*o);
  if (const auto* a = v.if_array()) {
    for (const auto& e : *a) {
      if (!KeysAreValidUtf8(e)) return false;
    }
  }
  return true;
}

// SanitizeValue(v) and SanitizeObject(o), serialized, for values whose keys are valid UTF-8.
void AppendObject(const boost::json::object& o, std::string* out);
void AppendValue(const boost::json::value& v, std::string* out) {
  if (const auto* s = v.if_string()) {
    AppendQuoted(*s, out);
  } else if (const auto* o = v.if_object()) {
    AppendObject(*o, out);
  } else if (const auto* a = v.if_array()) {
    out->push_back('[');
    bool first = true;
    for (const auto& e : *a) {
      if (!first) out->push_back(',');
      first = false;
      AppendValue(e, out);
    }
    out->push_back(']');
  } else {
    out->append(boost::json::serialize(v));  // numbers, booleans, null
  }
}
void AppendObject(const boost::json::object& o, std::string* out) {
  ObjectWriter w(out);
  for (const auto& kv : o) {
    w.Key(kv.key());
    AppendValue(kv.value(), out);
  }
  w.Close();
}

// SanitizeObject(o), serialized.
void AppendData(const boost::json::object& o, std::string* out) {
  if (KeysAreValidUtf8(o)) {
    AppendObject(o, out);
  } else {
    out->append(boost::json::serialize(SanitizeObject(o)));
  }
}

}  // namespace

void AppendJson(const Event& event, std::string* out) {
  ObjectWriter j(out);
  j.Raw("eventVersion", std::to_string(kEventVersion));
  j.StringIfSet("id", event.id);
  j.Raw("typeURI", "\"http://schemas.dmtf.org/cloud/audit/1.0/event\"");
  j.String("eventTime", event.event_time);
  j.String("action", event.action);
  j.String("outcome", event.outcome);
  j.StringIfSet("message", event.message);
  j.String("severity", event.severity);

  j.Name("initiator");
  {
    ObjectWriter initiator(out);
    initiator.StringIfSet("id", event.initiator.id);
    initiator.StringIfSet("name", event.initiator.name);
    initiator.StringIfSet("typeURI", event.initiator.type_uri);
    if (!event.initiator.credential_type.empty()) {
      initiator.Name("credential");
      ObjectWriter credential(out);
      credential.String("type", event.initiator.credential_type);
      credential.Close();
    }
    if (!event.initiator.host_address.empty() || !event.initiator.host_address_type.empty() ||
        !event.initiator.host_agent.empty()) {
      initiator.Name("host");
      ObjectWriter host(out);
      host.StringIfSet("address", event.initiator.host_address);
      host.StringIfSet("addressType", event.initiator.host_address_type);
      host.StringIfSet("agent", event.initiator.host_agent);
      host.Close();
    }
    initiator.Close();
  }

  j.Name("target");
  {
    ObjectWriter target(out);
    target.StringIfSet("id", event.target.id);
    target.StringIfSet("name", event.target.name);
    target.StringIfSet("typeURI", event.target.type_uri);
    if (!event.target.host_address.empty()) {
      target.Name("host");
      ObjectWriter host(out);
      host.String("address", event.target.host_address);
      host.Close();
    }
    target.Close();
  }

  j.Raw("observer", R"({"name":"ActivityTracker","typeURI":"security/edge/activity-tracker"})");

  if (event.reason_code != 0 || !event.reason_type.empty() || !event.reason_for_failure.empty()) {
    j.Name("reason");
    ObjectWriter reason(out);
    if (event.reason_code != 0) reason.Raw("reasonCode", std::to_string(event.reason_code));
    reason.StringIfSet("reasonType", event.reason_type);
    reason.StringIfSet("reasonForFailure", event.reason_for_failure);
    reason.Close();
  }

  j.StringIfSet("requestPath", event.request_path);
  j.StringIfSet("method", event.method);
  if (!event.request_data.empty()) {
    j.Name("requestData");
    AppendData(event.request_data, out);
  }
  if (!event.response_data.empty()) {
    j.Name("responseData");
    AppendData(event.response_data, out);
  }
  j.StringIfSet("correlationId", event.correlation_id);
  j.Raw("dataEvent", event.data_event ? "true" : "false");
  j.Raw("saveServiceCopy", event.save_service_copy ? "true" : "false");
  j.StringIfSet("logSourceCRN", event.log_source_crn);
  j.Close();
}

boost::json::object ToJson(const Event& event) {
  boost::json::object j;
  j["eventVersion"] = kEventVersion;
  PutIfSet(j, "id", event.id);
  j["typeURI"] = "http://schemas.dmtf.org/cloud/audit/1.0/event";
  j["eventTime"] = SanitizeUtf8(event.event_time);
  j["action"] = SanitizeUtf8(event.action);
  j["outcome"] = SanitizeUtf8(event.outcome);
  PutIfSet(j, "message", event.message);
  j["severity"] = SanitizeUtf8(event.severity);

  // initiator, target and observer are CADF's required core: always present, even when a
  // rejected request left their fields empty.
  boost::json::object initiator;
  PutIfSet(initiator, "id", event.initiator.id);
  PutIfSet(initiator, "name", event.initiator.name);
  PutIfSet(initiator, "typeURI", event.initiator.type_uri);
  if (!event.initiator.credential_type.empty()) {
    initiator["credential"] = {{"type", SanitizeUtf8(event.initiator.credential_type)}};
  }
  boost::json::object host;
  PutIfSet(host, "address", event.initiator.host_address);
  PutIfSet(host, "addressType", event.initiator.host_address_type);
  PutIfSet(host, "agent", event.initiator.host_agent);
  if (!host.empty()) initiator["host"] = std::move(host);
  j["initiator"] = std::move(initiator);

  boost::json::object target;
  PutIfSet(target, "id", event.target.id);
  PutIfSet(target, "name", event.target.name);
  PutIfSet(target, "typeURI", event.target.type_uri);
  if (!event.target.host_address.empty()) {
    target["host"] = {{"address", SanitizeUtf8(event.target.host_address)}};
  }
  j["target"] = std::move(target);

  j["observer"] = {{"name", "ActivityTracker"}, {"typeURI", "security/edge/activity-tracker"}};

  boost::json::object reason;
  if (event.reason_code != 0) reason["reasonCode"] = event.reason_code;
  PutIfSet(reason, "reasonType", event.reason_type);
  PutIfSet(reason, "reasonForFailure", event.reason_for_failure);
  if (!reason.empty()) j["reason"] = std::move(reason);

  PutIfSet(j, "requestPath", event.request_path);
  PutIfSet(j, "method", event.method);
  if (!event.request_data.empty()) j["requestData"] = SanitizeObject(event.request_data);
  if (!event.response_data.empty()) j["responseData"] = SanitizeObject(event.response_data);
  PutIfSet(j, "correlationId", event.correlation_id);
  j["dataEvent"] = event.data_event;
  j["saveServiceCopy"] = event.save_service_copy;
  PutIfSet(j, "logSourceCRN", event.log_source_crn);
  return j;
}

}  // namespace veil::audit
