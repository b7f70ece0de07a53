// Pkcs11KeyStore and PrepareSoftHsmToken against Debian's real SoftHSM2 (no mocks): each test gets
// its own token directory under /tmp.
#include <dirent.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "common/encoding.h"
#include "crypto/aead.h"
#include "hsm/internal/pkcs11.h"
#include "hsm/pkcs11_key_store.h"
#include "hsm/softhsm_token.h"

namespace veil::hsm {
namespace {

namespace fs = std::filesystem;
using internal::Module;
using internal::Session;
using internal::Template;

std::vector<uint8_t> Bytes(std::string_view s) { return {s.begin(), s.end()}; }

std::vector<uint8_t> Iv(uint8_t seed) {
  std::vector<uint8_t> iv(kGcmIvSize);
  for (size_t i = 0; i < iv.size(); ++i) iv[i] = static_cast<uint8_t>(seed + i);
  return iv;
}

SecretBytes KnownKey(size_t size) {
  SecretBytes key(size);
  for (size_t i = 0; i < size; ++i) key.RevealMutable()[i] = static_cast<uint8_t>(0xa5 ^ (i * 29));
  return key;
}

mode_t Mode(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

class HsmTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Not a skip: a missing SoftHSM2 means `make deps` did not run, and the tests must fail.
    ASSERT_EQ(access(kSoftHsmModulePath, R_OK), 0)
        << "SoftHSM2 is not installed (" << kSoftHsmModulePath << "): make deps";
    char tmpl[] = "/tmp/veil-hsm-itest.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    dir_ = root_ + "/hsm";
  }
  void TearDown() override {
    store_.reset();
    if (!root_.empty()) fs::remove_all(root_);
  }

  Pkcs11KeyStore& OpenStore(size_t max_cached_keys = 10000) {
    auto options = PrepareSoftHsmToken(dir_);
    EXPECT_TRUE(options) << options.error().ToString();
    options->max_cached_keys = max_cached_keys;
    auto store = Pkcs11KeyStore::Open(*options);
    EXPECT_TRUE(store) << store.error().ToString();
    store_ = std::move(*store);
    return *store_;
  }

  // A session of our own on the store's token (the module is shared within the process).
  Session OwnSession() {
    auto module = Module::Load(kSoftHsmModulePath);
    EXPECT_TRUE(module);
    auto slot = (*module)->FindTokenSlot("veil");
    EXPECT_TRUE(slot);
    auto session = Session::Open(*module, *slot);
    EXPECT_TRUE(session);
    return std::move(*session);
  }

  // Secret-key session objects (the unwrapped root keys) visible in this process.
  std::vector<CK_OBJECT_HANDLE> SessionKeys(Session& session) {
    Template t;
    t.Ulong(CKA_CLASS, CKO_SECRET_KEY).Bool(CKA_TOKEN, false);
    auto found = session.Find(t.attrs());
    EXPECT_TRUE(found);
    return found ? *found : std::vector<CK_OBJECT_HANDLE>{};
  }

