// AES-XTS on whole sectors with VAES, VPCLMULQDQ and AVX-512 (x86-64 CPUs since Ice Lake and Zen
// 4): the fast path of XtsCipher::EncryptSectors / DecryptSectors (crypto/xts.h), chosen at run
// time when the CPU has those instructions.
//
// Why our own loop: OpenSSL 3.0's AES-XTS runs AES-NI on 128-bit registers, one block per
// instruction, and for 512-byte sectors has to be re-armed per sector (or emulated with ECB and
// two XOR passes). With VAES one instruction does a round on four blocks, and the whole sector
// (tweaks by carry-less multiplication, XOR, 10 or 14 rounds, XOR) is done in registers in one
// pass over memory, reading the input and writing the output (in place or not). The AES rounds are
// the CPU's AES instructions (constant time, no tables), the same ones OpenSSL uses.
//
// Correctness: xts_test.cc checks this path against the IEEE 1619 vectors and against OpenSSL's
// AES-XTS (sector by sector) for every sector size, both key sizes, tweak steps and edge tweaks.
//
// Key schedules are kept in VaesXtsKeys, which the owner must wipe (OPENSSL_cleanse) when done.
#pragma once

#include <cstddef>
#include <cstdint>

namespace veil::crypto::internal {

struct VaesXtsKeys {
  // Round keys, 16 bytes each: data key for encryption and decryption (the latter in the order
  // aesdec uses, with InvMixColumns applied), tweak key for encryption.
  alignas(64) uint8_t data_enc[15 * 16];
  alignas(64) uint8_t data_dec[15 * 16];
  alignas(64) uint8_t tweak_enc[15 * 16];
  int rounds = 0;  // 10 (AES-128) or 14 (AES-256)
};

// Whether this CPU (and OS) runs the VAES path.
bool VaesXtsAvailable();

// Expands `key` (32 bytes: AES-128-XTS, 64 bytes: AES-256-XTS; first half data key, second half
// tweak key). Only when VaesXtsAvailable().
void VaesXtsExpandKeys(const uint8_t* key, size_t key_bytes, VaesXtsKeys* keys);

// Encrypts (or decrypts) `sectors` sectors of `sector_size` bytes (512, 1024, 2048 or 4096) from
// `in` to `out` (the same pointer for in place; otherwise the ranges must not overlap). Sector i
// has tweak number first_sector + i * tweak_step (the caller has checked it does not wrap). Only
// when VaesXtsAvailable().
void VaesXtsSectors(const VaesXtsKeys& keys, const uint8_t* in, uint8_t* out, size_t sectors,
                    size_t sector_size, uint64_t first_sector, uint64_t tweak_step, bool encrypt);

}  // namespace veil::crypto::internal
