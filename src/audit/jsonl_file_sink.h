// JsonLinesFileSink: the first AuditSink. Appends each event as one line of JSON (ToJson, then
// '\n') to a file, e.g. `<data-dir>/audit/events.jsonl`; docs/formats/audit-event.md is the
// byte-exact format. veild creates one per replica; the hash-chained trail comes later.
//
// Each line goes to the file with a single write(2) on an O_APPEND descriptor, so lines never
// interleave, not even with another process appending to the same file. The file is created
// with mode 0600 (an existing file with wider permissions is narrowed to 0600); its directory
// must exist. By default every Emit() reaches the kernel before it returns (nothing is buffered
// in the process) but is not fsynced; FsyncPolicy::kEveryEvent also fdatasyncs each line.
// Reopen() supports log rotation: rename the file, then call Reopen() to start a new one.
//
// The sink writes what it is given: keeping secrets out of events is the emitter's duty
// (see event.h).
//
// Thread-safety: Emit() and Reopen() may be called from any thread concurrently.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "audit/sink.h"
#include "common/result.h"

namespace veil::audit {

enum class FsyncPolicy {
  kNone,        // write(2) each line; the page cache holds it (survives a crash of veild)
  kEveryEvent,  // write(2) and fdatasync(2) each line (survives a power loss)
};

struct JsonLinesFileSinkOptions {
  FsyncPolicy fsync = FsyncPolicy::kNone;
};

class JsonLinesFileSink final : public AuditSink {
 public:
  // Opens `path` for appending, creating it with mode 0600 when missing.
  // Errors: kNotFound when the directory does not exist; kPermissionDenied when the file cannot
  // be opened or narrowed to 0600 for lack of rights; kFailedPrecondition when `path` is not a
  // regular file (a directory, a FIFO, a symlink); kUnavailable for other I/O errors.
  [[nodiscard]] static Result<std::unique_ptr<JsonLinesFileSink>> Open(
      const std::string& path, JsonLinesFileSinkOptions options = {});
  ~JsonLinesFileSink() override;
  JsonLinesFileSink(const JsonLinesFileSink&) = delete;
  JsonLinesFileSink& operator=(const JsonLinesFileSink&) = delete;

  // Appends ToJson(event) and '\n' (written by AppendJson). Errors: kResourceExhausted when the
  // disk is full (ENOSPC, EDQUOT); kUnavailable for other write or sync errors. After a failed or
  // short write the next line starts with '\n', so that a torn line never swallows the next event.
  [[nodiscard]] Status Emit(const Event& event) override;

  // Closes the file and opens `path` again (after a rotation). On error the old descriptor is
  // kept and the error returned (same codes as Open).
  [[nodiscard]] Status Reopen();

  const std::string& path() const { return path_; }

 private:
  JsonLinesFileSink(std::string path, JsonLinesFileSinkOptions options, int fd);

  const std::string path_;
  const JsonLinesFileSinkOptions options_;
  std::mutex mu_;
  int fd_;             // guarded by mu_
  bool torn_ = false;  // guarded by mu_: the last line may be incomplete
};

}  // namespace veil::audit