  std::string root_, dir_;
  std::unique_ptr<Pkcs11KeyStore> store_;
};

TEST_F(HsmTest, TokenIsInitializedOnceThenReopenedWithPersistedPinsAndMasterKey) {
  auto first = PrepareSoftHsmToken(dir_);
  ASSERT_TRUE(first) << first.error().ToString();
  EXPECT_EQ(Mode(dir_), 0700u);
  EXPECT_EQ(Mode(dir_ + "/tokens"), 0700u);
  EXPECT_EQ(Mode(dir_ + "/pins"), 0600u);
  EXPECT_EQ(Mode(dir_ + "/softhsm2.conf"), 0600u);
  EXPECT_EQ(std::string(getenv("SOFTHSM2_CONF")), dir_ + "/softhsm2.conf");
  EXPECT_EQ(first->user_pin.size(), 64u);
  std::ifstream pins(dir_ + "/pins");
  std::string line1, line2;
  std::getline(pins, line1);
  std::getline(pins, line2);
  EXPECT_EQ(line1.rfind("so_pin=", 0), 0u);
  EXPECT_EQ(line2, "user_pin=" + std::string(first->user_pin.Reveal().begin(),
                                             first->user_pin.Reveal().end()));

  WrappedKey root;
  std::vector<uint8_t> sealed;
  {
    auto store = Pkcs11KeyStore::Open(*first);
    ASSERT_TRUE(store) << store.error().ToString();
    EXPECT_TRUE((*store)->master_key_created());
    root = (*store)->GenerateRootKey().value();
    sealed = (*store)->Encrypt("k1", root, Iv(1), Bytes("aad"), Bytes("data key")).value();
  }

  auto second = PrepareSoftHsmToken(dir_);
  ASSERT_TRUE(second) << second.error().ToString();
  EXPECT_TRUE(second->user_pin.Equals(first->user_pin));
  auto store = Pkcs11KeyStore::Open(*second);
  ASSERT_TRUE(store) << store.error().ToString();
  EXPECT_FALSE((*store)->master_key_created()) << "the master key must be found, not recreated";
  auto plain = (*store)->Decrypt("k1", root, Iv(1), Bytes("aad"), sealed);
  ASSERT_TRUE(plain) << plain.error().ToString();
  EXPECT_TRUE(plain->Equals(Bytes("data key")));
}

// A start killed after the PINs were written but before the token existed is finished by the next
// one; a token whose pins file is gone is refused, never silently re-created.
TEST_F(HsmTest, InterruptedFirstStartIsCompletedAndLostPinsAreRefused) {
  auto first = PrepareSoftHsmToken(dir_);
  ASSERT_TRUE(first) << first.error().ToString();
  fs::remove_all(dir_ + "/tokens");
  auto second = PrepareSoftHsmToken(dir_);
  ASSERT_TRUE(second) << second.error().ToString();
  EXPECT_TRUE(second->user_pin.Equals(first->user_pin));
  {
    auto store = Pkcs11KeyStore::Open(*second);
    ASSERT_TRUE(store) << store.error().ToString();
  }
  fs::remove(dir_ + "/pins");
  auto third = PrepareSoftHsmToken(dir_);
  ASSERT_FALSE(third);
  EXPECT_EQ(third.error().code, ErrorCode::kFailedPrecondition) << third.error().ToString();
}

TEST_F(HsmTest, MissingModuleOrTokenIsNotFound) {
  auto options = PrepareSoftHsmToken(dir_);
  ASSERT_TRUE(options);
  Pkcs11Options no_module;
  no_module.module_path = "/nonexistent/libpkcs11.so";
  no_module.user_pin = options->user_pin.Clone();
  auto a = Pkcs11KeyStore::Open(no_module);
  ASSERT_FALSE(a);
  EXPECT_EQ(a.error().code, ErrorCode::kNotFound);
  Pkcs11Options no_token;
  no_token.token_label = "no-such-token";
  no_token.user_pin = options->user_pin.Clone();
  auto b = Pkcs11KeyStore::Open(no_token);
  ASSERT_FALSE(b);
  EXPECT_EQ(b.error().code, ErrorCode::kNotFound);
  Pkcs11Options zero_pool;
  zero_pool.session_pool_size = 0;
  EXPECT_EQ(Pkcs11KeyStore::Open(zero_pool).error().code, ErrorCode::kInvalidArgument);
}

TEST_F(HsmTest, WrongPinIsRefused) {
  auto options = PrepareSoftHsmToken(dir_);
  ASSERT_TRUE(options);
  options->user_pin = SecretBytes(Bytes("not-the-pin"));
  auto store = Pkcs11KeyStore::Open(*options);
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code, ErrorCode::kUnauthenticated);
  EXPECT_NE(store.error().message.find("CKR_PIN_INCORRECT"), std::string::npos);
}

