// KmsService against a real SoftHSM2 token and SQLite: Key Protect's behaviour (states,
// lifecycle, dual authorization, registrations, import), the WDEK format checked with
// an independent AES-GCM, and the security invariants of issue 5.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/json/parse.hpp>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "common/encoding.h"
#include "crypto/aead.h"
#include "crypto/sign.h"
#include "kms/errors.h"
#include "kms/testing/kms_fixture.h"
#include "kms/wdek.h"

namespace veil::kms {
namespace {

using namespace std::chrono_literals;
using testing::KmsFixture;
using testing::KnownKey;

using testing::ReasonCode;

class KmsServiceTest : public ::testing::Test {
 protected:
  KmsFixture f_;
  KmsService& kms() { return *f_.service; }

  Key Import(const SecretBytes& material, bool standard = false) {
    CreateKeySpec spec;
    spec.name = standard ? "imported-standard" : "imported-root";
    spec.extractable = standard;
    spec.material = ImportedMaterial{Base64Encode(material.Reveal()), "", "", ""};
    auto key = kms().CreateKey(f_.instance, spec, f_.user);
    EXPECT_TRUE(key) << key.error().ToString();
    return key.value_or(Key{});
  }
};

TEST_F(KmsServiceTest, GeneratedRootKeyWrapsAndUnwraps) {
  Key key = f_.CreateRoot();
  EXPECT_EQ(key.state, KeyState::kActive);
  EXPECT_FALSE(key.extractable);
  EXPECT_EQ(key.material_bits, 256);
  auto wrapped = kms().Wrap(key, std::nullopt, {"image", "v1"});
  ASSERT_TRUE(wrapped) << wrapped.error().ToString();
  ASSERT_TRUE(wrapped->generated.has_value());
  EXPECT_EQ(wrapped->generated->size(), 32u);
  EXPECT_EQ(wrapped->key_version_id, key.current.id);
  auto unwrapped = kms().Unwrap(key, wrapped->ciphertext, {"image", "v1"});
  ASSERT_TRUE(unwrapped) << unwrapped.error().ToString();
  EXPECT_TRUE(unwrapped->plaintext.Equals(*wrapped->generated));
  EXPECT_FALSE(unwrapped->rewrapped.has_value());
  // The key survives a restart (the material is in the database, wrapped by the HSM).
  f_.StartService();
  auto again = kms().Unwrap(f_.Reload(key), wrapped->ciphertext, {"image", "v1"});
  ASSERT_TRUE(again) << again.error().ToString();
  EXPECT_TRUE(again->plaintext.Equals(*wrapped->generated));
}

TEST_F(KmsServiceTest, WrongAadTamperedOrForeignCiphertextIsUnprocessable) {
  Key key = f_.CreateRoot();
  Key other = f_.CreateRoot("other");
  SecretBytes dek = KnownKey();
  auto wrapped = kms().Wrap(key, dek.Clone(), {"a", "b"});
  ASSERT_TRUE(wrapped);
  EXPECT_REASON(kms().Unwrap(key, wrapped->ciphertext, {"ab"}), "UNPROCESSABLE_CIPHERTEXT_ERR");
  EXPECT_REASON(kms().Unwrap(key, wrapped->ciphertext, {"b", "a"}), "UNPROCESSABLE_CIPHERTEXT_ERR");
  EXPECT_REASON(kms().Unwrap(key, wrapped->ciphertext, {}), "UNPROCESSABLE_CIPHERTEXT_ERR");
  EXPECT_REASON(kms().Unwrap(other, wrapped->ciphertext, {"a", "b"}),
                "UNPROCESSABLE_CIPHERTEXT_ERR");
  EXPECT_REASON(kms().Unwrap(key, "not base64!", {}), "UNPROCESSABLE_CIPHERTEXT_ERR");
  EXPECT_REASON(kms().Unwrap(key, Base64Encode(std::vector<uint8_t>{'{', '}'}), {}),
                "UNPROCESSABLE_CIPHERTEXT_ERR");
  // Flip one bit of the sealed bytes inside the JSON.
  Wdek wdek = *ParseWdek(wrapped->ciphertext);
  wdek.sealed[3] ^= 0x01;
  EXPECT_REASON(kms().Unwrap(key, FormatWdek(wdek), {"a", "b"}), "UNPROCESSABLE_CIPHERTEXT_ERR");
  // Another handle (a version of another key) is refused before the HSM is asked.
  wdek = *ParseWdek(wrapped->ciphertext);
  wdek.handle = other.current.id;
  EXPECT_REASON(kms().Unwrap(key, FormatWdek(wdek), {"a", "b"}), "UNPROCESSABLE_CIPHERTEXT_ERR");
}

// The WDEK of docs/formats/wdek.md, opened with OpenSSL's AES-GCM and the known imported key: the
// HSM did AES-256-GCM with the documented nonce and associated data.
TEST_F(KmsServiceTest, WdekFormatMatchesTheSpecWithAnIndependentAesGcm) {
  SecretBytes root = KnownKey(32, 0x11);
  Key key = Import(root);
  ASSERT_TRUE(key.imported);
  SecretBytes dek = KnownKey(32, 0x77);
  auto wrapped = kms().Wrap(key, dek.Clone(), {"tenant", "disk-0"});
  ASSERT_TRUE(wrapped);
  auto json_bytes = Base64Decode(wrapped->ciphertext);
  ASSERT_TRUE(json_bytes);
  std::string json(json_bytes->begin(), json_bytes->end());
  auto v = boost::json::parse(json);
  const auto& o = v.as_object();
  ASSERT_EQ(o.size(), 4u);
  EXPECT_EQ(o.at("version").as_string(), "4.0.0");
  EXPECT_EQ(o.at("handle").as_string(), key.current.id);
  EXPECT_EQ(json.rfind("{\"ciphertext\":\"", 0), 0u) << json;
  auto iv = Base64Decode(std::string(o.at("iv").as_string()));
  auto sealed = Base64Decode(std::string(o.at("ciphertext").as_string()));
  ASSERT_TRUE(iv && sealed);
  EXPECT_EQ(iv->size(), 12u);
  EXPECT_EQ(sealed->size(), 32u + 16u);
  std::string aad = "veil-kms-wdek/v1";
  aad.push_back('\0');
  aad += key.current.id;
  aad.push_back('\0');
  for (std::string item : {"tenant", "disk-0"}) {
    aad += std::string(3, '\0') + static_cast<char>(item.size()) + item;
  }
  auto opened = crypto::AesGcmOpenSecret(
      root.Reveal(), *iv, {reinterpret_cast<const uint8_t*>(aad.data()), aad.size()}, *sealed);
  ASSERT_TRUE(opened) << opened.error().ToString();
  EXPECT_TRUE(opened->Equals(dek));
}

TEST_F(KmsServiceTest, ImportedRootKeysOfEverySizeWrap) {
  for (size_t size : {16u, 24u, 32u}) {
    Key key = Import(KnownKey(size));
    EXPECT_EQ(key.material_bits, static_cast<int64_t>(size * 8));
    auto wrapped = kms().Wrap(key, KnownKey(32, 3), {});
    ASSERT_TRUE(wrapped) << size << ": " << wrapped.error().ToString();
    auto back = kms().Unwrap(key, wrapped->ciphertext, {});
    ASSERT_TRUE(back) << back.error().ToString();
    EXPECT_TRUE(back->plaintext.Equals(KnownKey(32, 3)));
  }
  CreateKeySpec spec;
  spec.name = "bad-size";
  spec.material = ImportedMaterial{Base64Encode(KnownKey(20).Reveal()), "", "", ""};
  EXPECT_REASON(kms().CreateKey(f_.instance, spec, f_.user), "BAD_BODY_ERR");
  spec.material = ImportedMaterial{"%%%", "", "", ""};
  EXPECT_REASON(kms().CreateKey(f_.instance, spec, f_.user), "BAD_BODY_ERR");
}

TEST_F(KmsServiceTest, StandardKeyPayloadReadsBackAndCannotWrap) {
  SecretBytes payload = KnownKey(100, 9);
  Key key = Import(payload, /*standard=*/true);
  EXPECT_TRUE(key.extractable);
  auto read = kms().GetPayload(key);
  ASSERT_TRUE(read) << read.error().ToString();
  EXPECT_TRUE(read->Equals(payload));
  EXPECT_REASON(kms().Wrap(key, std::nullopt, {}), "KEY_ROOT_REQ_ERR");
  Key root = f_.CreateRoot();
  EXPECT_REASON(kms().GetPayload(root), "KEY_ROOT_REQ_ERR");
  CreateKeySpec spec;
  spec.name = "generated-standard";
  spec.extractable = true;
  auto generated = kms().CreateKey(f_.instance, spec, f_.user);
  ASSERT_TRUE(generated);
  auto generated_payload = kms().GetPayload(*generated);
  ASSERT_TRUE(generated_payload);
  EXPECT_EQ(generated_payload->size(), 32u);
}

// Disabling a standard key (or letting it expire) must cut off its material as it cuts off a
// root key's wrap and unwrap: the payload is not handed out again until the key is enabled.
TEST_F(KmsServiceTest, PayloadOfSuspendedOrDeactivatedStandardKeyIsNotReturned) {
  Key key = Import(KnownKey(64, 3), /*standard=*/true);
  ASSERT_TRUE(kms().GetPayload(key));
  ASSERT_TRUE(kms().Disable(key));
  key = f_.Reload(key);
  EXPECT_REASON(kms().GetPayload(key), "KEY_ACTION_INVALID_STATE_ERR");
  ASSERT_TRUE(kms().Enable(key));
  EXPECT_TRUE(kms().GetPayload(f_.Reload(key)));

  CreateKeySpec spec;
  spec.name = "expiring-standard";
  spec.extractable = true;
  spec.expires_at = f_.iam.clock.Now() + 1h;
  auto expiring = kms().CreateKey(f_.instance, spec, f_.user);
  ASSERT_TRUE(expiring);
  f_.iam.clock.Advance(2h);
  Key deactivated = f_.Reload(*expiring);
  ASSERT_EQ(deactivated.state, KeyState::kDeactivated);
  EXPECT_REASON(kms().GetPayload(deactivated), "KEY_ACTION_INVALID_STATE_ERR");
  ASSERT_TRUE(kms().Delete(deactivated, false, f_.user));
  EXPECT_REASON(kms().GetPayload(f_.Reload(deactivated)), "KEY_DELETED_ERR");
}

TEST_F(KmsServiceTest, RotationKeepsOldVersionsUnwrappingAndRewraps) {
  Key key = f_.CreateRoot();
  auto before = kms().Wrap(key, KnownKey(), {"x"});
  ASSERT_TRUE(before);
  auto rotated = kms().Rotate(key, std::nullopt);
  ASSERT_TRUE(rotated) << rotated.error().ToString();
  EXPECT_NE(rotated->current.id, key.current.id);
  EXPECT_EQ(rotated->current.seq, 2);
  ASSERT_TRUE(rotated->rotated_at.has_value());
  key = f_.Reload(key);
  EXPECT_EQ(key.current.id, rotated->current.id);
  auto unwrapped = kms().Unwrap(key, before->ciphertext, {"x"});
  ASSERT_TRUE(unwrapped) << unwrapped.error().ToString();
  EXPECT_TRUE(unwrapped->plaintext.Equals(KnownKey()));
  EXPECT_EQ(unwrapped->key_version_id, before->key_version_id);
  ASSERT_TRUE(unwrapped->rewrapped.has_value());
  EXPECT_EQ(unwrapped->rewrapped_version_id, rotated->current.id);
  auto again = kms().Unwrap(key, *unwrapped->rewrapped, {"x"});
  ASSERT_TRUE(again);
  EXPECT_FALSE(again->rewrapped.has_value());
  auto rewrapped = kms().Rewrap(key, before->ciphertext, {"x"});
  ASSERT_TRUE(rewrapped);
  EXPECT_EQ(rewrapped->key_version_id, rotated->current.id);
  EXPECT_EQ(rewrapped->rewrapped_from_version_id, before->key_version_id);
  auto versions = kms().ListVersions(key);
  ASSERT_TRUE(versions);
  ASSERT_EQ(versions->size(), 2u);
  EXPECT_EQ((*versions)[0].id, rotated->current.id);  // newest first
  // An imported key rotates only with new material.
  Key imported = Import(KnownKey(32, 1));
  EXPECT_REASON(kms().Rotate(imported, std::nullopt), "KEY_PAYLOAD_REQ_ERR");
  auto with_material =
      kms().Rotate(imported, ImportedMaterial{Base64Encode(KnownKey(32, 2).Reveal()), "", "", ""});
  ASSERT_TRUE(with_material) << with_material.error().ToString();
  EXPECT_REASON(kms().Rotate(key, ImportedMaterial{Base64Encode(KnownKey().Reveal()), "", "", ""}),
                "BAD_BODY_ERR");
}

// Key Protect's table of allowed actions (docs/api-compatibility.md), in every state.
TEST_F(KmsServiceTest, StateMachineAnswersAsTheSpecTable) {
  f_.options.restore_min_delay = 0s;
  f_.StartService();
  auto in_state = [&](KeyState state) {
    Key key = f_.CreateRoot(std::string("key-") + std::string(KeyStateName(state)));
    if (state == KeyState::kSuspended) {
      EXPECT_TRUE(kms().Disable(key));
    }
    if (state == KeyState::kDeactivated) {
      CreateKeySpec spec;
      spec.name = "expiring";
      spec.expires_at = f_.iam.clock.Now() + 1h;
      key = *kms().CreateKey(f_.instance, spec, f_.user);
      EXPECT_TRUE(kms().Wrap(key, std::nullopt, {}));
    }
    if (state == KeyState::kDestroyed) {
      EXPECT_TRUE(kms().Delete(key, false, f_.user));
    }
    return key.id;
  };
  const std::vector<KeyState> states = {KeyState::kActive, KeyState::kSuspended,
                                        KeyState::kDeactivated, KeyState::kDestroyed};
  const std::vector<KeyAction> actions = {
      KeyAction::kRotate, KeyAction::kWrap,   KeyAction::kUnwrap, KeyAction::kDisable,
      KeyAction::kEnable, KeyAction::kDelete, KeyAction::kRestore};
  for (KeyState state : states) {
    for (KeyAction action : actions) {
      SCOPED_TRACE(std::string(KeyStateName(state)) + " " + std::string(KeyActionName(action)));
      std::string id = in_state(state);
      Key key = *kms().GetKey(f_.instance, id);
      if (state == KeyState::kDeactivated) {
        // A ciphertext made while Active, then the key expires.
        f_.iam.clock.Advance(2h);
        key = *kms().GetKey(f_.instance, id);
      }
      ASSERT_EQ(key.state, state);
      auto sealed = kms().Wrap(key, std::nullopt, {});
      std::string ciphertext;
      {
        // A ciphertext of this key from when it was Active, for unwrap.
        Key fresh = f_.CreateRoot("probe");
        ciphertext = kms().Wrap(fresh, std::nullopt, {})->ciphertext;
      }
      Status outcome;
      switch (action) {
        case KeyAction::kRotate:
          outcome = kms().Rotate(key, std::nullopt).map([](Key) {});
          break;
        case KeyAction::kWrap:
          outcome = sealed.map([](const WrapResult&) {});
          break;
        case KeyAction::kUnwrap: {
          auto r = kms().Unwrap(key, ciphertext, {});
          // A foreign ciphertext: allowed states answer 422, refused states 409/410.
          outcome = r.map([](const UnwrapResult&) {});
          if (!r && ReasonCode(r.error()) == "UNPROCESSABLE_CIPHERTEXT_ERR") outcome = {};
          break;
        }
        case KeyAction::kDisable:
          outcome = kms().Disable(key).map([](Key) {});
          break;
        case KeyAction::kEnable:
          outcome = kms().Enable(key).map([](Key) {});
          break;
        case KeyAction::kDelete:
          outcome = kms().Delete(key, false, f_.user).map([](Key) {});
          break;
        case KeyAction::kRestore:
          f_.iam.clock.Advance(1min);
          outcome = kms().Restore(key, std::nullopt).map([](Key) {});
          break;
        default:
          break;
      }
      const bool allowed = KeyActionAllowed(action, state);
      EXPECT_EQ(outcome.has_value(), allowed) << (outcome ? "" : outcome.error().ToString());
      if (!allowed && !outcome) {
        EXPECT_EQ(ReasonCode(outcome.error()), state == KeyState::kDestroyed
                                                   ? "KEY_DELETED_ERR"
                                                   : "KEY_ACTION_INVALID_STATE_ERR");
      }
    }
  }
}

TEST_F(KmsServiceTest, DisableTakesEffectAtOnceAndEnableRestores) {
  Key key = f_.CreateRoot();
  auto wrapped = kms().Wrap(key, KnownKey(), {});
  ASSERT_TRUE(wrapped);
  ASSERT_TRUE(kms().Disable(key));
  key = f_.Reload(key);
  EXPECT_EQ(key.state, KeyState::kSuspended);
  EXPECT_REASON(kms().Wrap(key, std::nullopt, {}), "KEY_ACTION_INVALID_STATE_ERR");
  EXPECT_REASON(kms().Unwrap(key, wrapped->ciphertext, {}), "KEY_ACTION_INVALID_STATE_ERR");
  ASSERT_TRUE(kms().Enable(key));
  key = f_.Reload(key);
  EXPECT_TRUE(kms().Unwrap(key, wrapped->ciphertext, {}));
}

TEST_F(KmsServiceTest, DualAuthorizationNeedsTwoDifferentManagersWithinSevenDays) {
  Key key = f_.CreateRoot();
  EXPECT_REASON(kms().SetKeyForDeletion(key, f_.user), "NOT_DUAL_AUTH_ERR");
  ASSERT_TRUE(kms().SetDualAuthPolicy(key, true));
  key = f_.Reload(key);
  EXPECT_REASON(kms().Delete(key, false, f_.user), "AUTHORIZATIONS_NOT_MET");
  ASSERT_TRUE(kms().SetKeyForDeletion(key, f_.user));
  key = f_.Reload(key);
  EXPECT_EQ(key.state, KeyState::kActive);
  EXPECT_REASON(kms().Delete(key, false, f_.user), "AUTHORIZATIONS_NOT_MET");
  // Past 7 days the first approval lapses.
  f_.iam.clock.Advance(24h * 7 + 1s);
  EXPECT_REASON(kms().Delete(key, false, f_.other_user), "AUTHORIZATIONS_NOT_MET");
  ASSERT_TRUE(kms().SetKeyForDeletion(key, f_.user));
  ASSERT_TRUE(kms().UnsetKeyForDeletion(key));
  EXPECT_REASON(kms().Delete(f_.Reload(key), false, f_.other_user), "AUTHORIZATIONS_NOT_MET");
  ASSERT_TRUE(kms().SetKeyForDeletion(key, f_.user));
  auto deleted = kms().Delete(f_.Reload(key), false, f_.other_user);
  ASSERT_TRUE(deleted) << deleted.error().ToString();
  EXPECT_EQ(deleted->state, KeyState::kDestroyed);
  EXPECT_EQ(deleted->deleted_by, f_.other_user.iam_id);
}

TEST_F(KmsServiceTest, InstanceDualAuthPolicyAppliesToEveryKey) {
  Key key = f_.CreateRoot();
  ASSERT_TRUE(
      kms().PutInstancePolicy(f_.instance, "dualAuthDelete", R"({"enabled":true})", f_.user));
  EXPECT_REASON(kms().Delete(key, false, f_.user), "AUTHORIZATIONS_NOT_MET");
  ASSERT_TRUE(kms().SetKeyForDeletion(key, f_.user));
  EXPECT_TRUE(kms().Delete(f_.Reload(key), false, f_.other_user));
}

TEST_F(KmsServiceTest, RegistrationsProtectKeysFromDeletion) {
  Key key = f_.CreateRoot();
  const std::string crn = "crn:v1:veil:private:is:local:a/" + f_.iam.account_id + "::image:img-1";
  EXPECT_REASON(kms().CreateRegistration(key, crn, "", false, "", f_.user), "SERVICE_ONLY_ERR");
  auto r = kms().CreateRegistration(key, crn, "boot image", false, "", f_.block_storage);
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->key_version_id, key.current.id);
  EXPECT_REASON(kms().CreateRegistration(key, crn, "", false, "", f_.block_storage),
                "CONFLICT_ERR");
  EXPECT_REASON(kms().CreateRegistration(key, "not-a-crn", "", false, "", f_.block_storage),
                "BAD_BODY_ERR");
  EXPECT_REASON(kms().CreateRegistration(key, crn + "x", "", false,
                                         "00000000-0000-4000-8000-000000000000", f_.block_storage),
                "KEY_VERSION_INVALID");
  EXPECT_REASON(kms().Delete(key, false, f_.user), "PROTECTED_RESOURCE_ERR");
  auto list =
      kms().QueryRegistrations(f_.instance, "crn:v1:veil:private:is:*", std::nullopt, 10, 0);
  ASSERT_TRUE(list);
  EXPECT_EQ(list->size(), 1u);
  // preventKeyDeletion wins even over force.
  ASSERT_TRUE(
      kms().UpdateRegistration(key, crn, std::nullopt, true, std::nullopt, f_.block_storage));
  EXPECT_REASON(kms().Delete(key, true, f_.user), "PREV_KEY_DEL_ERR");
  EXPECT_REASON(kms().UpdateRegistration(key, crn, std::nullopt, false, std::nullopt, f_.user),
                "SERVICE_ONLY_ERR");
  ASSERT_TRUE(
      kms().UpdateRegistration(key, crn, std::nullopt, false, std::nullopt, f_.block_storage));
  EXPECT_TRUE(kms().Delete(key, true, f_.user));
  Key standard = Import(KnownKey(), true);
  EXPECT_REASON(kms().CreateRegistration(standard, crn, "", false, "", f_.block_storage),
                "KEY_ROOT_REQ_REG_ERR");
}

// The image service, which holds the same S2S Reader role as block storage on the customer's
// keys, tries to lift block storage's retention registration (preventKeyDeletion) so that the key
// can be deleted, or to remove it outright: both refused, the registration is intact, and the
// deletion stays refused.
TEST_F(KmsServiceTest, AServiceCannotRelaxOrDeleteAnotherServicesRegistration) {
  Key key = f_.CreateRoot();
  const Actor images{"crn-crn:v1:veil:public:is:::::", true, "is"};
  const std::string crn =
      "crn:v1:veil:private:server-protect:local:a/" + f_.iam.account_id + "::volume:vol-1";
  ASSERT_TRUE(kms().CreateRegistration(key, crn, "boot volume", true, "", f_.block_storage));
  EXPECT_REASON(kms().UpdateRegistration(key, crn, std::nullopt, false, std::nullopt, images),
                "RESOURCE_OWNER_ERR");
  EXPECT_REASON(kms().DeleteRegistration(key, crn, images), "RESOURCE_OWNER_ERR");
  auto list = kms().ListRegistrations(key);
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 1u);
  EXPECT_TRUE((*list)[0].prevent_key_deletion);
  EXPECT_REASON(kms().Delete(key, true, f_.user), "PREV_KEY_DEL_ERR");
  // Its owner still manages it.
  ASSERT_TRUE(
      kms().UpdateRegistration(key, crn, std::nullopt, false, std::nullopt, f_.block_storage));
  EXPECT_TRUE(kms().DeleteRegistration(key, crn, f_.block_storage));
  EXPECT_REASON(kms().DeleteRegistration(key, crn, f_.block_storage), "NOT_FOUND_ERR");
}

