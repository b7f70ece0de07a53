// End-to-end: `veil kms ...` against the built veild (its KMS on port base+2 over a SoftHSM2 token
// under DATA/hsm): root keys, wrap/unwrap with aad, rotation and rewrapped ciphertexts, the
// lifecycle and its exit codes, plain and secure import of known key material, standard key
// payloads, policies, the import token, the profile's default instance, and no key material in
// any output, log or audit event that was not asked for.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "e2e/process.h"
#include "e2e/veild_fixture.h"

namespace veil::testing {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

std::string Base64(const std::string& bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (size_t i = 0; i < bytes.size(); i += 3) {
    uint32_t n = static_cast<uint8_t>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) n |= static_cast<uint8_t>(bytes[i + 1]) << 8;
    if (i + 2 < bytes.size()) n |= static_cast<uint8_t>(bytes[i + 2]);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += i + 1 < bytes.size() ? kAlphabet[(n >> 6) & 63] : '=';
    out += i + 2 < bytes.size() ? kAlphabet[n & 63] : '=';
  }
  return out;
}

std::string Hex(const std::string& bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

std::string S(const json::value& v, std::string_view name) {
  return std::string(v.at(name).as_string());
}

// Known key material: 32 bytes that are not text, so they are found only where they really are.
const std::string kImportedKey = [] {
  std::string k;
  for (int i = 0; i < 32; ++i) k += static_cast<char>((i * 37 + 11) & 0xff);
  return k;
}();
const std::string kRotatedKey = [] {
  std::string k;
  for (int i = 0; i < 32; ++i) k += static_cast<char>((i * 53 + 200) & 0xff);
  return k;
}();
const std::string kStandardPayload = "standard-key-payload:\x01\x02\x03 not a root key";
const std::string kKnownDek = "0123456789abcdef0123456789ABCDEF";

class KmsCliTest : public VeildTest {
 protected:
  void SetUp() override {
    // Not a skip: make deps installs SoftHSM2, and a skipped test must not count as passed.
    ASSERT_TRUE(fs::exists("/usr/lib/softhsm/libsofthsm2.so"))
        << "SoftHSM2 (Debian's softhsm2) is not installed: veild's KMS needs it (make deps)";
    VeildTest::SetUp();
    Start();
    ASSERT_EQ(Veil({"login", "--apikey-file", data() + "/admin-apikey"}).exit_code, 0);
    auto instance =
        VeilJson({"resource", "instance", "create", "keys", "--service", "kms", "--use"});
    instance_ = S(instance, "guid");
  }

  // Runs veil as `who` (its own VEIL_HOME); every output is kept for the leak check.
  ProcessResult Veil(std::vector<std::string> args, const std::string& who = "admin") {
    std::vector<std::string> argv = {kBin + "/veil", "--endpoint", endpoint()};
    argv.insert(argv.end(), args.begin(), args.end());
    ProcessResult r =
        RunProcess(argv, std::chrono::seconds(60), {"VEIL_HOME=" + dir_ + "/home-" + who});
    outputs_.push_back(r.output);
    return r;
  }

  // As Veil(), with standard output alone in `output` and standard error in `*err`.
  ProcessResult VeilStdout(std::vector<std::string> args, const std::string& who,
                           std::string* err) {
    const std::string err_file = dir_ + "/stderr-" + who;
    std::vector<std::string> argv = {"/bin/sh", "-c",           "exec \"$@\" 2>\"$ERR_FILE\"",
                                     "sh",      kBin + "/veil", "--endpoint",
                                     endpoint()};
    argv.insert(argv.end(), args.begin(), args.end());
    ProcessResult r = RunProcess(argv, std::chrono::seconds(60),
                                 {"VEIL_HOME=" + dir_ + "/home-" + who, "ERR_FILE=" + err_file});
    *err = ReadFile(err_file);
    outputs_.push_back(r.output + *err);
    return r;
  }

  json::value VeilJson(std::vector<std::string> args) {
    args.insert(args.begin(), {"--output", "json"});
    ProcessResult r = Veil(args);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    boost::system::error_code ec;
    json::value v = json::parse(r.output, ec);
    EXPECT_FALSE(ec) << r.output;
    return v;
  }

  std::string WriteFile(const std::string& name, const std::string& content) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
    return path;
  }

  std::string CreateRootKey(const std::string& name) {
    return S(VeilJson({"kms", "key", "create", name}), "id");
  }

  std::string instance_;
  std::vector<std::string> outputs_;
};

