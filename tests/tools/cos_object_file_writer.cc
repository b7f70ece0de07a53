// cos_object_file_writer: writes one object storage data file with the C++ ObjectFileWriter, for
// the independent Python reader to check (ctest cos.object_file_python_decrypts, driven by
// src/cos/testing/cos_object_decrypt.py). Test tool, not shipped.
//
//   cos_object_file_writer OUT DEK_HEX OBJECT_ID PART SIZE [CHUNK_SIZE]
//
// The plaintext is SIZE deterministic bytes (SeededRandom(SIZE)), handed to the writer in pieces of
// odd sizes; the salt comes from the OS. Prints the plaintext's SHA-256 in hex; exit 1 on error.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "common/encoding.h"
#include "common/random.h"
#include "cos/object_file.h"
#include "crypto/hash.h"

namespace {

int Fail(const std::string& what) {
  std::fprintf(stderr, "cos_object_file_writer: %s\n", what.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace veil;
  if (argc != 6 && argc != 7) {
    return Fail("usage: OUT DEK_HEX OBJECT_ID PART SIZE [CHUNK_SIZE]");
  }
  auto dek = DecodeHexSecret(argv[2]);
  if (!dek) return Fail("DEK_HEX: " + dek.error().ToString());
  const cos::ObjectFileId id{argv[3], static_cast<uint32_t>(std::strtoul(argv[4], nullptr, 10))};
  const size_t size = std::strtoull(argv[5], nullptr, 10);
  cos::ObjectFileWriterOptions options;
  if (argc == 7) options.chunk_size = std::strtoull(argv[6], nullptr, 10);

  SeededRandom pattern(size);
  const std::vector<uint8_t> plaintext = pattern.Bytes(size);
  OsRandom random;
  auto writer = cos::ObjectFileWriter::Create(argv[1], *dek, id, random, options);
  if (!writer) return Fail(writer.error().ToString());
  const size_t pieces[] = {1, 7, 4099, 65535, 65537, 200003};
  size_t at = 0;
  for (size_t k = 0; at < size; ++k) {
    const size_t n = std::min(pieces[k % std::size(pieces)], size - at);
    if (auto st = (*writer)->Write(std::span(plaintext).subspan(at, n)); !st) {
      return Fail(st.error().ToString());
    }
    at += n;
  }
  if (auto done = (*writer)->Finish(); !done) return Fail(done.error().ToString());
  std::printf("%s\n", HexEncode(crypto::Sha256(plaintext)).c_str());
  return 0;
}
