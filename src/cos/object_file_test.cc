#include "cos/object_file.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "common/bytes.h"
#include "common/encoding.h"
#include "crypto/hash.h"

namespace veil::cos {
namespace {

constexpr size_t kChunk = kObjectChunkSize;
constexpr size_t kStride = kChunk + kObjectTagSize;

// The fixture's helpers are members, not free functions: this file is compiled in one unity
// translation unit with the other cos tests.
class ObjectFile : public ::testing::Test {
 protected:
  // Fills with a0 a1 a2 ...: the salt of the spec's worked example.
  class CountingRandom final : public Random {
   public:
    void Fill(std::span<uint8_t> out) override {
      for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<uint8_t>(0xa0 + i);
    }
  };

  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "veil-cos-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Path(const std::string& name) const { return dir_ + "/" + name; }

  static std::vector<uint8_t> Bytes(size_t n, uint64_t seed = 1) {
    return SeededRandom(seed).Bytes(n);
  }

  static std::vector<uint8_t> Slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
  }

  static void Spit(const std::string& path, std::span<const uint8_t> bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
    ASSERT_TRUE(out.good());
  }

  // Writes `plaintext` in pieces of `piece` bytes (0: all at once) and returns the file's bytes.
  std::vector<uint8_t> WriteObject(const std::string& name, std::span<const uint8_t> plaintext,
                                   size_t piece = 0, const ObjectFileId* id = nullptr,
                                   Random* random = nullptr, size_t chunk_size = kChunk) {
    OsRandom os_random;
    auto writer = ObjectFileWriter::Create(Path(name), dek_, id ? *id : id_,
                                           random ? *random : os_random, {chunk_size});
    EXPECT_TRUE(writer) << writer.error().ToString();
    if (!writer) return {};
    if (piece == 0) piece = std::max<size_t>(plaintext.size(), 1);
    for (size_t at = 0; at < plaintext.size(); at += piece) {
      const size_t n = std::min(piece, plaintext.size() - at);
      EXPECT_TRUE((*writer)->Write(plaintext.subspan(at, n)));
    }
    EXPECT_EQ((*writer)->written(), plaintext.size());
    auto size = (*writer)->Finish();
    EXPECT_TRUE(size) << size.error().ToString();
    EXPECT_EQ(size.value_or(0), plaintext.size());
    return Slurp(Path(name));
  }

  // All of the file's plaintext through one ReadAt.
  Result<std::vector<uint8_t>> ReadAll(const std::string& name, const ObjectFileId* id = nullptr) {
    auto reader = VEIL_TRY_VALUE(ObjectFileReader::Open(Path(name), dek_, id ? *id : id_));
    std::vector<uint8_t> out(reader->size());
    const size_t n = VEIL_TRY_VALUE(reader->ReadAt(0, out));
    EXPECT_EQ(n, out.size());
    return out;
  }

  // The file `bytes` (saved as `name`) fails with kDataLoss at Open or, when Open succeeds, on
  // a whole read, which then hands out zeros only.
  void ExpectDataLoss(const std::string& name, std::span<const uint8_t> bytes,
                      const std::string& what, const SecretBytes* dek = nullptr,
                      const ObjectFileId* id = nullptr) {
    SCOPED_TRACE(what);
    Spit(Path(name), bytes);
    auto reader = ObjectFileReader::Open(Path(name), dek ? *dek : dek_, id ? *id : id_);
    if (!reader) {
      EXPECT_EQ(reader.error().code, ErrorCode::kDataLoss) << reader.error().ToString();
      return;
    }
    std::vector<uint8_t> out((*reader)->size(), 0xcc);
    auto n = (*reader)->ReadAt(0, out);
    ASSERT_FALSE(n) << "read " << *n << " bytes";
    EXPECT_EQ(n.error().code, ErrorCode::kDataLoss) << n.error().ToString();
    EXPECT_TRUE(std::all_of(out.begin(), out.end(), [](uint8_t b) { return b == 0; }));
  }

  static std::vector<uint8_t> Chunk(const std::vector<uint8_t>& file, size_t i) {
    const auto at = file.begin() + static_cast<ptrdiff_t>(kObjectHeaderSize + i * kStride);
    return std::vector<uint8_t>(at, at + static_cast<ptrdiff_t>(kStride));
  }

