#include "hsm/softhsm_token.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "common/encoding.h"
#include "common/file.h"
#include "common/random.h"
#include "hsm/internal/pkcs11.h"

namespace veil::hsm {
namespace {

using internal::CheckRv;
using internal::Module;
using internal::Session;

constexpr size_t kPinBytes = 32;  // 64 hex characters (SoftHSM2 accepts 4..255)
constexpr size_t kMaxPinsFileSize = 4096;

std::string Errno(std::string_view what, const std::string& path) {
  return std::string(what) + " " + path + ": " + std::strerror(errno);
}

// mkdir with mode 0700, or tighten an existing directory to 0700.
Status EnsurePrivateDir(const std::string& path) {
  if (mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) return Internal(Errno("mkdir", path));
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return Internal(Errno("stat", path));
  if (!S_ISDIR(st.st_mode)) return FailedPrecondition(path + " is not a directory");
  if ((st.st_mode & 07777) != 0700 && chmod(path.c_str(), 0700) != 0) {
    return Internal(Errno("chmod", path));
  }
  return OkStatus();
}

struct Pins {
  SecretBytes so;
  SecretBytes user;
};

// Parses "so_pin=<hex>\nuser_pin=<hex>\n" without copying the PINs outside SecretBytes.
Result<Pins> ParsePins(std::span<const uint8_t> text) {
  Pins pins;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = pos;
    while (end < text.size() && text[end] != '\n') ++end;
    std::span<const uint8_t> line = text.subspan(pos, end - pos);
    pos = end + 1;
    if (line.empty()) continue;
    auto starts = [&](std::string_view prefix) {
      return line.size() > prefix.size() &&
             std::memcmp(line.data(), prefix.data(), prefix.size()) == 0;
    };
    if (starts("so_pin=")) {
      pins.so = SecretBytes(line.subspan(7));
    } else if (starts("user_pin=")) {
      pins.user = SecretBytes(line.subspan(9));
    } else {
      return DataLoss("pins file: unknown line");
    }
  }
  if (pins.so.empty() || pins.user.empty()) return DataLoss("pins file: a PIN is missing");
  return pins;
}

Result<std::optional<Pins>> ReadPins(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    if (errno == ENOENT) return std::optional<Pins>();
    return Internal(Errno("open", path));
  }
  struct stat st {};
  if (fstat(fd, &st) != 0 || st.st_size <= 0 ||
      static_cast<size_t>(st.st_size) > kMaxPinsFileSize) {
    close(fd);
    return DataLoss("pins file " + path + " is empty, too large or unreadable");
  }
  if ((st.st_mode & 077) != 0) fchmod(fd, 0600);  // tighten a loosened file
  SecretBytes text(static_cast<size_t>(st.st_size));
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = read(fd, text.RevealMutable().data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  close(fd);
  if (done != text.size()) return DataLoss("pins file " + path + " is truncated");
  auto pins = ParsePins(text.Reveal());
  if (!pins) return tl::unexpected(pins.error().Wrap(path));
  return std::optional<Pins>(std::move(*pins));
}

// A fresh PIN: 32 random bytes as 64 lower-case hex characters, built inside SecretBytes.
SecretBytes NewPin(Random& random) {
  SecretBytes raw = random.Secret(kPinBytes);
  SecretBytes pin(kPinBytes * 2);
  HexEncodeInto(raw.Reveal(), pin.RevealMutable());
  return pin;
}

Status WritePins(const std::string& path, const Pins& pins) {
  constexpr std::string_view kSo = "so_pin=", kUser = "user_pin=";
  SecretBytes text(kSo.size() + pins.so.size() + 1 + kUser.size() + pins.user.size() + 1);
  auto out = text.RevealMutable();
  size_t p = 0;
  auto put = [&](std::span<const uint8_t> s) {
    std::memcpy(out.data() + p, s.data(), s.size());
    p += s.size();
  };
  auto put_text = [&](std::string_view s) {
    put(std::span(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
  };
  put_text(kSo);
  put(pins.so.Reveal());
  put_text("\n");
  put_text(kUser);
  put(pins.user.Reveal());
  put_text("\n");
  return WriteFileAtomically(path, text.Reveal(), 0600);
}

// C_InitToken on a free slot, then C_InitPIN as the SO.
Status InitToken(const std::shared_ptr<Module>& module, const std::string& label,
                 const Pins& pins) {
  auto slot = VEIL_TRY_VALUE(module->FindFreeSlot());
  CK_UTF8CHAR padded[32];
  std::memset(padded, ' ', sizeof(padded));
  std::memcpy(padded, label.data(), label.size());
  VEIL_TRY(CheckRv("C_InitToken",
                   module->fn()->C_InitToken(slot, const_cast<uint8_t*>(pins.so.Reveal().data()),
                                             pins.so.size(), padded)));
  return OkStatus();
}

Status InitUserPin(const std::shared_ptr<Module>& module, CK_SLOT_ID slot, const Pins& pins) {
  auto session = VEIL_TRY_VALUE(Session::Open(module, slot));
  VEIL_TRY(session.Login(CKU_SO, pins.so.Reveal()));
  CK_RV rv = session.fn()->C_InitPIN(
      session.handle(), const_cast<uint8_t*>(pins.user.Reveal().data()), pins.user.size());
  (void)session.Logout();
  return CheckRv("C_InitPIN", rv);
}

}  // namespace

Result<Pkcs11Options> PrepareSoftHsmToken(const std::string& hsm_dir, std::string token_label,
                                          std::string module_path) {
  if (token_label.empty() || token_label.size() > 32) {
    return InvalidArgument("token label must be 1 to 32 bytes");
  }
  VEIL_TRY(EnsurePrivateDir(hsm_dir));
  const std::string tokens = hsm_dir + "/tokens";
  VEIL_TRY(EnsurePrivateDir(tokens));
  const std::string conf = hsm_dir + "/softhsm2.conf";
  const std::string conf_text =
      "# Written by veild: SoftHSM2 configuration of Veil's token.\n"
      "directories.tokendir = " +
      tokens +
      "\n"
      "objectstore.backend = file\n"
      "log.level = ERROR\n"
      "slots.removable = false\n";
  VEIL_TRY(WriteFileAtomically(
      conf, std::span(reinterpret_cast<const uint8_t*>(conf_text.data()), conf_text.size()), 0600));

  // SoftHSM2 reads SOFTHSM2_CONF in C_Initialize only: a module already initialized in this
  // process with another file would silently use that one.
  const char* current = std::getenv("SOFTHSM2_CONF");
  if (Module::IsLoaded(module_path) && (current == nullptr || conf != current)) {
    return FailedPrecondition("the PKCS#11 module " + module_path +
                              " is already loaded with another SOFTHSM2_CONF");
  }
  if (setenv("SOFTHSM2_CONF", conf.c_str(), 1) != 0) return Internal("setenv SOFTHSM2_CONF");

  const std::string pins_path = hsm_dir + "/pins";
  auto existing = VEIL_TRY_VALUE(ReadPins(pins_path));
  auto module = VEIL_TRY_VALUE(Module::Load(module_path));
  auto slot = module->FindTokenSlot(token_label);
  if (!slot && slot.error().code != ErrorCode::kNotFound) return tl::unexpected(slot.error());

  Pins pins;
  if (existing) {
    pins = std::move(*existing);
  } else {
    if (slot) {
      return FailedPrecondition("token '" + token_label + "' exists but " + pins_path +
                                " does not: cannot log in");
    }
    OsRandom random;
    pins.so = NewPin(random);
    pins.user = NewPin(random);
    // Written before the token exists, so that a start killed in between can finish the job.
    VEIL_TRY(WritePins(pins_path, pins));
  }

  if (!slot) {
    VEIL_TRY(InitToken(module, token_label, pins));
    slot = module->FindTokenSlot(token_label);  // SoftHSM2 renumbers slots after C_InitToken
    if (!slot) return tl::unexpected(slot.error());
  }
  CK_TOKEN_INFO info{};
  VEIL_TRY(CheckRv("C_GetTokenInfo", module->fn()->C_GetTokenInfo(*slot, &info)));
  if (!(info.flags & CKF_USER_PIN_INITIALIZED)) VEIL_TRY(InitUserPin(module, *slot, pins));

  Pkcs11Options options;
  options.module_path = std::move(module_path);
  options.token_label = std::move(token_label);
  options.user_pin = std::move(pins.user);
  return options;
}

}  // namespace veil::hsm