TEST_F(KmsCliTest, RootKeyWrapsAndUnwrapsWithAad) {
  auto key = VeilJson({"kms", "key", "create", "image-crk", "--alias", "images", "--description",
                       "encrypted images"});
  const std::string id = S(key, "id");
  EXPECT_EQ(key.at("extractable").as_bool(), false);
  EXPECT_EQ(key.at("state").as_int64(), 1);

  // The KMS generates the DEK and returns it with its wrapped form.
  auto wrapped = VeilJson({"kms", "wrap", "images", "--aad", "image:centos", "--aad", "v1"});
  const std::string dek = S(wrapped, "plaintext");
  const std::string wdek = S(wrapped, "ciphertext");
  EXPECT_EQ(dek.size(), 44u);  // base64 of 32 bytes
  EXPECT_EQ(S(wrapped.at("keyVersion"), "id"), S(key.at("keyVersion"), "id"));

  auto unwrapped =
      VeilJson({"kms", "unwrap", id, "--ciphertext", wdek, "--aad", "image:centos", "--aad", "v1"});
  EXPECT_EQ(S(unwrapped, "plaintext"), dek);
  EXPECT_FALSE(unwrapped.as_object().contains("ciphertext")) << unwrapped;

  // The ciphertext from a file, and the table output.
  const std::string wdek_file = WriteFile("image.wdek", wdek + "\n");
  ProcessResult table = Veil({"kms", "unwrap", "images", "--ciphertext-file", wdek_file, "--aad",
                              "image:centos", "--aad", "v1"});
  ASSERT_EQ(table.exit_code, 0) << table.output;
  EXPECT_TRUE(Contains(table.output, "Plaintext:")) << table.output;
  EXPECT_TRUE(Contains(table.output, dek)) << table.output;

  // Another aad list, or none: 422 UNPROCESSABLE_CIPHERTEXT_ERR, exit 7.
  for (std::vector<std::string> aad :
       {std::vector<std::string>{"--aad", "image:centos"},
        std::vector<std::string>{"--aad", "v1", "--aad", "image:centos"},
        std::vector<std::string>{}}) {
    std::vector<std::string> args = {"kms", "unwrap", id, "--ciphertext", wdek};
    args.insert(args.end(), aad.begin(), aad.end());
    ProcessResult r = Veil(args);
    EXPECT_EQ(r.exit_code, 7) << r.output;
    EXPECT_TRUE(Contains(r.output, "UNPROCESSABLE_CIPHERTEXT_ERR")) << r.output;
    EXPECT_FALSE(Contains(r.output, dek)) << r.output;
  }

  // A DEK of our own, from a file (raw bytes) and as base64.
  const std::string dek_file = WriteFile("known.dek", kKnownDek);
  auto mine = VeilJson({"kms", "wrap", id, "--plaintext-file", dek_file});
  EXPECT_FALSE(mine.as_object().contains("plaintext")) << mine;
  auto back = VeilJson({"kms", "unwrap", id, "--ciphertext", S(mine, "ciphertext")});
  EXPECT_EQ(S(back, "plaintext"), Base64(kKnownDek));
  auto b64 = VeilJson({"kms", "wrap", id, "--plaintext-b64", Base64(kKnownDek), "--aad", "x"});
  auto back2 = VeilJson({"kms", "unwrap", id, "--ciphertext", S(b64, "ciphertext"), "--aad", "x"});
  EXPECT_EQ(S(back2, "plaintext"), Base64(kKnownDek));
}