TEST_F(HsmTest, GeneratedRootKeyRoundTrip) {
  auto& store = OpenStore();
  auto root = store.GenerateRootKey();
  ASSERT_TRUE(root) << root.error().ToString();
  EXPECT_EQ(root->size(), 2u + 40u);  // header + RFC 5649 of 32 bytes
  EXPECT_EQ((*root)[0], 0x01);
  EXPECT_EQ((*root)[1], 'R');
  auto other = store.GenerateRootKey().value();
  EXPECT_NE(*root, other);

  std::vector<uint8_t> dek(32, 0x42);
  auto ct = store.Encrypt("v1", *root, Iv(7), Bytes("crn:a"), dek);
  ASSERT_TRUE(ct) << ct.error().ToString();
  EXPECT_EQ(ct->size(), dek.size() + 16);
  auto pt = store.Decrypt("v1", *root, Iv(7), Bytes("crn:a"), *ct);
  ASSERT_TRUE(pt) << pt.error().ToString();
  EXPECT_TRUE(pt->Equals(dek));
  // Another key does not open it.
  auto wrong = store.Decrypt("v2", other, Iv(7), Bytes("crn:a"), *ct);
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().code, ErrorCode::kDataLoss);
  // Empty aad and empty plaintext work too.
  auto ct2 = store.Encrypt("v1", *root, Iv(8), {}, dek).value();
  EXPECT_TRUE(store.Decrypt("v1", *root, Iv(8), {}, ct2).value().Equals(dek));
}

TEST_F(HsmTest, DecryptIntoFillsTheCallersBufferOrWipesIt) {
  auto& store = OpenStore();
  auto root = store.GenerateRootKey().value();
  std::vector<uint8_t> dek(32, 0x17);
  auto ct = store.Encrypt("v", root, Iv(5), Bytes("a"), dek).value();
  SecretBytes out(32);
  ASSERT_TRUE(store.DecryptInto("v", root, Iv(5), Bytes("a"), ct, out.RevealMutable()));
  EXPECT_TRUE(out.Equals(dek));
  auto refused = store.DecryptInto("v", root, Iv(5), Bytes("b"), ct, out.RevealMutable());
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kDataLoss);
  EXPECT_TRUE(out.Equals(std::vector<uint8_t>(32, 0))) << "wiped after a failed tag";
  SecretBytes wrong_size(31);
  auto sized = store.DecryptInto("v", root, Iv(5), Bytes("a"), ct, wrong_size.RevealMutable());
  ASSERT_FALSE(sized);
  EXPECT_EQ(sized.error().code, ErrorCode::kInvalidArgument);
}

TEST_F(HsmTest, ImportedKeysOfEachSizeRoundTrip) {
  auto& store = OpenStore();
  for (size_t size : {16u, 24u, 32u}) {
    SecretBytes key = KnownKey(size);
    auto wrapped = store.WrapRootKey(key);
    ASSERT_TRUE(wrapped) << size << ": " << wrapped.error().ToString();
    EXPECT_EQ(wrapped->size(), 2 + ((size + 7) / 8) * 8 + 8);
    std::string id = "imported-" + std::to_string(size);
    auto ct = store.Encrypt(id, *wrapped, Iv(3), Bytes("aad"), Bytes("payload"));
    ASSERT_TRUE(ct) << ct.error().ToString();
    auto pt = store.Decrypt(id, *wrapped, Iv(3), Bytes("aad"), *ct);
    ASSERT_TRUE(pt) << pt.error().ToString();
    EXPECT_TRUE(pt->Equals(Bytes("payload")));
  }
  for (size_t size : {0u, 15u, 17u, 31u, 33u, 64u}) {
    auto wrapped = store.WrapRootKey(SecretBytes(size));
    ASSERT_FALSE(wrapped) << size;
    EXPECT_EQ(wrapped.error().code, ErrorCode::kInvalidArgument);
  }
}

