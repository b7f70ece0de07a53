// The at-rest format of one object storage data file (docs/formats/cos-object.md, version 1).
//
// Every object the cos service stores is encrypted under its own 32-byte DEK; its bytes live in one
// data file (a single PUT) or one file per part (a multipart upload, stitched in metadata). A file
// is a 48-byte header (magic, version, chunk size, a random 32-byte salt) and chunks of
// AES-256-GCM under a key derived from the DEK, the salt, the object's id and the part number:
// chunk i holds plaintext [i*C, (i+1)*C), its nonce is i and its associated data binds the header,
// i and whether it is the last chunk. The plaintext size follows from the file size, and any
// change to the file (a flipped bit, a chunk truncated, appended, swapped, or spliced from another
// file) fails authentication: kDataLoss, never wrong bytes.
//
// ObjectFileWriter streams a PUT's body into a new file; ObjectFileReader serves ranges of it.
// Neither knows about buckets, keys of the KMS or metadata: the service gives the DEK and the id.
//
// Thread-safety: an ObjectFileWriter is used by one thread at a time. An ObjectFileReader's
// ReadAt may be called from any number of threads at once (pread, no shared cursor; each call
// borrows a cipher context from a small pool); Open and destruction are not concurrent with it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "common/file.h"
#include "common/random.h"
#include "common/result.h"
#include "common/secret_bytes.h"
#include "crypto/aead.h"

namespace veil::cos {

// Plaintext bytes per chunk the writer uses; the reader accepts any power of two in
// [kObjectMinChunkSize, kObjectMaxChunkSize] (the chunk size is a field of the header).
inline constexpr size_t kObjectChunkSize = 64 * 1024;
inline constexpr size_t kObjectMinChunkSize = 4 * 1024;
inline constexpr size_t kObjectMaxChunkSize = 16 * 1024 * 1024;
inline constexpr size_t kObjectHeaderSize = 48;
inline constexpr size_t kObjectTagSize = 16;  // the GCM tag after each chunk's ciphertext
inline constexpr size_t kObjectDekSize = 32;  // AES-256
inline constexpr size_t kMaxObjectIdSize = 255;
inline constexpr uint32_t kMaxObjectPartNumber = 10000;  // S3's limit

// The on-disk size of a file holding `plaintext_size` bytes in chunks of `chunk_size` (for quotas
// and tests): 48 + size + 16 per chunk, with max(1, ceil(size / chunk_size)) chunks.
// Preconditions (checked): a valid chunk size; plaintext_size < 2^62.
uint64_t ObjectFileSize(uint64_t plaintext_size, size_t chunk_size = kObjectChunkSize);

// The inverse: the plaintext size of a file of `file_size` bytes, or kDataLoss when no file of
// this format has that size (shorter than a header and one tag, a tail too short to hold a tag,
// or an empty last chunk after a full one). Precondition (checked): a valid chunk size.
[[nodiscard]] Result<uint64_t> ObjectPlaintextSize(uint64_t file_size, size_t chunk_size);

// What a file's key is bound to besides the DEK. `object_id` is an opaque identity of 1..255
// bytes (the service passes the object's internal id, never the user's key name, which can be
// reused); `part_number` is 0 for a single-PUT file and 1..10000 for a part of a multipart upload.
struct ObjectFileId {
  std::string object_id;
  uint32_t part_number = 0;
};

struct ObjectFileWriterOptions {
  // Plaintext bytes per chunk: a power of two in [4 KiB, 16 MiB]. Only tests pick another.
  size_t chunk_size = kObjectChunkSize;
};

// Streams plaintext, in pieces of any size, into a new data file. A full chunk is sealed as soon
// as a byte after it arrives (until then it may be the last one), in place in a ~1 MiB batch
// buffer allocated once, or straight from the caller's bytes when a whole chunk and more arrive at
// once; each full batch goes out in one write(2). Nothing is allocated per chunk.
class ObjectFileWriter {
 public:
  // Creates `path` exclusively (O_CREAT | O_EXCL | O_CLOEXEC, mode 0600) and writes its header,
  // with a fresh salt from `random` (used only during Create). Errors: kInvalidArgument (a DEK
  // that is not 32 bytes, an id or part number out of range, a bad chunk size), kAlreadyExists
  // (the path exists), kNotFound (no such directory), kPermissionDenied, kResourceExhausted (disk
  // full), kUnavailable (other I/O).
  [[nodiscard]] static Result<std::unique_ptr<ObjectFileWriter>> Create(
      const std::string& path, const SecretBytes& dek, const ObjectFileId& id, Random& random,
      const ObjectFileWriterOptions& options = {});

  // A file that was not finished is closed and unlinked; its plaintext is wiped from memory.
  ~ObjectFileWriter();
  ObjectFileWriter(const ObjectFileWriter&) = delete;
  ObjectFileWriter& operator=(const ObjectFileWriter&) = delete;

