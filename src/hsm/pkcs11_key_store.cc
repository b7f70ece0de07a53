#include "hsm/pkcs11_key_store.h"

#include <string.h>  // explicit_bzero

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <list>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/random.h"
#include "hsm/internal/pkcs11.h"

namespace veil::hsm {

using internal::CheckRv;
using internal::Module;
using internal::RvCode;
using internal::RvError;
using internal::RvName;
using internal::ScopedObject;
using internal::Session;
using internal::Template;

namespace {

// Blob header (key_store.h, docs/hsm.md): format version, then kind.
constexpr uint8_t kFormatVersion = 0x01;
constexpr uint8_t kKindRoot = 'R';
constexpr uint8_t kKindSealed = 'S';
constexpr size_t kHeaderSize = 2;
// RFC 5649 output for a 16..32-byte key: the key padded to 8 bytes plus the 8-byte integrity block.
constexpr size_t kMaxKwpSize = 40;

// PKCS#11 takes non-const pointers to input buffers; an empty span may have no pointer at all,
// which some modules refuse, so an empty input points at a harmless byte.
CK_BYTE* InPtr(std::span<const uint8_t> s) {
  static CK_BYTE empty = 0;
  return s.empty() ? &empty : const_cast<CK_BYTE*>(s.data());
}

Status CheckHeader(std::span<const uint8_t> blob, uint8_t kind, size_t min_size,
                   std::string_view what) {
  if (blob.size() < min_size) return InvalidArgument(std::string(what) + " is too short");
  if (blob[0] != kFormatVersion) {
    return InvalidArgument(std::string(what) + " has unknown format version " +
                           std::to_string(blob[0]));
  }
  if (blob[1] != kind) return InvalidArgument(std::string(what) + " is not of the expected kind");
  return OkStatus();
}

// Whether a failed decryption or unwrap means "the input does not verify" rather than an HSM
// failure. Modules differ: SoftHSM2 reports a bad GCM tag as CKR_ENCRYPTED_DATA_INVALID or
// CKR_GENERAL_ERROR, a bad RFC 5649 blob as CKR_WRAPPED_KEY_INVALID or CKR_GENERAL_ERROR.
bool IsVerificationFailure(CK_RV rv) {
  switch (rv) {
    case CKR_ENCRYPTED_DATA_INVALID:
    case CKR_ENCRYPTED_DATA_LEN_RANGE:
    case CKR_WRAPPED_KEY_INVALID:
    case CKR_WRAPPED_KEY_LEN_RANGE:
    case CKR_DATA_INVALID:
    case CKR_DATA_LEN_RANGE:
    case CKR_GENERAL_ERROR:
    case CKR_FUNCTION_FAILED:
      return true;
    default:
      return false;
  }
}

Error VerificationError(std::string_view what, CK_RV rv) {
  if (IsVerificationFailure(rv)) {
    return Error(ErrorCode::kDataLoss, std::string(what) + " does not verify (" + RvName(rv) + ")");
  }
  return RvError(what, rv);
}

// The secret-key usage attributes, all false but the ones named.
void Usage(Template& t, bool encrypt_decrypt, bool wrap_unwrap) {
  t.Bool(CKA_ENCRYPT, encrypt_decrypt)
      .Bool(CKA_DECRYPT, encrypt_decrypt)
      .Bool(CKA_WRAP, wrap_unwrap)
      .Bool(CKA_UNWRAP, wrap_unwrap)
      .Bool(CKA_SIGN, false)
      .Bool(CKA_VERIFY, false)
      .Bool(CKA_DERIVE, false);
}

struct GcmParams {
  CK_GCM_PARAMS params;
  CK_MECHANISM mechanism;
  GcmParams(std::span<const uint8_t> iv, std::span<const uint8_t> aad) {
    params.pIv = InPtr(iv);
    params.ulIvLen = iv.size();
    params.ulIvBits = iv.size() * 8;
    params.pAAD = aad.empty() ? nullptr : const_cast<CK_BYTE*>(aad.data());
    params.ulAADLen = aad.size();
    params.ulTagBits = kGcmTagSize * 8;
    mechanism = {CKM_AES_GCM, &params, sizeof(params)};
  }
};

// AES-GCM encryption of `plaintext` under `key` into `out` (room for plaintext + tag); returns the
// bytes written.
Result<size_t> GcmEncrypt(Session& session, CK_OBJECT_HANDLE key, std::span<const uint8_t> iv,
                          std::span<const uint8_t> aad, std::span<const uint8_t> plaintext,
                          std::span<uint8_t> out) {
  GcmParams gcm(iv, aad);
  VEIL_TRY(
      CheckRv("C_EncryptInit", session.fn()->C_EncryptInit(session.handle(), &gcm.mechanism, key)));
  CK_ULONG len = out.size();
  CK_RV rv = session.fn()->C_Encrypt(session.handle(), InPtr(plaintext), plaintext.size(),
                                     out.data(), &len);
  VEIL_TRY(CheckRv("C_Encrypt", rv));
  if (len != plaintext.size() + kGcmTagSize) return Internal("C_Encrypt: unexpected output size");
  return static_cast<size_t>(len);
}

// AES-GCM decryption of ciphertext || tag into `out` (exactly the plaintext's size). Nothing is
// left in `out` unless the tag verifies.
Status GcmDecryptInto(Session& session, CK_OBJECT_HANDLE key, std::span<const uint8_t> iv,
                      std::span<const uint8_t> aad, std::span<const uint8_t> sealed,
                      std::span<uint8_t> out, std::string_view what) {
  GcmParams gcm(iv, aad);
  VEIL_TRY(
      CheckRv("C_DecryptInit", session.fn()->C_DecryptInit(session.handle(), &gcm.mechanism, key)));
  // SoftHSM2 (like other modules) wants room for the whole input, ciphertext and tag, before it
  // has checked the tag, and answers CKR_BUFFER_TOO_SMALL to a plaintext-sized buffer. So decrypt
  // into this thread's scratch buffer (a SecretBytes allocated and locked once per thread, not
  // per call: mlock is the dearest part of a small decryption), copy the plaintext out, wipe.
  thread_local SecretBytes scratch;
  if (scratch.size() < sealed.size()) {
    scratch = SecretBytes(std::max<size_t>(sealed.size(), kMaxPayloadSize + kGcmTagSize));
  }
  CK_ULONG len = sealed.size();
  CK_RV rv = session.fn()->C_Decrypt(session.handle(), InPtr(sealed), sealed.size(),
                                     scratch.RevealMutable().data(), &len);
  const bool ok = rv == CKR_OK && len == out.size();
  if (ok && !out.empty()) std::memcpy(out.data(), scratch.Reveal().data(), out.size());
  explicit_bzero(scratch.RevealMutable().data(), sealed.size());
  if (!ok) {
    if (!out.empty()) explicit_bzero(out.data(), out.size());
    if (rv != CKR_OK) return tl::unexpected(VerificationError(what, rv));
    return Internal("C_Decrypt: unexpected output size");
  }
  return OkStatus();
}

Result<SecretBytes> GcmDecrypt(Session& session, CK_OBJECT_HANDLE key, std::span<const uint8_t> iv,
                               std::span<const uint8_t> aad, std::span<const uint8_t> sealed,
                               std::string_view what) {
  SecretBytes plain(sealed.size() - kGcmTagSize);
  VEIL_TRY(GcmDecryptInto(session, key, iv, aad, sealed, plain.RevealMutable(), what));
  return plain;
}

// A fixed set of logged-in sessions handed out one thread at a time.
class SessionPool {
 public:
  class Lease {
   public:
    Lease(SessionPool* pool, Session* session) : pool_(pool), session_(session) {}
    ~Lease() { pool_->Release(session_); }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    Session& operator*() const { return *session_; }
    Session* operator->() const { return session_; }