// The HSM does real AES-256-GCM with the aad: OpenSSL (src/crypto) opens what the HSM sealed
// under an imported known key, and the HSM opens what OpenSSL sealed.
TEST_F(HsmTest, KnownAnswerHsmGcmMatchesOpenSsl) {
  auto& store = OpenStore();
  SecretBytes key = KnownKey(32);
  auto wrapped = store.WrapRootKey(key).value();
  auto iv = Iv(0x30);
  auto aad = Bytes("[\"crn:v1:veil:public:is:vol-1\"]");
  auto dek = Bytes("0123456789abcdef0123456789abcdef");

  auto hsm_ct = store.Encrypt("kat", wrapped, iv, aad, dek);
  ASSERT_TRUE(hsm_ct) << hsm_ct.error().ToString();
  auto openssl_ct = crypto::AesGcmSeal(key.Reveal(), iv, aad, dek);
  ASSERT_TRUE(openssl_ct);
  EXPECT_EQ(*hsm_ct, *openssl_ct);
  auto opened = crypto::AesGcmOpen(key.Reveal(), iv, aad, *hsm_ct);
  ASSERT_TRUE(opened) << opened.error().ToString();
  EXPECT_EQ(*opened, dek);
  auto other_ct = crypto::AesGcmSeal(key.Reveal(), Iv(0x40), Bytes("x"), Bytes("from openssl"));
  auto hsm_pt = store.Decrypt("kat", wrapped, Iv(0x40), Bytes("x"), *other_ct);
  ASSERT_TRUE(hsm_pt) << hsm_pt.error().ToString();
  EXPECT_TRUE(hsm_pt->Equals(Bytes("from openssl")));
  // The aad is bound: OpenSSL refuses the HSM's ciphertext with another aad.
  EXPECT_FALSE(crypto::AesGcmOpen(key.Reveal(), iv, Bytes("other"), *hsm_ct));

  // NIST GCM test vector (gcmEncryptExtIV256, Count 0 with 16-byte PT: McGrew-Viega test case 14):
  // K = 0^32, IV = 0^12, P = 0^16 -> C = cea7403d4d606b6e074ec5d3baf39d18, T =
  // d0d1c8a799996bf0265b98b5d48ab919.
  auto zero_key = store.WrapRootKey(SecretBytes(32)).value();
  auto nist =
      store.Encrypt("nist", zero_key, std::vector<uint8_t>(12), {}, std::vector<uint8_t>(16));
  ASSERT_TRUE(nist);
  EXPECT_EQ(HexEncode(*nist), "cea7403d4d606b6e074ec5d3baf39d18d0d1c8a799996bf0265b98b5d48ab919");
}

TEST_F(HsmTest, TamperedCiphertextTagAadOrIvIsRefused) {
  auto& store = OpenStore();
  auto root = store.GenerateRootKey().value();
  auto iv = Iv(9);
  auto aad = Bytes("bound");
  auto ct = store.Encrypt("t", root, iv, aad, Bytes("a 32-byte data encryption key..")).value();

  auto expect_data_loss = [&](std::span<const uint8_t> v, std::span<const uint8_t> a,
                              std::span<const uint8_t> c, const char* what) {
    auto r = store.Decrypt("t", root, v, a, c);
    ASSERT_FALSE(r) << what;
    EXPECT_EQ(r.error().code, ErrorCode::kDataLoss) << what << ": " << r.error().ToString();
    EXPECT_EQ(r.error().message.find("a 32-byte"), std::string::npos);
  };
  auto bad = ct;
  bad[0] ^= 1;
  expect_data_loss(iv, aad, bad, "ciphertext bit");
  bad = ct;
  bad.back() ^= 0x80;
  expect_data_loss(iv, aad, bad, "tag bit");
  expect_data_loss(iv, Bytes("bounD"), ct, "aad");
  expect_data_loss(iv, {}, ct, "missing aad");
  expect_data_loss(Iv(10), aad, ct, "iv");
  bad = ct;
  bad.pop_back();
  expect_data_loss(iv, aad, bad, "truncated");
  bad = ct;
  bad.push_back(0);
  expect_data_loss(iv, aad, bad, "extended");

  auto short_ct = store.Decrypt("t", root, iv, aad, std::vector<uint8_t>(15));
  ASSERT_FALSE(short_ct);
  EXPECT_EQ(short_ct.error().code, ErrorCode::kInvalidArgument);
  auto short_iv = store.Decrypt("t", root, std::vector<uint8_t>(16), aad, ct);
  ASSERT_FALSE(short_iv);
  EXPECT_EQ(short_iv.error().code, ErrorCode::kInvalidArgument);
  // The session that saw the failures still works.
  for (int i = 0; i < 20; ++i) {
    EXPECT_TRUE(store.Decrypt("t", root, iv, aad, ct)) << i;
  }
}

