// Differential fuzz target: Veil's LUKS parser against libcryptsetup's own, on the same bytes.
//
// The image service opens customer headers, and OpenVolumeKey hands them to libcryptsetup after
// Veil's parser has accepted them. So Veil must refuse every header that libcryptsetup refuses
// (issue 11, item 9). Each input is written to an anonymous in-memory file (memfd, opened by both
// as /proc/self/fd/N) and judged twice:
//   - Veil: InspectFile(path), what OpenVolumeKey(path) and `veil image inspect` run first;
//   - libcryptsetup: crypt_init + crypt_load(CRYPT_LUKS1 or CRYPT_LUKS2: the version Veil read, or
//     the primary header's version when Veil refused), with metadata locking off (which also
//     turns off libcryptsetup's header auto-recovery: it never writes) and its log kept quiet.
// A finding is an input that Veil accepts and libcryptsetup refuses, or that both accept but read
// differently (payload offset, sector size, volume key size, UUID, LUKS2 metadata and keyslots
// sizes, and the cipher when Veil could decrypt with it). Each input is judged as it is and padded
// with zeros to what its header declares (at least 32 MiB, at most 1 GiB, sparse), since a header
// alone is "too small" for both; LUKS2-looking inputs are judged again with their checksums
// recomputed, so that mutations reach the JSON; and half of libFuzzer's mutations are made by a
// JSON-aware mutator (below) that edits the metadata's DOM (removes, renames, adds or replaces a
// member) in both copies and re-signs them.
//
// Two builds from this one file, as fuzz/luks_header_fuzz.cc:
//   - libFuzzer (`make fuzz`, docs/fuzzing.md): a finding prints both verdicts and aborts;
//   - the default: a plain program (target luks_cryptsetup_diff_fuzz) that replays a corpus and
//     checks it against a table of expected verdicts (fuzz/luks_cryptsetup_diff.expected, written
//     by fuzz/luks_corpus_gen.py): for every file, what libcryptsetup and Veil must say, and for
//     each header that only Veil refuses, the words of its documented reason. ctest runs it on
//     fuzz/corpus/luks-diff/ (label integration: it drives the real libcryptsetup).
#include <libcryptsetup.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "crypto/hash.h"
#include "luks/header_info.h"
#include "luks/inspect.h"
#include "luks/sector_cipher.h"

namespace {

using veil::luks::HeaderInfo;
using veil::luks::Version;

constexpr uint64_t kMiB = uint64_t{1} << 20;
// A LUKS2 header declares 16 MiB of metadata and keyslots by default; pad at least that far.
constexpr uint64_t kMinPaddedSize = 32 * kMiB;
constexpr uint64_t kMaxPaddedSize = 1024 * kMiB;

struct Verdict {
  bool accepted = false;
  std::string reason;  // why it was refused
};

struct Outcome {
  Verdict veil;
  Verdict cryptsetup;
  std::string disagreement;  // both accepted, but read different facts
  bool IsFinding() const {
    return (veil.accepted && !cryptsetup.accepted) || !disagreement.empty();
  }
};

// libcryptsetup's last error line (its log is otherwise dropped: it goes nowhere but here).
std::string& LastError() {
  static std::string line;
  return line;
}

void KeepErrors(int level, const char* msg, void*) {
  if (level != CRYPT_LOG_ERROR || msg == nullptr) return;
  std::string& e = LastError();
  e = msg;
  while (!e.empty() && e.back() == '\n') e.pop_back();
}

void InitCryptsetupOnce() {
  static const bool done = [] {
    crypt_set_log_callback(nullptr, KeepErrors, nullptr);
    // No locking: the memfd is private, locking would need /run/cryptsetup; and without locking
    // libcryptsetup never tries to repair (write) a header while loading it.
    crypt_metadata_locking(nullptr, 0);
    return true;
  }();
  (void)done;
}

// An anonymous file holding the input, closed on destruction.
class MemFd {
 public:
  MemFd(std::span<const uint8_t> bytes, uint64_t size)
      : fd_(::memfd_create("veil-luks-diff", MFD_CLOEXEC)) {
    if (fd_ < 0) return;
    size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t n =
          ::pwrite(fd_, bytes.data() + done, bytes.size() - done, static_cast<off_t>(done));
      if (n <= 0) {
        if (n < 0 && errno == EINTR) continue;
        Close();
        return;
      }
      done += static_cast<size_t>(n);
    }
    if (size > bytes.size() && ::ftruncate(fd_, static_cast<off_t>(size)) != 0) Close();
  }
  ~MemFd() { Close(); }
  MemFd(const MemFd&) = delete;
  MemFd& operator=(const MemFd&) = delete;