   private:
    SessionPool* pool_;
    Session* session_;
  };

  explicit SessionPool(std::vector<Session> sessions) : sessions_(std::move(sessions)) {
    for (auto& s : sessions_) free_.push_back(&s);
  }

  Lease Acquire() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return !free_.empty(); });
    Session* s = free_.back();
    free_.pop_back();
    return Lease(this, s);
  }

 private:
  void Release(Session* s) {
    {
      std::lock_guard lock(mu_);
      free_.push_back(s);
    }
    cv_.notify_one();
  }

  std::vector<Session> sessions_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Session*> free_;
};

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

}  // namespace

// An unwrapped root key: a session object owned by State::owner, destroyed by its shared_ptr's
// deleter when neither the cache nor any operation in flight holds it.
struct CachedKey {
  CK_OBJECT_HANDLE handle;
};

struct Pkcs11KeyStore::State {
  // Declaration order is destruction order reversed: the cache's objects are destroyed (through
  // `owner`) before the sessions close and the module is finalized.
  std::shared_ptr<Module> module;
  std::mutex owner_mu;
  Session owner;  // long-lived: creates and destroys the unwrapped root keys
  std::unique_ptr<SessionPool> pool;
  CK_OBJECT_HANDLE master = CK_INVALID_HANDLE;
  bool master_created = false;
  size_t max_cached_keys = 0;
  OsRandom random;

