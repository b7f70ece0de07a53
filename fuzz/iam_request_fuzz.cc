// Fuzz target for every parser of IAM request bytes (src/iam/api/parse.h, src/iam/policy.h), the
// same functions the handlers call: the token request's form body (POST /identity/token), page
// queries, the JSON bodies of service IDs, API keys, updates, resource instances, resource keys,
// accounts, policies and /v2/authz batches, and an authz item's accessTokenBody. JSON goes through
// http::ParseJson, as ParseJsonBody reads it.
//
// Input: byte 0 selects the parser (fuzz/request_fuzz_support.h), the rest is its text.
// Properties: no exception escapes; a form has at most 32 fields, none with a NUL, and re-encoded
// reads the same; a page size is 1 to 100; required fields are not empty; store_value is never
// accepted true; a resource key's role is Reader, Writer or Manager; an authz batch has 1 to 100
// items; a policy, rendered with PolicySpecToJson, parses to the same rendering.
//
// Two builds from this one file, as luks_header_fuzz.cc: a libFuzzer binary (`make fuzz`,
// docs/fuzzing.md) and, by default, a plain program replaying fuzz/corpus/iam/ (ctest
// iam_api.request_fuzz_corpus, label unit). fuzz/api_corpus_gen.py writes the corpus.
#include <boost/json/serialize.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "http/json_body.h"
#include "iam/api/parse.h"
#include "iam/policy.h"
#include "request_fuzz_support.h"

namespace {

using veil::fuzz::Check;
namespace api = veil::iam::api;

std::string Encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if ((u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9')) {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 15]);
    }
  }
  return out;
}

void Form(std::string_view body) {
  auto form = api::ParseForm(body);
  if (!form) return;
  Check(form->size() <= 32, "a form has at most 32 fields");
  std::string again;
  for (const auto& [name, value] : *form) {
    Check(name.find('\0') == std::string::npos && value.find('\0') == std::string::npos,
          "form fields hold no NUL");
    again += (again.empty() ? "" : "&") + Encode(name) + "=" + Encode(value);
  }
  auto reparsed = api::ParseForm(again);
  Check(reparsed && *reparsed == *form, "a re-encoded form reads the same");
  // The token request reads these two, as IssueToken does.
  (void)api::FindField(*form, "grant_type");
  (void)api::FindField(*form, "apikey");
}

void Page(std::string_view query) {
  auto form = api::ParseForm(query);
  if (!form) return;
  auto page = api::ParsePageQuery(*form);
  if (page) Check(page->size >= 1 && page->size <= 100, "a page size is 1 to 100");
}

void Body(uint8_t which, std::string_view text) {
  auto json = veil::http::ParseJson(text);
  if (!json) return;
  const boost::json::value& v = *json;
  switch (which) {
    case 0:
      if (auto s = api::ParseServiceIdCreate(v, "a/caller")) {
        Check(!s->name.empty() && !s->account_id.empty(), "a service ID has a name and account");
      }
      break;
    case 1:
      if (auto u = api::ParseUpdate(v)) Check(u->name || u->description, "an update changes");
      break;
    case 2:
      if (auto k = api::ParseApiKeyCreate(v, "iam-caller")) {
        Check(!k->spec.name.empty() && !k->spec.iam_id.empty(), "an API key has a name, owner");
        const auto* store = v.as_object().if_contains("store_value");
        Check(store == nullptr || (store->is_bool() && !store->get_bool()),
              "store_value true is never accepted");
      }
      break;
    case 3:
      if (auto i = api::ParseInstanceCreate(v, "a/caller")) {
        Check(!i->name.empty() && !i->resource_id.empty(), "an instance has a name, resource");
      }
      break;
    case 4:
      if (auto a = api::ParseAccountCreate(v)) Check(!a->name.empty(), "an account has a name");
      break;
    case 5:
      if (auto batch = api::ParseAuthzBatch(v)) {
        Check(!batch->empty() && batch->size() <= 100, "a batch has 1 to 100 items");
        for (const auto& item : *batch) {
          if (!item) continue;
          Check(!item->action.empty() && !item->resource_account.empty(),
                "an item has an action and an account");
          if (!item->access_token_body.empty())
            (void)api::AccessTokenSubject(item->access_token_body);
        }
      }
      break;
    case 7:
      if (auto k = api::ParseResourceKeyCreate(v, "a/caller")) {
        Check(!k->name.empty() && !k->source.empty(), "a resource key has a name and a source");
        Check(k->role == "Reader" || k->role == "Writer" || k->role == "Manager",
              "a resource key's role is Reader, Writer or Manager");
      }
      break;
    default:  // 6
      if (auto p = veil::iam::ParsePolicySpec(v)) {
        const std::string rendered = boost::json::serialize(veil::iam::PolicySpecToJson(*p));
        auto again = veil::iam::ParsePolicySpec(veil::iam::PolicySpecToJson(*p));
        Check(again.has_value(), "a rendered policy parses");
        Check(boost::json::serialize(veil::iam::PolicySpecToJson(*again)) == rendered,
              "a policy renders the same after a round trip");
      }
      break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  veil::fuzz::Selected in;
  if (!veil::fuzz::Select(data, size, 11, &in)) return 0;
  switch (in.parser) {
    case 0:
      Form(in.rest);
      break;
    case 1:
      Page(in.rest);
      break;
    case 2:
      (void)api::AccessTokenSubject(in.rest);
      break;
    default:
      Body(static_cast<uint8_t>(in.parser - 3), in.rest);
      break;
  }
  return 0;
}

#ifndef VEIL_LIBFUZZER
#include "replay_main.h"

int main(int argc, char** argv) {
  return veil::fuzz::ReplayRequestCorpus(argc, argv, "iam_request_fuzz");
}
#endif