class RecordingListener final : public KeyEventListener {
 public:
  Status OnKeyEvent(const KeyEvent& event) override {
    std::lock_guard lock(mu);
    events.push_back(event);
    return OkStatus();
  }
  std::mutex mu;
  std::vector<KeyEvent> events;
};

TEST_F(KmsServiceTest, RegisteredServicesHearOfLifecycleChanges) {
  f_.options.restore_min_delay = 0s;
  f_.StartService();
  RecordingListener listener;
  kms().AddListener(f_.block_storage.iam_id, &listener);
  Key key = f_.CreateRoot();
  Key unregistered = f_.CreateRoot("quiet");
  const std::string crn =
      "crn:v1:veil:private:server-protect:local:a/" + f_.iam.account_id + "::volume:vol-1";
  ASSERT_TRUE(kms().CreateRegistration(key, crn, "", false, "", f_.block_storage));
  ASSERT_TRUE(kms().Disable(key));
  ASSERT_TRUE(kms().Enable(f_.Reload(key)));
  auto rotated = kms().Rotate(f_.Reload(key), std::nullopt);
  ASSERT_TRUE(rotated);
  ASSERT_TRUE(kms().Delete(f_.Reload(key), true, f_.user));
  ASSERT_TRUE(kms().Restore(f_.Reload(key), std::nullopt));
  ASSERT_TRUE(kms().Disable(unregistered));
  std::vector<std::string> types;
  for (const KeyEvent& e : listener.events) {
    types.push_back(e.type);
    EXPECT_EQ(e.key_id, key.id);
    ASSERT_EQ(e.registrations.size(), 1u);
    EXPECT_EQ(e.registrations[0].resource_crn, crn);
  }
  EXPECT_EQ(types, (std::vector<std::string>{"disable", "enable", "rotate", "delete", "restore"}));
  EXPECT_EQ(listener.events[2].new_key_version_id, rotated->current.id);
  EXPECT_EQ(listener.events[2].old_key_version_id, key.current.id);
}

