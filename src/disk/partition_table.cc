#include "disk/partition_table.h"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <optional>

#include "common/encoding.h"

namespace veil::disk {

std::string_view TableKindName(TableKind kind) {
  switch (kind) {
    case TableKind::kMbr:
      return "mbr";
    case TableKind::kGpt:
      return "gpt";
    case TableKind::kNone:
      break;
  }
  return "none";
}

namespace {

constexpr uint64_t kMbrBlock = 512;
constexpr uint64_t kMaxGptEntriesBytes = uint64_t{4} << 20;
constexpr uint8_t kProtectiveType = 0xee;

uint16_t Le16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | p[1] << 8); }
uint32_t Le32(const uint8_t* p) {
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
}
uint64_t Le64(const uint8_t* p) { return uint64_t{Le32(p)} | uint64_t{Le32(p + 4)} << 32; }

uint32_t Crc32(std::span<const uint8_t> bytes) {
  uLong crc = crc32(0L, Z_NULL, 0);
  // zlib takes a uInt length: feed large spans in pieces.
  while (!bytes.empty()) {
    const size_t n = std::min<size_t>(bytes.size(), 1u << 30);
    crc = crc32(crc, bytes.data(), static_cast<uInt>(n));
    bytes = bytes.subspan(n);
  }
  return static_cast<uint32_t>(crc);
}

bool AllZero(std::span<const uint8_t> b) {
  return std::all_of(b.begin(), b.end(), [](uint8_t x) { return x == 0; });
}

// A GUID as stored on disk (first three fields little-endian), in its canonical text form.
std::string GuidText(const uint8_t* g) {
  static constexpr int kOrder[16] = {3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15};
  std::string s;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) s += '-';
    AppendHex(&s, g[kOrder[i]]);
  }
  return s;
}

std::string_view GptTypeName(std::string_view guid) {
  struct Known {
    std::string_view guid, name;
  };
  static constexpr Known kKnown[] = {
      {"c12a7328-f81f-11d2-ba4b-00a0c93ec93b", "EFI System"},
      {"21686148-6449-6e6f-744e-656564454649", "BIOS boot"},
      {"0fc63daf-8483-4772-8e79-3d69d8477de4", "Linux filesystem"},
      {"4f68bce3-e8cd-4db1-96e7-fbcaf984b709", "Linux root (x86-64)"},
      {"b921b045-1df0-41c3-af44-4c6f280d3fae", "Linux root (ARM-64)"},
      {"bc13c2ff-59e6-4262-a352-b275fd6f7172", "Linux extended boot"},
      {"933ac7e1-2eb4-4f13-b844-0e14e2aef915", "Linux home"},
      {"0657fd6d-a4ab-43c4-84e5-0933c84b4f4f", "Linux swap"},
      {"e6d6d379-f507-44c2-a23c-238f2a3df928", "Linux LVM"},
      {"a19d880f-05fc-4d3b-a006-743f0f84911e", "Linux RAID"},
      {"ca7d7ccb-63ed-4c53-861c-1742536059cc", "Linux LUKS"},
      {"ebd0a0a2-b9e5-4433-87c0-68b6b72699c7", "Microsoft basic data"},
      {"e3c9e316-0b5c-4db8-817d-f92df00215ae", "Microsoft reserved"},
      {"de94bba4-06d1-4d40-a16a-bfd50179d6ac", "Windows recovery"},
      {"6a898cc3-1dd2-11b2-99a6-080020736631", "Solaris /usr or Apple ZFS"},
      {"516e7cb6-6ecf-11d6-8ff8-00022d09712b", "FreeBSD UFS"},
  };
  for (const Known& k : kKnown) {
    if (k.guid == guid) return k.name;
  }
  return "";
}

std::string_view MbrTypeName(uint8_t type) {
  switch (type) {
    case 0x01:
      return "FAT12";
    case 0x04:
    case 0x06:
    case 0x0e:
      return "FAT16";
    case 0x05:
    case 0x0f:
      return "Extended";
    case 0x07:
      return "HPFS/NTFS/exFAT";
    case 0x0b:
    case 0x0c:
      return "FAT32";
    case 0x82:
      return "Linux swap";
    case 0x83:
      return "Linux";
    case 0x85:
      return "Linux extended";
    case 0x8e:
      return "Linux LVM";
    case 0xa5:
      return "FreeBSD";
    case 0xee:
      return "GPT protective";
    case 0xef:
      return "EFI System";
    case 0xfd:
      return "Linux RAID autodetect";
    default:
      return "";
  }
}