  std::mutex miss_mu;  // one unwrap at a time: two misses on one id make one object
  mutable std::mutex cache_mu;
  struct Entry {
    std::shared_ptr<const CachedKey> key;
    WrappedKey wrapped;
    std::list<std::string>::iterator lru_pos;
  };
  std::list<std::string> lru;  // most recently used first
  std::unordered_map<std::string, Entry, StringHash, std::equal_to<>> cache;

  explicit State(Session s) : owner(std::move(s)) {}

  ~State() {
    std::unique_lock lock(cache_mu);
    auto entries = std::move(cache);
    lock.unlock();
    entries.clear();  // runs the deleters: C_DestroyObject through `owner`
  }

  void DestroyObject(CK_OBJECT_HANDLE handle) {
    std::lock_guard lock(owner_mu);
    (void)owner.Destroy(handle);  // nothing useful to do on failure: the session owns it anyway
  }

  std::shared_ptr<const CachedKey> Lookup(std::string_view id, const WrappedKey& wrapped) {
    std::lock_guard lock(cache_mu);
    auto it = cache.find(id);
    if (it == cache.end() || it->second.wrapped != wrapped) return nullptr;
    lru.splice(lru.begin(), lru, it->second.lru_pos);
    return it->second.key;
  }

  Result<std::shared_ptr<const CachedKey>> GetKey(std::string_view id, const WrappedKey& wrapped) {
    if (auto key = Lookup(id, wrapped)) return key;
    VEIL_TRY(CheckHeader(wrapped, kKindRoot, kHeaderSize + 24, "wrapped root key"));
    if (wrapped.size() > kHeaderSize + kMaxKwpSize || (wrapped.size() - kHeaderSize) % 8 != 0) {
      return InvalidArgument("wrapped root key has an impossible size");
    }
    // Released only after every lock below is dropped: their deleters take owner_mu.
    std::vector<std::shared_ptr<const CachedKey>> dropped;
    std::lock_guard miss(miss_mu);
    if (auto key = Lookup(id, wrapped)) return key;

    Template t;
    t.Ulong(CKA_CLASS, CKO_SECRET_KEY)
        .Ulong(CKA_KEY_TYPE, CKK_AES)
        .Bool(CKA_TOKEN, false)
        .Bool(CKA_PRIVATE, true)
        .Bool(CKA_SENSITIVE, true)
        .Bool(CKA_EXTRACTABLE, false);
    Usage(t, /*encrypt_decrypt=*/true, /*wrap_unwrap=*/false);
    auto attrs = t.attrs();
    CK_MECHANISM kwp{CKM_AES_KEY_WRAP_PAD, nullptr, 0};
    CK_OBJECT_HANDLE handle = CK_INVALID_HANDLE;
    CK_RV rv;
    {
      std::lock_guard lock(owner_mu);
      rv = owner.fn()->C_UnwrapKey(
          owner.handle(), &kwp, master, const_cast<CK_BYTE*>(wrapped.data() + kHeaderSize),
          wrapped.size() - kHeaderSize, attrs.data(), attrs.size(), &handle);
    }
    if (rv != CKR_OK) return tl::unexpected(VerificationError("wrapped root key", rv));
    std::shared_ptr<const CachedKey> key(new CachedKey{handle}, [this](const CachedKey* k) {
      DestroyObject(k->handle);
      delete k;
    });

    std::lock_guard lock(cache_mu);
    if (auto it = cache.find(id); it != cache.end()) {  // the same id with another blob
      dropped.push_back(std::move(it->second.key));
      lru.erase(it->second.lru_pos);
      cache.erase(it);
    }
    lru.emplace_front(id);
    cache.emplace(std::string(id), Entry{key, wrapped, lru.begin()});
    while (cache.size() > max_cached_keys) {
      auto victim = cache.find(lru.back());
      dropped.push_back(std::move(victim->second.key));
      cache.erase(victim);
      lru.pop_back();
    }
    return key;
  }