  bool ok() const { return fd_ >= 0; }
  std::string path() const { return "/proc/self/fd/" + std::to_string(fd_); }

 private:
  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  int fd_;
};

bool IsLuks1(std::span<const uint8_t> b) {
  static constexpr uint8_t kMagic[6] = {'L', 'U', 'K', 'S', 0xba, 0xbe};
  return b.size() >= 8 && std::memcmp(b.data(), kMagic, 6) == 0 && b[6] == 0 && b[7] == 1;
}

// What both read, when both accept; empty when they agree.
std::string Disagreement(crypt_device* cd, const HeaderInfo& info) {
  const veil::luks::Layout& l = info.layout;
  std::string out;
  auto differ = [&](const char* what, const std::string& veil, const std::string& cs) {
    if (veil != cs)
      out +=
          std::string(out.empty() ? "" : "; ") + what + ": Veil " + veil + ", libcryptsetup " + cs;
  };
  differ("payload offset", std::to_string(l.payload_offset_bytes),
         std::to_string(crypt_get_data_offset(cd) * 512));
  differ("sector size", std::to_string(l.sector_size), std::to_string(crypt_get_sector_size(cd)));
  differ("volume key bytes", std::to_string(l.key_bytes),
         std::to_string(std::max(crypt_get_volume_key_size(cd), 0)));
  if (info.version == Version::kLuks2) {
    uint64_t metadata = 0, keyslots = 0;
    if (crypt_get_metadata_size(cd, &metadata, &keyslots) == 0) {
      differ("metadata size", std::to_string(info.header_size_bytes), std::to_string(metadata));
      differ("keyslots size", std::to_string(info.keyslots_area_bytes), std::to_string(keyslots));
    }
  }
  const char* uuid = crypt_get_uuid(cd);
  differ("UUID", l.uuid, uuid != nullptr ? uuid : "");
  // The cipher matters where Veil would decrypt with it; libcryptsetup spells some strings its
  // own way ("aes" alone is its "aes-cbc-plain"), which Veil refuses to decrypt anyway.
  if (veil::luks::SectorCipher::CheckSupported(l.cipher_spec, l.key_bytes)) {
    const char* cipher = crypt_get_cipher(cd);
    const char* mode = crypt_get_cipher_mode(cd);
    differ("cipher", l.cipher_spec,
           std::string(cipher != nullptr ? cipher : "") + "-" + (mode != nullptr ? mode : ""));
  }
  return out;
}

// Judges `bytes`, padded with zeros to `file_size`, by Veil and by libcryptsetup.
Outcome Evaluate(std::span<const uint8_t> bytes, uint64_t file_size) {
  Outcome o;
  MemFd file(bytes, file_size);
  if (!file.ok()) {
    std::fprintf(stderr, "luks_cryptsetup_diff_fuzz: cannot make a memfd: %s\n",
                 std::strerror(errno));
    __builtin_trap();
  }
  const std::string path = file.path();
  auto info = veil::luks::InspectFile(path);
  o.veil.accepted = info.has_value();
  if (!info) o.veil.reason = info.error().ToString();

  InitCryptsetupOnce();
  const bool luks1 = info ? info->version == Version::kLuks1 : IsLuks1(bytes);
  crypt_device* cd = nullptr;
  LastError().clear();
  int r = crypt_init(&cd, path.c_str());
  if (r >= 0) {
    crypt_set_log_callback(cd, KeepErrors, nullptr);
    r = crypt_load(cd, luks1 ? CRYPT_LUKS1 : CRYPT_LUKS2, nullptr);
  }
  o.cryptsetup.accepted = r >= 0;
  if (r < 0) {
    o.cryptsetup.reason = !LastError().empty() ? LastError() : std::strerror(-r);
  } else if (info) {
    o.disagreement = Disagreement(cd, *info);
  }
  if (cd != nullptr) crypt_free(cd);
  return o;
}

