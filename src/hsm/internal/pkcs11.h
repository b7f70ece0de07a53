// INTERNAL to src/hsm (and its tests and benchmark): RAII layers over a PKCS#11 module, after
// Botan's src/lib/prov/pkcs11: Module (dlopen + C_GetFunctionList + C_Initialize/C_Finalize) ->
// Session (C_OpenSession/C_CloseSession, login, object search, attributes) -> ScopedObject (a
// session object destroyed on scope exit). Every CK_RV other than CKR_OK becomes an Error whose
// message names the CKR_ constant; no message ever carries a PIN or key material.
//
// The p11-kit header stays out of the public headers of src/hsm: only src/hsm/*.cc, the hsm tests
// and bench/hsm_bench.cc include this one.
//
// Thread-safety: a Module is shared by any number of threads (the module is initialized with
// CKF_OS_LOCKING_OK). A Session is used by one thread at a time (PKCS#11's rule); its Login and
// the objects it creates are visible to every session of the process.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

// p11-kit's header in its standard (CRYPTOKI_COMPAT) spelling: CK_ATTRIBUTE with pValue and
// ulValueLen, CK_GCM_PARAMS with pIv, ulIvLen, ulIvBits, pAAD, ulAADLen, ulTagBits. It gets there
// by #defining plain words (value, count, params, ...) to the standard field names; the structs are
// declared by now, so those macros are removed here before they rename identifiers in headers
// included later (std::optional::value, for one).
#include <p11-kit/pkcs11.h>
#undef aad_len
#undef aad_ptr
#undef count
#undef counter_bits
#undef create_mutex
#undef cryptoki_version
#undef data_params
#undef destroy_mutex
#undef device_error
#undef firmware_version
#undef free_private_memory
#undef free_public_memory
#undef hardware_version
#undef hash_alg
#undef iv_bits
#undef iv_len
#undef iv_ptr
#undef library_description
#undef library_version
#undef lock_mutex
#undef manufacturer_id
#undef max_key_size
#undef max_pin_len
#undef max_rw_session_count
#undef max_session_count
#undef min_key_size
#undef min_pin_len
#undef parameter
#undef parameter_len
#undef params
#undef public_data
#undef public_data_len
#undef reserved
#undef rw_session_count
#undef s_len
#undef serial_number
#undef session_count
#undef shared_data
#undef shared_data_len
#undef slot_description
#undef slot_id
#undef source_data
#undef source_data_len
#undef string_data
#undef string_data_len
#undef tag_bits
#undef total_private_memory
#undef total_public_memory
#undef unlock_mutex
#undef utc_time
#undef value
#undef value_len

namespace veil::hsm::internal {

// "CKR_PIN_INCORRECT", or "CKR_0x..." for a value outside the table.
std::string RvName(CK_RV rv);
// The canonical code of a CK_RV: kUnauthenticated for PIN errors, kUnavailable for device/token
// errors, kResourceExhausted for memory/session count, kDataLoss for invalid wrapped or encrypted
// data, kInvalidArgument for bad lengths or arguments, kInternal otherwise.
ErrorCode RvCode(CK_RV rv);
// Error{RvCode(rv), "<what>: <CKR name>"}.
Error RvError(std::string_view what, CK_RV rv);
// OkStatus() for CKR_OK, else RvError.
Status CheckRv(std::string_view what, CK_RV rv);

// A loaded and initialized PKCS#11 module. PKCS#11 allows one C_Initialize per process, so Load()
// returns the module already loaded from the same path while it is alive; the last holder's
// release calls C_Finalize and dlclose.
class Module {
 public:
  // kNotFound when the file cannot be loaded; kInternal when it is no PKCS#11 module.
  [[nodiscard]] static Result<std::shared_ptr<Module>> Load(const std::string& path);
  // Whether a Module for `path` is alive in this process.
  static bool IsLoaded(const std::string& path);

  ~Module();
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  CK_FUNCTION_LIST* fn() const { return fn_; }
  const std::string& path() const { return path_; }

