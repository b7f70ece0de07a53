#include "disk/mapped_file.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>

namespace veil::disk {
namespace {

// The one live mapping, read by the signal handler (lock-free atomics only).
std::atomic<bool> g_in_use{false};
std::atomic<uintptr_t> g_begin{0}, g_end{0};
std::atomic<bool> g_faulted{false};
std::atomic<uintptr_t> g_page{4096};  // set before the handler is installed (sysconf is not
                                      // async-signal-safe)
struct sigaction g_previous {};

void OnSigbus(int sig, siginfo_t* info, void* context) {
  const auto addr = reinterpret_cast<uintptr_t>(info->si_addr);
  if (addr >= g_begin.load(std::memory_order_acquire) &&
      addr < g_end.load(std::memory_order_acquire)) {
    // The file shrank under the mapping: put a zero page where the file's page was, so that the
    // access completes, and let the reader notice. mmap is a plain system call here.
    const uintptr_t page = g_page.load(std::memory_order_relaxed);
    void* at = reinterpret_cast<void*>(addr & ~(page - 1));
    if (::mmap(at, page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != MAP_FAILED) {
      g_faulted.store(true, std::memory_order_release);
      return;
    }
  }
  // Not ours (or no page to put there): what SIGBUS would have done without us.
  if (g_previous.sa_flags & SA_SIGINFO) {
    if (g_previous.sa_sigaction != nullptr) {
      g_previous.sa_sigaction(sig, info, context);
      return;
    }
  } else if (g_previous.sa_handler != SIG_DFL && g_previous.sa_handler != SIG_IGN) {
    g_previous.sa_handler(sig);
    return;
  }
  ::signal(SIGBUS, SIG_DFL);  // returning re-runs the access, which now ends the process
}

}  // namespace

std::unique_ptr<MappedFile> MappedFile::Map(const std::string& path, const struct stat& expected,
                                            uint64_t size) {
  if (!S_ISREG(expected.st_mode) || size == 0 || size > SIZE_MAX) return nullptr;
  if (g_in_use.exchange(true)) return nullptr;
  g_page.store(static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE)), std::memory_order_relaxed);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  struct stat now {};
  void* p = MAP_FAILED;
  if (fd >= 0 && ::fstat(fd, &now) == 0 && now.st_dev == expected.st_dev &&
      now.st_ino == expected.st_ino && static_cast<uint64_t>(now.st_size) == size) {
    p = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  }
  if (fd >= 0) ::close(fd);  // the mapping keeps the file
  struct sigaction action {};
  action.sa_sigaction = OnSigbus;
  action.sa_flags = SA_SIGINFO | SA_NODEFER;
  sigemptyset(&action.sa_mask);
  if (p != MAP_FAILED && ::sigaction(SIGBUS, &action, &g_previous) != 0) {
    ::munmap(p, size);
    p = MAP_FAILED;
  }
  if (p == MAP_FAILED) {
    g_in_use.store(false);
    return nullptr;
  }
  (void)::madvise(p, size, MADV_SEQUENTIAL);
  g_faulted.store(false);
  g_begin.store(reinterpret_cast<uintptr_t>(p), std::memory_order_release);
  g_end.store(reinterpret_cast<uintptr_t>(p) + size, std::memory_order_release);
  return std::unique_ptr<MappedFile>(new MappedFile(static_cast<const uint8_t*>(p), size));
}

MappedFile::~MappedFile() {
  g_begin.store(0, std::memory_order_release);
  g_end.store(0, std::memory_order_release);
  ::munmap(const_cast<uint8_t*>(data_), size_);
  ::sigaction(SIGBUS, &g_previous, nullptr);
  g_in_use.store(false);
}

bool MappedFile::faulted() const { return g_faulted.load(std::memory_order_acquire); }

void MappedFile::Release(uint64_t offset, uint64_t length) const {
  if (offset >= size_) return;
  const uintptr_t page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const uintptr_t base = reinterpret_cast<uintptr_t>(data_);
  // Whole pages inside the range only: a page shared with a neighbouring range may still be read.
  const uintptr_t begin = (base + offset + page - 1) & ~(page - 1);
  const uintptr_t end = (base + offset + std::min<uint64_t>(length, size_ - offset)) & ~(page - 1);
  if (end > begin) (void)::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
}

}  // namespace veil::disk