TEST_F(KmsServiceTest, RestoreAndPurgeFollowTheirWindows) {
  Key key = f_.CreateRoot();
  auto wrapped = kms().Wrap(key, KnownKey(), {});
  ASSERT_TRUE(kms().Delete(key, false, f_.user));
  key = f_.Reload(key);
  EXPECT_EQ(key.state, KeyState::kDestroyed);
  EXPECT_REASON(kms().Wrap(key, std::nullopt, {}), "KEY_DELETED_ERR");
  EXPECT_REASON(kms().Restore(key, std::nullopt), "REQ_TOO_EARLY_ERR");
  EXPECT_REASON(kms().Purge(key), "REQ_TOO_EARLY_ERR");
  f_.iam.clock.Advance(1min);
  ASSERT_TRUE(kms().Restore(key, std::nullopt));
  key = f_.Reload(key);
  EXPECT_EQ(key.state, KeyState::kActive);
  EXPECT_TRUE(kms().Unwrap(key, wrapped->ciphertext, {}));
  ASSERT_TRUE(kms().Delete(key, false, f_.user));
  f_.iam.clock.Advance(24h * 31);
  key = f_.Reload(key);
  EXPECT_REASON(kms().Restore(key, std::nullopt), "KEY_RESTORE_EXPIRED");
  ASSERT_TRUE(kms().Purge(key));
  auto gone = kms().GetKey(f_.instance, key.id);
  ASSERT_FALSE(gone);
  EXPECT_EQ(ReasonCode(gone.error()), "KEY_NOT_FOUND_ERR");
}