TEST_F(KmsCliTest, RotationKeepsOldCiphertextsAndUnwrapReturnsTheRewrappedOne) {
  const std::string id = CreateRootKey("rotating");
  auto wrapped = VeilJson({"kms", "wrap", id, "--aad", "a"});
  const std::string dek = S(wrapped, "plaintext");
  const std::string old_wdek = S(wrapped, "ciphertext");
  const std::string v1 = S(wrapped.at("keyVersion"), "id");

  auto rotated = VeilJson({"kms", "key", "rotate", id});
  const std::string v2 = S(rotated.at("keyVersion"), "id");
  EXPECT_NE(v1, v2);
  auto versions = VeilJson({"kms", "key", "versions", id});
  ASSERT_EQ(versions.at("resources").as_array().size(), 2u) << versions;

  auto unwrapped = VeilJson({"kms", "unwrap", id, "--ciphertext", old_wdek, "--aad", "a"});
  EXPECT_EQ(S(unwrapped, "plaintext"), dek);
  EXPECT_EQ(S(unwrapped.at("keyVersion"), "id"), v1);
  ASSERT_TRUE(unwrapped.as_object().contains("ciphertext")) << unwrapped;
  EXPECT_EQ(S(unwrapped.at("rewrappedKeyVersion"), "id"), v2);
  const std::string new_wdek = S(unwrapped, "ciphertext");
  EXPECT_NE(new_wdek, old_wdek);
  auto again = VeilJson({"kms", "unwrap", id, "--ciphertext", new_wdek, "--aad", "a"});
  EXPECT_EQ(S(again, "plaintext"), dek);
  EXPECT_FALSE(again.as_object().contains("ciphertext")) << again;

  ProcessResult table = Veil({"kms", "unwrap", id, "--ciphertext", old_wdek, "--aad", "a"});
  ASSERT_EQ(table.exit_code, 0) << table.output;
  EXPECT_TRUE(Contains(table.output, "Rewrapped ciphertext:")) << table.output;

  // rewrap: the old ciphertext under the newest version, without the DEK.
  auto rewrapped = VeilJson({"kms", "rewrap", id, "--ciphertext", old_wdek, "--aad", "a"});
  EXPECT_FALSE(rewrapped.as_object().contains("plaintext")) << rewrapped;
  EXPECT_EQ(S(rewrapped.at("rewrappedKeyVersion"), "id"), v2);
  auto third =
      VeilJson({"kms", "unwrap", id, "--ciphertext", S(rewrapped, "ciphertext"), "--aad", "a"});
  EXPECT_EQ(S(third, "plaintext"), dek);
}

TEST_F(KmsCliTest, ADisabledKeyRefusesWrapUntilEnabled) {
  const std::string id = CreateRootKey("switch");
  auto wrapped = VeilJson({"kms", "wrap", id});
  auto disabled = VeilJson({"kms", "key", "disable", id});
  EXPECT_EQ(disabled.at("state").as_int64(), 2);
  ProcessResult show = Veil({"kms", "key", "show", id});
  ASSERT_EQ(show.exit_code, 0) << show.output;
  EXPECT_TRUE(Contains(show.output, "Suspended")) << show.output;

  ProcessResult wrap = Veil({"kms", "wrap", id});
  EXPECT_EQ(wrap.exit_code, 6) << wrap.output;
  EXPECT_TRUE(Contains(wrap.output, "KEY_ACTION_INVALID_STATE_ERR")) << wrap.output;
  EXPECT_TRUE(Contains(wrap.output, "HTTP 409")) << wrap.output;
  ProcessResult unwrap = Veil({"kms", "unwrap", id, "--ciphertext", S(wrapped, "ciphertext")});
  EXPECT_EQ(unwrap.exit_code, 6) << unwrap.output;
  ProcessResult again = Veil({"kms", "key", "disable", id});
  EXPECT_EQ(again.exit_code, 6) << again.output;

  ProcessResult enable = Veil({"kms", "key", "enable", id});
  ASSERT_EQ(enable.exit_code, 0) << enable.output;
  EXPECT_TRUE(Contains(enable.output, "Enabled key " + id)) << enable.output;
  EXPECT_TRUE(Contains(enable.output, "state Active")) << enable.output;
  auto after = VeilJson({"kms", "unwrap", id, "--ciphertext", S(wrapped, "ciphertext")});
  EXPECT_EQ(S(after, "plaintext"), S(wrapped, "plaintext"));
}