  // Slots with a token present.
  [[nodiscard]] Result<std::vector<CK_SLOT_ID>> SlotsWithToken() const;
  // The slot whose initialized token has this label; kNotFound if none.
  [[nodiscard]] Result<CK_SLOT_ID> FindTokenSlot(std::string_view label) const;
  // The first slot whose token is not initialized (SoftHSM2 always offers one); kNotFound if none.
  [[nodiscard]] Result<CK_SLOT_ID> FindFreeSlot() const;

 private:
  Module(std::string path, void* handle, CK_FUNCTION_LIST* fn)
      : path_(std::move(path)), handle_(handle), fn_(fn) {}
  std::string path_;
  void* handle_;
  CK_FUNCTION_LIST* fn_;
};

// A CK_TOKEN_INFO label (32 bytes, space padded) without its padding.
std::string TokenLabel(const CK_TOKEN_INFO& info);

// A PKCS#11 session (serial; read-write unless asked otherwise). Move-only; closes on destruction.
class Session {
 public:
  [[nodiscard]] static Result<Session> Open(std::shared_ptr<Module> module, CK_SLOT_ID slot,
                                            bool read_write = true);
  ~Session();
  Session(Session&& other) noexcept;
  Session& operator=(Session&& other) noexcept;
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  CK_SESSION_HANDLE handle() const { return handle_; }
  CK_FUNCTION_LIST* fn() const { return module_->fn(); }
  const std::shared_ptr<Module>& module() const { return module_; }

  // C_Login; CKR_USER_ALREADY_LOGGED_IN counts as success (login is per application).
  [[nodiscard]] Status Login(CK_USER_TYPE user, std::span<const uint8_t> pin);
  [[nodiscard]] Status Logout();
  // Every object matching the template.
  [[nodiscard]] Result<std::vector<CK_OBJECT_HANDLE>> Find(std::span<CK_ATTRIBUTE> tmpl);
  // C_DestroyObject.
  [[nodiscard]] Status Destroy(CK_OBJECT_HANDLE object);
  // The value of one attribute (kInternal/CKR_ATTRIBUTE_SENSITIVE etc. when it cannot be read).
  [[nodiscard]] Result<std::vector<uint8_t>> GetAttribute(CK_OBJECT_HANDLE object,
                                                          CK_ATTRIBUTE_TYPE type);
  [[nodiscard]] Result<bool> GetBool(CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type);

 private:
  Session(std::shared_ptr<Module> module, CK_SESSION_HANDLE handle)
      : module_(std::move(module)), handle_(handle) {}
  void Close();
  std::shared_ptr<Module> module_;
  CK_SESSION_HANDLE handle_ = CK_INVALID_HANDLE;
};

// An object destroyed (C_DestroyObject, errors ignored) when this goes out of scope: for the
// transient session objects of key generation and import.
class ScopedObject {
 public:
  ScopedObject(Session* session, CK_OBJECT_HANDLE handle) : session_(session), handle_(handle) {}
  ~ScopedObject();
  ScopedObject(const ScopedObject&) = delete;
  ScopedObject& operator=(const ScopedObject&) = delete;
  CK_OBJECT_HANDLE handle() const { return handle_; }

 private:
  Session* session_;
  CK_OBJECT_HANDLE handle_;
};

// Attribute-template helpers: the PKCS#11 API takes non-const pointers to template values, so the
// values live in the template builder until the call.
class Template {
 public:
  Template& Bool(CK_ATTRIBUTE_TYPE type, bool value);
  Template& Ulong(CK_ATTRIBUTE_TYPE type, CK_ULONG value);
  Template& Bytes(CK_ATTRIBUTE_TYPE type, std::span<const uint8_t> value);
  Template& String(CK_ATTRIBUTE_TYPE type, std::string_view value);
  // A reference to caller-owned bytes (no copy: for secret values kept in SecretBytes).
  Template& Ref(CK_ATTRIBUTE_TYPE type, std::span<const uint8_t> value);
  std::span<CK_ATTRIBUTE> attrs();

 private:
  struct Value {
    CK_ATTRIBUTE_TYPE type;
    std::vector<uint8_t> bytes;  // owned copy (empty when ref is set)
    const uint8_t* ref = nullptr;
    size_t ref_size = 0;
  };
  std::vector<Value> values_;
  std::vector<CK_ATTRIBUTE> attrs_;
};

}  // namespace veil::hsm::internal
