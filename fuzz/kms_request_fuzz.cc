// Fuzz target for every parser of Key Protect request bytes (src/kms/api/parse.h), the functions
// the KMS handlers call, and the parsers they reach with client text: ParseWdek (the ciphertext
// of unwrap and rewrap), ParseIpBlock (allowedIP blocks) and ParseRfc3339 (expirationDate).
// JSON bodies go through http::ParseJson and queries through http::ParseTarget, as a request is
// read.
//
// Input: byte 0 selects the parser (fuzz/request_fuzz_support.h), the rest is its text: a JSON
// body, a query string (what follows '?'), a WDEK, a CIDR block or a time.
// Properties: no exception escapes, and nothing is accepted that a later step would choke on:
// list limits and offsets, aad counts and lengths, rotation intervals (0-12) are in range;
// instance policy data reads back (parses, validates, and is the same value); a WDEK or a time
// renders back to the same value; an IP block holds no NUL and a prefix within its family's.
//
// Two builds from this one file, as luks_header_fuzz.cc: a libFuzzer binary (`make fuzz`,
// docs/fuzzing.md) and, by default, a plain program replaying fuzz/corpus/kms/ (ctest
// kms_api.request_fuzz_corpus, label unit). fuzz/api_corpus_gen.py writes the corpus.
#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/time.h"
#include "http/json_body.h"
#include "http/request.h"
#include "kms/api/parse.h"
#include "kms/instance_policy.h"
#include "kms/ip_filter.h"
#include "kms/wdek.h"
#include "request_fuzz_support.h"