  // Appends `data`. Errors: kFailedPrecondition after Finish or after an earlier failure (a
  // writer that failed stays failed: the caller drops it, which removes the file);
  // kResourceExhausted (disk full), kUnavailable (other I/O).
  [[nodiscard]] Status Write(std::span<const uint8_t> data);

  // Seals the last chunk, writes what remains and fdatasyncs the file; returns the plaintext size.
  // After success the file stays when the writer is destroyed (syncing the directory entry, and
  // renaming, are the caller's). Errors as Write; the writer is then failed.
  [[nodiscard]] Result<uint64_t> Finish();

  // Plaintext bytes accepted so far.
  uint64_t written() const { return written_; }
  const std::string& path() const { return path_; }

 private:
  enum class State { kOpen, kFinished, kFailed };
  ObjectFileWriter(std::string path, Fd fd, crypto::AesGcm gcm, size_t chunk_size);

  std::span<uint8_t> CurrentSlot();
  [[nodiscard]] Status Seal(std::span<const uint8_t> plaintext, bool final);
  [[nodiscard]] Status Flush();
  tl::unexpected<Error> Fail(Error error);

  std::string path_;
  Fd fd_;
  crypto::AesGcm gcm_;
  const size_t chunk_size_;
  // Sealed chunks waiting for one write(2) (~1 MiB), then the slot of the chunk being filled.
  const size_t batch_size_;
  std::unique_ptr<uint8_t[]> batch_;
  size_t batch_used_ = 0;     // bytes of sealed chunks at the front of batch_
  size_t fill_ = 0;           // plaintext bytes in the current chunk's slot, at batch_used_
  uint64_t chunk_index_ = 0;  // the current chunk's index in the file
  uint8_t aad_[kObjectHeaderSize + 9];  // header || u64be(index) || u8(final)
  uint64_t written_ = 0;
  State state_ = State::kOpen;
};

// Random access to the plaintext of one data file.
class ObjectFileReader {
 public:
  // Opens `path`, checks its header and size, derives the file's key and authenticates the last
  // chunk, so that size() (and the header) are authentic once Open succeeds: a file truncated or
  // extended, even at a chunk boundary, or opened with the wrong DEK or id fails here. Errors:
  // kInvalidArgument (a DEK that is not 32 bytes, an id out of range, not a regular file),
  // kNotFound, kPermissionDenied, kUnavailable (I/O), kDataLoss (a bad header, an impossible size,
  // a last chunk that does not authenticate).
  [[nodiscard]] static Result<std::unique_ptr<ObjectFileReader>> Open(const std::string& path,
                                                                      const SecretBytes& dek,
                                                                      const ObjectFileId& id);
  ~ObjectFileReader();
  ObjectFileReader(const ObjectFileReader&) = delete;
  ObjectFileReader& operator=(const ObjectFileReader&) = delete;

  // The plaintext size, from the file size (authenticated by Open).
  uint64_t size() const { return size_; }
  size_t chunk_size() const { return chunk_size_; }

  // Decrypts plaintext [offset, offset + out.size()) clamped to size() into `out` and returns the
  // number of bytes produced (0 at or past the end). Reads only the chunks the range touches, a
  // batch of whole chunks per preadv(2) straight into `out`, decrypted there in place; a chunk
  // read in part goes through a scratch buffer. Errors: kDataLoss when a chunk the range touches
  // does not authenticate or the file has shrunk; kUnavailable (I/O). On error all of `out` is
  // zeroed: no unauthenticated byte is ever handed out.
  [[nodiscard]] Result<size_t> ReadAt(uint64_t offset, std::span<uint8_t> out);

 private:
  struct Worker;
  ObjectFileReader(Fd fd, SecretBytes key, std::span<const uint8_t> header, size_t chunk_size,
                   uint64_t size);

  uint64_t chunk_count() const;
  size_t ChunkLength(uint64_t index) const;
  [[nodiscard]] Result<std::unique_ptr<Worker>> Acquire();
  void Release(std::unique_ptr<Worker> worker);
  [[nodiscard]] Status ReadRange(Worker& w, uint64_t offset, std::span<uint8_t> out);
  [[nodiscard]] Status ReadWhole(Worker& w, uint64_t first, size_t count, std::span<uint8_t> out);
  [[nodiscard]] Status OpenChunk(Worker& w, uint64_t index);

  Fd fd_;
  SecretBytes key_;  // the file key, for the cipher contexts of new workers
  uint8_t header_[kObjectHeaderSize];
  const size_t chunk_size_;
  const uint64_t size_;

  std::mutex mu_;
  std::vector<std::unique_ptr<Worker>> idle_;  // guarded by mu_
};

}  // namespace veil::cos