TEST_F(KmsCliTest, ImportedKeysWrapAndUnwrapPlainAndSecure) {
  const std::string key_file = WriteFile("crk.bin", kImportedKey);
  auto plain = VeilJson({"kms", "key", "import", "imported-plain", "--key-file", key_file});
  EXPECT_EQ(plain.at("imported").as_bool(), true);
  EXPECT_EQ(plain.at("extractable").as_bool(), false);
  auto secure = VeilJson({"kms", "key", "import", "imported-secure", "--key-file", key_file,
                          "--secure", "--alias", "secure-crk"});
  EXPECT_EQ(secure.at("imported").as_bool(), true);
  // Again: the token made for the first secure import is used up; veil makes a new one.
  auto secure2 = VeilJson(
      {"kms", "key", "import", "imported-b64", "--key-b64", Base64(kImportedKey), "--secure"});

  for (const std::string& id : {S(plain, "id"), S(secure, "id"), S(secure2, "id")}) {
    auto w = VeilJson({"kms", "wrap", id, "--plaintext-b64", Base64(kKnownDek), "--aad", "img"});
    auto u = VeilJson({"kms", "unwrap", id, "--ciphertext", S(w, "ciphertext"), "--aad", "img"});
    EXPECT_EQ(S(u, "plaintext"), Base64(kKnownDek)) << id;
  }

  // An imported key rotates only with new material.
  ProcessResult bare = Veil({"kms", "key", "rotate", "secure-crk"});
  EXPECT_NE(bare.exit_code, 0) << bare.output;
  const std::string new_file = WriteFile("crk2.bin", kRotatedKey);
  auto w = VeilJson({"kms", "wrap", "secure-crk"});
  auto rotated =
      VeilJson({"kms", "key", "rotate", "secure-crk", "--key-file", new_file, "--secure"});
  EXPECT_NE(S(rotated.at("keyVersion"), "id"), S(secure.at("keyVersion"), "id"));
  auto u = VeilJson({"kms", "unwrap", "secure-crk", "--ciphertext", S(w, "ciphertext")});
  EXPECT_EQ(S(u, "plaintext"), S(w, "plaintext"));
  EXPECT_TRUE(u.as_object().contains("ciphertext")) << u;

  // Material that is not an AES key is refused before anything is sent.
  const std::string odd = WriteFile("odd.bin", "twenty bytes of key!");
  ProcessResult bad = Veil({"kms", "key", "import", "odd", "--key-file", odd, "--secure"});
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
  ProcessResult none = Veil({"kms", "key", "import", "none"});
  EXPECT_EQ(none.exit_code, 2) << none.output;

  // The key material appears nowhere: not in any output, the log, the audit trail or a file
  // of the data directory.
  daemon_->Stop(SIGTERM);
  std::vector<std::string> needles;
  for (const std::string& k : {kImportedKey, kRotatedKey}) {
    needles.push_back(k);
    needles.push_back(Base64(k));
    needles.push_back(Hex(k));
  }
  for (const std::string& needle : needles) {
    for (const std::string& out : outputs_) EXPECT_FALSE(Contains(out, needle)) << out;
  }
  for (const auto& entry : fs::recursive_directory_iterator(dir_)) {
    if (!entry.is_regular_file() || entry.path().filename() == "crk.bin" ||
        entry.path().filename() == "crk2.bin") {
      continue;
    }
    const std::string content = ReadFile(entry.path().string());
    for (const std::string& needle : needles) {
      EXPECT_FALSE(Contains(content, needle)) << entry.path() << " holds the key material";
    }
  }
}