std::string Hex8(uint8_t v) {
  std::string s = "0x";
  AppendHex(&s, v);
  return s;
}

// UTF-16LE (a GPT name, 36 code units, NUL-terminated when shorter) to UTF-8; invalid surrogates
// become U+FFFD.
std::string Utf16LeToUtf8(const uint8_t* p, size_t units) {
  std::string out;
  auto put = [&out](uint32_t c) {
    if (c < 0x80) {
      out += static_cast<char>(c);
    } else if (c < 0x800) {
      out += static_cast<char>(0xc0 | c >> 6);
      out += static_cast<char>(0x80 | (c & 0x3f));
    } else if (c < 0x10000) {
      out += static_cast<char>(0xe0 | c >> 12);
      out += static_cast<char>(0x80 | (c >> 6 & 0x3f));
      out += static_cast<char>(0x80 | (c & 0x3f));
    } else {
      out += static_cast<char>(0xf0 | c >> 18);
      out += static_cast<char>(0x80 | (c >> 12 & 0x3f));
      out += static_cast<char>(0x80 | (c >> 6 & 0x3f));
      out += static_cast<char>(0x80 | (c & 0x3f));
    }
  };
  for (size_t i = 0; i < units; ++i) {
    uint32_t c = Le16(p + 2 * i);
    if (c == 0) break;
    if (c >= 0xd800 && c < 0xdc00 && i + 1 < units) {
      const uint32_t low = Le16(p + 2 * (i + 1));
      if (low >= 0xdc00 && low < 0xe000) {
        put(0x10000 + ((c - 0xd800) << 10) + (low - 0xdc00));
        ++i;
        continue;
      }
    }
    put(c >= 0xd800 && c < 0xe000 ? 0xfffd : c);
  }
  return out;
}

// Reads exactly out.size() bytes; false when the disk is shorter.
Result<bool> ReadFull(const DiskReadFn& read, uint64_t offset, std::span<uint8_t> out) {
  const size_t n = VEIL_TRY_VALUE(read(offset, out));
  return n == out.size();
}

struct Range {
  uint64_t first, last;  // inclusive, in blocks
  uint32_t number;
};

// The number of the first partition that overlaps another, if any.
std::optional<std::pair<uint32_t, uint32_t>> FindOverlap(std::vector<Range> ranges) {
  std::sort(ranges.begin(), ranges.end(),
            [](const Range& a, const Range& b) { return a.first < b.first; });
  for (size_t i = 1; i < ranges.size(); ++i) {
    if (ranges[i].first <= ranges[i - 1].last) {
      return std::make_pair(ranges[i - 1].number, ranges[i].number);
    }
  }
  return std::nullopt;
}

// The used entries of a GPT's partition array as `table`'s partitions (its block_size set); the
// reason for refusing the table when an entry lies outside the usable LBAs, two overlap, or none
// is used.
std::optional<std::string> AddGptPartitions(std::span<const uint8_t> entries, uint32_t entry_count,
                                            uint32_t entry_size, uint64_t first_usable,
                                            uint64_t last_usable, PartitionTable& table) {
  std::vector<Range> ranges;
  for (uint32_t i = 0; i < entry_count; ++i) {
    const uint8_t* e = entries.data() + uint64_t{i} * entry_size;
    if (AllZero({e, 16})) continue;  // unused entry
    const uint64_t first = Le64(e + 32), last = Le64(e + 40);
    const uint32_t number = i + 1;
    if (first > last || first < first_usable || last > last_usable) {
      return std::string("partition " + std::to_string(number) + " (LBA " + std::to_string(first) +
                         ".." + std::to_string(last) + ") lies outside the usable LBAs " +
                         std::to_string(first_usable) + ".." + std::to_string(last_usable));
    }
    Partition p;
    p.number = number;
    p.first_byte = first * table.block_size;
    p.size_bytes = (last - first + 1) * table.block_size;
    p.type = GuidText(e);
    p.type_name = std::string(GptTypeName(p.type));
    p.guid = GuidText(e + 16);
    p.bootable = (Le64(e + 48) & 4) != 0;
    p.name = Utf16LeToUtf8(e + 56, std::min<size_t>(36, (entry_size - 56) / 2));
    table.partitions.push_back(std::move(p));
    ranges.push_back({first, last, number});
  }
  if (table.partitions.empty()) return "no partitions";
  if (auto overlap = FindOverlap(ranges)) {
    return std::string("partitions " + std::to_string(overlap->first) + " and " +
                       std::to_string(overlap->second) + " overlap");
  }
  return std::nullopt;
}