  std::string dir_;
  SecretBytes dek_ = SeededRandom(99).Secret(kObjectDekSize);
  ObjectFileId id_{"0d6f7c1e-2b3a-4c5d-8e9f-a0b1c2d3e4f5", 0};
};

TEST_F(ObjectFile, RoundTripsAtEveryInterestingSize) {
  for (size_t size : {size_t{0}, size_t{1}, kChunk - 1, kChunk, kChunk + 1, 2 * kChunk, 3 * kChunk,
                      3 * kChunk + 5, (size_t{5} << 20) + 123}) {
    const std::vector<uint8_t> plain = Bytes(size, size);
    for (size_t piece : {size_t{1}, size_t{7}, size_t{4097}, kChunk, kChunk + 3,
                         (size_t{1} << 20) + 1, size_t{0}}) {
      if (piece == 1 && size > kChunk + 1) continue;  // byte by byte only where it is quick
      SCOPED_TRACE(testing::Message() << "size " << size << ", pieces of " << piece);
      const std::string name = "f" + std::to_string(size) + "-" + std::to_string(piece);
      const std::vector<uint8_t> file = WriteObject(name, plain, piece);
      EXPECT_EQ(file.size(), ObjectFileSize(size));
      auto read = ReadAll(name);
      ASSERT_TRUE(read) << read.error().ToString();
      EXPECT_TRUE(*read == plain);
    }
  }
}

TEST_F(ObjectFile, ReadAtServesEveryRangeClampedToTheEnd) {
  const size_t size = 3 * kChunk + 100;
  const std::vector<uint8_t> plain = Bytes(size);
  WriteObject("f", plain, 12345);
  auto reader = ObjectFileReader::Open(Path("f"), dek_, id_);
  ASSERT_TRUE(reader) << reader.error().ToString();
  EXPECT_EQ((*reader)->size(), size);
  EXPECT_EQ((*reader)->chunk_size(), kChunk);
  const uint64_t offsets[] = {0,          1,
                              kChunk - 1, kChunk,
                              kChunk + 1, 2 * kChunk - 1,
                              2 * kChunk, 3 * kChunk - 1,
                              3 * kChunk, 3 * kChunk + 1,
                              size - 1,   size,
                              size + 1,   uint64_t{1} << 40,
                              UINT64_MAX};
  const size_t lengths[] = {
      0, 1, 15, 16, 17, kChunk - 1, kChunk, kChunk + 1, 2 * kChunk + 3, size, size + 1000};
  for (uint64_t offset : offsets) {
    for (size_t length : lengths) {
      SCOPED_TRACE(testing::Message() << "offset " << offset << ", length " << length);
      std::vector<uint8_t> out(length, 0xcc);
      auto n = (*reader)->ReadAt(offset, out);
      ASSERT_TRUE(n) << n.error().ToString();
      const size_t expected = offset >= size ? 0 : std::min<uint64_t>(length, size - offset);
      ASSERT_EQ(*n, expected);
      if (expected > 0) {
        ASSERT_TRUE(std::equal(out.begin(), out.begin() + static_cast<ptrdiff_t>(expected),
                               plain.begin() + static_cast<ptrdiff_t>(offset)));
      }
      // Bytes past what was produced are left alone.
      ASSERT_TRUE(std::all_of(out.begin() + static_cast<ptrdiff_t>(expected), out.end(),
                              [](uint8_t b) { return b == 0xcc; }));
    }
  }
}

TEST_F(ObjectFile, ConcurrentReadAtOnOneReader) {
  const std::vector<uint8_t> plain = Bytes(40 * kChunk + 777);
  WriteObject("f", plain);
  auto reader = ObjectFileReader::Open(Path("f"), dek_, id_);
  ASSERT_TRUE(reader) << reader.error().ToString();
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      SeededRandom random(static_cast<uint64_t>(t));
      std::vector<uint8_t> out;
      for (int i = 0; i < 200; ++i) {
        const uint64_t offset = random.Uniform(plain.size());
        out.resize(random.Uniform(3 * kChunk));
        auto n = (*reader)->ReadAt(offset, out);
        if (!n || !std::equal(out.begin(), out.begin() + static_cast<ptrdiff_t>(*n),
                              plain.begin() + static_cast<ptrdiff_t>(offset))) {
          ++mismatches[static_cast<size_t>(t)];
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(mismatches, std::vector<int>(4, 0));
}

TEST_F(ObjectFile, EmptyObjectIsAHeaderAndOneEmptyFinalChunk) {
  const std::vector<uint8_t> file = WriteObject("empty", {});
  EXPECT_EQ(file.size(), 64u);
  auto reader = ObjectFileReader::Open(Path("empty"), dek_, id_);
  ASSERT_TRUE(reader) << reader.error().ToString();
  EXPECT_EQ((*reader)->size(), 0u);
  std::vector<uint8_t> out(10);
  EXPECT_EQ((*reader)->ReadAt(0, out).value(), 0u);
  // Without its empty chunk, a header alone is no object.
  ExpectDataLoss("header-only", std::span(file).first(kObjectHeaderSize), "header only");
}

TEST_F(ObjectFile, SizesFollowFromTheFileSize) {
  EXPECT_EQ(ObjectFileSize(0), 64u);
  EXPECT_EQ(ObjectFileSize(1), 65u);
  EXPECT_EQ(ObjectFileSize(kChunk), 48u + kChunk + 16);
  EXPECT_EQ(ObjectFileSize(kChunk + 1), 48u + kChunk + 1 + 32);
  EXPECT_EQ(ObjectFileSize(uint64_t{5} << 30), 48u + (uint64_t{5} << 30) + 16 * 81920);
  for (size_t chunk : {kObjectMinChunkSize, kChunk, kObjectMaxChunkSize}) {
    for (uint64_t size : {uint64_t{0}, uint64_t{1}, uint64_t{chunk - 1}, uint64_t{chunk},
                          uint64_t{chunk + 1}, uint64_t{7 * chunk}, uint64_t{7 * chunk + 3}}) {
      EXPECT_EQ(ObjectPlaintextSize(ObjectFileSize(size, chunk), chunk).value(), size);
    }
  }
  // Sizes no writer produces: shorter than a header and a tag, a tail that cannot hold a tag, an
  // empty chunk after a full one.
  for (uint64_t bad : {uint64_t{0}, uint64_t{47}, uint64_t{63}, uint64_t{48 + kStride + 1},
                       uint64_t{48 + kStride + 15}, uint64_t{48 + kStride + 16},
                       uint64_t{48 + 3 * kStride + 16}}) {
    EXPECT_EQ(ObjectPlaintextSize(bad, kChunk).error().code, ErrorCode::kDataLoss) << bad;
  }
}

TEST_F(ObjectFile, ReaderAcceptsEveryValidChunkSize) {
  for (size_t chunk : {kObjectMinChunkSize, size_t{8192}, size_t{1} << 20, kObjectMaxChunkSize}) {
    SCOPED_TRACE(chunk);
    const std::vector<uint8_t> plain = Bytes(chunk < kChunk ? 10 * chunk + 1 : chunk + 1);
    const std::string name = "c" + std::to_string(chunk);
    const std::vector<uint8_t> file = WriteObject(name, plain, 100000, nullptr, nullptr, chunk);
    EXPECT_EQ(file.size(), ObjectFileSize(plain.size(), chunk));
    auto reader = ObjectFileReader::Open(Path(name), dek_, id_);
    ASSERT_TRUE(reader) << reader.error().ToString();
    EXPECT_EQ((*reader)->chunk_size(), chunk);
    std::vector<uint8_t> out(plain.size() - 3);
    ASSERT_EQ((*reader)->ReadAt(3, out).value(), out.size());
    EXPECT_TRUE(std::equal(out.begin(), out.end(), plain.begin() + 3));
  }
}

// The expected bytes come from src/cos/testing/cos_object_decrypt.py's encrypt(), written from
// docs/formats/cos-object.md with Python's cryptography package (the page's worked example).
TEST_F(ObjectFile, KnownAnswersMatchAnIndependentImplementation) {
  dek_ = SecretBytes(HexDecode("000102030405060708090a0b0c0d0e0f"
                               "101112131415161718191a1b1c1d1e1f")
                         .value());
  const ObjectFileId example{"example-object", 0};
  CountingRandom salt;
  std::vector<uint8_t> file = WriteObject("hello", AsBytes("Hello, Veil!\n"), 5, &example, &salt);
  EXPECT_EQ(HexEncode(file),
            "5645494c434f53310100000000010000a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9"
            "babbbcbdbebf0d1adff6e71620ba10f3736894b9d0f31b9d1b6374388d4985d1b6936f");
  file = WriteObject("empty", {}, 0, &example, &salt);
  EXPECT_EQ(HexEncode(file),
            "5645494c434f53310100000000010000a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9"
            "babbbcbdbebf81bf6d2bdd51b7ac03639e98262f7dbd");

  // Four chunks, part 7: byte i of the plaintext is (131 i + i / 2048) mod 256.
  std::vector<uint8_t> plain(3 * kChunk + 1000);
  for (size_t i = 0; i < plain.size(); ++i) plain[i] = static_cast<uint8_t>(i * 131 + (i >> 11));
  const ObjectFileId part7{"example-object", 7};
  file = WriteObject("multi", plain, 9999, &part7, &salt);
  EXPECT_EQ(file.size(), 197720u);
  EXPECT_EQ(HexEncode(crypto::Sha256(file)),
            "aa45ef9dfd9605c9fb6e911ca7255a33c7b2e7d8df48421792c74af4b4943bc0");
  auto read = ReadAll("multi", &part7);
  ASSERT_TRUE(read) << read.error().ToString();
  EXPECT_TRUE(*read == plain);
}

TEST_F(ObjectFile, EveryFlippedHeaderByteIsDataLoss) {
  const std::vector<uint8_t> file = WriteObject("f", Bytes(2 * kChunk + 10));
  for (size_t at = 0; at < kObjectHeaderSize; ++at) {
    std::vector<uint8_t> bad = file;
    bad[at] ^= 0x01;
    ExpectDataLoss("bad", bad, "header byte " + std::to_string(at));
  }
}

TEST_F(ObjectFile, FlippedChunkOrTagByteIsDataLoss) {
  const std::vector<uint8_t> file = WriteObject("f", Bytes(3 * kChunk + 10));
  for (size_t at : {kObjectHeaderSize, kObjectHeaderSize + kChunk - 1,  // chunk 0 ciphertext
                    kObjectHeaderSize + kChunk, kObjectHeaderSize + kStride - 1,  // chunk 0 tag
                    kObjectHeaderSize + kStride + 777,                            // chunk 1
                    file.size() - 17, file.size() - 1}) {  // last chunk and tag
    std::vector<uint8_t> bad = file;
    bad[at] ^= 0x80;
    ExpectDataLoss("bad", bad, "byte " + std::to_string(at));
  }
}

TEST_F(ObjectFile, SwappedOrRepeatedChunksAreDataLoss) {
  const std::vector<uint8_t> file = WriteObject("f", Bytes(3 * kChunk));
  std::vector<uint8_t> header(file.begin(), file.begin() + kObjectHeaderSize);
  auto join = [&](std::initializer_list<size_t> order) {
    std::vector<uint8_t> out = header;
    for (size_t i : order) {
      const std::vector<uint8_t> c = Chunk(file, i);
      out.insert(out.end(), c.begin(), c.end());
    }
    return out;
  };
  ExpectDataLoss("bad", join({1, 0, 2}), "chunks 0 and 1 swapped");
  ExpectDataLoss("bad", join({0, 2, 1}), "the last chunk moved");
  ExpectDataLoss("bad", join({0, 0, 2}), "chunk 0 twice");
}

TEST_F(ObjectFile, TruncatedFileIsDataLoss) {
  const std::vector<uint8_t> file = WriteObject("f", Bytes(3 * kChunk + 100));
  for (size_t length : {kObjectHeaderSize + 2 * kStride,  // at a chunk boundary: a valid size
                        kObjectHeaderSize + kStride,      // ... one chunk left
                        file.size() - 1, file.size() - 16, file.size() - 116,  // mid last chunk
                        kObjectHeaderSize + kStride + 1000, kObjectHeaderSize + 16,
                        kObjectHeaderSize, size_t{10}, size_t{0}}) {
    ExpectDataLoss("bad", std::span(file).first(length), "cut to " + std::to_string(length));
  }
}

TEST_F(ObjectFile, AppendedChunkIsDataLoss) {
  const std::vector<uint8_t> file = WriteObject("f", Bytes(2 * kChunk));
  std::vector<uint8_t> longer = file;
  const std::vector<uint8_t> last = Chunk(file, 1);
  longer.insert(longer.end(), last.begin(), last.end());
  ExpectDataLoss("bad", longer, "the last chunk again");
  // Bytes appended after the last chunk: a one-byte chunk 2, then an empty one.
  for (size_t extra : {size_t{17}, size_t{16}, size_t{1}}) {
    std::vector<uint8_t> grown = file;
    grown.resize(file.size() + extra, 0x5a);
    ExpectDataLoss("bad", grown, std::to_string(extra) + " bytes appended");
  }
}

TEST_F(ObjectFile, ChunkSplicedFromAnotherFileIsDataLoss) {
  const std::vector<uint8_t> plain = Bytes(3 * kChunk);
  SeededRandom same_salt_a(5), same_salt_b(5), same_salt_c(5);
  const std::vector<uint8_t> file = WriteObject("f", plain, 0, &id_, &same_salt_a);
  auto splice = [&](const std::vector<uint8_t>& other, const std::string& what) {
    std::vector<uint8_t> bad = file;
    std::copy_n(other.begin() + kObjectHeaderSize + kStride, kStride,
                bad.begin() + kObjectHeaderSize + kStride);
    ExpectDataLoss("bad", bad, what);
  };
  // Same DEK, object id and part, the same plaintext: only the salt differs.
  splice(WriteObject("fresh-salt", plain), "another file of the same object");
  // The same salt (and so the same header) under another part number or object id.
  const ObjectFileId part1{id_.object_id, 1};
  splice(WriteObject("part1", plain, 0, &part1, &same_salt_b), "another part number");
  const ObjectFileId other{"another-object", 0};
  splice(WriteObject("other", plain, 0, &other, &same_salt_c), "another object id");
}

TEST_F(ObjectFile, WrongDekObjectIdOrPartNumberIsDataLoss) {
  const std::vector<uint8_t> file = WriteObject("f", Bytes(kChunk + 1));
  SecretBytes other_dek = dek_.Clone();
  other_dek.RevealMutable()[31] ^= 0x01;
  ExpectDataLoss("f", file, "another DEK", &other_dek);
  const ObjectFileId other_id{id_.object_id + "x", 0};
  ExpectDataLoss("f", file, "another object id", nullptr, &other_id);
  const ObjectFileId other_part{id_.object_id, 1};
  ExpectDataLoss("f", file, "another part number", nullptr, &other_part);
}

TEST_F(ObjectFile, OnlyTheChunksARangeTouchesAreRead) {
  const std::vector<uint8_t> plain = Bytes(4 * kChunk);
  std::vector<uint8_t> file = WriteObject("f", plain);
  file[kObjectHeaderSize + 2 * kStride + 5] ^= 0x01;  // chunk 2
  Spit(Path("f"), file);
  auto reader = ObjectFileReader::Open(Path("f"), dek_, id_);
  ASSERT_TRUE(reader) << reader.error().ToString();
  std::vector<uint8_t> out(2 * kChunk);
  ASSERT_EQ((*reader)->ReadAt(0, out).value(), 2 * kChunk);  // chunks 0 and 1 are intact
  EXPECT_TRUE(std::equal(out.begin(), out.end(), plain.begin()));
  ASSERT_EQ((*reader)->ReadAt(3 * kChunk + 7, out).value(), kChunk - 7);  // chunk 3 too
  std::fill(out.begin(), out.end(), 0xcc);
  auto n = (*reader)->ReadAt(kChunk + 10, out);  // chunks 1 and 2
  ASSERT_FALSE(n);
  EXPECT_EQ(n.error().code, ErrorCode::kDataLoss);
  EXPECT_TRUE(std::all_of(out.begin(), out.end(), [](uint8_t b) { return b == 0; }));
}

TEST_F(ObjectFile, FileShrunkAfterOpenIsDataLoss) {
  WriteObject("f", Bytes(3 * kChunk));
  auto reader = ObjectFileReader::Open(Path("f"), dek_, id_);
  ASSERT_TRUE(reader) << reader.error().ToString();
  ASSERT_EQ(::truncate(Path("f").c_str(), kObjectHeaderSize + kStride + 5), 0);
  std::vector<uint8_t> out(3 * kChunk);
  EXPECT_EQ((*reader)->ReadAt(0, out).error().code, ErrorCode::kDataLoss);
  EXPECT_EQ((*reader)->ReadAt(2 * kChunk + 1, std::span(out).first(10)).error().code,
            ErrorCode::kDataLoss);
}

TEST_F(ObjectFile, CallerErrorsAreInvalidArgument) {
  OsRandom random;
  auto create = [&](const SecretBytes& dek, const ObjectFileId& id, size_t chunk = kChunk) {
    auto w = ObjectFileWriter::Create(Path("new"), dek, id, random, {chunk});
    return w ? ErrorCode::kOk : w.error().code;
  };
  const SecretBytes short_dek(16);
  EXPECT_EQ(create(short_dek, id_), ErrorCode::kInvalidArgument);
  EXPECT_EQ(create(dek_, {"", 0}), ErrorCode::kInvalidArgument);
  EXPECT_EQ(create(dek_, {std::string(256, 'a'), 0}), ErrorCode::kInvalidArgument);
  EXPECT_EQ(create(dek_, {"a", 10001}), ErrorCode::kInvalidArgument);
  for (size_t chunk : {size_t{0}, size_t{2048}, size_t{65535}, size_t{32} << 20}) {
    EXPECT_EQ(create(dek_, id_, chunk), ErrorCode::kInvalidArgument) << chunk;
  }
  EXPECT_FALSE(std::filesystem::exists(Path("new")));
  EXPECT_EQ(create(dek_, {std::string(255, 'a'), 10000}), ErrorCode::kOk);  // the limits hold

  WriteObject("f", Bytes(10));
  EXPECT_EQ(ObjectFileReader::Open(Path("f"), short_dek, id_).error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(ObjectFileReader::Open(Path("f"), dek_, {"", 0}).error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(ObjectFileReader::Open(dir_, dek_, id_).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(ObjectFileReader::Open(Path("missing"), dek_, id_).error().code, ErrorCode::kNotFound);
}

TEST_F(ObjectFile, CreateIsExclusiveAndAnUnfinishedFileIsRemoved) {
  OsRandom random;
  Spit(Path("taken"), AsBytes("someone else's"));
  auto taken = ObjectFileWriter::Create(Path("taken"), dek_, id_, random);
  ASSERT_FALSE(taken);
  EXPECT_EQ(taken.error().code, ErrorCode::kAlreadyExists);
  EXPECT_EQ(Slurp(Path("taken")).size(), 14u);  // untouched, and not removed
  EXPECT_EQ(ObjectFileWriter::Create(Path("no/such/dir"), dek_, id_, random).error().code,
            ErrorCode::kNotFound);

  {
    auto writer = ObjectFileWriter::Create(Path("abandoned"), dek_, id_, random);
    ASSERT_TRUE(writer) << writer.error().ToString();
    ASSERT_TRUE((*writer)->Write(Bytes(5 * kChunk)));
    EXPECT_TRUE(std::filesystem::exists(Path("abandoned")));
  }
  EXPECT_FALSE(std::filesystem::exists(Path("abandoned")));

  auto writer = ObjectFileWriter::Create(Path("kept"), dek_, id_, random);
  ASSERT_TRUE(writer) << writer.error().ToString();
  ASSERT_TRUE((*writer)->Write(Bytes(10)));
  EXPECT_EQ((*writer)->Finish().value(), 10u);
  EXPECT_EQ((*writer)->Write(Bytes(1)).error().code, ErrorCode::kFailedPrecondition);
  EXPECT_EQ((*writer)->Finish().error().code, ErrorCode::kFailedPrecondition);
  writer->reset();
  struct stat st;
  ASSERT_EQ(::stat(Path("kept").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(static_cast<uint64_t>(st.st_size), ObjectFileSize(10));
}

TEST_F(ObjectFile, FullDiskIsResourceExhaustedAndRemovesTheFile) {
  // RLIMIT_FSIZE stands in for a full disk: write(2) past it fails with EFBIG (SIGXFSZ ignored).
  struct rlimit old_limit;
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old_limit), 0);
  const auto old_handler = ::signal(SIGXFSZ, SIG_IGN);
  struct rlimit limit = old_limit;
  limit.rlim_cur = 1 << 20;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &limit), 0);
  {
    OsRandom random;
    auto writer = ObjectFileWriter::Create(Path("full"), dek_, id_, random);
    ASSERT_TRUE(writer) << writer.error().ToString();
    Status st = (*writer)->Write(Bytes(3 << 20));
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().code, ErrorCode::kResourceExhausted) << st.error().ToString();
    EXPECT_EQ((*writer)->Write(Bytes(1)).error().code, ErrorCode::kFailedPrecondition);
    EXPECT_EQ((*writer)->Finish().error().code, ErrorCode::kFailedPrecondition);
  }
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &old_limit), 0);
  ::signal(SIGXFSZ, old_handler);
  EXPECT_FALSE(std::filesystem::exists(Path("full")));
}

}  // namespace
}  // namespace veil::cos
