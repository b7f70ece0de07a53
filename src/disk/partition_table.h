// Partition tables: does the start of a (decrypted) disk look like a disk? `veil image verify`
// and the image service's import check run this on the plaintext of a LUKS payload: a right
// passphrase on the wrong data, or an image encrypted twice, gives bytes that look random, and no
// sane partition table.
//
// Recognised, in this order:
//   GPT (UEFI 2.10 section 5.3) with 512- or 4096-byte logical blocks: "EFI PART" at LBA 1, header
//       size 92..block size, header CRC32, my_lba = 1, first/last usable LBA inside the disk,
//       the entry array (entry size 128 x 2^n, at most 4 MiB) inside the disk and before the first
//       usable LBA, its CRC32; used entries (non-zero type GUID) with first <= last inside the
//       usable range and not overlapping; at least one used entry.
//   MBR: 0x55AA at byte 510; four entries whose status is 0x00 or 0x80; used entries (type != 0)
//       start at LBA >= 1, have a non-zero length, end inside the disk and do not overlap; unused
//       entries are all zero; at least one used entry. A protective MBR (type 0xEE) is a disk only
//       with a valid GPT. Logical partitions inside an extended one are not walked.
// Anything else is "not a disk", with the reasons in PartitionTable::problems.
//
// Untrusted input: every field is checked before use; reads are bounded (at most 4 MiB of GPT
// entries). Pure apart from the read callback; tested on sfdisk-made tables and on crafted and
// randomly damaged ones (partition_table_test.cc, fuzz/partition_table_fuzz.cc).
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"

namespace veil::disk {

enum class TableKind { kNone, kMbr, kGpt };
// "none", "mbr", "gpt".
std::string_view TableKindName(TableKind kind);

struct Partition {
  // 1-based: the MBR slot (1..4) or the GPT entry index + 1.
  uint32_t number = 0;
  uint64_t first_byte = 0;
  uint64_t size_bytes = 0;
  // MBR: "0x83"; GPT: the type GUID in lower case ("0fc63daf-8483-4772-8e79-3d69d8477de4").
  std::string type;
  // A human name for well-known types ("Linux filesystem", "EFI System"), else "".
  std::string type_name;
  // GPT only: the partition name (UTF-16LE, converted to UTF-8) and unique GUID.
  std::string name;
  std::string guid;
  // MBR status 0x80, or GPT attribute bit 2 (legacy BIOS bootable).
  bool bootable = false;
};

struct PartitionTable {
  TableKind kind = TableKind::kNone;
  // The logical block size the table uses (512, or 4096 for a GPT made for 4Kn disks).
  uint32_t block_size = 512;
  // GPT only.
  std::string disk_guid;
  std::vector<Partition> partitions;
  // Why a table was refused (for kNone: every reason; otherwise, e.g., a damaged GPT seen before
  // a valid MBR).
  std::vector<std::string> problems;
  // Facts that do not make the disk insane (e.g. "no protective MBR in front of the GPT").
  std::vector<std::string> warnings;
};

// Reads up to out.size() bytes of the disk at `offset`; returns the count (short only at the end).
using DiskReadFn = std::function<Result<size_t>(uint64_t offset, std::span<uint8_t> out)>;

// Looks for a sane GPT, then a sane MBR, on a disk of `disk_size` bytes. Returns kind kNone with
// the reasons when there is neither. Errors only when `read` fails.
[[nodiscard]] Result<PartitionTable> FindPartitionTable(const DiskReadFn& read, uint64_t disk_size);

// The same on bytes in memory (the disk is `disk` itself).
[[nodiscard]] PartitionTable FindPartitionTableInMemory(std::span<const uint8_t> disk);

}  // namespace veil::disk