// GPT with logical blocks of `block` bytes. Returns the table, or nullopt with problems added.
Result<std::optional<PartitionTable>> ReadGpt(const DiskReadFn& read, uint64_t disk_size,
                                              uint32_t block, std::vector<std::string>* problems) {
  const std::string where = "GPT (" + std::to_string(block) + "-byte blocks)";
  auto refuse = [&](const std::string& why) -> Result<std::optional<PartitionTable>> {
    problems->push_back(where + ": " + why);
    return std::optional<PartitionTable>();
  };
  const uint64_t blocks = disk_size / block;
  std::vector<uint8_t> header(block);
  if (blocks < 3 || !VEIL_TRY_VALUE(ReadFull(read, block, header))) {
    return std::optional<PartitionTable>();  // too small to hold one: not even a candidate
  }
  if (std::memcmp(header.data(), "EFI PART", 8) != 0) return std::optional<PartitionTable>();

  const uint32_t revision = Le32(&header[8]);
  const uint32_t header_size = Le32(&header[12]);
  if (header_size < 92 || header_size > block) {
    return refuse("header size " + std::to_string(header_size) + " is not 92.." +
                  std::to_string(block));
  }
  const uint32_t stored_crc = Le32(&header[16]);
  std::vector<uint8_t> copy(header.begin(), header.begin() + header_size);
  std::memset(&copy[16], 0, 4);
  if (Crc32(copy) != stored_crc) return refuse("header CRC32 mismatch");
  const uint64_t my_lba = Le64(&header[24]);
  const uint64_t alternate_lba = Le64(&header[32]);
  const uint64_t first_usable = Le64(&header[40]);
  const uint64_t last_usable = Le64(&header[48]);
  const uint64_t entries_lba = Le64(&header[72]);
  const uint32_t entry_count = Le32(&header[80]);
  const uint32_t entry_size = Le32(&header[84]);
  const uint32_t entries_crc = Le32(&header[88]);
  if (my_lba != 1) return refuse("header says it is at LBA " + std::to_string(my_lba) + ", not 1");
  if (first_usable > last_usable || last_usable >= blocks) {
    return refuse("usable LBAs " + std::to_string(first_usable) + ".." +
                  std::to_string(last_usable) + " do not fit a disk of " + std::to_string(blocks) +
                  " blocks");
  }
  if (entry_size < 128 || (entry_size & (entry_size - 1)) != 0) {
    return refuse("entry size " + std::to_string(entry_size) + " is not 128 x 2^n");
  }
  const uint64_t entries_bytes = uint64_t{entry_count} * entry_size;
  if (entry_count == 0 || entries_bytes > kMaxGptEntriesBytes) {
    return refuse(std::to_string(entry_count) + " entries of " + std::to_string(entry_size) +
                  " bytes (at most 4 MiB)");
  }
  const uint64_t entries_blocks = (entries_bytes + block - 1) / block;
  if (entries_lba < 2 || entries_lba > blocks || entries_blocks > first_usable ||
      entries_lba > first_usable - entries_blocks) {
    return refuse("partition entries at LBA " + std::to_string(entries_lba) +
                  " overlap the header or the usable area");
  }
  std::vector<uint8_t> entries(static_cast<size_t>(entries_bytes));
  if (!VEIL_TRY_VALUE(ReadFull(read, entries_lba * block, entries))) {
    return refuse("partition entries past the end of the disk");
  }
  if (Crc32(entries) != entries_crc) return refuse("partition entries CRC32 mismatch");

  PartitionTable table;
  table.kind = TableKind::kGpt;
  table.block_size = block;
  table.disk_guid = GuidText(&header[56]);
  if (revision != 0x00010000) {
    table.warnings.push_back("GPT revision " + std::to_string(revision >> 16) + "." +
                             std::to_string(revision & 0xffff));
  }
  if (alternate_lba != blocks - 1) {
    table.warnings.push_back("backup GPT header expected at LBA " + std::to_string(blocks - 1) +
                             ", header says " + std::to_string(alternate_lba) +
                             " (a disk resized without moving it?)");
  }
  if (auto why =
          AddGptPartitions(entries, entry_count, entry_size, first_usable, last_usable, table)) {
    return refuse(*why);
  }
  return std::optional<PartitionTable>(std::move(table));
}