// The size a file holding `bytes` needs for what its header declares (Veil's reading), bounded.
uint64_t PaddedSize(std::span<const uint8_t> bytes) {
  uint64_t want = kMinPaddedSize;
  auto info = veil::luks::Inspect(bytes);
  if (info) {
    const veil::luks::Layout& l = info->layout;
    want = std::max({want, info->metadata_end_bytes, l.payload_offset_bytes});
    if (l.payload_size_bytes && *l.payload_size_bytes <= kMaxPaddedSize &&
        l.payload_offset_bytes <= kMaxPaddedSize) {
      want = std::max(want, l.payload_offset_bytes + *l.payload_size_bytes);
    }
  }
  return std::max<uint64_t>(std::min(want, kMaxPaddedSize), bytes.size());
}

std::string Describe(const char* variant, const Outcome& o) {
  std::string s = std::string(variant) + ": ";
  if (!o.disagreement.empty()) return s + "both accept but read it differently: " + o.disagreement;
  return s + "Veil accepts, libcryptsetup refuses (" + o.cryptsetup.reason + ")";
}

uint64_t Be64(std::span<const uint8_t> b, size_t at) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8; ++i) v = (v << 8) | b[at + i];
  return v;
}

// Re-signs the LUKS2 binary header at `offset` when its hdr_size fits (what a forger does).
void Resign(std::vector<uint8_t>& b, size_t offset) {
  if (b.size() < offset + 4096) return;
  const uint64_t hdr_size = Be64(b, offset + 8);
  if (hdr_size < 4096 || hdr_size > b.size() - offset) return;
  std::fill(b.begin() + static_cast<ptrdiff_t>(offset + 448),
            b.begin() + static_cast<ptrdiff_t>(offset + 512), 0);
  const auto sum = veil::crypto::Sha256(std::span<const uint8_t>(b).subspan(offset, hdr_size));
  std::copy(sum.begin(), sum.end(), b.begin() + static_cast<ptrdiff_t>(offset + 448));
}

