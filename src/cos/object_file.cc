#include "cos/object_file.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <string_view>

#include "common/bytes.h"
#include "crypto/hash.h"

namespace veil::cos {
namespace {

constexpr uint8_t kMagic[8] = {'V', 'E', 'I', 'L', 'C', 'O', 'S', '1'};
constexpr uint8_t kVersion = 1;
constexpr size_t kChunkSizeOffset = 12;
constexpr size_t kSaltOffset = 16;
constexpr size_t kSaltSize = kObjectHeaderSize - kSaltOffset;  // 32
constexpr std::string_view kKeyLabel = "veil-cos-object-v1";
constexpr size_t kAadSize = kObjectHeaderSize + 9;
// Bytes per write(2) or preadv(2): large enough that system calls cost little next to AES-GCM and
// the copy, small enough to stay in the L2 cache between the cipher and the kernel.
constexpr size_t kIoBatchBytes = size_t{1} << 20;
constexpr size_t kMaxBatchChunks = 64;

bool ValidChunkSize(uint64_t c) {
  return c >= kObjectMinChunkSize && c <= kObjectMaxChunkSize && (c & (c - 1)) == 0;
}

size_t BatchChunks(size_t chunk_size) {
  return std::clamp<size_t>(kIoBatchBytes / chunk_size, 1, kMaxBatchChunks);
}

void PutU32(uint8_t* p, uint32_t v) {
  for (int i = 3; i >= 0; --i, v >>= 8) p[i] = static_cast<uint8_t>(v);
}

void PutU64(uint8_t* p, uint64_t v) {
  for (int i = 7; i >= 0; --i, v >>= 8) p[i] = static_cast<uint8_t>(v);
}

uint32_t GetU32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

// nonce = 4 zero bytes || u64be(index).
std::array<uint8_t, crypto::kAesGcmIvSize> Nonce(uint64_t index) {
  std::array<uint8_t, crypto::kAesGcmIvSize> nonce{};
  PutU64(nonce.data() + 4, index);
  return nonce;
}

// aad = header || u64be(index) || u8(final); the header is already in aad[0, 48).
void SetChunkAad(uint8_t (&aad)[kAadSize], uint64_t index, bool final) {
  PutU64(aad + kObjectHeaderSize, index);
  aad[kObjectHeaderSize + 8] = final ? 1 : 0;
}

Status CheckKeyAndId(const SecretBytes& dek, const ObjectFileId& id) {
  if (dek.size() != kObjectDekSize) return InvalidArgument("object file: the DEK must be 32 bytes");
  if (id.object_id.empty() || id.object_id.size() > kMaxObjectIdSize) {
    return InvalidArgument("object file: the object id must be 1 to 255 bytes");
  }
  if (id.part_number > kMaxObjectPartNumber) {
    return InvalidArgument("object file: the part number must be 0 to 10000");
  }
  return OkStatus();
}

// HKDF-SHA256(ikm = DEK, salt = file salt,
//             info = label || u32be(len(object_id)) || object_id || u32be(part_number)).
Result<SecretBytes> DeriveFileKey(const SecretBytes& dek, std::span<const uint8_t> salt,
                                  const ObjectFileId& id) {
  std::vector<uint8_t> info(kKeyLabel.size() + 4 + id.object_id.size() + 4);
  uint8_t* p = std::copy(kKeyLabel.begin(), kKeyLabel.end(), info.data());
  PutU32(p, static_cast<uint32_t>(id.object_id.size()));
  p = std::copy(id.object_id.begin(), id.object_id.end(), p + 4);
  PutU32(p, id.part_number);
  return crypto::HkdfSha256(dek.Reveal(), salt, info, crypto::kAesGcmKeySize);
}

// The file's cipher: AES-256-GCM under its derived key, which is wiped on return.
Result<crypto::AesGcm> FileCipher(const SecretBytes& dek, std::span<const uint8_t> header,
                                  const ObjectFileId& id) {
  const SecretBytes key =
      VEIL_TRY_VALUE(DeriveFileKey(dek, header.subspan(kSaltOffset, kSaltSize), id));
  return crypto::AesGcm::Create(key.Reveal());
}

Error FileError(const std::string& what, int err) {
  std::string message = what + ": " + std::strerror(err);
  switch (err) {
    case EEXIST:
      return Error(ErrorCode::kAlreadyExists, std::move(message));
    case ENOENT:
    case ENOTDIR:
      return Error(ErrorCode::kNotFound, std::move(message));
    case EACCES:
    case EPERM:
      return Error(ErrorCode::kPermissionDenied, std::move(message));
    case ENOSPC:
    case EDQUOT:
    case EFBIG:
      return Error(ErrorCode::kResourceExhausted, std::move(message));
    default:
      return Error(ErrorCode::kUnavailable, std::move(message));
  }
}

Status WriteFully(int fd, std::span<const uint8_t> bytes, const std::string& path) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return tl::unexpected(FileError("cannot write " + path, n == 0 ? ENOSPC : errno));
    bytes = bytes.subspan(static_cast<size_t>(n));
  }
  return OkStatus();
}