  // RFC 5649 wrap of the transient key `object` under the master key, with the blob header.
  Result<WrappedKey> WrapObject(Session& session, CK_OBJECT_HANDLE object) {
    CK_MECHANISM kwp{CKM_AES_KEY_WRAP_PAD, nullptr, 0};
    WrappedKey out(kHeaderSize + kMaxKwpSize);
    out[0] = kFormatVersion;
    out[1] = kKindRoot;
    CK_ULONG len = kMaxKwpSize;
    VEIL_TRY(CheckRv("C_WrapKey", session.fn()->C_WrapKey(session.handle(), &kwp, master, object,
                                                          out.data() + kHeaderSize, &len)));
    out.resize(kHeaderSize + len);
    return out;
  }
};

Pkcs11KeyStore::Pkcs11KeyStore(std::unique_ptr<State> state) : state_(std::move(state)) {}
Pkcs11KeyStore::~Pkcs11KeyStore() = default;

namespace {

// Finds the master key by label or generates it. Sets *created when it generated one.
Result<CK_OBJECT_HANDLE> FindOrCreateMasterKey(Session& session, const std::string& label,
                                               bool* created) {
  Template find;
  find.Ulong(CKA_CLASS, CKO_SECRET_KEY)
      .Ulong(CKA_KEY_TYPE, CKK_AES)
      .Bool(CKA_TOKEN, true)
      .String(CKA_LABEL, label);
  auto found = VEIL_TRY_VALUE(session.Find(find.attrs()));
  if (found.size() > 1) {
    return FailedPrecondition("several master keys labelled '" + label + "' on the token");
  }
  if (found.size() == 1) {
    // A key someone else made must still meet the contract, or root keys could leak through it.
    auto sensitive = VEIL_TRY_VALUE(session.GetBool(found[0], CKA_SENSITIVE));
    auto extractable = VEIL_TRY_VALUE(session.GetBool(found[0], CKA_EXTRACTABLE));
    if (!sensitive || extractable) {
      return FailedPrecondition("master key '" + label +
                                "' is not sensitive or is extractable: refusing to use it");
    }
    *created = false;
    return found[0];
  }

  CK_MECHANISM gen{CKM_AES_KEY_GEN, nullptr, 0};
  const CK_MECHANISM_TYPE allowed[] = {CKM_AES_KEY_WRAP_PAD, CKM_AES_GCM};
  for (bool restrict_mechanisms : {true, false}) {
    Template t;
    t.Ulong(CKA_CLASS, CKO_SECRET_KEY)
        .Ulong(CKA_KEY_TYPE, CKK_AES)
        .Ulong(CKA_VALUE_LEN, 32)
        .Bool(CKA_TOKEN, true)
        .Bool(CKA_PRIVATE, true)
        .Bool(CKA_SENSITIVE, true)
        .Bool(CKA_EXTRACTABLE, false)
        .String(CKA_LABEL, label);
    Usage(t, /*encrypt_decrypt=*/true, /*wrap_unwrap=*/true);
    if (restrict_mechanisms) {
      // Without this, C_Decrypt with CKM_AES_ECB under the master key could undo RFC 5649 block
      // by block and reveal root keys to anyone holding the PIN.
      t.Bytes(CKA_ALLOWED_MECHANISMS,
              std::span(reinterpret_cast<const uint8_t*>(allowed), sizeof(allowed)));
    }
    auto attrs = t.attrs();
    CK_OBJECT_HANDLE handle = CK_INVALID_HANDLE;
    CK_RV rv =
        session.fn()->C_GenerateKey(session.handle(), &gen, attrs.data(), attrs.size(), &handle);
    if (rv == CKR_ATTRIBUTE_TYPE_INVALID && restrict_mechanisms) continue;  // older module
    VEIL_TRY(CheckRv("C_GenerateKey (master key)", rv));
    *created = true;
    return handle;
  }
  return Internal("unreachable");
}

}  // namespace