TEST_F(KmsServiceTest, SecureImportChecksTheNonceAndTheToken) {
  auto token = kms().CreateImportToken(f_.instance, 600, 3);
  ASSERT_TRUE(token) << token.error().ToString();
  // Each retrieval allows one import: two here, for the two keys below.
  ASSERT_TRUE(kms().RetrieveImportToken(f_.instance));
  auto view = kms().RetrieveImportToken(f_.instance);
  ASSERT_TRUE(view) << view.error().ToString();
  EXPECT_EQ(view->token.remaining_retrievals, 1);
  auto public_key = crypto::PublicKey::FromPem(view->token.public_key_pem);
  ASSERT_TRUE(public_key);
  EXPECT_EQ(public_key->bits(), 4096);
  auto nonce = Base64Decode(*view->nonce_b64);
  ASSERT_TRUE(nonce);
  SecretBytes material = KnownKey(32, 0x42);
  uint8_t iv_seed = 7;  // a new iv for every proof: each encrypted nonce imports once
  auto make = [&](crypto::OaepHash hash, std::vector<uint8_t> n) {
    ImportedMaterial m;
    m.payload = Base64Encode(*public_key->EncryptOaep(hash, material.Reveal()));
    std::vector<uint8_t> iv(12, iv_seed++);
    m.iv = Base64Encode(iv);
    m.encrypted_nonce = Base64Encode(*crypto::AesGcmSeal(material.Reveal(), iv, {}, n));
    m.encryption_algorithm =
        hash == crypto::OaepHash::kSha256 ? "RSAES_OAEP_SHA_256" : "RSAES_OAEP_SHA_1";
    return m;
  };
  CreateKeySpec spec;
  spec.name = "secure";
  spec.material = make(crypto::OaepHash::kSha256, *nonce);
  auto key = kms().CreateKey(f_.instance, spec, f_.user);
  ASSERT_TRUE(key) << key.error().ToString();
  EXPECT_TRUE(key->imported);
  spec.material = make(crypto::OaepHash::kSha1, *nonce);
  EXPECT_TRUE(kms().CreateKey(f_.instance, spec, f_.user));
  // The wrapped DEK opens with the known material: the HSM holds exactly what was imported.
  auto wrapped = kms().Wrap(*key, KnownKey(32, 1), {});
  ASSERT_TRUE(wrapped);
  Wdek wdek = *ParseWdek(wrapped->ciphertext);
  auto opened =
      crypto::AesGcmOpenSecret(material.Reveal(), wdek.iv, WdekAad(wdek.handle, {}), wdek.sealed);
  ASSERT_TRUE(opened);
  EXPECT_TRUE(opened->Equals(KnownKey(32, 1)));

  std::vector<uint8_t> wrong_nonce = *nonce;
  wrong_nonce[0] ^= 1;
  spec.material = make(crypto::OaepHash::kSha256, wrong_nonce);
  EXPECT_REASON(kms().CreateKey(f_.instance, spec, f_.user), "INCORRECT_NONCE_ERR");
  spec.material = make(crypto::OaepHash::kSha256, *nonce);
  spec.material->iv = Base64Encode(std::vector<uint8_t>(16, 1));
  EXPECT_REASON(kms().CreateKey(f_.instance, spec, f_.user), "INCORRECT_NONCE_IV_ERR");
  spec.material = make(crypto::OaepHash::kSha256, *nonce);
  spec.material->encryption_algorithm = "RSAES_OAEP_SHA_1";  // the wrong hash
  EXPECT_REASON(kms().CreateKey(f_.instance, spec, f_.user), "BAD_BODY_ERR");
  // One retrieval left, then none; past its expiration the token imports nothing.
  EXPECT_TRUE(kms().RetrieveImportToken(f_.instance));
  EXPECT_REASON(kms().RetrieveImportToken(f_.instance), "IMPORT_TOKEN_EXPIRED_ERR");
  f_.iam.clock.Advance(601s);
  spec.material = make(crypto::OaepHash::kSha256, *nonce);
  EXPECT_REASON(kms().CreateKey(f_.instance, spec, f_.user), "IMPORT_TOKEN_EXPIRED_ERR");
  EXPECT_REASON(kms().CreateImportToken(f_.instance, 10, 1), "BAD_BODY_ERR");
}