TEST_F(HsmTest, WrongWrappedBlobIsRefused) {
  // Two tokens in one SoftHSM2 directory: a blob of one master key is foreign to the other.
  auto other_options = PrepareSoftHsmToken(dir_, "other");
  ASSERT_TRUE(other_options) << other_options.error().ToString();
  auto& store = OpenStore();
  auto other = Pkcs11KeyStore::Open(*other_options);
  ASSERT_TRUE(other) << other.error().ToString();
  auto foreign = (*other)->GenerateRootKey().value();
  auto root = store.GenerateRootKey().value();

  auto expect = [&](const WrappedKey& blob, ErrorCode code, const char* what) {
    auto r = store.Encrypt(std::string("id-") + what, blob, Iv(1), {}, Bytes("x"));
    ASSERT_FALSE(r) << what;
    EXPECT_EQ(r.error().code, code) << what << ": " << r.error().ToString();
  };
  expect(foreign, ErrorCode::kDataLoss, "foreign master key");
  auto flipped = root;
  flipped[10] ^= 4;
  expect(flipped, ErrorCode::kDataLoss, "flipped bit");
  auto truncated = root;
  truncated.resize(root.size() - 8);
  expect(truncated, ErrorCode::kDataLoss, "truncated by a block");
  truncated.resize(root.size() - 3);
  expect(truncated, ErrorCode::kInvalidArgument, "impossible size");
  auto version = root;
  version[0] = 2;
  expect(version, ErrorCode::kInvalidArgument, "version");
  auto sealed = store.SealPayload(SecretBytes(Bytes("0123456789abcdef0123456789abcdef"))).value();
  expect(sealed, ErrorCode::kInvalidArgument, "sealed payload as root key");
  expect({}, ErrorCode::kInvalidArgument, "empty");
  // A root blob is no sealed payload either.
  auto unseal = store.UnsealPayload(root);
  ASSERT_FALSE(unseal);
  EXPECT_EQ(unseal.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(store.cached_keys(), 0u);
}

TEST_F(HsmTest, MasterKeyIsSensitiveAndNotExtractable) {
  OpenStore();
  Session session = OwnSession();
  Template t;
  t.Ulong(CKA_CLASS, CKO_SECRET_KEY).Bool(CKA_TOKEN, true).String(CKA_LABEL, "veil-master");
  auto found = session.Find(t.attrs());
  ASSERT_TRUE(found);
  ASSERT_EQ(found->size(), 1u);
  CK_OBJECT_HANDLE master = (*found)[0];
  auto value = session.GetAttribute(master, CKA_VALUE);
  ASSERT_FALSE(value) << "the master key's CKA_VALUE must not be readable";
  EXPECT_NE(value.error().message.find("CKR_ATTRIBUTE_SENSITIVE"), std::string::npos)
      << value.error().ToString();
  EXPECT_TRUE(session.GetBool(master, CKA_SENSITIVE).value());
  EXPECT_FALSE(session.GetBool(master, CKA_EXTRACTABLE).value());
  EXPECT_TRUE(session.GetBool(master, CKA_ALWAYS_SENSITIVE).value());
  EXPECT_TRUE(session.GetBool(master, CKA_NEVER_EXTRACTABLE).value());
  EXPECT_TRUE(session.GetBool(master, CKA_WRAP).value());
  EXPECT_TRUE(session.GetBool(master, CKA_UNWRAP).value());
  EXPECT_EQ(session.GetAttribute(master, CKA_VALUE_LEN).value().size(), sizeof(CK_ULONG));

  // CKA_ALLOWED_MECHANISMS: AES-ECB (which could undo RFC 5649 block by block) is refused.
  CK_MECHANISM ecb{CKM_AES_ECB, nullptr, 0};
  auto allowed = session.GetAttribute(master, CKA_ALLOWED_MECHANISMS);
  ASSERT_TRUE(allowed) << allowed.error().ToString();
  ASSERT_EQ(allowed->size(), 2 * sizeof(CK_MECHANISM_TYPE));
  std::vector<CK_MECHANISM_TYPE> mechanisms(2);
  std::memcpy(mechanisms.data(), allowed->data(), allowed->size());
  std::sort(mechanisms.begin(), mechanisms.end());
  EXPECT_EQ(mechanisms, (std::vector<CK_MECHANISM_TYPE>{CKM_AES_GCM, CKM_AES_KEY_WRAP_PAD}));
  CK_RV rv = session.fn()->C_DecryptInit(session.handle(), &ecb, master);
  EXPECT_EQ(rv, static_cast<CK_RV>(CKR_MECHANISM_INVALID))
      << "the master key must not decrypt with CKM_AES_ECB: " << internal::RvName(rv);
  if (rv == CKR_OK) {
    std::vector<uint8_t> in(16), out(16);
    CK_ULONG len = out.size();
    session.fn()->C_Decrypt(session.handle(), in.data(), in.size(), out.data(), &len);
  }
}

TEST_F(HsmTest, UnwrappedRootKeysAreNonExtractableSessionObjects) {
  auto& store = OpenStore();
  auto root = store.WrapRootKey(KnownKey(32)).value();
  ASSERT_TRUE(store.Encrypt("k", root, Iv(1), {}, Bytes("x")));
  Session session = OwnSession();
  auto keys = SessionKeys(session);
  ASSERT_EQ(keys.size(), 1u);
  EXPECT_FALSE(session.GetAttribute(keys[0], CKA_VALUE));
  EXPECT_TRUE(session.GetBool(keys[0], CKA_SENSITIVE).value());
  EXPECT_FALSE(session.GetBool(keys[0], CKA_EXTRACTABLE).value());
  EXPECT_FALSE(session.GetBool(keys[0], CKA_TOKEN).value());
  EXPECT_FALSE(session.GetBool(keys[0], CKA_WRAP).value());
  EXPECT_TRUE(session.GetBool(keys[0], CKA_ENCRYPT).value());
  // Nor can the master key wrap it out again.
  Template t;
  t.Ulong(CKA_CLASS, CKO_SECRET_KEY).Bool(CKA_TOKEN, true).String(CKA_LABEL, "veil-master");
  auto master = session.Find(t.attrs()).value().at(0);
  CK_MECHANISM kwp{CKM_AES_KEY_WRAP_PAD, nullptr, 0};
  uint8_t out[64];
  CK_ULONG len = sizeof(out);
  EXPECT_EQ(session.fn()->C_WrapKey(session.handle(), &kwp, master, keys[0], out, &len),
            static_cast<CK_RV>(CKR_KEY_UNEXTRACTABLE));

  // Forget destroys the object.
  store.Forget("k");
  EXPECT_EQ(store.cached_keys(), 0u);
  EXPECT_TRUE(SessionKeys(session).empty());
  store.Forget("never-cached");  // no-op
}

TEST_F(HsmTest, CacheEvictionKeepsEveryKeyWorkingAndDestroysEvictedObjects) {
  auto& store = OpenStore(/*max_cached_keys=*/2);
  std::vector<WrappedKey> roots;
  std::vector<std::vector<uint8_t>> cts;
  for (int i = 0; i < 5; ++i) {
    roots.push_back(store.GenerateRootKey().value());
    cts.push_back(store
                      .Encrypt("key-" + std::to_string(i), roots[i], Iv(i), Bytes("a"),
                               Bytes("dek-" + std::to_string(i)))
                      .value());
    EXPECT_LE(store.cached_keys(), 2u);
  }
  for (int round = 0; round < 3; ++round) {
    for (int i = 4; i >= 0; --i) {
      auto pt = store.Decrypt("key-" + std::to_string(i), roots[i], Iv(i), Bytes("a"), cts[i]);
      ASSERT_TRUE(pt) << i << ": " << pt.error().ToString();
      EXPECT_TRUE(pt->Equals(Bytes("dek-" + std::to_string(i))));
    }
  }
  EXPECT_EQ(store.cached_keys(), 2u);
  Session session = OwnSession();
  EXPECT_EQ(SessionKeys(session).size(), 2u) << "evicted session objects must be destroyed";
}

TEST_F(HsmTest, SameIdWithAnotherBlobUsesTheNewBlob) {
  auto& store = OpenStore();
  auto a = store.GenerateRootKey().value();
  auto b = store.GenerateRootKey().value();
  auto ct_a = store.Encrypt("id", a, Iv(1), {}, Bytes("A")).value();
  auto ct_b = store.Encrypt("id", b, Iv(1), {}, Bytes("B")).value();
  EXPECT_NE(ct_a, ct_b);
  EXPECT_TRUE(store.Decrypt("id", a, Iv(1), {}, ct_a).value().Equals(Bytes("A")));
  EXPECT_FALSE(store.Decrypt("id", b, Iv(1), {}, ct_a));
  EXPECT_EQ(store.cached_keys(), 1u);
  Session session = OwnSession();
  EXPECT_EQ(SessionKeys(session).size(), 1u);
}

TEST_F(HsmTest, ConcurrentOperationsScaleAndLeakNoObjects) {
  auto& store = OpenStore(/*max_cached_keys=*/2);
  std::vector<WrappedKey> roots;
  for (int i = 0; i < 3; ++i) roots.push_back(store.GenerateRootKey().value());
  // Eight threads missing the cache for one id at the same time make one object.
  {
    auto fresh = store.GenerateRootKey().value();
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    std::atomic<int> ok{0};
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&] {
        while (!go) std::this_thread::yield();
        if (store.Encrypt("fresh", fresh, Iv(1), {}, Bytes("x"))) ++ok;
      });
    }
    go = true;
    for (auto& th : threads) th.join();
    EXPECT_EQ(ok.load(), 8);
    Session session = OwnSession();
    EXPECT_EQ(SessionKeys(session).size(), 1u);
  }

  constexpr int kThreads = 8, kOps = 300;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kOps; ++i) {
        size_t k = static_cast<size_t>(t + i) % roots.size();
        std::string id = "key-" + std::to_string(k);
        auto iv = Iv(static_cast<uint8_t>(i));
        std::vector<uint8_t> dek(32, static_cast<uint8_t>(t * 31 + i));
        auto ct = store.Encrypt(id, roots[k], iv, Bytes(id), dek);
        if (!ct) {
          ++failures;
          continue;
        }
        auto pt = store.Decrypt(id, roots[k], iv, Bytes(id), *ct);
        if (!pt || !pt->Equals(dek)) ++failures;
        if (i % 50 == 0) store.Forget(id);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_LE(store.cached_keys(), 2u);
  Session session = OwnSession();
  EXPECT_EQ(SessionKeys(session).size(), store.cached_keys()) << "no session object leaked";
}