// Every finding for one input: as it is and padded, then (LUKS2) the same re-signed.
std::vector<std::string> Findings(std::span<const uint8_t> input) {
  std::vector<std::string> out;
  auto judge = [&](std::span<const uint8_t> bytes, const char* as_is, const char* padded) {
    const Outcome a = Evaluate(bytes, bytes.size());
    if (a.IsFinding()) out.push_back(Describe(as_is, a));
    const uint64_t size = PaddedSize(bytes);
    if (size > bytes.size()) {
      const Outcome b = Evaluate(bytes, size);
      if (b.IsFinding()) out.push_back(Describe(padded, b));
    }
  };
  judge(input, "as is", "padded");
  if (input.size() >= 4096 && input[6] == 0 && input[7] == 2) {
    std::vector<uint8_t> signed_copy(input.begin(), input.end());
    Resign(signed_copy, 0);
    Resign(signed_copy,
           static_cast<size_t>(std::min<uint64_t>(Be64(signed_copy, 8), input.size())));
    if (signed_copy != std::vector<uint8_t>(input.begin(), input.end())) {
      judge(signed_copy, "re-signed", "re-signed and padded");
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto findings = Findings(std::span<const uint8_t>(data, size));
  for (const auto& f : findings) std::fprintf(stderr, "luks_cryptsetup_diff_fuzz: %s\n", f.c_str());
  if (!findings.empty()) __builtin_trap();
  return 0;
}

#ifdef VEIL_LIBFUZZER
// A structure-aware mutator: byte flips seldom turn one valid LUKS2 JSON into another that tests a
// rule (an empty string, a missing member, a reference with a leading zero, a value of the wrong
// type). Half of the mutations are libFuzzer's own; the other half parse the primary copy's JSON,
// make one to three edits of the DOM, write the result into both copies and re-sign them.
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <cstdlib>
#include <random>

extern "C" size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t max_size);

namespace {

namespace json = boost::json;

// Where a value sits: a member of an object or an element of an array.
struct Place {
  json::value* value;
  json::object* object = nullptr;
  std::string key;
  json::array* array = nullptr;
  size_t index = 0;
};

void Collect(json::value& v, std::vector<Place>& out) {
  if (json::object* o = v.if_object()) {
    for (auto& kv : *o) {
      out.push_back(Place{&kv.value(), o, std::string(kv.key()), nullptr, 0});
      Collect(kv.value(), out);
    }
  } else if (json::array* a = v.if_array()) {
    for (size_t i = 0; i < a->size(); ++i) {
      out.push_back(Place{&(*a)[i], nullptr, "", a, i});
      Collect((*a)[i], out);
    }
  }
}

const char* const kKeys[] = {
    "0",        "1",         "2",        "00",           "31",         "32",
    "flags",    "integrity", "priority", "requirements", "mandatory",  "type",
    "size",     "offset",    "salt",     "hash",         "encryption", "key_size",
    "keyslots", "segments",  "iv_tweak", "sector_size",  "json_size",  "keyslots_size",
    "stripes"};

json::value Interesting(std::minstd_rand& rng, const std::vector<Place>& places) {
  switch (rng() % 24) {
    case 0:
      return "";
    case 1:
      return "0";
    case 2:
      return "00";
    case 3:
      return "1";
    case 4:
      return "-1";
    case 5:
      return "dynamic";
    case 6:
      return "crypt";
    case 7:
      return "luks2";
    case 8:
      return "backup-final";
    case 9:
      return 0;
    case 10:
      return -1;
    case 11:
      return 512;
    case 12:
      return 4096;
    case 13:
      return 4000;
    case 14:
      return uint64_t{1} << 32;
    case 15:
      return INT64_MAX;
    case 16:
      return true;
    case 17:
      return nullptr;
    case 18:
      return json::array{};
    case 19:
      return json::object{};
    case 20:
      return json::array{"0"};
    case 21:
      return json::array{"1"};
    case 22:
      return json::array{"backup-final"};
    default:
      return places.empty() ? json::value("x") : *places[rng() % places.size()].value;
  }
}

// A numeric string moved a little ("16777216" -> "16776704"), or any other value replaced.
json::value Nudged(const json::value& v, std::minstd_rand& rng, const std::vector<Place>& places) {
  if (const json::string* s = v.if_string()) {
    char* end = nullptr;
    const unsigned long long n = std::strtoull(s->c_str(), &end, 10);
    if (end != s->c_str() && *end == '\0') {
      static const long long kSteps[] = {1, -1, 512, -512, 4096, -4096};
      const unsigned long long m =
          rng() % 4 == 0 ? n * 2 : n + static_cast<unsigned long long>(kSteps[rng() % 6]);
      return json::value(std::to_string(m));
    }
  }
  if (const int64_t* i = v.if_int64()) {
    // In unsigned arithmetic: wrapping around is a fine mutation, signed overflow is UB.
    return json::value(static_cast<int64_t>(static_cast<uint64_t>(*i) + rng() % 9 - 4));
  }
  return Interesting(rng, places);
}

void EditOnce(json::value& root, std::minstd_rand& rng) {
  std::vector<Place> places;
  Collect(root, places);
  if (places.empty()) return;
  Place& p = places[rng() % places.size()];
  switch (rng() % 5) {
    case 0:  // remove it
      if (p.object != nullptr) p.object->erase(p.key);
      if (p.array != nullptr) p.array->erase(p.array->begin() + static_cast<ptrdiff_t>(p.index));
      return;
    case 1:  // rename it
      if (p.object != nullptr) {
        json::value moved = *p.value;
        p.object->erase(p.key);
        (*p.object)[kKeys[rng() % std::size(kKeys)]] = std::move(moved);
      }
      return;
    case 2:  // add a member beside it
      if (p.object != nullptr) {
        (*p.object)[kKeys[rng() % std::size(kKeys)]] = Interesting(rng, places);
      } else if (p.array != nullptr) {
        p.array->push_back(Interesting(rng, places));
      }
      return;
    case 3:
      *p.value = Nudged(*p.value, rng, places);
      return;
    default:
      *p.value = Interesting(rng, places);
      return;
  }
}

}  // namespace

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size,
                                          unsigned int seed) {
  std::minstd_rand rng(seed);
  const std::span<const uint8_t> in(data, size);
  if (rng() % 2 == 0 || size < 4096 || data[6] != 0 || data[7] != 2) {
    return LLVMFuzzerMutate(data, size, max_size);
  }
  const uint64_t hdr = Be64(in, 8);
  if (hdr < 16384 || hdr > size) return LLVMFuzzerMutate(data, size, max_size);
  const char* text = reinterpret_cast<const char*>(data + 4096);
  const size_t area = static_cast<size_t>(hdr) - 4096;
  json::error_code ec;
  json::value root = json::parse(json::string_view(text, strnlen(text, area)), ec);
  if (ec) return LLVMFuzzerMutate(data, size, max_size);
  for (unsigned n = 1 + rng() % 3; n > 0; --n) EditOnce(root, rng);
  const std::string out = json::serialize(root);
  if (out.size() >= area) return LLVMFuzzerMutate(data, size, max_size);
  std::vector<uint8_t> b(data, data + size);
  for (size_t off : {size_t{0}, static_cast<size_t>(hdr)}) {
    if (off + hdr > b.size()) continue;
    std::fill(b.begin() + static_cast<ptrdiff_t>(off + 4096),
              b.begin() + static_cast<ptrdiff_t>(off + hdr), 0);
    std::copy(out.begin(), out.end(), b.begin() + static_cast<ptrdiff_t>(off + 4096));
    Resign(b, off);
  }
  std::copy(b.begin(), b.end(), data);
  return size;
}
#endif

