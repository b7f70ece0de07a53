#include "luks/internal/cryptsetup.h"

#include <libcryptsetup.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>

#include "common/log.h"

namespace veil::luks::internal {
namespace {

constexpr std::string_view kComponent = "luks";

void LogLine(int level, const char* msg) {
  std::string_view line = msg != nullptr ? msg : "";
  while (!line.empty() && line.back() == '\n') line.remove_suffix(1);
  if (level == CRYPT_LOG_DEBUG_JSON || line.empty()) return;
  log::Debug(kComponent, "libcryptsetup: " + std::string(line));
}

void GlobalLog(int level, const char* msg, void*) { LogLine(level, msg); }

// libcryptsetup's process-wide settings, set once before the first context exists (they are
// plain globals inside the library): the default log callback, and no metadata locking (Veil only
// ever hands it private memfds; locking would need /run/cryptsetup, i.e. root).
void InitLibraryOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    crypt_set_log_callback(nullptr, GlobalLog, nullptr);
    crypt_metadata_locking(nullptr, 0);
  });
}

Error ErrnoError(ErrorCode code, const std::string& what) {
  return Error(code, what + ": " + std::strerror(errno));
}

}  // namespace

// ---- MemFile ----

MemFile::MemFile(int fd) : fd_(fd), path_("/proc/self/fd/" + std::to_string(fd)) {}

Result<MemFile> MemFile::Create() {
  const int fd = ::memfd_create("veil-luks-header", MFD_CLOEXEC);
  if (fd < 0) return tl::unexpected(ErrnoError(ErrorCode::kUnavailable, "memfd_create"));
  return MemFile(fd);
}

MemFile::~MemFile() {
  if (fd_ >= 0) {
    // Release the pages now; the file has no name, so closing it is the end of it.
    (void)::ftruncate(fd_, 0);
    ::close(fd_);
  }
}

MemFile::MemFile(MemFile&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), path_(std::move(other.path_)) {}

MemFile& MemFile::operator=(MemFile&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) {
      (void)::ftruncate(fd_, 0);
      ::close(fd_);
    }
    fd_ = std::exchange(other.fd_, -1);
    path_ = std::move(other.path_);
  }
  return *this;
}

Status MemFile::Write(std::span<const uint8_t> bytes, uint64_t offset) {
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n =
        ::pwrite(fd_, bytes.data() + done, bytes.size() - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return tl::unexpected(ErrnoError(ErrorCode::kResourceExhausted, "write to memfd"));
    }
    done += static_cast<size_t>(n);
  }
  return OkStatus();
}

Status MemFile::Resize(uint64_t size) {
  if (::ftruncate(fd_, static_cast<off_t>(size)) != 0) {
    return tl::unexpected(ErrnoError(ErrorCode::kResourceExhausted, "resize memfd"));
  }
  return OkStatus();
}

Result<uint64_t> MemFile::Size() const {
  struct stat st {};
  if (::fstat(fd_, &st) != 0) return tl::unexpected(ErrnoError(ErrorCode::kInternal, "fstat"));
  return static_cast<uint64_t>(st.st_size);
}

Result<std::vector<uint8_t>> MemFile::Read(uint64_t offset, size_t size) const {
  std::vector<uint8_t> out(size);
  size_t done = 0;
  while (done < size) {
    const ssize_t n =
        ::pread(fd_, out.data() + done, size - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return tl::unexpected(ErrnoError(ErrorCode::kInternal, "read memfd"));
    }
    if (n == 0) return Internal("memfd shorter than expected");
    done += static_cast<size_t>(n);
  }
  return out;
}

// ---- CryptDevice ----

struct CryptDevice::State {
  crypt_device* cd = nullptr;
  std::string last_error;

  ~State() {
    if (cd != nullptr) crypt_free(cd);
  }
  static void Log(int level, const char* msg, void* self) {
    LogLine(level, msg);
    if (level == CRYPT_LOG_ERROR && msg != nullptr) {
      std::string& e = static_cast<State*>(self)->last_error;
      e = msg;
      while (!e.empty() && e.back() == '\n') e.pop_back();
    }
  }
};

CryptDevice::CryptDevice(std::unique_ptr<State> state) : state_(std::move(state)) {}
CryptDevice::~CryptDevice() = default;
CryptDevice::CryptDevice(CryptDevice&&) noexcept = default;
CryptDevice& CryptDevice::operator=(CryptDevice&&) noexcept = default;

Result<CryptDevice> CryptDevice::Init(const std::string& path) {
  InitLibraryOnce();
  auto state = std::make_unique<State>();
  const int r = crypt_init(&state->cd, path.c_str());
  if (r < 0) {
    state->cd = nullptr;
    return Internal("libcryptsetup crypt_init: " + std::string(std::strerror(-r)));
  }
  crypt_set_log_callback(state->cd, &State::Log, state.get());
  return CryptDevice(std::move(state));
}

crypt_device* CryptDevice::get() const { return state_->cd; }

void CryptDevice::ClearErrors() { state_->last_error.clear(); }

Error CryptDevice::Failure(ErrorCode code, std::string_view what, int r) const {
  const std::string why =
      !state_->last_error.empty() ? state_->last_error : std::string(std::strerror(r < 0 ? -r : r));
  return Error(code, std::string(what) + ": " + why);
}

}  // namespace veil::luks::internal