TEST_F(KmsServiceTest, KeyCreateImportAccessPolicyIsEnforced) {
  ASSERT_TRUE(kms().PutInstancePolicy(
      f_.instance, "keyCreateImportAccess",
      R"({"enabled":true,"attributes":{"create_root_key":false,"enforce_token":true}})", f_.user));
  CreateKeySpec spec;
  spec.name = "denied";
  EXPECT_REASON(kms().CreateKey(f_.instance, spec, f_.user), "KEY_CREATE_IMPORT_ACCESS_ERR");
  spec.material = ImportedMaterial{Base64Encode(KnownKey().Reveal()), "", "", ""};
  EXPECT_REASON(kms().CreateKey(f_.instance, spec, f_.user), "KEY_CREATE_IMPORT_ACCESS_ERR");
  spec.material.reset();
  spec.extractable = true;
  EXPECT_TRUE(kms().CreateKey(f_.instance, spec, f_.user));
}

TEST_F(KmsServiceTest, AllowedIpPolicyFiltersByAddressAndChangesAtOnce) {
  EXPECT_TRUE(kms().CheckAllowedIp(f_.instance, "203.0.113.9"));  // no policy: everyone
  ASSERT_TRUE(kms().PutInstancePolicy(
      f_.instance, "allowedIP",
      R"({"enabled":true,"attributes":{"allowed_ip":["10.0.0.0/8","2001:db8::/32"]}})", f_.user));
  EXPECT_TRUE(kms().CheckAllowedIp(f_.instance, "10.1.2.3"));
  EXPECT_TRUE(kms().CheckAllowedIp(f_.instance, "2001:db8::7"));
  auto refused = kms().CheckAllowedIp(f_.instance, "127.0.0.1");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kPermissionDenied);
  EXPECT_EQ(ReasonCode(refused.error()), "UNAUTHORIZED_ERR");
  // The cache follows the change at once.
  ASSERT_TRUE(kms().PutInstancePolicy(f_.instance, "allowedIP", R"({"enabled":false})", f_.user));
  EXPECT_TRUE(kms().CheckAllowedIp(f_.instance, "127.0.0.1"));
}