TEST_F(HsmTest, StandardPayloadsSealAndUnsealUpTo7500Bytes) {
  auto& store = OpenStore();
  for (size_t size : {1u, 32u, 1000u, 7500u}) {
    SecretBytes payload(size);
    for (size_t i = 0; i < size; ++i) payload.RevealMutable()[i] = static_cast<uint8_t>(i * 7);
    auto sealed = store.SealPayload(payload);
    ASSERT_TRUE(sealed) << size << ": " << sealed.error().ToString();
    EXPECT_EQ(sealed->size(), size + 30);
    EXPECT_EQ((*sealed)[0], 0x01);
    EXPECT_EQ((*sealed)[1], 'S');
    auto again = store.SealPayload(payload).value();
    EXPECT_NE(*sealed, again) << "a fresh iv per seal";
    auto opened = store.UnsealPayload(*sealed);
    ASSERT_TRUE(opened) << opened.error().ToString();
    EXPECT_TRUE(opened->Equals(payload));
    auto bad = *sealed;
    bad[bad.size() / 2] ^= 1;
    auto refused = store.UnsealPayload(bad);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code, ErrorCode::kDataLoss);
  }
  auto sealed = store.SealPayload(SecretBytes(Bytes("payload"))).value();
  auto header = sealed;
  header[1] = 'R';
  EXPECT_EQ(store.UnsealPayload(header).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(store.SealPayload(SecretBytes()).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(store.SealPayload(SecretBytes(7501)).error().code, ErrorCode::kInvalidArgument);
}

// Import a known key and seal a known payload, use them, then search every file under the HSM
// directory for their bytes, hex and base64: nothing is found.
TEST_F(HsmTest, ImportedKeyAndPayloadAppearInNoFileUnderTheHsmDir) {
  SecretBytes key = KnownKey(32);
  SecretBytes payload(Bytes("standard-key-payload:d1f0e3c2b5a49786"));
  {
    auto& store = OpenStore();
    auto wrapped = store.WrapRootKey(key).value();
    auto ct = store.Encrypt("k", wrapped, Iv(2), {}, Bytes("x")).value();
    ASSERT_TRUE(store.Decrypt("k", wrapped, Iv(2), {}, ct));
    auto sealed = store.SealPayload(payload).value();
    ASSERT_TRUE(store.UnsealPayload(sealed));
    store_.reset();
  }
  std::vector<std::vector<uint8_t>> needles;
  for (const SecretBytes* s : {&key, &payload}) {
    std::vector<uint8_t> raw(s->Reveal().begin(), s->Reveal().end());
    needles.push_back(raw);
    needles.push_back(Bytes(HexEncode(raw)));
    std::string upper = HexEncode(raw);
    std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
    needles.push_back(Bytes(upper));
    std::string b64 = Base64Encode(raw);
    while (!b64.empty() && b64.back() == '=') b64.pop_back();
    needles.push_back(Bytes(b64));
    needles.push_back(Bytes(Base64UrlEncode(raw)));
  }
  size_t files = 0;
  for (const auto& entry : fs::recursive_directory_iterator(dir_)) {
    if (!entry.is_regular_file()) continue;
    ++files;
    std::ifstream in(entry.path(), std::ios::binary);
    std::vector<uint8_t> content((std::istreambuf_iterator<char>(in)),
                                 std::istreambuf_iterator<char>());
    for (const auto& needle : needles) {
      EXPECT_EQ(std::search(content.begin(), content.end(), needle.begin(), needle.end()),
                content.end())
          << "secret found in " << entry.path();
    }
  }
  EXPECT_GE(files, 3u);  // conf, pins, the token's files
}

}  // namespace
}  // namespace veil::hsm