namespace {

using veil::fuzz::Check;
namespace api = veil::kms::api;

// A body as ReadOptionalJson gives it: empty text is no body; malformed JSON never reaches the
// parsers (false).
bool ReadBody(std::string_view text, api::OptionalBody* out) {
  if (text.empty()) {
    out->reset();
    return true;
  }
  auto v = veil::http::ParseJson(text);
  if (!v) return false;
  *out = std::move(*v);
  return true;
}

void Aad(const std::vector<std::string>& aad) {
  Check(aad.size() <= veil::kms::kMaxAadEntries, "at most 255 aad strings");
  for (const std::string& s : aad) Check(s.size() <= veil::kms::kMaxAadEntryLength, "aad length");
}

void Wdek(std::string_view text) {
  auto w = veil::kms::ParseWdek(text);
  if (!w) return;
  Check(w->iv.size() == veil::kms::kWdekIvSize, "a WDEK's iv is 12 bytes");
  Check(w->sealed.size() > veil::kms::kWdekTagSize, "a WDEK holds a tag and a key");
  Check(veil::kms::FormatWdek(*w) == text, "a WDEK has one spelling");
}

void Body(uint8_t which, const api::OptionalBody& body) {
  switch (which) {
    case 0:
      if (auto spec = api::ParseCreateKey(body); spec && spec->expires_at) {
        const std::string text =
            veil::FormatRfc3339(*spec->expires_at, veil::TimePrecision::kNanos);
        auto again = veil::ParseRfc3339(text);
        Check(again && *again == *spec->expires_at, "an expiration renders back");
      }
      break;
    case 1:
      (void)api::ParseKeyRingPatch(body);
      break;
    case 2:
      (void)api::ParseRestore(body);
      break;
    case 3:
      if (auto wrap = api::ParseWrap(body)) {
        Aad(wrap->aad);
        if (wrap->plaintext) (void)wrap->plaintext->size();
      }
      break;
    case 4:
      if (auto unwrap = api::ParseCiphertextRequest(body)) {
        Check(!unwrap->ciphertext.empty(), "a ciphertext is not empty");
        Aad(unwrap->aad);
        Wdek(unwrap->ciphertext);
      }
      break;
    case 5:
      (void)api::ParseRotate(body);
      break;
    case 6:
      for (std::string_view which_policy : {"", "rotation", "dualAuthDelete"}) {
        auto updates = api::ParseKeyPolicies(body, which_policy);
        if (!updates) continue;
        Check(!updates->empty() && updates->size() <= 2, "1 or 2 key policies");
        for (const auto& u : *updates) {
          if (u.interval_month) {
            Check(*u.interval_month >= 0 && *u.interval_month <= 12, "an interval is 0 to 12");
          }
        }
      }
      break;
    case 7:
      if (auto updates = api::ParseInstancePolicies(body, "")) {
        Check(!updates->empty(), "at least one instance policy");
        const boost::json::array& resources = body->get_object().at("resources").get_array();
        Check(updates->size() == resources.size(), "one update per resource");
        for (size_t i = 0; i < updates->size(); ++i) {
          const veil::kms::InstancePolicyUpdate& u = (*updates)[i];
          Check(veil::kms::IsInstancePolicyType(u.type), "a known policy type");
          // What is stored and shown reads back to the same policy.
          auto again =
              veil::kms::ParseInstancePolicyData(u.type, veil::kms::InstancePolicyDataText(u.data));
          Check(again.has_value() && *again == u.data, "policy data reads back the same");
          const boost::json::value& given = resources[i].get_object().at("policy_data");
          Check(given.at("enabled").as_bool() == u.data.enabled, "enabled as given");
        }
      }
      break;
    case 8:
      (void)api::ParseRegistration(body);
      break;
    default:
      (void)api::ParseImportTokenCreate(body);
      break;
  }
}

void Query(uint8_t which, std::string_view text) {
  auto target = veil::http::ParseTarget("/api/v2/keys?" + std::string(text));
  if (!target) return;
  const api::QueryParams& q = target->query;
  switch (which) {
    case 0:
      if (auto o = api::ParseListKeysQuery(q)) {
        Check(o->limit >= 1 && o->limit <= api::kMaxListLimit, "a list limit is 1 to 5000");
        Check(o->offset >= 0 && o->offset <= INT64_MAX / 2, "an offset is in range");
        // The handler pages with offset + limit.
        Check(o->offset + o->limit > o->offset, "offset + limit does not overflow");
      }
      break;
    case 1:
      if (auto r = api::ParseRegistrationQuery(q)) {
        Check(r->limit >= 0 && r->limit <= api::kMaxListLimit, "a registration limit is 0-5000");
        Check(r->offset >= 0 && r->offset <= INT64_MAX / 2, "an offset is in range");
      }
      break;
    default:
      (void)api::PolicyQuery(q, {"rotation", "dualAuthDelete"});
      (void)api::ParseConfirmOutsideAllowedIp(q);
      (void)api::BoolQuery(q, "force");
      (void)api::IntQuery(q, "limit", 200, 1, api::kMaxListLimit);
      break;
  }
}

void IpBlock(std::string_view text) {
  auto block = veil::kms::ParseIpBlock(text);
  if (!block) return;
  Check(text.find('\0') == std::string_view::npos, "an IP block holds no NUL");
  Check(block->prefix >= 0 && block->prefix <= (block->v6 ? 128 : 32), "a prefix is in range");
  (void)veil::kms::IpAllowed({*block}, "10.1.2.3");
  (void)veil::kms::IpAllowed({*block}, "2001:db8::1");
}

void Time(std::string_view text) {
  auto t = veil::ParseRfc3339(text);
  if (!t) return;
  auto again = veil::ParseRfc3339(veil::FormatRfc3339(*t, veil::TimePrecision::kNanos));
  Check(again && *again == *t, "a time renders back");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // 10 bodies, 3 queries, WDEK, IP block, time.
  veil::fuzz::Selected in;
  if (!veil::fuzz::Select(data, size, 16, &in)) return 0;
  if (in.parser < 10) {
    api::OptionalBody body;
    if (ReadBody(in.rest, &body)) Body(in.parser, body);
  } else if (in.parser < 13) {
    Query(static_cast<uint8_t>(in.parser - 10), in.rest);
  } else if (in.parser == 13) {
    Wdek(in.rest);
  } else if (in.parser == 14) {
    IpBlock(in.rest);
  } else {
    Time(in.rest);
  }
  return 0;
}

#ifndef VEIL_LIBFUZZER
#include "replay_main.h"

int main(int argc, char** argv) {
  return veil::fuzz::ReplayRequestCorpus(argc, argv, "kms_request_fuzz");
}
#endif
