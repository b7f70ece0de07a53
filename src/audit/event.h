// The CADF-shaped audit event as Activity Tracker shapes it (docs/api-compatibility.md).
//
// The HTTP layer creates one Event per request, fills the transport fields (initiator host,
// requestPath, reason code, correlationId) and lets the service's handler fill the rest (action,
// target, message, requestData/responseData). An event never carries key material, tokens,
// passphrases, Authorization headers or signatures: services put ids and fingerprints only.
//
// Thread-safety: a value type.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <string>

namespace veil::audit {

struct Initiator {
  std::string id;        // iam_id, service CRN, or "anonymous"
  std::string name;      // user name / service name
  std::string type_uri;  // service/security/account/user|serviceid, service/security/clientid
  std::string credential_type;    // token|user|apikey|certificate (empty when none)
  std::string host_address;       // client IP
  std::string host_address_type;  // IPv4|IPv6
  std::string host_agent;         // User-Agent
};

struct Target {
  std::string id;  // a CRN
  std::string name;
  std::string type_uri;  // service/objectType, e.g. kms/secrets
  std::string host_address;
};

struct Event {
  std::string id;          // UUIDv4, set by the emitter
  std::string action;      // serviceName.objectType.action, e.g. kms.secrets.wrap
  std::string event_time;  // YYYY-MM-DDTHH:mm:ss.SS+0000 (UTC)
  Initiator initiator;
  Target target;
  std::string outcome;      // success|pending|failure
  int reason_code = 0;      // HTTP status
  std::string reason_type;  // e.g. "Not Found"
  std::string reason_for_failure;
  std::string severity = "normal";  // normal|warning|critical
  std::string message;              // "<Service>: <description>[ -failure]"
  std::string request_path;
  std::string method;
  std::string correlation_id;
  bool data_event = false;
  bool save_service_copy = true;
  std::string log_source_crn;
  boost::json::object request_data;   // service-defined, never secrets
  boost::json::object response_data;  // service-defined, never secrets
};

// Version of the JSON produced by ToJson ("eventVersion"); docs/formats/audit-event.md.
inline constexpr int kEventVersion = 1;

// The event as Activity Tracker's JSON (typeURI, observer, eventTime, ... ), field order and
// omission rules as in docs/formats/audit-event.md: "eventVersion", "typeURI", "eventTime",
// "action", "outcome", "severity", "initiator", "target", "observer", "dataEvent" and
// "saveServiceCopy" are always present; every other field is left out when empty (a string ""
// or reason_code 0). Strings that are not valid UTF-8 have each bad byte replaced by U+FFFD, so
// the result always serializes to valid JSON. Pure; never fails.
// Set event_time with FormatAuditTime() from common/time.h.
boost::json::object ToJson(const Event& event);

// Appends boost::json::serialize(ToJson(event)) to `*out`, byte for byte, without building the
// object: the audit sink writes one event per request, and building then serializing the object
// cost more than the rest of the sink. Pure; never fails.
void AppendJson(const Event& event, std::string* out);

}  // namespace veil::audit
