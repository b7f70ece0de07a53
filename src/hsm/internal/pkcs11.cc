#include "hsm/internal/pkcs11.h"

#include <dlfcn.h>

#include <cstring>
#include <map>
#include <mutex>
#include <utility>

namespace veil::hsm::internal {
namespace {

struct RvEntry {
  CK_RV rv;
  const char* name;
  ErrorCode code;
};

// The return values Veil can meet in practice; anything else prints as CKR_0x<hex>.
constexpr RvEntry kRvTable[] = {
    {CKR_OK, "CKR_OK", ErrorCode::kOk},
    {CKR_CANCEL, "CKR_CANCEL", ErrorCode::kCancelled},
    {CKR_HOST_MEMORY, "CKR_HOST_MEMORY", ErrorCode::kResourceExhausted},
    {CKR_SLOT_ID_INVALID, "CKR_SLOT_ID_INVALID", ErrorCode::kNotFound},
    {CKR_GENERAL_ERROR, "CKR_GENERAL_ERROR", ErrorCode::kInternal},
    {CKR_FUNCTION_FAILED, "CKR_FUNCTION_FAILED", ErrorCode::kInternal},
    {CKR_ARGUMENTS_BAD, "CKR_ARGUMENTS_BAD", ErrorCode::kInvalidArgument},
    {CKR_CANT_LOCK, "CKR_CANT_LOCK", ErrorCode::kInternal},
    {CKR_ATTRIBUTE_READ_ONLY, "CKR_ATTRIBUTE_READ_ONLY", ErrorCode::kInvalidArgument},
    {CKR_ATTRIBUTE_SENSITIVE, "CKR_ATTRIBUTE_SENSITIVE", ErrorCode::kPermissionDenied},
    {CKR_ATTRIBUTE_TYPE_INVALID, "CKR_ATTRIBUTE_TYPE_INVALID", ErrorCode::kInvalidArgument},
    {CKR_ATTRIBUTE_VALUE_INVALID, "CKR_ATTRIBUTE_VALUE_INVALID", ErrorCode::kInvalidArgument},
    {CKR_ACTION_PROHIBITED, "CKR_ACTION_PROHIBITED", ErrorCode::kPermissionDenied},
    {CKR_DATA_INVALID, "CKR_DATA_INVALID", ErrorCode::kInvalidArgument},
    {CKR_DATA_LEN_RANGE, "CKR_DATA_LEN_RANGE", ErrorCode::kInvalidArgument},
    {CKR_DEVICE_ERROR, "CKR_DEVICE_ERROR", ErrorCode::kUnavailable},
    {CKR_DEVICE_MEMORY, "CKR_DEVICE_MEMORY", ErrorCode::kResourceExhausted},
    {CKR_DEVICE_REMOVED, "CKR_DEVICE_REMOVED", ErrorCode::kUnavailable},
    {CKR_ENCRYPTED_DATA_INVALID, "CKR_ENCRYPTED_DATA_INVALID", ErrorCode::kDataLoss},
    {CKR_ENCRYPTED_DATA_LEN_RANGE, "CKR_ENCRYPTED_DATA_LEN_RANGE", ErrorCode::kDataLoss},
    {CKR_FUNCTION_CANCELED, "CKR_FUNCTION_CANCELED", ErrorCode::kCancelled},
    {CKR_FUNCTION_NOT_SUPPORTED, "CKR_FUNCTION_NOT_SUPPORTED", ErrorCode::kUnimplemented},
    {CKR_KEY_HANDLE_INVALID, "CKR_KEY_HANDLE_INVALID", ErrorCode::kInternal},
    {CKR_KEY_SIZE_RANGE, "CKR_KEY_SIZE_RANGE", ErrorCode::kInvalidArgument},
    {CKR_KEY_TYPE_INCONSISTENT, "CKR_KEY_TYPE_INCONSISTENT", ErrorCode::kInvalidArgument},
    {CKR_KEY_FUNCTION_NOT_PERMITTED, "CKR_KEY_FUNCTION_NOT_PERMITTED",
     ErrorCode::kPermissionDenied},
    {CKR_KEY_NOT_WRAPPABLE, "CKR_KEY_NOT_WRAPPABLE", ErrorCode::kPermissionDenied},
    {CKR_KEY_UNEXTRACTABLE, "CKR_KEY_UNEXTRACTABLE", ErrorCode::kPermissionDenied},
    {CKR_MECHANISM_INVALID, "CKR_MECHANISM_INVALID", ErrorCode::kUnimplemented},
    {CKR_MECHANISM_PARAM_INVALID, "CKR_MECHANISM_PARAM_INVALID", ErrorCode::kInvalidArgument},
    {CKR_OBJECT_HANDLE_INVALID, "CKR_OBJECT_HANDLE_INVALID", ErrorCode::kInternal},
    {CKR_OPERATION_ACTIVE, "CKR_OPERATION_ACTIVE", ErrorCode::kInternal},
    {CKR_OPERATION_NOT_INITIALIZED, "CKR_OPERATION_NOT_INITIALIZED", ErrorCode::kInternal},
    {CKR_PIN_INCORRECT, "CKR_PIN_INCORRECT", ErrorCode::kUnauthenticated},
    {CKR_PIN_INVALID, "CKR_PIN_INVALID", ErrorCode::kInvalidArgument},
    {CKR_PIN_LEN_RANGE, "CKR_PIN_LEN_RANGE", ErrorCode::kInvalidArgument},
    {CKR_PIN_EXPIRED, "CKR_PIN_EXPIRED", ErrorCode::kUnauthenticated},
    {CKR_PIN_LOCKED, "CKR_PIN_LOCKED", ErrorCode::kUnauthenticated},
    {CKR_SESSION_CLOSED, "CKR_SESSION_CLOSED", ErrorCode::kInternal},
    {CKR_SESSION_COUNT, "CKR_SESSION_COUNT", ErrorCode::kResourceExhausted},
    {CKR_SESSION_HANDLE_INVALID, "CKR_SESSION_HANDLE_INVALID", ErrorCode::kInternal},
    {CKR_SESSION_READ_ONLY, "CKR_SESSION_READ_ONLY", ErrorCode::kInternal},
    {CKR_SESSION_EXISTS, "CKR_SESSION_EXISTS", ErrorCode::kFailedPrecondition},
    {CKR_SIGNATURE_INVALID, "CKR_SIGNATURE_INVALID", ErrorCode::kDataLoss},
    {CKR_TEMPLATE_INCOMPLETE, "CKR_TEMPLATE_INCOMPLETE", ErrorCode::kInvalidArgument},
    {CKR_TEMPLATE_INCONSISTENT, "CKR_TEMPLATE_INCONSISTENT", ErrorCode::kInvalidArgument},
    {CKR_TOKEN_NOT_PRESENT, "CKR_TOKEN_NOT_PRESENT", ErrorCode::kUnavailable},
    {CKR_TOKEN_NOT_RECOGNIZED, "CKR_TOKEN_NOT_RECOGNIZED", ErrorCode::kUnavailable},
    {CKR_TOKEN_WRITE_PROTECTED, "CKR_TOKEN_WRITE_PROTECTED", ErrorCode::kFailedPrecondition},
    {CKR_UNWRAPPING_KEY_HANDLE_INVALID, "CKR_UNWRAPPING_KEY_HANDLE_INVALID", ErrorCode::kInternal},
    {CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT, "CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT",
     ErrorCode::kInternal},
    {CKR_USER_ALREADY_LOGGED_IN, "CKR_USER_ALREADY_LOGGED_IN", ErrorCode::kFailedPrecondition},
    {CKR_USER_NOT_LOGGED_IN, "CKR_USER_NOT_LOGGED_IN", ErrorCode::kUnauthenticated},
    {CKR_USER_PIN_NOT_INITIALIZED, "CKR_USER_PIN_NOT_INITIALIZED", ErrorCode::kFailedPrecondition},
    {CKR_USER_TYPE_INVALID, "CKR_USER_TYPE_INVALID", ErrorCode::kInvalidArgument},
    {CKR_WRAPPED_KEY_INVALID, "CKR_WRAPPED_KEY_INVALID", ErrorCode::kDataLoss},
    {CKR_WRAPPED_KEY_LEN_RANGE, "CKR_WRAPPED_KEY_LEN_RANGE", ErrorCode::kDataLoss},
    {CKR_WRAPPING_KEY_HANDLE_INVALID, "CKR_WRAPPING_KEY_HANDLE_INVALID", ErrorCode::kInternal},
    {CKR_WRAPPING_KEY_SIZE_RANGE, "CKR_WRAPPING_KEY_SIZE_RANGE", ErrorCode::kInternal},
    {CKR_WRAPPING_KEY_TYPE_INCONSISTENT, "CKR_WRAPPING_KEY_TYPE_INCONSISTENT",
     ErrorCode::kInternal},
    {CKR_RANDOM_NO_RNG, "CKR_RANDOM_NO_RNG", ErrorCode::kUnavailable},
    {CKR_BUFFER_TOO_SMALL, "CKR_BUFFER_TOO_SMALL", ErrorCode::kInternal},
    {CKR_CRYPTOKI_NOT_INITIALIZED, "CKR_CRYPTOKI_NOT_INITIALIZED", ErrorCode::kInternal},
    {CKR_CRYPTOKI_ALREADY_INITIALIZED, "CKR_CRYPTOKI_ALREADY_INITIALIZED",
     ErrorCode::kFailedPrecondition},
    {CKR_FUNCTION_REJECTED, "CKR_FUNCTION_REJECTED", ErrorCode::kPermissionDenied},
};

const RvEntry* FindRv(CK_RV rv) {
  for (const auto& e : kRvTable) {
    if (e.rv == rv) return &e;
  }
  return nullptr;
}

// Live modules by path (weak: the last Session/store holding one finalizes it). PKCS#11 itself is
// process-global (one C_Initialize per process), which is why this registry exists at all.
std::mutex g_modules_mu;
std::map<std::string, std::weak_ptr<Module>>& Modules() {
  static auto* modules = new std::map<std::string, std::weak_ptr<Module>>();
  return *modules;
}

}  // namespace

std::string RvName(CK_RV rv) {
  if (const RvEntry* e = FindRv(rv)) return e->name;
  char buf[32];
  std::snprintf(buf, sizeof(buf), "CKR_0x%lx", static_cast<unsigned long>(rv));
  return buf;
}

ErrorCode RvCode(CK_RV rv) {
  if (const RvEntry* e = FindRv(rv)) return e->code;
  return ErrorCode::kInternal;
}

Error RvError(std::string_view what, CK_RV rv) {
  std::string message(what);
  message += ": ";
  message += RvName(rv);
  return Error(RvCode(rv), std::move(message));
}

Status CheckRv(std::string_view what, CK_RV rv) {
  if (rv == CKR_OK) return OkStatus();
  return tl::unexpected(RvError(what, rv));
}

Result<std::shared_ptr<Module>> Module::Load(const std::string& path) {
  std::lock_guard lock(g_modules_mu);
  auto& modules = Modules();
  if (auto it = modules.find(path); it != modules.end()) {
    if (auto live = it->second.lock()) return live;
  }
  // RTLD_NODELETE: a module may leave handlers behind in shared libraries (SoftHSM2 in OpenSSL),
  // so it stays mapped after dlclose; a later Load() re-initializes it.
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
  if (handle == nullptr) return NotFound("cannot load PKCS#11 module " + path);
  auto get_list = reinterpret_cast<CK_C_GetFunctionList>(dlsym(handle, "C_GetFunctionList"));
  if (get_list == nullptr) {
    dlclose(handle);
    return Internal(path + " is not a PKCS#11 module (no C_GetFunctionList)");
  }
  CK_FUNCTION_LIST* fn = nullptr;
  CK_RV rv = get_list(&fn);
  if (rv != CKR_OK || fn == nullptr) {
    dlclose(handle);
    return tl::unexpected(RvError("C_GetFunctionList", rv == CKR_OK ? CKR_GENERAL_ERROR : rv));
  }
  CK_C_INITIALIZE_ARGS args{};
  args.flags = CKF_OS_LOCKING_OK;
  rv = fn->C_Initialize(&args);
  if (rv != CKR_OK) {
    dlclose(handle);
    return tl::unexpected(RvError("C_Initialize " + path, rv));
  }
  std::shared_ptr<Module> module(new Module(path, handle, fn));
  modules[path] = module;
  return module;
}

bool Module::IsLoaded(const std::string& path) {
  std::lock_guard lock(g_modules_mu);
  auto& modules = Modules();
  auto it = modules.find(path);
  return it != modules.end() && !it->second.expired();
}

Module::~Module() {
  std::lock_guard lock(g_modules_mu);
  fn_->C_Finalize(nullptr);
  dlclose(handle_);
  auto& modules = Modules();
  if (auto it = modules.find(path_); it != modules.end() && it->second.expired()) {
    modules.erase(it);
  }
}

Result<std::vector<CK_SLOT_ID>> Module::SlotsWithToken() const {
  CK_ULONG count = 0;
  VEIL_TRY(CheckRv("C_GetSlotList", fn_->C_GetSlotList(CK_TRUE, nullptr, &count)));
  std::vector<CK_SLOT_ID> slots(count);
  VEIL_TRY(CheckRv("C_GetSlotList", fn_->C_GetSlotList(CK_TRUE, slots.data(), &count)));
  slots.resize(count);
  return slots;
}

std::string TokenLabel(const CK_TOKEN_INFO& info) {
  std::string label(reinterpret_cast<const char*>(info.label), sizeof(info.label));
  while (!label.empty() && (label.back() == ' ' || label.back() == '\0')) label.pop_back();
  return label;
}

Result<CK_SLOT_ID> Module::FindTokenSlot(std::string_view label) const {
  auto slots = VEIL_TRY_VALUE(SlotsWithToken());
  for (CK_SLOT_ID slot : slots) {
    CK_TOKEN_INFO info{};
    if (fn_->C_GetTokenInfo(slot, &info) != CKR_OK) continue;
    if ((info.flags & CKF_TOKEN_INITIALIZED) && TokenLabel(info) == label) return slot;
  }
  return NotFound("no PKCS#11 token labelled '" + std::string(label) + "' in " + path_);
}

Result<CK_SLOT_ID> Module::FindFreeSlot() const {
  auto slots = VEIL_TRY_VALUE(SlotsWithToken());
  for (CK_SLOT_ID slot : slots) {
    CK_TOKEN_INFO info{};
    if (fn_->C_GetTokenInfo(slot, &info) != CKR_OK) continue;
    if (!(info.flags & CKF_TOKEN_INITIALIZED)) return slot;
  }
  return NotFound("no uninitialized token slot in " + path_);
}

Result<Session> Session::Open(std::shared_ptr<Module> module, CK_SLOT_ID slot, bool read_write) {
  CK_FLAGS flags = CKF_SERIAL_SESSION | (read_write ? CKF_RW_SESSION : 0);
  CK_SESSION_HANDLE handle = CK_INVALID_HANDLE;
  VEIL_TRY(CheckRv("C_OpenSession",
                   module->fn()->C_OpenSession(slot, flags, nullptr, nullptr, &handle)));
  return Session(std::move(module), handle);
}

Session::~Session() { Close(); }

Session::Session(Session&& other) noexcept
    : module_(std::move(other.module_)), handle_(std::exchange(other.handle_, CK_INVALID_HANDLE)) {}

Session& Session::operator=(Session&& other) noexcept {
  if (this != &other) {
    Close();
    module_ = std::move(other.module_);
    handle_ = std::exchange(other.handle_, CK_INVALID_HANDLE);
  }
  return *this;
}

void Session::Close() {
  if (module_ && handle_ != CK_INVALID_HANDLE) module_->fn()->C_CloseSession(handle_);
  handle_ = CK_INVALID_HANDLE;
}

Status Session::Login(CK_USER_TYPE user, std::span<const uint8_t> pin) {
  CK_RV rv = fn()->C_Login(handle_, user, const_cast<CK_UTF8CHAR*>(pin.data()), pin.size());
  if (rv == CKR_USER_ALREADY_LOGGED_IN) return OkStatus();
  return CheckRv("C_Login", rv);
}

Status Session::Logout() { return CheckRv("C_Logout", fn()->C_Logout(handle_)); }

Result<std::vector<CK_OBJECT_HANDLE>> Session::Find(std::span<CK_ATTRIBUTE> tmpl) {
  VEIL_TRY(
      CheckRv("C_FindObjectsInit", fn()->C_FindObjectsInit(handle_, tmpl.data(), tmpl.size())));
  std::vector<CK_OBJECT_HANDLE> found;
  CK_RV rv = CKR_OK;
  for (;;) {
    CK_OBJECT_HANDLE batch[64];
    CK_ULONG n = 0;
    rv = fn()->C_FindObjects(handle_, batch, 64, &n);
    if (rv != CKR_OK || n == 0) break;
    found.insert(found.end(), batch, batch + n);
  }
  CK_RV final_rv = fn()->C_FindObjectsFinal(handle_);
  VEIL_TRY(CheckRv("C_FindObjects", rv));
  VEIL_TRY(CheckRv("C_FindObjectsFinal", final_rv));
  return found;
}

Status Session::Destroy(CK_OBJECT_HANDLE object) {
  return CheckRv("C_DestroyObject", fn()->C_DestroyObject(handle_, object));
}

Result<std::vector<uint8_t>> Session::GetAttribute(CK_OBJECT_HANDLE object,
                                                   CK_ATTRIBUTE_TYPE type) {
  CK_ATTRIBUTE attr{type, nullptr, 0};
  VEIL_TRY(CheckRv("C_GetAttributeValue", fn()->C_GetAttributeValue(handle_, object, &attr, 1)));
  if (attr.ulValueLen == CK_UNAVAILABLE_INFORMATION) {
    return tl::unexpected(RvError("C_GetAttributeValue", CKR_ATTRIBUTE_SENSITIVE));
  }
  std::vector<uint8_t> value(attr.ulValueLen);
  attr.pValue = value.data();
  VEIL_TRY(CheckRv("C_GetAttributeValue", fn()->C_GetAttributeValue(handle_, object, &attr, 1)));
  value.resize(attr.ulValueLen);
  return value;
}

Result<bool> Session::GetBool(CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type) {
  auto value = VEIL_TRY_VALUE(GetAttribute(object, type));
  if (value.size() != sizeof(CK_BBOOL)) return Internal("attribute is not a CK_BBOOL");
  return value[0] != CK_FALSE;
}

ScopedObject::~ScopedObject() {
  if (handle_ != CK_INVALID_HANDLE) (void)session_->Destroy(handle_);
}

Template& Template::Bool(CK_ATTRIBUTE_TYPE type, bool value) {
  CK_BBOOL b = value ? CK_TRUE : CK_FALSE;
  values_.push_back({type, {b}});
  return *this;
}

Template& Template::Ulong(CK_ATTRIBUTE_TYPE type, CK_ULONG value) {
  std::vector<uint8_t> bytes(sizeof(value));
  std::memcpy(bytes.data(), &value, sizeof(value));
  values_.push_back({type, std::move(bytes)});
  return *this;
}

Template& Template::Bytes(CK_ATTRIBUTE_TYPE type, std::span<const uint8_t> value) {
  values_.push_back({type, std::vector<uint8_t>(value.begin(), value.end())});
  return *this;
}

Template& Template::String(CK_ATTRIBUTE_TYPE type, std::string_view value) {
  values_.push_back({type, std::vector<uint8_t>(value.begin(), value.end())});
  return *this;
}

Template& Template::Ref(CK_ATTRIBUTE_TYPE type, std::span<const uint8_t> value) {
  values_.push_back({type, {}, value.data(), value.size()});
  return *this;
}

std::span<CK_ATTRIBUTE> Template::attrs() {
  attrs_.clear();
  for (auto& v : values_) {
    if (v.ref != nullptr) {
      attrs_.push_back({v.type, const_cast<uint8_t*>(v.ref), v.ref_size});
    } else {
      attrs_.push_back({v.type, v.bytes.data(), v.bytes.size()});
    }
  }
  return attrs_;
}

}  // namespace veil::hsm::internal