Result<std::unique_ptr<Pkcs11KeyStore>> Pkcs11KeyStore::Open(const Pkcs11Options& options) {
  if (options.session_pool_size == 0 || options.max_cached_keys == 0) {
    return InvalidArgument("session_pool_size and max_cached_keys must be at least 1");
  }
  auto module = VEIL_TRY_VALUE(Module::Load(options.module_path));
  auto slot = VEIL_TRY_VALUE(module->FindTokenSlot(options.token_label));
  auto owner = VEIL_TRY_VALUE(Session::Open(module, slot));
  if (auto s = owner.Login(CKU_USER, options.user_pin.Reveal()); !s) {
    return tl::unexpected(s.error().Wrap("log in to token '" + options.token_label + "'"));
  }
  auto state = std::make_unique<State>(std::move(owner));
  state->module = module;
  state->max_cached_keys = options.max_cached_keys;
  state->master = VEIL_TRY_VALUE(
      FindOrCreateMasterKey(state->owner, options.master_key_label, &state->master_created));
  std::vector<Session> sessions;
  for (size_t i = 0; i < options.session_pool_size; ++i) {
    sessions.push_back(VEIL_TRY_VALUE(Session::Open(module, slot)));
  }
  state->pool = std::make_unique<SessionPool>(std::move(sessions));
  return std::unique_ptr<Pkcs11KeyStore>(new Pkcs11KeyStore(std::move(state)));
}

Result<WrappedKey> Pkcs11KeyStore::GenerateRootKey() {
  auto session = state_->pool->Acquire();
  Template t;
  t.Ulong(CKA_CLASS, CKO_SECRET_KEY)
      .Ulong(CKA_KEY_TYPE, CKK_AES)
      .Ulong(CKA_VALUE_LEN, 32)
      .Bool(CKA_TOKEN, false)
      .Bool(CKA_PRIVATE, true)
      .Bool(CKA_SENSITIVE, true)
      .Bool(CKA_EXTRACTABLE, true);  // only so that the master key can wrap it
  Usage(t, false, false);
  auto attrs = t.attrs();
  CK_MECHANISM gen{CKM_AES_KEY_GEN, nullptr, 0};
  CK_OBJECT_HANDLE handle = CK_INVALID_HANDLE;
  VEIL_TRY(CheckRv(
      "C_GenerateKey",
      session->fn()->C_GenerateKey(session->handle(), &gen, attrs.data(), attrs.size(), &handle)));
  ScopedObject object(&*session, handle);
  return state_->WrapObject(*session, object.handle());
}

Result<WrappedKey> Pkcs11KeyStore::WrapRootKey(const SecretBytes& material) {
  if (material.size() != 16 && material.size() != 24 && material.size() != 32) {
    return InvalidArgument("root key material must be 16, 24 or 32 bytes, got " +
                           std::to_string(material.size()));
  }
  auto session = state_->pool->Acquire();
  Template t;
  t.Ulong(CKA_CLASS, CKO_SECRET_KEY)
      .Ulong(CKA_KEY_TYPE, CKK_AES)
      .Bool(CKA_TOKEN, false)
      .Bool(CKA_PRIVATE, true)
      .Bool(CKA_SENSITIVE, true)
      .Bool(CKA_EXTRACTABLE, true)
      .Ref(CKA_VALUE, material.Reveal());  // no copy outside the SecretBytes
  Usage(t, false, false);
  auto attrs = t.attrs();
  CK_OBJECT_HANDLE handle = CK_INVALID_HANDLE;
  VEIL_TRY(CheckRv("C_CreateObject", session->fn()->C_CreateObject(session->handle(), attrs.data(),
                                                                   attrs.size(), &handle)));
  ScopedObject object(&*session, handle);
  return state_->WrapObject(*session, object.handle());
}

Result<WrappedKey> Pkcs11KeyStore::SealPayload(const SecretBytes& payload) {
  if (payload.empty() || payload.size() > kMaxPayloadSize) {
    return InvalidArgument("payload must be 1 to " + std::to_string(kMaxPayloadSize) + " bytes");
  }
  WrappedKey out(kHeaderSize + kGcmIvSize + payload.size() + kGcmTagSize);
  out[0] = kFormatVersion;
  out[1] = kKindSealed;
  std::span<uint8_t> iv(out.data() + kHeaderSize, kGcmIvSize);
  state_->random.Fill(iv);
  auto session = state_->pool->Acquire();
  VEIL_TRY(GcmEncrypt(*session, state_->master, iv, std::span(out.data(), kHeaderSize),
                      payload.Reveal(), std::span(out).subspan(kHeaderSize + kGcmIvSize)));
  return out;
}

