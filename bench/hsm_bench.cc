// veil-hsm-bench: SoftHSM2's raw AES-GCM rate, the ceiling of the KMS's wrap and unwrap.
//
// Measures AES-256-GCM encrypt and decrypt of a 32-byte plaintext (a DEK, as the KMS wraps it)
// with 16 bytes of aad, from N threads for S seconds each, two ways:
//   1. through Pkcs11KeyStore (session pool, cached unwrapped root key, Result/SecretBytes), and
//   2. straight through the PKCS#11 API (C_EncryptInit + C_Encrypt on one pre-made session key,
//      one session per thread): the module's own limit.
// The measurements alternate for --rounds rounds and each prints its best round: on a shared
// machine other load only ever lowers a rate, so the best round is the least disturbed one.
// Prints one line per measurement: "<what> <ops/s> ops/s". The token lives in --hsm-dir (a fresh
// temporary directory, removed afterwards, by default).
//
// Usage: veil-hsm-bench [--threads N] [--seconds S] [--rounds R] [--hsm-dir DIR]
#include <stdlib.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "hsm/internal/pkcs11.h"
#include "hsm/pkcs11_key_store.h"
#include "hsm/softhsm_token.h"

namespace {

using veil::hsm::internal::Module;
using veil::hsm::internal::Session;
using veil::hsm::internal::Template;

std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

// Runs `op(thread, i)` from `threads` threads for `seconds`; returns operations per second, or -1
// when an operation failed.
double Measure(int threads, double seconds, const std::function<bool(int, uint64_t)>& op) {
  std::atomic<bool> stop{false};
  std::atomic<bool> failed{false};
  std::vector<uint64_t> counts(static_cast<size_t>(threads) * 8, 0);  // padded against sharing
  std::vector<std::thread> workers;
  auto start = std::chrono::steady_clock::now();
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      uint64_t n = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        if (!op(t, n)) {
          failed = true;
          break;
        }
        ++n;
      }
      counts[static_cast<size_t>(t) * 8] = n;
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& w : workers) w.join();
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (failed) return -1;
  uint64_t total = 0;
  for (int t = 0; t < threads; ++t) total += counts[static_cast<size_t>(t) * 8];
  return static_cast<double>(total) / elapsed;
}

std::vector<uint8_t> Iv(int thread, uint64_t n) {
  std::vector<uint8_t> iv(12, 0);
  iv[0] = static_cast<uint8_t>(thread);
  std::memcpy(iv.data() + 4, &n, sizeof(n));
  return iv;
}

void Print(const std::string& what, double rate) {
  if (rate < 0) {
    std::printf("%-58s %12s\n", what.c_str(), "FAILED");
  } else {
    std::printf("%-58s %12.0f ops/s\n", what.c_str(), rate);
  }
  std::fflush(stdout);
}

// One measurement: a name and the operation its threads repeat; its best rate over the rounds.
struct Bench {
  std::string what;
  std::function<bool(int, uint64_t)> op;
  double best = 0;
};

// The data every measurement encrypts or decrypts: a DEK and its aad, and a fixed IV for the
// ciphertexts that decryption reads.
struct Inputs {
  std::vector<uint8_t> dek = std::vector<uint8_t>(32, 0x5a);
  std::vector<uint8_t> aad = std::vector<uint8_t>(16, 0xaa);
  std::vector<uint8_t> fixed_iv = std::vector<uint8_t>(12, 0x01);
};

// AES-256-GCM straight through the PKCS#11 API: one session per thread and one session key
// owned by a session of its own, as Pkcs11KeyStore's unwrapped keys are.
class BarePkcs11 {
 public:
  // Opens the sessions and generates the key; false (after printing why) when that fails.
  bool Open(const veil::hsm::Pkcs11Options& options, int threads) {
    module_ = Module::Load(options.module_path).value();
    auto slot = module_->FindTokenSlot(options.token_label).value();
    for (int t = 0; t < threads; ++t) sessions_.push_back(Session::Open(module_, slot).value());
    owner_.emplace(Session::Open(module_, slot).value());
    Template tmpl;
    tmpl.Ulong(CKA_CLASS, CKO_SECRET_KEY)
        .Ulong(CKA_KEY_TYPE, CKK_AES)
        .Ulong(CKA_VALUE_LEN, 32)
        .Bool(CKA_TOKEN, false)
        .Bool(CKA_PRIVATE, true)
        .Bool(CKA_SENSITIVE, true)
        .Bool(CKA_EXTRACTABLE, false)
        .Bool(CKA_ENCRYPT, true)
        .Bool(CKA_DECRYPT, true);
    auto attrs = tmpl.attrs();
    CK_MECHANISM gen{CKM_AES_KEY_GEN, nullptr, 0};
    if (module_->fn()->C_GenerateKey(owner_->handle(), &gen, attrs.data(), attrs.size(), &key_) !=
        CKR_OK) {
      std::fprintf(stderr, "hsm-bench: C_GenerateKey failed\n");
      return false;
    }
    return true;
  }

