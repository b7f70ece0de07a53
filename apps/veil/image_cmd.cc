#include "image_cmd.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <optional>
#include <sstream>

#include "cli.h"
#include "common/secret_bytes.h"
#include "image/image_ops.h"
#include "image_json.h"

namespace veil::cli {

ImageExit ImageExitCode(const Error& error) {
  switch (error.code) {
    case ErrorCode::kOk:
      return ImageExit::kOk;
    case ErrorCode::kInvalidArgument:
    case ErrorCode::kAlreadyExists:
      return ImageExit::kUsage;
    case ErrorCode::kPermissionDenied:
      return ImageExit::kWrongPassphrase;
    case ErrorCode::kFailedPrecondition:
      return ImageExit::kNotLuks;
    case ErrorCode::kDataLoss:
      return ImageExit::kCorruptHeader;
    case ErrorCode::kUnimplemented:
      return ImageExit::kUnsupported;
    case ErrorCode::kResourceExhausted:
      return ImageExit::kPbkdfLimit;
    case ErrorCode::kOutOfRange:
      return ImageExit::kInputTruncated;
    case ErrorCode::kNotFound:
    case ErrorCode::kUnavailable:
      return ImageExit::kIo;
    case ErrorCode::kCancelled:
      return ImageExit::kInterrupted;
    default:
      return ImageExit::kInternal;
  }
}

namespace {

// ---- Cancellation: SIGINT/SIGTERM -> the pipeline's cancel flag
// ----------------------------------

// The one piece of global state: a signal handler can reach nothing else. Lock-free, so storing
// to it is async-signal-safe.
std::atomic<bool> g_cancel{false};
static_assert(std::atomic<bool>::is_always_lock_free);

extern "C" void OnCancelSignal(int signal) {
  g_cancel.store(true);
  // A second Ctrl-C ends the process at once (the temporary file may then stay behind, under its
  // hidden name; nothing is ever left under the destination's name).
  ::signal(signal, SIG_DFL);
}

// Installs the handlers for the duration of a command.
class CancelOnSignals {
 public:
  CancelOnSignals() {
    struct sigaction sa {};
    sa.sa_handler = OnCancelSignal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int_);
    sigaction(SIGTERM, &sa, &old_term_);
  }
  ~CancelOnSignals() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
  }
  CancelOnSignals(const CancelOnSignals&) = delete;
  CancelOnSignals& operator=(const CancelOnSignals&) = delete;

 private:
  struct sigaction old_int_ {};
  struct sigaction old_term_ {};
};

// ---- Key files ----------------------------------------------------------------------------------

// Every byte of `path` ("-" = stdin), as cryptsetup's --key-file reads it: no newline stripping.
// The bytes go straight into SecretBytes buffers (the growing ones are wiped when replaced).
Result<SecretBytes> ReadKeyFile(const std::string& path) {
  int fd = STDIN_FILENO;
  if (path != image::kStdio) {
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      const int err = errno;
      if (err == ENOENT) return NotFound("key file " + path + ": no such file");
      return Unavailable("key file " + path + ": " + std::strerror(err));
    }
  }
  SecretBytes buffer(4096);
  size_t used = 0;
  Status status = OkStatus();
  for (;;) {
    if (used == buffer.size()) {
      if (buffer.size() > luks::kMaxPassphraseBytes) {
        status = InvalidArgument("key file " + path + " is larger than 8 MiB");
        break;
      }
      SecretBytes bigger(buffer.size() * 2);
      std::memcpy(bigger.RevealMutable().data(), buffer.Reveal().data(), used);
      buffer = std::move(bigger);  // the old buffer is wiped
    }
    const ssize_t n = ::read(fd, buffer.RevealMutable().data() + used, buffer.size() - used);
    if (n < 0) {
      if (errno == EINTR) continue;
      status = Unavailable("read key file " + path + ": " + std::strerror(errno));
      break;
    }
    if (n == 0) break;
    used += static_cast<size_t>(n);
  }
  if (fd != STDIN_FILENO) ::close(fd);
  if (!status) return tl::unexpected(status.error());
  if (used == 0) return InvalidArgument("key file " + path + " is empty");
  if (used > luks::kMaxPassphraseBytes) {
    return InvalidArgument("key file " + path + " is larger than 8 MiB");
  }
  return SecretBytes(buffer.Reveal().first(used));
}