TEST_F(KmsCliTest, StandardKeyShowsItsPayloadOnlyWhenAsked) {
  const std::string file = WriteFile("standard.bin", kStandardPayload);
  auto imported =
      VeilJson({"kms", "key", "import", "std-imported", "--standard", "--key-file", file});
  const std::string id = S(imported, "id");
  EXPECT_EQ(imported.at("extractable").as_bool(), true);
  EXPECT_FALSE(imported.as_object().contains("payload"));

  auto meta = VeilJson({"kms", "key", "show", id});
  EXPECT_FALSE(meta.as_object().contains("payload")) << meta;
  ProcessResult table = Veil({"kms", "key", "show", id});
  ASSERT_EQ(table.exit_code, 0) << table.output;
  EXPECT_FALSE(Contains(table.output, Base64(kStandardPayload))) << table.output;
  EXPECT_TRUE(Contains(table.output, "standard (imported)")) << table.output;

  auto with = VeilJson({"kms", "key", "show", id, "--payload"});
  EXPECT_EQ(S(with, "payload"), Base64(kStandardPayload));
  ProcessResult with_table = Veil({"kms", "key", "show", id, "--payload"});
  ASSERT_EQ(with_table.exit_code, 0) << with_table.output;
  EXPECT_TRUE(Contains(with_table.output, "Payload:")) << with_table.output;
  EXPECT_TRUE(Contains(with_table.output, Base64(kStandardPayload))) << with_table.output;

  auto generated = VeilJson({"kms", "key", "create", "std-generated", "--standard"});
  auto generated_payload = VeilJson({"kms", "key", "show", S(generated, "id"), "--payload"});
  EXPECT_EQ(S(generated_payload, "payload").size(), 44u);

  const std::string root = CreateRootKey("root-no-payload");
  ProcessResult refused = Veil({"kms", "key", "show", root, "--payload"});
  EXPECT_EQ(refused.exit_code, 2) << refused.output;
  EXPECT_TRUE(Contains(refused.output, "root key")) << refused.output;

  auto standard_only = VeilJson({"kms", "key", "list", "--standard"});
  EXPECT_EQ(standard_only.at("resources").as_array().size(), 2u) << standard_only;
}

