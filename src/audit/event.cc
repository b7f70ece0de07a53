#include "audit/event.h"

#include <boost/json/array.hpp>
#include <boost/json/value.hpp>
#include <string>
#include <string_view>

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

}  // namespace

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