  ~BarePkcs11() {
    if (owner_ && key_ != CK_INVALID_HANDLE) (void)owner_->Destroy(key_);
  }

  // C_EncryptInit + C_Encrypt (or the decrypt pair) of `in` on thread `t`'s session; the output
  // (at most 64 bytes) in `out` when given.
  bool Gcm(bool encrypt, int t, std::span<const uint8_t> iv, std::span<const uint8_t> aad,
           std::span<const uint8_t> in, std::vector<uint8_t>* out = nullptr) const {
    CK_GCM_PARAMS params{const_cast<CK_BYTE*>(iv.data()),  iv.size(),  iv.size() * 8,
                         const_cast<CK_BYTE*>(aad.data()), aad.size(), 128};
    CK_MECHANISM mech{CKM_AES_GCM, &params, sizeof(params)};
    CK_SESSION_HANDLE h = sessions_[static_cast<size_t>(t)].handle();
    CK_FUNCTION_LIST* fn = module_->fn();
    uint8_t buffer[64];
    CK_ULONG len = sizeof(buffer);
    CK_BYTE* data = const_cast<CK_BYTE*>(in.data());
    const bool ok = encrypt ? fn->C_EncryptInit(h, &mech, key_) == CKR_OK &&
                                  fn->C_Encrypt(h, data, in.size(), buffer, &len) == CKR_OK
                            : fn->C_DecryptInit(h, &mech, key_) == CKR_OK &&
                                  fn->C_Decrypt(h, data, in.size(), buffer, &len) == CKR_OK;
    if (ok && out != nullptr) out->assign(buffer, buffer + len);
    return ok;
  }

 private:
  std::shared_ptr<Module> module_;
  std::vector<Session> sessions_;
  std::optional<Session> owner_;
  CK_OBJECT_HANDLE key_ = CK_INVALID_HANDLE;
};

void AddKeyStoreBenches(veil::hsm::Pkcs11KeyStore& store, const veil::hsm::WrappedKey& root,
                        const Inputs& in, const std::vector<uint8_t>& sealed,
                        std::vector<veil::SecretBytes>& scratch, const std::string& suffix,
                        std::vector<Bench>& benches) {
  benches.push_back({"HSM encrypt, Pkcs11KeyStore::Encrypt" + suffix, [&](int t, uint64_t n) {
                       return store.Encrypt("bench", root, Iv(t, n), in.aad, in.dek).has_value();
                     }});
  benches.push_back({"HSM decrypt, Pkcs11KeyStore::Decrypt" + suffix, [&](int, uint64_t) {
                       return store.Decrypt("bench", root, in.fixed_iv, in.aad, sealed).has_value();
                     }});
  benches.push_back({"HSM decrypt, Pkcs11KeyStore::DecryptInto" + suffix, [&](int t, uint64_t) {
                       return store
                           .DecryptInto("bench", root, in.fixed_iv, in.aad, sealed,
                                        scratch[static_cast<size_t>(t)].RevealMutable())
                           .has_value();
                     }});
}

void AddBareBenches(const BarePkcs11& bare, const Inputs& in,
                    const std::vector<uint8_t>& raw_sealed, const std::string& suffix,
                    std::vector<Bench>& benches) {
  benches.push_back({"HSM encrypt, bare PKCS#11 C_Encrypt" + suffix, [&](int t, uint64_t n) {
                       return bare.Gcm(true, t, Iv(t, n), in.aad, in.dek);
                     }});
  benches.push_back({"HSM decrypt, bare PKCS#11 C_Decrypt" + suffix, [&](int t, uint64_t) {
                       return bare.Gcm(false, t, in.fixed_iv, in.aad, raw_sealed);
                     }});
}