// Fills every buffer of `iov` from `offset` on, retrying short reads; kDataLoss when the file ends
// first (it shrank after Open). Advances `iov` in place.
Status PreadvFully(int fd, struct iovec* iov, int count, uint64_t offset) {
  for (;;) {
    while (count > 0 && iov->iov_len == 0) ++iov, --count;
    if (count == 0) return OkStatus();
    const ssize_t n = ::preadv(fd, iov, count, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return tl::unexpected(FileError("cannot read an object file", errno));
    if (n == 0) return DataLoss("object file: shorter than its size at open");
    offset += static_cast<uint64_t>(n);
    for (size_t left = static_cast<size_t>(n); left > 0;) {
      const size_t step = std::min(left, iov->iov_len);
      iov->iov_base = static_cast<uint8_t*>(iov->iov_base) + step;
      iov->iov_len -= step;
      left -= step;
      if (iov->iov_len == 0) ++iov, --count;
    }
  }
}

Status PreadFully(int fd, std::span<uint8_t> out, uint64_t offset) {
  struct iovec iov = {out.data(), out.size()};
  return PreadvFully(fd, &iov, 1, offset);
}

// A chunk that does not authenticate: kDataLoss naming it (another OpenSSL failure stays itself).
tl::unexpected<Error> ChunkFailure(uint64_t index, const Error& error) {
  if (error.code != ErrorCode::kDataLoss) return tl::unexpected(error);
  return DataLoss("object file: chunk " + std::to_string(index) +
                  " does not authenticate (another DEK or id, or the file was altered)");
}

void Cleanse(std::span<uint8_t> bytes) {
  if (!bytes.empty()) OPENSSL_cleanse(bytes.data(), bytes.size());
}

}  // namespace

uint64_t ObjectFileSize(uint64_t plaintext_size, size_t chunk_size) {
  VEIL_CHECK(ValidChunkSize(chunk_size));
  VEIL_CHECK(plaintext_size < (uint64_t{1} << 62));
  const uint64_t chunks = plaintext_size == 0 ? 1 : (plaintext_size + chunk_size - 1) / chunk_size;
  return kObjectHeaderSize + plaintext_size + chunks * kObjectTagSize;
}

Result<uint64_t> ObjectPlaintextSize(uint64_t file_size, size_t chunk_size) {
  VEIL_CHECK(ValidChunkSize(chunk_size));
  if (file_size < kObjectHeaderSize + kObjectTagSize) {
    return DataLoss("object file: shorter than a header and one chunk");
  }
  const uint64_t body = file_size - kObjectHeaderSize;
  const uint64_t stride = chunk_size + kObjectTagSize;
  const uint64_t full = body / stride;
  const uint64_t rest = body % stride;
  if (rest == 0) return full * chunk_size;  // the last chunk is full
  if (rest < kObjectTagSize) return DataLoss("object file: its size cuts a chunk's tag");
  if (rest == kObjectTagSize && full > 0) {
    return DataLoss("object file: an empty last chunk after a full one");
  }
  return full * chunk_size + (rest - kObjectTagSize);
}

// ---------------------------------------------------------------------------------------------
// ObjectFileWriter

ObjectFileWriter::ObjectFileWriter(std::string path, Fd fd, crypto::AesGcm gcm, size_t chunk_size)
    : path_(std::move(path)),
      fd_(std::move(fd)),
      gcm_(std::move(gcm)),
      chunk_size_(chunk_size),
      // Not zeroed: a small object touches (and so faults in) only the pages it uses.
      batch_size_(BatchChunks(chunk_size) * (chunk_size + kObjectTagSize)),
      batch_(std::make_unique_for_overwrite<uint8_t[]>(batch_size_)) {}