#ifndef VEIL_LIBFUZZER
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>

namespace {

struct Expected {
  bool cryptsetup_accepts = false;
  bool veil_accepts = false;
  std::string veil_reason;  // words Veil's refusal must contain (a documented Veil limit)
};

// fuzz/luks_cryptsetup_diff.expected: "<file> <accept|refuse> <accept|refuse> [reason words]",
// libcryptsetup's verdict first; '#' starts a comment.
bool ReadExpected(const std::string& path, std::map<std::string, Expected>& out) {
  std::ifstream in(path);
  if (!in) return false;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream words(line);
    std::string file, cs, veil;
    words >> file >> cs >> veil;
    if ((cs != "accept" && cs != "refuse") || (veil != "accept" && veil != "refuse")) {
      std::fprintf(stderr, "%s: bad line: %s\n", path.c_str(), line.c_str());
      return false;
    }
    Expected e{cs == "accept", veil == "accept", ""};
    std::getline(words >> std::ws, e.veil_reason);
    out[file] = e;
  }
  return true;
}

std::vector<uint8_t> ReadBytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(in)),
                              std::istreambuf_iterator<char>());
}

const char* Word(bool accepted) { return accepted ? "accept" : "refuse"; }

// Checks one corpus file; returns its problems.
std::vector<std::string> CheckFile(const std::vector<uint8_t>& bytes, const Expected* expected) {
  std::vector<std::string> problems = Findings(bytes);
  for (size_t cut : {size_t{0}, size_t{8}, size_t{4096}, bytes.size() / 2}) {
    if (cut >= bytes.size()) continue;
    for (auto& f : Findings(std::span<const uint8_t>(bytes).first(cut))) {
      problems.push_back("truncated to " + std::to_string(cut) + " bytes, " + f);
    }
  }
  if (expected == nullptr) {
    problems.push_back("not listed in the table of expected verdicts");
    return problems;
  }
  const Outcome o = Evaluate(bytes, PaddedSize(bytes));
  if (o.cryptsetup.accepted != expected->cryptsetup_accepts) {
    problems.push_back(std::string("libcryptsetup should ") + Word(expected->cryptsetup_accepts) +
                       " it but does " + Word(o.cryptsetup.accepted) +
                       (o.cryptsetup.accepted ? "" : " (" + o.cryptsetup.reason + ")"));
  }
  if (o.veil.accepted != expected->veil_accepts) {
    problems.push_back(std::string("Veil should ") + Word(expected->veil_accepts) +
                       " it but does " + Word(o.veil.accepted) +
                       (o.veil.accepted ? "" : " (" + o.veil.reason + ")"));
  }
  if (o.cryptsetup.accepted && !o.veil.accepted) {
    // Only a documented Veil limit may refuse what libcryptsetup accepts.
    if (expected->veil_reason.empty()) {
      problems.push_back("libcryptsetup accepts it and Veil refuses it without a documented limit");
    } else if (o.veil.reason.find(expected->veil_reason) == std::string::npos) {
      problems.push_back("Veil refuses it for another reason than \"" + expected->veil_reason +
                         "\": " + o.veil.reason);
    }
  }
  return problems;
}

}  // namespace