// The MBR in `mbr` (512 bytes). Returns the table, or nullopt with problems added.
std::optional<PartitionTable> ReadMbr(std::span<const uint8_t> mbr, uint64_t disk_size,
                                      std::vector<std::string>* problems) {
  auto refuse = [&](const std::string& why) {
    problems->push_back("MBR: " + why);
    return std::optional<PartitionTable>();
  };
  if (mbr[510] != 0x55 || mbr[511] != 0xaa) return refuse("no 0x55AA signature at byte 510");
  const uint64_t blocks = disk_size / kMbrBlock;
  PartitionTable table;
  table.kind = TableKind::kMbr;
  std::vector<Range> ranges;
  for (uint32_t i = 0; i < 4; ++i) {
    const uint8_t* e = mbr.data() + 446 + 16 * i;
    const uint32_t number = i + 1;
    const uint8_t status = e[0], type = e[4];
    if (status != 0x00 && status != 0x80) {
      return refuse("entry " + std::to_string(number) + " has status " + Hex8(status) +
                    " (0x00 or 0x80 expected)");
    }
    const uint64_t first = Le32(e + 8), count = Le32(e + 12);
    if (type == 0) {
      if (!AllZero({e, 16})) {
        return refuse("entry " + std::to_string(number) + " is unused (type 0) but not empty");
      }
      continue;
    }
    if (first == 0 || count == 0 || first + count > blocks) {
      return refuse("partition " + std::to_string(number) + " (sectors " + std::to_string(first) +
                    " + " + std::to_string(count) + ") lies outside a disk of " +
                    std::to_string(blocks) + " sectors");
    }
    Partition p;
    p.number = number;
    p.first_byte = first * kMbrBlock;
    p.size_bytes = count * kMbrBlock;
    p.type = Hex8(type);
    p.type_name = std::string(MbrTypeName(type));
    p.bootable = status == 0x80;
    table.partitions.push_back(std::move(p));
    ranges.push_back({first, first + count - 1, number});
  }
  if (table.partitions.empty()) return refuse("no partitions");
  if (auto overlap = FindOverlap(ranges)) {
    return refuse("partitions " + std::to_string(overlap->first) + " and " +
                  std::to_string(overlap->second) + " overlap");
  }
  return table;
}

}  // namespace

Result<PartitionTable> FindPartitionTable(const DiskReadFn& read, uint64_t disk_size) {
  PartitionTable none;
  std::array<uint8_t, kMbrBlock> mbr{};
  if (disk_size < kMbrBlock || !VEIL_TRY_VALUE(ReadFull(read, 0, mbr))) {
    none.problems.push_back("the disk is smaller than one sector");
    return none;
  }
  std::vector<std::string> problems;
  for (uint32_t block : {512u, 4096u}) {
    auto gpt = VEIL_TRY_VALUE(ReadGpt(read, disk_size, block, &problems));
    if (!gpt) continue;
    gpt->problems = problems;
    bool has_protective = false;
    if (mbr[510] == 0x55 && mbr[511] == 0xaa) {
      for (int i = 0; i < 4; ++i) has_protective |= mbr[446 + 16 * i + 4] == kProtectiveType;
    }
    if (!has_protective) gpt->warnings.push_back("no protective MBR in front of the GPT");
    return std::move(*gpt);
  }
  std::optional<PartitionTable> table = ReadMbr(mbr, disk_size, &problems);
  if (table) {
    for (const Partition& p : table->partitions) {
      if (p.type == Hex8(kProtectiveType)) {
        problems.push_back("MBR: a protective MBR (type 0xee) without a valid GPT");
        table.reset();
        break;
      }
    }
  }
  if (table) {
    table->problems = std::move(problems);
    return std::move(*table);
  }
  none.problems = std::move(problems);
  return none;
}

PartitionTable FindPartitionTableInMemory(std::span<const uint8_t> disk) {
  auto read = [disk](uint64_t offset, std::span<uint8_t> out) -> Result<size_t> {
    if (offset >= disk.size()) return size_t{0};
    const size_t n = static_cast<size_t>(std::min<uint64_t>(out.size(), disk.size() - offset));
    std::memcpy(out.data(), disk.data() + offset, n);
    return n;
  };
  Result<PartitionTable> table = FindPartitionTable(read, disk.size());
  VEIL_CHECK_MSG(table.has_value(), "an in-memory read cannot fail");
  return std::move(*table);
}

}  // namespace veil::disk