Result<std::unique_ptr<ObjectFileWriter>> ObjectFileWriter::Create(
    const std::string& path, const SecretBytes& dek, const ObjectFileId& id, Random& random,
    const ObjectFileWriterOptions& options) {
  VEIL_TRY(CheckKeyAndId(dek, id));
  if (!ValidChunkSize(options.chunk_size)) {
    return InvalidArgument("object file: the chunk size must be a power of two, 4 KiB to 16 MiB");
  }
  uint8_t header[kObjectHeaderSize] = {};
  std::copy(std::begin(kMagic), std::end(kMagic), header);
  header[8] = kVersion;
  PutU32(header + kChunkSizeOffset, static_cast<uint32_t>(options.chunk_size));
  random.Fill(std::span(header + kSaltOffset, kSaltSize));
  crypto::AesGcm gcm = VEIL_TRY_VALUE(FileCipher(dek, header, id));

  Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!fd.valid()) return tl::unexpected(FileError("cannot create " + path, errno));
  std::unique_ptr<ObjectFileWriter> writer(
      new ObjectFileWriter(path, std::move(fd), std::move(gcm), options.chunk_size));
  std::copy(std::begin(header), std::end(header), writer->aad_);
  // From here on the writer owns the file: an error unlinks it when `writer` goes.
  if (::fchmod(writer->fd_.get(), 0600) != 0) {
    return tl::unexpected(FileError("cannot set the mode of " + path, errno));
  }
  VEIL_TRY(WriteFully(writer->fd_.get(), header, path));
  return writer;
}

ObjectFileWriter::~ObjectFileWriter() {
  // The current chunk's slot holds the plaintext not yet sealed (sealed slots hold ciphertext).
  Cleanse(CurrentSlot().first(fill_));
  if (state_ != State::kFinished) {
    fd_.Reset();
    ::unlink(path_.c_str());
  }
}

std::span<uint8_t> ObjectFileWriter::CurrentSlot() {
  return std::span(batch_.get() + batch_used_, chunk_size_ + kObjectTagSize);
}

tl::unexpected<Error> ObjectFileWriter::Fail(Error error) {
  state_ = State::kFailed;
  return tl::unexpected(std::move(error));
}

Status ObjectFileWriter::Write(std::span<const uint8_t> data) {
  if (state_ != State::kOpen) {
    return FailedPrecondition("object file: write after Finish or after a failed write");
  }
  while (!data.empty()) {
    if (fill_ == chunk_size_) {
      // More bytes follow, so the full current chunk is not the last one: seal it in place.
      if (Status st = Seal(CurrentSlot().first(fill_), false); !st) return Fail(st.error());
    }
    if (fill_ == 0 && data.size() > chunk_size_) {
      // A whole chunk that is not the last: seal it straight from the caller's bytes.
      if (Status st = Seal(data.first(chunk_size_), false); !st) return Fail(st.error());
      written_ += chunk_size_;
      data = data.subspan(chunk_size_);
      continue;
    }
    const size_t n = std::min(chunk_size_ - fill_, data.size());
    std::memcpy(CurrentSlot().data() + fill_, data.data(), n);
    fill_ += n;
    written_ += n;
    data = data.subspan(n);
  }
  return OkStatus();
}

// Seals `plaintext` (the current slot's bytes, or the caller's) as the current chunk into the
// current slot, and writes the batch when it is full or this chunk is the last.
Status ObjectFileWriter::Seal(std::span<const uint8_t> plaintext, bool final) {
  SetChunkAad(aad_, chunk_index_, final);
  VEIL_TRY(gcm_.SealInto(Nonce(chunk_index_), aad_, plaintext,
                         CurrentSlot().first(plaintext.size() + kObjectTagSize)));
  batch_used_ += plaintext.size() + kObjectTagSize;
  ++chunk_index_;
  fill_ = 0;
  if (final || batch_used_ + chunk_size_ + kObjectTagSize > batch_size_) VEIL_TRY(Flush());
  return OkStatus();
}

Status ObjectFileWriter::Flush() {
  VEIL_TRY(WriteFully(fd_.get(), std::span(batch_.get(), batch_used_), path_));
  batch_used_ = 0;
  return OkStatus();
}

Result<uint64_t> ObjectFileWriter::Finish() {
  if (state_ != State::kOpen) {
    return FailedPrecondition("object file: Finish after Finish or after a failed write");
  }
  if (Status st = Seal(CurrentSlot().first(fill_), true); !st) return Fail(st.error());
  if (::fdatasync(fd_.get()) != 0) return Fail(FileError("cannot fdatasync " + path_, errno));
  if (::close(fd_.Release()) != 0) return Fail(FileError("cannot close " + path_, errno));
  state_ = State::kFinished;
  return written_;
}