// ---- Rendering ----------------------------------------------------------------------------------

std::string Bytes(uint64_t n) {
  static const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = static_cast<double>(n);
  int unit = 0;
  while (v >= 1024 && unit < 5) {
    v /= 1024;
    ++unit;
  }
  char buf[32];
  if (unit == 0) {
    std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(n));
  } else {
    std::snprintf(buf, sizeof buf, "%.1f %s", v, kUnits[unit]);
  }
  return buf;
}

std::string BytesExact(uint64_t n) { return std::to_string(n) + " bytes (" + Bytes(n) + ")"; }

std::string Rate(uint64_t bytes, double seconds) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.0f MB/s", seconds > 0 ? bytes / seconds / 1e6 : 0.0);
  return buf;
}

// What a copy took: the copy's own rate, and the key derivation apart (a PBKDF costs the same
// whatever the image's size, so a rate that included it would say little), e.g.
// "  Copy: 64.0 MiB in 0.05 s (1342 MB/s, 2 threads, vaes-avx512)\n"
// "  Key derivation: 2.01 s (alongside the copy); 2.06 s in all\n".
struct TimingFacts {
  uint64_t bytes = 0;
  double copy_seconds = 0;
  double kdf_seconds = 0;
  bool kdf_during_copy = false;
  double seconds = 0;
  size_t threads = 0;
  std::string engine;
};

std::string Timing(const TimingFacts& t) {
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "  Copy: %s in %.2f s (%s, %zu thread%s, %s)\n"
                "  Key derivation: %.2f s (%s the copy); %.2f s in all\n",
                Bytes(t.bytes).c_str(), t.copy_seconds, Rate(t.bytes, t.copy_seconds).c_str(),
                t.threads, t.threads == 1 ? "" : "s", t.engine.c_str(), t.kdf_seconds,
                t.kdf_during_copy ? "alongside" : "before", t.seconds);
  return buf;
}

// Seconds in JSON: to the millisecond.
double JsonSeconds(double seconds) { return std::round(seconds * 1000) / 1000; }

// A one-line progress bar on stderr, redrawn at most 10 times a second; silent when stderr is
// not a terminal.
class ProgressBar {
 public:
  explicit ProgressBar(bool enabled) : enabled_(enabled) {}
  ~ProgressBar() { Clear(); }