TEST_F(KmsCliTest, DeletedKeysLeaveTheDefaultListAndRefuseEveryAction) {
  const std::string keep = CreateRootKey("keep");
  const std::string gone = CreateRootKey("gone");
  auto w = VeilJson({"kms", "wrap", gone});
  ProcessResult del = Veil({"kms", "key", "delete", gone});
  ASSERT_EQ(del.exit_code, 0) << del.output;
  EXPECT_TRUE(Contains(del.output, "Deleted key " + gone)) << del.output;
  EXPECT_TRUE(Contains(del.output, "restore until")) << del.output;

  auto active = VeilJson({"kms", "key", "list"});
  ASSERT_EQ(active.at("resources").as_array().size(), 1u) << active;
  EXPECT_EQ(S(active.at("resources").as_array()[0], "id"), keep);
  auto destroyed = VeilJson({"kms", "key", "list", "--state", "5"});
  ASSERT_EQ(destroyed.at("resources").as_array().size(), 1u) << destroyed;
  EXPECT_EQ(S(destroyed.at("resources").as_array()[0], "id"), gone);
  auto all = VeilJson({"kms", "key", "list", "--state", "active,destroyed"});
  EXPECT_EQ(all.at("resources").as_array().size(), 2u) << all;
  ProcessResult table = Veil({"kms", "key", "list", "--state", "0,1,2,3,5"});
  ASSERT_EQ(table.exit_code, 0) << table.output;
  EXPECT_TRUE(Contains(table.output, "Destroyed")) << table.output;
  EXPECT_TRUE(Contains(table.output, "Active")) << table.output;
  auto page = VeilJson({"kms", "key", "list", "--state", "1,5", "--limit", "1", "--offset", "1"});
  EXPECT_EQ(page.at("resources").as_array().size(), 1u) << page;
  ProcessResult bad_state = Veil({"kms", "key", "list", "--state", "4"});
  EXPECT_EQ(bad_state.exit_code, 2) << bad_state.output;

  ProcessResult unwrap = Veil({"kms", "unwrap", gone, "--ciphertext", S(w, "ciphertext")});
  EXPECT_EQ(unwrap.exit_code, 6) << unwrap.output;
  ProcessResult wrap = Veil({"kms", "wrap", gone});
  EXPECT_EQ(wrap.exit_code, 6) << wrap.output;
  // Purge needs the KeyPurge role, which not even the admin has until granted; then it waits 4
  // hours after the deletion.
  ProcessResult denied = Veil({"kms", "key", "purge", gone});
  EXPECT_EQ(denied.exit_code, 4) << denied.output;
  EXPECT_TRUE(Contains(denied.output, "UNAUTHORIZED_ERR")) << denied.output;
  const std::string admin = S(VeilJson({"iam", "whoami"}), "iam_id");
  ASSERT_EQ(Veil({"iam", "policy", "create", "--subject", admin, "--roles", "KeyPurge", "--service",
                  "kms", "--instance", instance_})
                .exit_code,
            0);
  ProcessResult purge = Veil({"kms", "key", "purge", gone});
  EXPECT_EQ(purge.exit_code, 8) << purge.output;
  EXPECT_TRUE(Contains(purge.output, "REQ_TOO_EARLY_ERR")) << purge.output;

  ProcessResult missing = Veil({"kms", "key", "show", "no-such-key"});
  EXPECT_EQ(missing.exit_code, 5) << missing.output;
  EXPECT_TRUE(Contains(missing.output, "KEY_NOT_FOUND_ERR") ||
              Contains(missing.output, "NOT_FOUND_ERR"))
      << missing.output;
}

TEST_F(KmsCliTest, AKeyNameIsNotLookedUpAndTheMessageSaysHowToFindTheId) {
  const std::string id = CreateRootKey("image-crk");  // a name, no alias
  ProcessResult by_name = Veil({"kms", "key", "show", "image-crk"});
  EXPECT_EQ(by_name.exit_code, 5) << by_name.output;
  EXPECT_TRUE(Contains(by_name.output, "KEY_NOT_FOUND_ERR")) << by_name.output;
  EXPECT_TRUE(Contains(by_name.output,
                       "'image-crk' is not a key ID, and no key has it as an "
                       "alias: keys are found by ID or alias, not by name"))
      << by_name.output;
  EXPECT_TRUE(Contains(by_name.output, "`veil kms key list`")) << by_name.output;
  // Every command that takes KEY says the same.
  ProcessResult wrap = Veil({"kms", "wrap", "image-crk"});
  EXPECT_EQ(wrap.exit_code, 5) << wrap.output;
  EXPECT_TRUE(Contains(wrap.output, "not by name")) << wrap.output;
  // An ID that names no key: only the KMS's answer (there is no name to explain).
  ProcessResult no_id = Veil({"kms", "key", "show", "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9"});
  EXPECT_EQ(no_id.exit_code, 5) << no_id.output;
  EXPECT_FALSE(Contains(no_id.output, "not by name")) << no_id.output;
  // By ID the key is there.
  EXPECT_EQ(Veil({"kms", "key", "show", id}).exit_code, 0);
}