// ---------------------------------------------------------------------------------------------
// ObjectFileReader

// What one ReadAt needs for itself: a cipher context, the associated data, the tags of a batch
// and a buffer for one sealed chunk (allocated the first time a chunk is read in part).
struct ObjectFileReader::Worker {
  explicit Worker(crypto::AesGcm cipher) : gcm(std::move(cipher)) {}
  crypto::AesGcm gcm;
  uint8_t aad[kAadSize];
  uint8_t tags[kMaxBatchChunks * kObjectTagSize];
  std::vector<uint8_t> chunk;
};

ObjectFileReader::ObjectFileReader(Fd fd, SecretBytes key, std::span<const uint8_t> header,
                                   size_t chunk_size, uint64_t size)
    : fd_(std::move(fd)), key_(std::move(key)), chunk_size_(chunk_size), size_(size) {
  std::copy(header.begin(), header.end(), header_);
}

ObjectFileReader::~ObjectFileReader() {
  for (auto& worker : idle_) Cleanse(worker->chunk);
}

namespace {

// Checks the header's fixed fields and returns its chunk size.
Result<size_t> ParseHeader(std::span<const uint8_t, kObjectHeaderSize> header) {
  if (!std::equal(std::begin(kMagic), std::end(kMagic), header.begin())) {
    return DataLoss("object file: not a Veil object file (bad magic)");
  }
  if (header[8] != kVersion) {
    return DataLoss("object file: unsupported version " + std::to_string(header[8]));
  }
  if (header[9] != 0 || header[10] != 0 || header[11] != 0) {
    return DataLoss("object file: reserved header bytes are not zero");
  }
  const uint32_t chunk_size = GetU32(header.data() + kChunkSizeOffset);
  if (!ValidChunkSize(chunk_size)) return DataLoss("object file: bad chunk size");
  return chunk_size;
}

}  // namespace

Result<std::unique_ptr<ObjectFileReader>> ObjectFileReader::Open(const std::string& path,
                                                                 const SecretBytes& dek,
                                                                 const ObjectFileId& id) {
  VEIL_TRY(CheckKeyAndId(dek, id));
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return tl::unexpected(FileError("cannot open " + path, errno));
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return tl::unexpected(FileError("cannot stat " + path, errno));
  if (!S_ISREG(st.st_mode)) return InvalidArgument("object file: not a regular file: " + path);
  const auto file_size = static_cast<uint64_t>(st.st_size);
  if (file_size < kObjectHeaderSize) return DataLoss("object file: shorter than its header");
  uint8_t header[kObjectHeaderSize];
  VEIL_TRY(PreadFully(fd.get(), header, 0));
  const size_t chunk_size = VEIL_TRY_VALUE(ParseHeader(header));
  const uint64_t size = VEIL_TRY_VALUE(ObjectPlaintextSize(file_size, chunk_size));
  SecretBytes key =
      VEIL_TRY_VALUE(DeriveFileKey(dek, std::span(header + kSaltOffset, kSaltSize), id));
  std::unique_ptr<ObjectFileReader> reader(
      new ObjectFileReader(std::move(fd), std::move(key), header, chunk_size, size));

  // The last chunk vouches for the header and the size: its associated data holds both the
  // header and "final", and its index follows from the size.
  std::unique_ptr<Worker> worker = VEIL_TRY_VALUE(reader->Acquire());
  const Status last = reader->OpenChunk(*worker, reader->chunk_count() - 1);
  Cleanse(worker->chunk);
  reader->Release(std::move(worker));
  VEIL_TRY(last);
  return reader;
}

uint64_t ObjectFileReader::chunk_count() const {
  return size_ == 0 ? 1 : (size_ + chunk_size_ - 1) / chunk_size_;
}

size_t ObjectFileReader::ChunkLength(uint64_t index) const {
  const uint64_t last = chunk_count() - 1;
  return index < last ? chunk_size_ : static_cast<size_t>(size_ - last * chunk_size_);
}

Result<std::unique_ptr<ObjectFileReader::Worker>> ObjectFileReader::Acquire() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!idle_.empty()) {
      std::unique_ptr<Worker> worker = std::move(idle_.back());
      idle_.pop_back();
      return worker;
    }
  }
  crypto::AesGcm gcm = VEIL_TRY_VALUE(crypto::AesGcm::Create(key_.Reveal()));
  auto worker = std::make_unique<Worker>(std::move(gcm));
  std::copy(std::begin(header_), std::end(header_), worker->aad);
  return worker;
}