Result<SecretBytes> Pkcs11KeyStore::UnsealPayload(const WrappedKey& sealed) {
  VEIL_TRY(CheckHeader(sealed, kKindSealed, kHeaderSize + kGcmIvSize + kGcmTagSize + 1,
                       "sealed payload"));
  std::span<const uint8_t> blob(sealed);
  auto session = state_->pool->Acquire();
  return GcmDecrypt(*session, state_->master, blob.subspan(kHeaderSize, kGcmIvSize),
                    blob.first(kHeaderSize), blob.subspan(kHeaderSize + kGcmIvSize),
                    "sealed payload");
}

Result<std::vector<uint8_t>> Pkcs11KeyStore::Encrypt(std::string_view cache_id,
                                                     const WrappedKey& wrapped,
                                                     std::span<const uint8_t> iv,
                                                     std::span<const uint8_t> aad,
                                                     std::span<const uint8_t> plaintext) {
  if (iv.size() != kGcmIvSize) return InvalidArgument("iv must be 12 bytes");
  auto key = VEIL_TRY_VALUE(state_->GetKey(cache_id, wrapped));
  std::vector<uint8_t> out(plaintext.size() + kGcmTagSize);
  auto session = state_->pool->Acquire();
  VEIL_TRY(GcmEncrypt(*session, key->handle, iv, aad, plaintext, out));
  return out;
}

Result<SecretBytes> Pkcs11KeyStore::Decrypt(std::string_view cache_id, const WrappedKey& wrapped,
                                            std::span<const uint8_t> iv,
                                            std::span<const uint8_t> aad,
                                            std::span<const uint8_t> ciphertext_and_tag) {
  if (iv.size() != kGcmIvSize) return InvalidArgument("iv must be 12 bytes");
  if (ciphertext_and_tag.size() < kGcmTagSize) {
    return InvalidArgument("ciphertext is shorter than its 16-byte tag");
  }
  auto key = VEIL_TRY_VALUE(state_->GetKey(cache_id, wrapped));
  auto session = state_->pool->Acquire();
  return GcmDecrypt(*session, key->handle, iv, aad, ciphertext_and_tag, "ciphertext");
}

Status Pkcs11KeyStore::DecryptInto(std::string_view cache_id, const WrappedKey& wrapped,
                                   std::span<const uint8_t> iv, std::span<const uint8_t> aad,
                                   std::span<const uint8_t> ciphertext_and_tag,
                                   std::span<uint8_t> out) {
  if (iv.size() != kGcmIvSize) return InvalidArgument("iv must be 12 bytes");
  if (ciphertext_and_tag.size() < kGcmTagSize) {
    return InvalidArgument("ciphertext is shorter than its 16-byte tag");
  }
  if (out.size() != ciphertext_and_tag.size() - kGcmTagSize) {
    return InvalidArgument("output buffer must be exactly the plaintext's size");
  }
  auto key = VEIL_TRY_VALUE(state_->GetKey(cache_id, wrapped));
  auto session = state_->pool->Acquire();
  return GcmDecryptInto(*session, key->handle, iv, aad, ciphertext_and_tag, out, "ciphertext");
}

void Pkcs11KeyStore::Forget(std::string_view cache_id) {
  std::shared_ptr<const CachedKey> dropped;  // released after the lock: its deleter locks
  std::lock_guard lock(state_->cache_mu);
  auto it = state_->cache.find(cache_id);
  if (it == state_->cache.end()) return;
  dropped = std::move(it->second.key);
  state_->lru.erase(it->second.lru_pos);
  state_->cache.erase(it);
}

size_t Pkcs11KeyStore::cached_keys() const {
  std::lock_guard lock(state_->cache_mu);
  return state_->cache.size();
}

bool Pkcs11KeyStore::master_key_created() const { return state_->master_created; }

}  // namespace veil::hsm