// A policy_data of {"x":1e400} used to be stored as "{...,"x":Infinity}" (Boost.JSON's
// serialization of the infinity it parsed), text the policy reader cannot parse: the instance
// then read as having no allowedIP policy, and let every address in.
TEST_F(KmsServiceTest, InstancePolicyThatDoesNotReadBackIsRefused) {
  ASSERT_TRUE(kms().PutInstancePolicy(
      f_.instance, "allowedIP", R"({"enabled":true,"attributes":{"allowed_ip":["10.0.0.0/8"]}})",
      f_.user));
  for (std::string_view bad :
       {R"({"enabled":true,"attributes":{"allowed_ip":["192.0.2.0/24"]},"x":Infinity})",
        R"({"enabled":false)", R"([1])", ""}) {
    EXPECT_REASON(kms().PutInstancePolicy(f_.instance, "allowedIP", std::string(bad), f_.user),
                  "BAD_BODY_ERR");
  }
  EXPECT_TRUE(kms().CheckAllowedIp(f_.instance, "10.1.2.3"));
  EXPECT_FALSE(kms().CheckAllowedIp(f_.instance, "203.0.113.9"));  // still enforced
}

TEST_F(KmsServiceTest, AliasesAndKeyRings) {
  CreateKeySpec spec;
  spec.name = "aliased";
  spec.aliases = {"boot-disk"};
  auto key = kms().CreateKey(f_.instance, spec, f_.user);
  ASSERT_TRUE(key);
  auto by_alias = kms().GetKey(f_.instance, "boot-disk");
  ASSERT_TRUE(by_alias);
  EXPECT_EQ(by_alias->id, key->id);
  EXPECT_REASON(kms().CreateAlias(*key, "wrap"), "BAD_BODY_ERR");  // reserved
  EXPECT_REASON(kms().CreateAlias(*key, "x"), "BAD_BODY_ERR");     // too short
  for (std::string a : {"a1", "a2", "a3", "a4"}) ASSERT_TRUE(kms().CreateAlias(*key, a));
  EXPECT_REASON(kms().CreateAlias(*key, "a5"), "KEY_ALIAS_QUOTA_ERR");
  Key other = f_.CreateRoot("other");
  EXPECT_REASON(kms().CreateAlias(other, "boot-disk"), "DUPLICATE_ALIAS_ERR");
  ASSERT_TRUE(kms().GetKey(f_.instance, "a1"));  // now in the alias cache
  ASSERT_TRUE(kms().DeleteAlias(*key, "a1"));
  EXPECT_REASON(kms().DeleteAlias(*key, "a1"), "NOT_FOUND_ERR");
  EXPECT_REASON(kms().GetKey(f_.instance, "a1"), "KEY_NOT_FOUND_ERR");  // the cache followed
  // An alias is per instance: another instance does not see it, cached or not.
  InstanceRef elsewhere{"00000000-0000-4000-8000-000000000002", f_.iam.account_id, ""};
  EXPECT_REASON(kms().GetKey(elsewhere, "boot-disk"), "KEY_NOT_FOUND_ERR");

  ASSERT_TRUE(kms().CreateKeyRing(f_.instance, "ring-1", f_.user));
  EXPECT_REASON(kms().CreateKeyRing(f_.instance, "ring-1", f_.user), "CONFLICT_ERR");
  spec.name = "in-ring";
  spec.aliases.clear();
  spec.key_ring_id = "ring-1";
  auto in_ring = kms().CreateKey(f_.instance, spec, f_.user);
  ASSERT_TRUE(in_ring);
  spec.key_ring_id = "no-such-ring";
  EXPECT_REASON(kms().CreateKey(f_.instance, spec, f_.user), "BAD_BODY_ERR");
  EXPECT_REASON(kms().DeleteKeyRing(f_.instance, "ring-1", false), "KEY_RING_NOT_EMPTY_ERR");
  ASSERT_TRUE(kms().PatchKeyRing(*in_ring, "default"));
  ASSERT_TRUE(kms().DeleteKeyRing(f_.instance, "ring-1", false));
  auto rings = kms().ListKeyRings(f_.instance);
  ASSERT_TRUE(rings);
  ASSERT_EQ(rings->size(), 1u);
  EXPECT_EQ((*rings)[0].id, "default");
}