void ObjectFileReader::Release(std::unique_ptr<Worker> worker) {
  std::lock_guard<std::mutex> lock(mu_);
  idle_.push_back(std::move(worker));
}

Result<size_t> ObjectFileReader::ReadAt(uint64_t offset, std::span<uint8_t> out) {
  if (offset >= size_ || out.empty()) return size_t{0};
  out = out.first(static_cast<size_t>(std::min<uint64_t>(out.size(), size_ - offset)));
  std::unique_ptr<Worker> worker = VEIL_TRY_VALUE(Acquire());
  const Status read = ReadRange(*worker, offset, out);
  Release(std::move(worker));
  if (!read) {
    Cleanse(out);
    return tl::unexpected(read.error());
  }
  return out.size();
}

// Whole chunks go in batches straight into `out`; a chunk the range covers in part goes through
// the worker's buffer.
Status ObjectFileReader::ReadRange(Worker& w, uint64_t offset, std::span<uint8_t> out) {
  const size_t batch = BatchChunks(chunk_size_);
  while (!out.empty()) {
    const uint64_t index = offset / chunk_size_;
    const size_t skip = static_cast<size_t>(offset % chunk_size_);
    const size_t length = ChunkLength(index);
    size_t take = 0;
    if (skip == 0 && out.size() >= length) {
      size_t count = 1;
      take = length;
      while (count < batch && index + count < chunk_count() &&
             out.size() - take >= ChunkLength(index + count)) {
        take += ChunkLength(index + count);
        ++count;
      }
      VEIL_TRY(ReadWhole(w, index, count, out.first(take)));
    } else {
      take = std::min(length - skip, out.size());
      VEIL_TRY(OpenChunk(w, index));
      std::memcpy(out.data(), w.chunk.data() + skip, take);
      Cleanse(std::span(w.chunk).first(length));
    }
    offset += take;
    out = out.subspan(take);
  }
  return OkStatus();
}

// Reads chunks [first, first + count) with one preadv, each chunk's ciphertext into its place in
// `out` and its tag into the worker, then opens each in place.
Status ObjectFileReader::ReadWhole(Worker& w, uint64_t first, size_t count,
                                   std::span<uint8_t> out) {
  struct iovec iov[2 * kMaxBatchChunks];
  size_t at = 0;
  for (size_t k = 0; k < count; ++k) {
    const size_t length = ChunkLength(first + k);
    iov[2 * k] = {out.data() + at, length};
    iov[2 * k + 1] = {w.tags + k * kObjectTagSize, kObjectTagSize};
    at += length;
  }
  const uint64_t file_offset = kObjectHeaderSize + first * (chunk_size_ + kObjectTagSize);
  VEIL_TRY(PreadvFully(fd_.get(), iov, static_cast<int>(2 * count), file_offset));
  const uint64_t last = chunk_count() - 1;
  at = 0;
  for (size_t k = 0; k < count; ++k) {
    const uint64_t index = first + k;
    const std::span<uint8_t> chunk = out.subspan(at, ChunkLength(index));
    SetChunkAad(w.aad, index, index == last);
    const std::span<const uint8_t> tag(w.tags + k * kObjectTagSize, kObjectTagSize);
    if (Status st = w.gcm.OpenDetachedInto(Nonce(index), w.aad, chunk, tag, chunk); !st) {
      return ChunkFailure(index, st.error());
    }
    at += chunk.size();
  }
  return OkStatus();
}

// Reads chunk `index` into the worker's buffer and opens it there: its plaintext is then
// w.chunk[0, ChunkLength(index)).
Status ObjectFileReader::OpenChunk(Worker& w, uint64_t index) {
  if (w.chunk.empty()) w.chunk.resize(chunk_size_ + kObjectTagSize);
  const size_t length = ChunkLength(index);
  const std::span<uint8_t> sealed = std::span(w.chunk).first(length + kObjectTagSize);
  VEIL_TRY(
      PreadFully(fd_.get(), sealed, kObjectHeaderSize + index * (chunk_size_ + kObjectTagSize)));
  SetChunkAad(w.aad, index, index == chunk_count() - 1);
  if (Status st = w.gcm.OpenInto(Nonce(index), w.aad, sealed, sealed.first(length)); !st) {
    return ChunkFailure(index, st.error());
  }
  return OkStatus();
}

}  // namespace veil::cos