// luks_cryptsetup_diff_fuzz [--expect TABLE] CORPUS_DIR_OR_FILE...
// Exit 0 only if something was checked and nothing went wrong.
int main(int argc, char** argv) {
  std::map<std::string, Expected> table;
  bool have_table = false;
  std::vector<std::filesystem::path> files;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--expect" && i + 1 < argc) {
      if (!ReadExpected(argv[++i], table)) {
        std::fprintf(stderr, "luks_cryptsetup_diff_fuzz: cannot read %s\n", argv[i]);
        return 1;
      }
      have_table = true;
    } else if (std::filesystem::is_directory(arg)) {
      for (const auto& e : std::filesystem::directory_iterator(arg)) {
        if (e.is_regular_file()) files.push_back(e.path());
      }
    } else {
      files.push_back(arg);
    }
  }
  std::sort(files.begin(), files.end());
  int failures = 0;
  int limits = 0, both_accept = 0, both_refuse = 0;
  std::map<std::string, bool> seen;
  for (const auto& path : files) {
    const std::string name = path.filename().string();
    seen[name] = true;
    const auto it = table.find(name);
    const Expected* expected = have_table && it != table.end() ? &it->second : nullptr;
    std::vector<std::string> problems =
        have_table ? CheckFile(ReadBytes(path), expected) : Findings(ReadBytes(path));
    for (const auto& p : problems) std::printf("FAIL %s: %s\n", name.c_str(), p.c_str());
    if (!problems.empty()) ++failures;
    if (expected != nullptr) {
      if (expected->cryptsetup_accepts && !expected->veil_accepts) ++limits;
      if (expected->cryptsetup_accepts && expected->veil_accepts) ++both_accept;
      if (!expected->cryptsetup_accepts && !expected->veil_accepts) ++both_refuse;
    }
  }
  for (const auto& [name, e] : table) {
    if (seen.count(name) == 0) {
      std::printf("FAIL %s: listed in the table but not in the corpus\n", name.c_str());
      ++failures;
    }
  }
  std::printf(
      "luks_cryptsetup_diff_fuzz: %zu headers: %d refused by both, %d accepted by both, %d "
      "refused by Veil only (documented limits); %d with problems\n",
      files.size(), both_refuse, both_accept, limits, failures);
  return failures == 0 && !files.empty() ? 0 : 1;
}
#endif