TEST_F(KmsCliTest, PoliciesAreShownAndSet) {
  const std::string id = CreateRootKey("policed");
  ProcessResult shown = Veil({"kms", "key", "policy", id});
  ASSERT_EQ(shown.exit_code, 0) << shown.output;
  EXPECT_TRUE(Contains(shown.output, "rotation")) << shown.output;
  EXPECT_TRUE(Contains(shown.output, "dualAuthDelete")) << shown.output;

  auto set = VeilJson({"kms", "key", "policy", id, "--rotation-months", "3", "--dual-auth", "on"});
  const std::string text = json::serialize(set);
  EXPECT_TRUE(Contains(text, "\"interval_month\":3")) << text;
  auto key = VeilJson({"kms", "key", "show", id});
  EXPECT_EQ(key.at("rotation").at("enabled").as_bool(), true);
  EXPECT_EQ(key.at("dualAuthDelete").at("enabled").as_bool(), true);

  auto off = VeilJson({"kms", "key", "policy", id, "--no-rotation"});
  key = VeilJson({"kms", "key", "show", id});
  EXPECT_EQ(key.at("rotation").at("enabled").as_bool(), false);
  EXPECT_EQ(key.at("rotation").at("interval_month").as_int64(), 3);

  // Dual authorization: one Manager alone cannot delete the key.
  ProcessResult del = Veil({"kms", "key", "delete", id});
  EXPECT_EQ(del.exit_code, 8) << del.output;
  ProcessResult both =
      Veil({"kms", "key", "policy", id, "--rotation-months", "2", "--no-rotation"});
  EXPECT_EQ(both.exit_code, 2) << both.output;
}

TEST_F(KmsCliTest, ImportTokenIsCreatedAndRetrievedUpToItsLimit) {
  auto token =
      VeilJson({"kms", "import-token", "create", "--expiration", "900", "--max-retrievals", "2"});
  EXPECT_EQ(token.at("maxAllowedRetrievals").as_int64(), 2);
  ProcessResult first = Veil({"kms", "import-token", "show"});
  ASSERT_EQ(first.exit_code, 0) << first.output;
  EXPECT_TRUE(Contains(first.output, "BEGIN PUBLIC KEY")) << first.output;
  EXPECT_TRUE(Contains(first.output, "1 of 2 left")) << first.output;
  auto second = VeilJson({"kms", "import-token", "show"});
  EXPECT_EQ(second.at("remainingRetrievals").as_int64(), 0);
  EXPECT_FALSE(S(second, "nonce").empty());
  ProcessResult third = Veil({"kms", "import-token", "show"});
  EXPECT_EQ(third.exit_code, 8) << third.output;
  EXPECT_TRUE(Contains(third.output, "IMPORT_TOKEN_EXPIRED_ERR")) << third.output;
  ProcessResult bad = Veil({"kms", "import-token", "create", "--expiration", "10"});
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
}