TEST_F(KmsServiceTest, ListFiltersAndCounts) {
  for (int i = 0; i < 5; ++i) f_.CreateRoot("k" + std::to_string(i));
  Import(KnownKey(), true);
  Key gone = f_.CreateRoot("gone");
  ASSERT_TRUE(kms().Delete(gone, false, f_.user));
  ListKeysOptions options;
  EXPECT_EQ(*kms().CountKeys(f_.instance, options), 6);
  options.states = {KeyState::kDestroyed};
  EXPECT_EQ(*kms().CountKeys(f_.instance, options), 1);
  options.states.clear();
  options.extractable = true;
  EXPECT_EQ(kms().ListKeys(f_.instance, options)->size(), 1u);
  options.extractable.reset();
  options.limit = 2;
  options.offset = 4;
  EXPECT_EQ(kms().ListKeys(f_.instance, options)->size(), 2u);
  // Another instance sees none of them.
  InstanceRef other{"00000000-0000-4000-8000-000000000001", f_.iam.account_id, ""};
  EXPECT_EQ(*kms().CountKeys(other, {}), 0);
  EXPECT_REASON(kms().GetKey(other, gone.id), "KEY_NOT_FOUND_ERR");
}

TEST_F(KmsServiceTest, MaintenanceExpiresRotatesAndPurges) {
  CreateKeySpec spec;
  spec.name = "expiring";
  spec.expires_at = f_.iam.clock.Now() + 1h;
  auto expiring = kms().CreateKey(f_.instance, spec, f_.user);
  ASSERT_TRUE(expiring);
  EXPECT_REASON(
      [&] {
        spec.expires_at = f_.iam.clock.Now() - 1s;
        return kms().CreateKey(f_.instance, spec, f_.user);
      }(),
      "KEY_EXPIRED_ERR");
  Key rotating = f_.CreateRoot("rotating");
  ASSERT_TRUE(kms().SetRotationPolicy(rotating, true, 1));
  Key doomed = f_.CreateRoot("doomed");
  ASSERT_TRUE(kms().Delete(doomed, false, f_.user));

  EXPECT_EQ(*kms().RunMaintenance(), 0);
  f_.iam.clock.Advance(24h * 32);
  auto changed = kms().RunMaintenance();
  ASSERT_TRUE(changed) << changed.error().ToString();
  EXPECT_EQ(*changed, 2);  // expired and rotated
  EXPECT_EQ(f_.Reload(*expiring).state, KeyState::kDeactivated);
  EXPECT_EQ(f_.Reload(rotating).current.seq, 2);
  EXPECT_EQ(*kms().RunMaintenance(), 0);
  f_.iam.clock.Advance(24h * 60);
  EXPECT_GE(*kms().RunMaintenance(), 1);  // the 90-day purge (and another rotation)
  EXPECT_FALSE(kms().GetKey(f_.instance, doomed.id));
}

