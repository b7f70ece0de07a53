// Pipeline: the streaming, multi-core, bounded-memory engine behind `veil image encrypt|decrypt`
// (image_ops.h). It knows nothing of LUKS or of disk formats: a PipelineJob fills chunks and names
// the stages each chunk goes through; the pipeline runs them through a fixed pool of buffers on N
// worker threads.
//
//   producer (the calling thread)  job.Next(chunk): claims a free buffer and describes the next
//                                  chunk, in order (for a stream it also reads it: a pipe can only
//                                  be read front to back).
//   stages, in the job's order     job.Run(stage, chunk, worker), where each stage is
//     kParallel                    any worker, many chunks at once (read, encrypt in place);
//     kSerial                      one chunk at a time, in any order (pwrite to one file: the
//                                  kernel serialises buffered writes to a file anyway, and a
//                                  worker spinning on the inode lock is a core not encrypting);
//     kSerialInOrder               one chunk at a time, in production order (stdout, qcow2 cluster
//                                  allocation, which must follow guest order).
// Workers never wait for a serial stage: a chunk that reaches a busy serial stage waits in that
// stage's queue, and its worker goes on with other chunks; a free worker picks serial work first
// (it is the bottleneck, and finishing chunks frees buffers), then later stages, then new chunks.
// The oldest chunk in flight can always make progress, so the pipeline cannot deadlock.
//
// Memory: buffers x chunk_bytes, allocated once at start, whatever the size of the image
// (defaults: 1 MiB chunks, four per worker, at least 4, at most 64). Buffers are 4 KiB-aligned.
//
// Cancellation and errors: the cancel flag (e.g. set by a SIGINT handler) is polled by the
// producer before each chunk and by the workers before each stage; the first error, or a cancel,
// stops the producer, the workers drop the chunks in flight, and RunPipeline returns that error
// (kCancelled "interrupted" for a cancel) once every thread has stopped.
//
// Thread-safety: RunPipeline blocks the calling thread until the job is done. Next runs only on
// the calling thread; Run may run on several workers at once for kParallel stages (each call with
// its own worker index) and never concurrently with itself for a serial stage. The progress
// callback runs on the calling thread.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "common/result.h"

namespace veil::image {

// A part of a chunk, described by the job (the pipeline never looks at it).
struct Piece {
  // Bytes [begin, begin + length) of the chunk's buffer.
  size_t begin = 0;
  size_t length = 0;
  // false: the bytes are zeros that need no transform and may be left unwritten (a hole).
  bool data = true;
  // The offset given to the sector cipher for the piece's first byte (its IV base).
  uint64_t cipher_offset = 0;
  // Where the piece's bytes go in the output.
  uint64_t output_offset = 0;
};

struct Chunk {
  // 0, 1, 2, ... in the order Next() produced them.
  uint64_t sequence = 0;
  // Job-defined position of the chunk's first byte (e.g. its offset in the virtual disk).
  uint64_t offset = 0;
  // Bytes of `buffer` in use.
  size_t length = 0;
  // chunk_bytes bytes owned by the pipeline; the job may use all of them.
  std::span<uint8_t> buffer;
  // Job-defined; cleared (capacity kept) before each Next().
  std::vector<Piece> pieces;
};

enum class StageKind { kParallel, kSerial, kSerialInOrder };

class PipelineJob {
 public:
  virtual ~PipelineJob() = default;
  // Describes the next chunk (offset, length, pieces; the buffer's content when the source is a
  // stream). Returns false when there is nothing more (the chunk is then discarded).
  [[nodiscard]] virtual Result<bool> Next(Chunk& chunk) = 0;
  // The stages every chunk goes through, in order (at least one). Must not change during a run.
  virtual std::vector<StageKind> stages() const = 0;
  // Runs stage `stage` (an index into stages()) on `chunk`; `worker` is in [0, threads).
  [[nodiscard]] virtual Status Run(size_t stage, Chunk& chunk, size_t worker) = 0;
};

struct PipelineOptions {
  // Worker threads (at least 1).
  size_t threads = 1;
  // Size of each buffer: a multiple of 4096 (and of whatever unit the job needs).
  size_t chunk_bytes = size_t{1} << 20;
  // Buffers in the pool; 0 = 4 per worker, at least 4, at most 64.
  size_t buffers = 0;
  // Polled; true stops the run with kCancelled. May be null.
  const std::atomic<bool>* cancel = nullptr;
  // Called on the calling thread with the sum of Chunk::length of the chunks done so far (through
  // every stage), after each chunk produced and once at the end. May be empty.
  std::function<void(uint64_t done_bytes)> progress;
};

// The buffer count RunPipeline uses for `options`.
size_t PipelineBuffers(const PipelineOptions& options);

// Runs `job` to completion. kInvalidArgument for bad options; otherwise the first error a stage
// returned, or kCancelled when the cancel flag was seen.
[[nodiscard]] Status RunPipeline(PipelineJob& job, const PipelineOptions& options);

}  // namespace veil::image