TEST_F(KmsCliTest, TheInstanceComesFromTheFlagOrTheProfile) {
  ProcessResult show = Veil({"kms", "instance", "show"});
  ASSERT_EQ(show.exit_code, 0) << show.output;
  EXPECT_TRUE(Contains(show.output, instance_)) << show.output;
  EXPECT_TRUE(Contains(ReadFile(dir_ + "/home-admin/config"), "kms_instance = " + instance_));

  // A second instance, given with --instance: its keys are its own.
  auto other = VeilJson({"resource", "instance", "create", "other", "--service", "kms"});
  const std::string other_guid = S(other, "guid");
  CreateRootKey("in-default");
  auto in_other = VeilJson({"kms", "key", "create", "in-other", "--instance", other_guid});
  auto list_other = VeilJson({"kms", "key", "list", "--instance", other_guid});
  ASSERT_EQ(list_other.at("resources").as_array().size(), 1u);
  EXPECT_EQ(S(list_other.at("resources").as_array()[0], "name"), "in-other");
  ProcessResult cross = Veil({"kms", "wrap", S(in_other, "id")});  // not in the default one
  EXPECT_EQ(cross.exit_code, 5) << cross.output;

  ProcessResult use = Veil({"kms", "instance", "use", other_guid});
  ASSERT_EQ(use.exit_code, 0) << use.output;
  auto list = VeilJson({"kms", "key", "list"});
  EXPECT_EQ(S(list.at("resources").as_array()[0], "name"), "in-other");

  ProcessResult unknown = Veil({"kms", "key", "list", "--instance", "no-such-instance"});
  EXPECT_EQ(unknown.exit_code, 5) << unknown.output;
  EXPECT_TRUE(Contains(unknown.output, "INSTANCE_NOT_FOUND_ERR")) << unknown.output;

  // A user with no default and no --instance is told how to set one.
  const std::string key_file = data() + "/admin-apikey";
  ASSERT_EQ(Veil({"login", "--apikey-file", key_file}, "fresh").exit_code, 0);
  ProcessResult none = Veil({"kms", "key", "list"}, "fresh");
  EXPECT_EQ(none.exit_code, 2) << none.output;
  EXPECT_TRUE(Contains(none.output, "veil kms instance use")) << none.output;
  // `INSTANCE=$(veil kms instance show)` gets nothing, and the script sees the failure: not
  // found (5), the reason on standard error.
  for (const char* output : {"table", "json"}) {
    std::string err;
    ProcessResult shown =
        VeilStdout({"--output", output, "kms", "instance", "show"}, "fresh", &err);
    EXPECT_EQ(shown.exit_code, 5) << output << ": " << shown.output << err;
    EXPECT_EQ(shown.output, "") << output;
    EXPECT_TRUE(Contains(err, "no default KMS instance")) << err;
    EXPECT_TRUE(Contains(err, "veil kms instance use GUID")) << err;
  }
  ProcessResult not_logged_in = Veil({"kms", "key", "list", "--instance", instance_}, "nobody");
  EXPECT_EQ(not_logged_in.exit_code, 3) << not_logged_in.output;
}

TEST_F(KmsCliTest, EveryCommandHasHelpWithAnExample) {
  const std::vector<std::vector<std::string>> commands = {
      {"kms"},
      {"kms", "key"},
      {"kms", "key", "create"},
      {"kms", "key", "import"},
      {"kms", "key", "list"},
      {"kms", "key", "show"},
      {"kms", "key", "rotate"},
      {"kms", "key", "disable"},
      {"kms", "key", "enable"},
      {"kms", "key", "set-for-deletion"},
      {"kms", "key", "unset-for-deletion"},
      {"kms", "key", "delete"},
      {"kms", "key", "restore"},
      {"kms", "key", "purge"},
      {"kms", "key", "versions"},
      {"kms", "key", "policy"},
      {"kms", "wrap"},
      {"kms", "unwrap"},
      {"kms", "rewrap"},
      {"kms", "import-token"},
      {"kms", "import-token", "create"},
      {"kms", "import-token", "show"},
      {"kms", "instance"},
      {"kms", "instance", "use"},
      {"kms", "instance", "show"},
  };
  for (std::vector<std::string> c : commands) {
    c.push_back("--help");
    std::vector<std::string> argv = {kBin + "/veil"};
    argv.insert(argv.end(), c.begin(), c.end());
    ProcessResult r = RunProcess(argv, std::chrono::seconds(10), {"VEIL_HOME=" + dir_ + "/help"});
    EXPECT_EQ(r.exit_code, 0) << c[1] << " " << r.output;
    EXPECT_TRUE(Contains(r.output, "Example:\n  veil ")) << r.output;
  }
}

}  // namespace
}  // namespace veil::testing