  void Update(const image::Progress& p) {
    if (!enabled_) return;
    const auto now = std::chrono::steady_clock::now();
    if (!started_) {  // the copy starts now (the key derivation before it is not the copy's rate)
      started_ = true;
      start_ = now;
    }
    if (drawn_ && now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    const double seconds = std::chrono::duration<double>(now - start_).count();
    const double rate = seconds > 0 ? p.done_bytes / seconds : 0;
    char line[160];
    if (p.total_bytes && *p.total_bytes > 0) {
      const double fraction = std::min(1.0, static_cast<double>(p.done_bytes) / *p.total_bytes);
      const int filled = static_cast<int>(fraction * 24);
      char eta[16] = "--:--";
      if (rate > 0) {
        const int left = static_cast<int>((*p.total_bytes - p.done_bytes) / rate);
        std::snprintf(eta, sizeof eta, "%d:%02d", left / 60, left % 60);
      }
      std::snprintf(line, sizeof line, "\r[%s%s] %3.0f%%  %s / %s  %.0f MB/s  ETA %s ",
                    std::string(filled, '#').c_str(), std::string(24 - filled, '.').c_str(),
                    fraction * 100, Bytes(p.done_bytes).c_str(), Bytes(*p.total_bytes).c_str(),
                    rate / 1e6, eta);
    } else {
      std::snprintf(line, sizeof line, "\r%s  %.0f MB/s ", Bytes(p.done_bytes).c_str(), rate / 1e6);
    }
    std::fputs(line, stderr);
    std::fflush(stderr);
    drawn_ = true;
  }

  void Clear() {
    if (!drawn_) return;
    std::fputs("\r\033[K", stderr);
    std::fflush(stderr);
    drawn_ = false;
  }

 private:
  bool enabled_;
  bool drawn_ = false;
  bool started_ = false;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_;
};

std::string KdfText(const luks::KdfInfo& kdf) {
  if (kdf.type == "pbkdf2") {
    return "pbkdf2-" + kdf.hash + ", " + std::to_string(kdf.iterations) + " iterations";
  }
  if (kdf.type == "argon2i" || kdf.type == "argon2id") {
    return kdf.type + ", time " + std::to_string(kdf.time) + ", memory " +
           std::to_string(kdf.memory_kib) + " KiB, " + std::to_string(kdf.parallel) + " lanes";
  }
  return kdf.type;
}

std::string RenderImageInfo(const image::ImageInfo& info) {
  std::ostringstream out;
  out << "Image:          " << info.path << "\n";
  out << "Container:      " << info.container_detail << "\n";
  out << "File size:      " << BytesExact(info.file_size) << "\n";
  out << "Virtual size:   " << BytesExact(info.virtual_size) << "\n";
  if (!info.luks) {
    out << "Encrypted:      no\n";
    return out.str();
  }
  const luks::HeaderInfo& h = *info.luks;
  const luks::Layout& l = h.layout;
  out << "Encrypted:      yes, " << luks::VersionName(h.version) << "\n";
  if (info.container == "qcow2") {
    out << "LUKS header:    at byte " << info.luks_header_offset << " of the qcow2 file\n";
  }
  out << "Cipher:         " << l.cipher_spec << ", " << l.key_bytes * 8 << "-bit key\n";
  out << "Sector size:    " << l.sector_size << "\n";
  out << "Payload offset: " << l.payload_offset_bytes
      << (info.container == "qcow2" ? " (unused inside qcow2: IVs follow host offsets)" : "")
      << "\n";
  if (l.iv_tweak != 0) out << "IV tweak:       " << l.iv_tweak << "\n";
  out << "UUID:           " << l.uuid << "\n";
  if (!h.label.empty()) out << "Label:          " << h.label << "\n";
  std::vector<std::vector<std::string>> rows;
  size_t inactive = 0;
  for (const auto& s : h.keyslots) {
    if (s.state != luks::KeyslotState::kActive) {
      ++inactive;
      continue;
    }
    rows.push_back({std::to_string(s.id), s.type, std::to_string(s.key_bytes * 8), s.priority,
                    KdfText(s.kdf)});
  }
  out << "Keyslots:       " << rows.size() << " active";
  if (inactive > 0) out << ", " << inactive << " inactive";
  out << "\n";
  if (!rows.empty()) {
    std::istringstream table(RenderTable({"slot", "type", "key bits", "priority", "kdf"}, rows));
    for (std::string line; std::getline(table, line);) out << "  " << line << "\n";
  }
  for (const auto& w : h.warnings) out << "Warning:        " << w << "\n";
  return out.str();
}

std::string OrDash(const std::string& text) { return text.empty() ? "-" : text; }

// The partitions as a table. An MBR entry has a type byte (shown with its name when it is a
// common one: "0x83 Linux") and no name, so its table has no name columns; a GPT entry has a type
// GUID, a type name for the well-known GUIDs, and a name of its own ("-" where one is empty).
std::string PartitionTableText(const disk::PartitionTable& t) {
  std::vector<std::vector<std::string>> rows;
  const bool gpt = t.kind == disk::TableKind::kGpt;
  for (const auto& p : t.partitions) {
    std::vector<std::string> row = {std::to_string(p.number), std::to_string(p.first_byte),
                                    Bytes(p.size_bytes)};
    if (gpt) {
      row.insert(row.end(), {p.type, OrDash(p.type_name), OrDash(p.name)});
    } else {
      row.push_back(p.type_name.empty() ? p.type : p.type + " " + p.type_name);
    }
    row.push_back(p.bootable ? "yes" : "-");
    rows.push_back(std::move(row));
  }
  if (gpt) return RenderTable({"#", "start", "size", "type", "type name", "name", "boot"}, rows);
  return RenderTable({"#", "start", "size", "type", "boot"}, rows);
}

std::string RenderVerify(const image::VerifyReport& r) {
  std::ostringstream out;
  const luks::Layout& l = r.image.luks->layout;
  out << "Passphrase:     opens keyslot " << r.keyslot << " of " << r.image.path << " ("
      << luks::VersionName(r.image.luks->version) << ", " << l.cipher_spec << ", "
      << l.key_bytes * 8 << "-bit key)\n";
  out << "Disk:           " << BytesExact(r.image.virtual_size) << "\n";
  const disk::PartitionTable& t = r.table;
  if (r.looks_like_disk) {
    out << "Partition table: " << (t.kind == disk::TableKind::kGpt ? "GPT" : "MBR");
    if (t.kind == disk::TableKind::kGpt) {
      out << " (" << t.block_size << "-byte blocks), disk GUID " << t.disk_guid;
    }
    out << "\n";
    std::istringstream table(PartitionTableText(t));
    for (std::string line; std::getline(table, line);) out << "  " << line << "\n";
    for (const auto& w : t.warnings) out << "Warning: " << w << "\n";
    out << "Result:         the decrypted payload looks like a disk\n";
  } else {
    out << "Result:         the decrypted payload does NOT look like a disk:\n";
    for (const auto& p : t.problems) out << "  - " << p << "\n";
  }
  return out.str();
}

// ---- Commands -----------------------------------------------------------------------------------

struct EncryptArgs {
  std::string source, destination, key_file, format = "luks1", pbkdf;
  size_t threads = 0;
  uint32_t iter_time = 2000;
  uint32_t pbkdf_memory = 1'048'576;
  uint32_t pbkdf_parallel = 4;
  std::optional<uint32_t> pbkdf_iterations;
  uint32_t sector_size = 512;
  uint32_t key_size = 512;
  std::optional<uint64_t> size;
  std::string uuid;
  bool buffered = false;
};

struct DecryptArgs {
  std::string source, destination, key_file, format = "raw";
  size_t threads = 0;
  bool buffered = false;
  luks::OpenLimits limits;
};

struct VerifyArgs {
  std::string image, key_file;
  luks::OpenLimits limits;
};

constexpr const char* kBufferedHelp =
    "Write a file DST through the page cache (default: O_DIRECT where the file system allows "
    "it, which is faster and leaves the page cache alone; fsynced before the rename either way)";

ImageExit Fail(std::string_view command, const Error& error) {
  std::cerr << "veil image " << command << ": " << error.message << "\n";
  return ImageExitCode(error);
}

bool StderrIsTerminal() { return ::isatty(STDERR_FILENO) == 1; }

bool EndsInNewline(const SecretBytes& passphrase) {
  return !passphrase.empty() && passphrase.Reveal().back() == '\n';
}

// A wrong passphrase read from a key file that ends in a newline: most likely written with
// `echo`, and the newline is part of the passphrase.
Error WithNewlineHint(Error error, bool key_ends_in_newline) {
  if (error.code == ErrorCode::kPermissionDenied && key_ends_in_newline) {
    error.message +=
        "\nhint: the key file ends in a newline, which is part of the passphrase (every byte "
        "counts, as with cryptsetup --key-file); write it with printf or echo -n, not echo";
  }
  return error;
}

ImageExit RunEncrypt(const EncryptArgs& a, const std::string& output) {
  if (a.key_file == image::kStdio && a.source == image::kStdio) {
    return Fail("encrypt",
                Error(ErrorCode::kInvalidArgument, "SRC and --key-file cannot both be stdin"));
  }
  if (a.destination == image::kStdio && ::isatty(STDOUT_FILENO) == 1) {
    return Fail("encrypt", Error(ErrorCode::kInvalidArgument,
                                 "refusing to write an image to a terminal: redirect stdout"));
  }
  auto passphrase = ReadKeyFile(a.key_file);
  if (!passphrase) return Fail("encrypt", passphrase.error());
  image::EncryptOptions o;
  o.source = a.source;
  o.destination = a.destination;
  o.source_size = a.size;
  o.format = a.format == "luks2"   ? image::EncryptFormat::kLuks2
             : a.format == "qcow2" ? image::EncryptFormat::kQcow2
                                   : image::EncryptFormat::kLuks1;
  o.passphrase = std::move(*passphrase);
  o.pbkdf.type = a.pbkdf;
  o.pbkdf.iter_time_ms = a.iter_time;
  o.pbkdf.memory_kib = a.pbkdf_memory;
  o.pbkdf.parallel = a.pbkdf_parallel;
  o.pbkdf.iterations = a.pbkdf_iterations;
  o.sector_size = a.sector_size;
  o.key_bytes = a.key_size / 8;
  o.uuid = a.uuid;
  o.copy.threads = a.threads;
  o.copy.direct_output = !a.buffered;
  o.copy.cancel = &g_cancel;
  const bool to_stdout = a.destination == image::kStdio;
  ProgressBar bar(StderrIsTerminal());
  o.copy.progress = [&bar](const image::Progress& p) { bar.Update(p); };
  if (to_stdout) ::signal(SIGPIPE, SIG_IGN);  // a closed reader becomes an I/O error

  CancelOnSignals signals;
  auto result = image::EncryptImage(o);
  bar.Clear();
  if (!result) return Fail("encrypt", result.error());
  std::ostream& out = to_stdout ? std::cerr : std::cout;
  if (output == "json" && !to_stdout) {
    const luks::Layout& l = result->layout;
    boost::json::object j{{"source", a.source},
                          {"source_format", result->source_format},
                          {"destination", a.destination},
                          {"format", image::EncryptFormatName(result->format)},
                          {"virtual_size", result->virtual_size},
                          {"output_size", result->output_bytes},
                          {"cipher", l.cipher_spec},
                          {"key_bits", l.key_bytes * 8},
                          {"sector_size", l.sector_size},
                          {"payload_offset", l.payload_offset_bytes},
                          {"uuid", l.uuid},
                          {"threads", result->threads},
                          {"seconds", JsonSeconds(result->seconds)},
                          {"copy_seconds", JsonSeconds(result->copy_seconds)},
                          {"kdf_seconds", JsonSeconds(result->kdf_seconds)},
                          {"kdf_during_copy", result->kdf_during_copy}};
    out << JsonText(j) << "\n";
  } else {
    const luks::Layout& l = result->layout;
    out << "Encrypted " << a.source << " (" << result->source_format << ", "
        << Bytes(result->virtual_size) << ") into " << a.destination << ": "
        << image::EncryptFormatName(result->format) << ", " << l.cipher_spec << " "
        << l.key_bytes * 8 << "-bit, " << l.sector_size << "-byte sectors, UUID " << l.uuid << "\n"
        << Timing({result->virtual_size, result->copy_seconds, result->kdf_seconds,
                   result->kdf_during_copy, result->seconds, result->threads, result->engine});
  }
  return ImageExit::kOk;
}

ImageExit RunDecrypt(const DecryptArgs& a, const std::string& output) {
  if (a.destination == image::kStdio && ::isatty(STDOUT_FILENO) == 1) {
    return Fail("decrypt", Error(ErrorCode::kInvalidArgument,
                                 "refusing to write an image to a terminal: redirect stdout"));
  }
  auto passphrase = ReadKeyFile(a.key_file);
  if (!passphrase) return Fail("decrypt", passphrase.error());
  const bool newline = EndsInNewline(*passphrase);
  image::DecryptOptions o;
  o.source = a.source;
  o.destination = a.destination;
  o.format = a.format == "qcow2" ? image::DecryptFormat::kQcow2 : image::DecryptFormat::kRaw;
  o.passphrase = std::move(*passphrase);
  o.limits = a.limits;
  o.copy.threads = a.threads;
  o.copy.direct_output = !a.buffered;
  o.copy.cancel = &g_cancel;
  const bool to_stdout = a.destination == image::kStdio;
  ProgressBar bar(StderrIsTerminal());
  o.copy.progress = [&bar](const image::Progress& p) { bar.Update(p); };
  if (to_stdout) ::signal(SIGPIPE, SIG_IGN);

  CancelOnSignals signals;
  auto result = image::DecryptImage(o);
  bar.Clear();
  if (!result) return Fail("decrypt", WithNewlineHint(result.error(), newline));
  std::ostream& out = to_stdout ? std::cerr : std::cout;
  if (output == "json" && !to_stdout) {
    boost::json::object j{{"source", a.source},
                          {"source_format", result->source_format},
                          {"destination", a.destination},
                          {"format", image::DecryptFormatName(o.format)},
                          {"keyslot", result->keyslot},
                          {"virtual_size", result->virtual_size},
                          {"threads", result->threads},
                          {"seconds", JsonSeconds(result->seconds)},
                          {"copy_seconds", JsonSeconds(result->copy_seconds)},
                          {"kdf_seconds", JsonSeconds(result->kdf_seconds)}};
    out << JsonText(j) << "\n";
  } else {
    out << "Decrypted " << a.source << " (" << result->source_format << ", keyslot "
        << result->keyslot << ") into " << a.destination << ": "
        << image::DecryptFormatName(o.format) << ", " << Bytes(result->virtual_size) << "\n"
        << Timing({result->virtual_size, result->copy_seconds, result->kdf_seconds, false,
                   result->seconds, result->threads, result->engine});
  }
  return ImageExit::kOk;
}

ImageExit RunInspect(const std::string& image, const std::string& output) {
  auto info = image::InspectImage(image);
  if (!info) return Fail("inspect", info.error());
  if (output == "json") {
    std::cout << ImageInfoToJson(*info) << "\n";
  } else {
    std::cout << RenderImageInfo(*info);
  }
  return ImageExit::kOk;
}

ImageExit RunVerify(const VerifyArgs& a, const std::string& output) {
  auto passphrase = ReadKeyFile(a.key_file);
  if (!passphrase) return Fail("verify", passphrase.error());
  auto report = image::VerifyImage(a.image, passphrase->Reveal(), a.limits);
  if (!report) return Fail("verify", WithNewlineHint(report.error(), EndsInNewline(*passphrase)));
  if (output == "json") {
    std::cout << VerifyReportToJson(*report) << "\n";
  } else {
    std::cout << RenderVerify(*report);
  }
  return report->looks_like_disk ? ImageExit::kOk : ImageExit::kNotADisk;
}

void AddLimitOptions(CLI::App* cmd, luks::OpenLimits& limits) {
  cmd->add_option("--max-pbkdf-memory", limits.argon2_max_memory_kib,
                  "Refuse keyslots whose Argon2 memory cost is above this many KiB")
      ->capture_default_str();
  cmd->add_option("--max-pbkdf-iterations", limits.pbkdf2_max_iterations,
                  "Refuse keyslots whose PBKDF2 iteration count is above this")
      ->capture_default_str();
}

constexpr const char* kExitCodes =
    "\nExit codes: 0 ok, 1 internal error, 2 usage (bad option, DST exists), 3 wrong passphrase,\n"
    "4 not a LUKS image (or already one, for encrypt), 5 corrupt or truncated LUKS header,\n"
    "6 unsupported cipher or format feature, 7 PBKDF cost over the limit, 8 input smaller than\n"
    "it claims or damaged, 9 I/O error, 10 (verify) no partition table, 130 interrupted.\n"
    "See docs/image-tool.md.";

// `veil image encrypt SRC DST`: any input container into LUKS1, LUKS2 or qcow2-LUKS.
void AddEncryptCommand(CLI::App* image, const std::string& output, int& exit_code) {
  auto enc = std::make_shared<EncryptArgs>();
  CLI::App* e = image->add_subcommand(
      "encrypt",
      "Encrypt a raw, qcow2 or VHD disk image into LUKS1, LUKS2 or qcow2-LUKS, on all cores");
  e->add_option("SRC", enc->source, "Input image (raw, qcow2, VHD; '-' = raw data on stdin)")
      ->required();
  e->add_option("DST", enc->destination,
                "Output file (must not exist); '-' = stdout (luks1/luks2 only)")
      ->required();
  e->add_option("--key-file", enc->key_file,
                "Passphrase file: every byte is the passphrase, as cryptsetup's --key-file "
                "(no newline stripping); '-' = stdin")
      ->required();
  e->add_option("--format", enc->format,
                "luks1 (QEMU and cryptsetup), luks2 (cryptsetup), qcow2 (QEMU's "
                "encrypt.format=luks)")
      ->check(CLI::IsMember({"luks1", "luks2", "qcow2"}))
      ->capture_default_str();
  e->add_option("--threads", enc->threads, "Worker threads (default: every CPU)")
      ->check(CLI::Range(1, 1024));
  e->add_option("--iter-time", enc->iter_time, "PBKDF benchmark target in milliseconds")
      ->check(CLI::Range(1, 3'600'000))
      ->capture_default_str();
  e->add_option("--pbkdf", enc->pbkdf,
                "Key derivation: pbkdf2 (LUKS1, qcow2), argon2id or argon2i (LUKS2; default "
                "argon2id)")
      ->check(CLI::IsMember({"pbkdf2", "argon2id", "argon2i"}));
  e->add_option("--pbkdf-memory", enc->pbkdf_memory,
                "Argon2 memory cost in KiB (at most 1048576, the most Veil opens an image with "
                "by default)")
      ->check(CLI::Range(uint64_t{32}, luks::OpenLimits{}.argon2_max_memory_kib))
      ->capture_default_str();
  e->add_option("--pbkdf-parallel", enc->pbkdf_parallel, "Argon2 lanes (threads)")
      ->check(CLI::Range(1, 16))
      ->capture_default_str();
  e->add_option("--pbkdf-force-iterations", enc->pbkdf_iterations,
                "A fixed cost instead of the benchmark: PBKDF2 iterations (>= 1000) or Argon2 "
                "time cost (>= 4)");
  e->add_option("--sector-size", enc->sector_size, "LUKS2 sector size (luks1 and qcow2: 512)")
      ->check(CLI::IsMember({512, 4096}))
      ->capture_default_str();
  e->add_option("--key-size", enc->key_size, "Volume key bits: 512 (AES-256-XTS) or 256")
      ->check(CLI::IsMember({256, 512}))
      ->capture_default_str();
  e->add_option("--size", enc->size,
                "Bytes the input on a pipe will hold (checked; required for qcow2 from a pipe)");
  e->add_option("--uuid", enc->uuid, "LUKS UUID (default: random)");
  e->add_flag("--buffered", enc->buffered, kBufferedHelp);
  e->footer(
      "Examples:\n"
      "  veil image encrypt disk.qcow2 disk.luks --key-file secret.dek\n"
      "  veil image encrypt disk.vhd disk-enc.qcow2 --format qcow2 --key-file dek.bin\n"
      "  veil image encrypt disk.raw disk.luks2 --format luks2 --sector-size 4096 "
      "--key-file k --iter-time 500\n"
      "  zcat disk.raw.gz | veil image encrypt - disk.luks --key-file secret.dek\n"
      "  veil image encrypt disk.raw - --key-file secret.dek | ssh host 'cat > disk.luks'\n"
      "The output is written to a hidden temporary file in DST's directory and renamed on\n"
      "success; Ctrl-C removes it (exit 130)." +
      std::string(kExitCodes));
  e->callback([&exit_code, &output, enc] { exit_code = ExitCode(RunEncrypt(*enc, output)); });
}

// `veil image decrypt SRC DST`: a LUKS container or qcow2-LUKS into raw or qcow2.
void AddDecryptCommand(CLI::App* image, const std::string& output, int& exit_code) {
  auto dec = std::make_shared<DecryptArgs>();
  CLI::App* d = image->add_subcommand(
      "decrypt",
      "Decrypt a LUKS1/LUKS2 container or a qcow2 with LUKS inside into a raw or "
      "qcow2 image");
  d->add_option("SRC", dec->source, "Encrypted image (raw LUKS1/LUKS2, or qcow2-LUKS)")->required();
  d->add_option("DST", dec->destination, "Output file (must not exist); '-' = stdout (raw only)")
      ->required();
  d->add_option("--key-file", dec->key_file, "Passphrase file (every byte); '-' = stdin")
      ->required();
  d->add_option("--format", dec->format, "raw (sparse) or qcow2 (zero clusters unallocated)")
      ->check(CLI::IsMember({"raw", "qcow2"}))
      ->capture_default_str();
  d->add_option("--threads", dec->threads, "Worker threads (default: every CPU)")
      ->check(CLI::Range(1, 1024));
  d->add_flag("--buffered", dec->buffered, kBufferedHelp);
  AddLimitOptions(d, dec->limits);
  d->footer(
      "Examples:\n"
      "  veil image decrypt disk.luks disk.raw --key-file secret.dek\n"
      "  veil image decrypt disk-enc.qcow2 disk.qcow2 --format qcow2 --key-file dek.bin\n"
      "  veil image decrypt disk.luks - --key-file secret.dek | sha256sum" +
      std::string(kExitCodes));
  d->callback([&exit_code, &output, dec] { exit_code = ExitCode(RunDecrypt(*dec, output)); });
}

// `veil image inspect IMG`: the container and LUKS facts, never a secret.
void AddInspectCommand(CLI::App* image, const std::string& output, int& exit_code) {
  auto inspected = std::make_shared<std::string>();
  CLI::App* i = image->add_subcommand(
      "inspect", "Show an image's container and LUKS facts (no passphrase, no secret shown)");
  i->add_option("IMG", *inspected, "Image file")->required();
  i->footer(
      "Examples:\n"
      "  veil image inspect disk.luks\n"
      "  veil image inspect disk-enc.qcow2 --output json" +
      std::string(kExitCodes));
  i->callback(
      [&exit_code, &output, inspected] { exit_code = ExitCode(RunInspect(*inspected, output)); });
}

// `veil image verify IMG`: the passphrase opens it and the plaintext looks like a disk.
void AddVerifyCommand(CLI::App* image, const std::string& output, int& exit_code) {
  auto ver = std::make_shared<VerifyArgs>();
  CLI::App* v = image->add_subcommand(
      "verify",
      "Check that a passphrase opens the image and that its plaintext starts with a sane MBR "
      "or GPT partition table (what the image service checks at import)");
  v->add_option("IMG", ver->image, "Encrypted image (raw LUKS1/LUKS2, or qcow2-LUKS)")->required();
  v->add_option("--key-file", ver->key_file, "Passphrase file (every byte); '-' = stdin")
      ->required();
  AddLimitOptions(v, ver->limits);
  v->footer(
      "Examples:\n"
      "  veil image verify disk.luks --key-file secret.dek\n"
      "  veil image verify disk-enc.qcow2 --key-file dek.bin --output json" +
      std::string(kExitCodes));
  v->callback([&exit_code, &output, ver] { exit_code = ExitCode(RunVerify(*ver, output)); });
}

}  // namespace

void RegisterImageCommands(CLI::App& app, const std::string& output, int& exit_code) {
  CLI::App* image = app.add_subcommand(
      "image", "Encrypt, decrypt, inspect and verify LUKS disk images (no root needed)");
  image->require_subcommand(1);
  image->footer(
      "Examples:\n"
      "  veil image encrypt disk.qcow2 disk.luks --key-file secret.dek\n"
      "  veil image inspect disk.luks\n"
      "  veil image verify disk.luks --key-file secret.dek\n"
      "  veil image decrypt disk.luks disk.raw --key-file secret.dek\n" +
      std::string(kExitCodes));

  AddEncryptCommand(image, output, exit_code);
  AddDecryptCommand(image, output, exit_code);
  AddInspectCommand(image, output, exit_code);
  AddVerifyCommand(image, output, exit_code);
}

}  // namespace veil::cli