TEST_F(KmsServiceTest, RotationPolicyTurnsOffWithoutAnInterval) {
  Key key = f_.CreateRoot();
  EXPECT_REASON(kms().SetRotationPolicy(key, true, 0), "BAD_BODY_ERR");
  EXPECT_REASON(kms().SetRotationPolicy(key, true, 13), "BAD_BODY_ERR");
  auto on = kms().SetRotationPolicy(key, true, 3);
  ASSERT_TRUE(on);
  EXPECT_TRUE(on->rotation_enabled);
  auto off = kms().SetRotationPolicy(*on, false, 0);
  ASSERT_TRUE(off) << off.error().ToString();
  EXPECT_FALSE(off->rotation_enabled);
  Key imported = Import(KnownKey());
  EXPECT_REASON(kms().SetRotationPolicy(imported, true, 1), "KEY_ROTATION_NOT_PERMITTED");
}

// Concurrent rotations and wraps on one key: every version is kept, every ciphertext unwraps.
TEST_F(KmsServiceTest, ConcurrentRotationsAndWrapsLoseNoVersion) {
  Key key = f_.CreateRoot();
  constexpr int kRotators = 3, kRotations = 5, kWrappers = 4, kWraps = 40;
  std::mutex mu;
  std::vector<std::pair<std::string, std::vector<uint8_t>>> sealed;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kRotators; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kRotations; ++i) {
        auto k = kms().GetKey(f_.instance, key.id);
        if (!k || !kms().Rotate(*k, std::nullopt)) ++failures;
      }
    });
  }
  for (int t = 0; t < kWrappers; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kWraps; ++i) {
        SecretBytes dek = KnownKey(32, static_cast<uint8_t>(t * 64 + i));
        auto k = kms().GetKey(f_.instance, key.id);
        auto w = k ? kms().Wrap(*k, dek.Clone(), {}) : tl::unexpected(k.error());
        if (!w) {
          ++failures;
          continue;
        }
        std::lock_guard lock(mu);
        sealed.emplace_back(w->ciphertext,
                            std::vector<uint8_t>(dek.Reveal().begin(), dek.Reveal().end()));
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  key = f_.Reload(key);
  auto versions = kms().ListVersions(key);
  ASSERT_TRUE(versions);
  EXPECT_EQ(versions->size(), static_cast<size_t>(1 + kRotators * kRotations));
  EXPECT_EQ(key.current.seq, 1 + kRotators * kRotations);
  std::set<std::string> ids;
  for (const KeyVersion& v : *versions) ids.insert(v.id);
  EXPECT_EQ(ids.size(), versions->size());
  ASSERT_EQ(sealed.size(), static_cast<size_t>(kWrappers * kWraps));
  for (const auto& [ciphertext, dek] : sealed) {
    auto back = kms().Unwrap(key, ciphertext, {});
    ASSERT_TRUE(back) << back.error().ToString();
    EXPECT_TRUE(back->plaintext.Equals(dek));
  }
}

// No file under the data directory (database, WAL, HSM token) holds an imported key or a DEK
// the KMS generated, as bytes, hex or base64.
TEST_F(KmsServiceTest, KeyMaterialNeverReachesAFile) {
  SecretBytes root = KnownKey(32, 0xc3);
  Key key = Import(root);
  auto generated = kms().Wrap(key, std::nullopt, {});
  ASSERT_TRUE(generated);
  SecretBytes given = KnownKey(32, 0x3c);
  ASSERT_TRUE(kms().Wrap(key, given.Clone(), {}));
  SecretBytes standard = KnownKey(64, 0x99);
  Import(standard, true);
  ASSERT_TRUE(f_.iam.db->Exec("PRAGMA wal_checkpoint(PASSIVE)"));
  std::vector<std::string> needles;
  for (const SecretBytes* s : {&root, &*generated->generated, &given, &standard}) {
    auto bytes = s->Reveal();
    needles.emplace_back(bytes.begin(), bytes.end());
    needles.push_back(HexEncode(bytes));
    needles.push_back(Base64Encode(bytes));
  }
  size_t files = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(f_.iam.dir.path())) {
    if (!entry.is_regular_file()) continue;
    ++files;
    std::string content = iam::testing::ReadFile(entry.path().string());
    for (size_t i = 0; i < needles.size(); ++i) {
      EXPECT_EQ(content.find(needles[i]), std::string::npos)
          << entry.path() << " holds secret #" << i / 3 << " (form " << i % 3 << ")";
    }
  }
  EXPECT_GE(files, 3u);  // veil.db, its WAL, the token files
}

}  // namespace
}  // namespace veil::kms