struct Options {
  int threads = 2;
  double seconds = 2;
  int rounds = 3;
  std::string hsm_dir;
};

// Alternates the measurements for `rounds` rounds and prints each one's best; 1 when one failed.
int RunRounds(std::vector<Bench>& benches, const Options& o) {
  std::printf(
      "SoftHSM2 AES-256-GCM, 32-byte plaintext, 16-byte aad, %d threads, best of %d "
      "rounds of %.1f s, %u cores, load average %s\n",
      o.threads, o.rounds, o.seconds, std::thread::hardware_concurrency(), LoadAverage().c_str());
  std::fflush(stdout);
  for (int r = 0; r < o.rounds; ++r) {
    for (auto& b : benches) {
      double rate = Measure(o.threads, o.seconds, b.op);
      if (rate < 0) {
        b.best = -1;
      } else if (b.best >= 0) {
        b.best = std::max(b.best, rate);
      }
    }
  }
  int status = 0;
  for (const auto& b : benches) {
    Print(b.what, b.best);
    if (b.best < 0) status = 1;
  }
  std::printf("  load average after: %s\n", LoadAverage().c_str());
  return status;
}

// Both ways of encrypting on the token in `o.hsm_dir`; 1 when a step failed.
int Run(const Options& o) {
  auto options = veil::hsm::PrepareSoftHsmToken(o.hsm_dir);
  if (!options) {
    std::fprintf(stderr, "hsm-bench: %s\n", options.error().ToString().c_str());
    return 1;
  }
  options->session_pool_size = static_cast<size_t>(o.threads);
  auto opened = veil::hsm::Pkcs11KeyStore::Open(*options);
  if (!opened) {
    std::fprintf(stderr, "hsm-bench: %s\n", opened.error().ToString().c_str());
    return 1;
  }
  auto& store = **opened;
  auto root = store.GenerateRootKey();
  if (!root) {
    std::fprintf(stderr, "hsm-bench: %s\n", root.error().ToString().c_str());
    return 1;
  }
  const Inputs in;
  auto sealed = store.Encrypt("bench", *root, in.fixed_iv, in.aad, in.dek).value();
  std::vector<veil::SecretBytes> scratch;
  for (int t = 0; t < o.threads; ++t) scratch.emplace_back(in.dek.size());
  const std::string suffix = ", " + std::to_string(o.threads) + " threads";
  std::vector<Bench> benches;
  AddKeyStoreBenches(store, *root, in, sealed, scratch, suffix, benches);

  BarePkcs11 bare;
  if (!bare.Open(*options, o.threads)) return 1;
  std::vector<uint8_t> raw_sealed;
  if (!bare.Gcm(true, 0, in.fixed_iv, in.aad, in.dek, &raw_sealed)) {
    std::fprintf(stderr, "hsm-bench: C_Encrypt failed\n");
    return 1;
  }
  AddBareBenches(bare, in, raw_sealed, suffix, benches);
  return RunRounds(benches, o);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"SoftHSM2 raw AES-GCM rate through Pkcs11KeyStore and the PKCS#11 API"};
  Options o;
  app.add_option("--threads", o.threads, "concurrent threads (and pooled sessions)")
      ->check(CLI::Range(1, 256));
  app.add_option("--seconds", o.seconds, "duration of each measurement")
      ->check(CLI::Range(0.1, 3600.0));
  app.add_option("--rounds", o.rounds, "alternating rounds; the best of each is printed")
      ->check(CLI::Range(1, 100));
  app.add_option("--hsm-dir", o.hsm_dir, "SoftHSM2 token directory (default: a temporary one)");
  CLI11_PARSE(app, argc, argv);

  std::string temp_root;
  if (o.hsm_dir.empty()) {
    char tmpl[] = "/tmp/veil-hsm-bench.XXXXXX";
    if (mkdtemp(tmpl) == nullptr) {
      std::perror("mkdtemp");
      return 1;
    }
    temp_root = tmpl;
    o.hsm_dir = temp_root + "/hsm";
  }
  const int status = Run(o);
  if (!temp_root.empty()) std::filesystem::remove_all(temp_root);
  return status;
}
