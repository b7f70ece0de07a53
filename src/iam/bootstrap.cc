#include "iam/bootstrap.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <span>

#include "common/log.h"

namespace veil::iam {
namespace {

Status WriteAll(int fd, std::span<const uint8_t> data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Unavailable(std::string("write: ") + std::strerror(errno));
    }
    data = data.subspan(static_cast<size_t>(n));
  }
  return OkStatus();
}

// Writes the key and a newline to a new file `path` (O_EXCL, mode 0600) and fsyncs it.
Status WriteKeyFile(const std::string& path, const SecretBytes& value) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return Unavailable("cannot create " + path + ": " + std::strerror(errno));
  Status st = WriteAll(fd, value.Reveal());
  const uint8_t newline = '\n';
  if (st) st = WriteAll(fd, std::span<const uint8_t>(&newline, 1));
  if (st && ::fsync(fd) != 0) st = Unavailable("fsync " + path + ": " + std::strerror(errno));
  ::close(fd);
  if (!st) ::unlink(path.c_str());
  return st;
}

void SyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

// Moves the finished temporary file into place, never replacing an existing key file.
Status Publish(const std::string& tmp, const std::string& path, const std::string& dir) {
  if (::link(tmp.c_str(), path.c_str()) != 0 && errno != EEXIST) {
    return Unavailable("cannot create " + path + ": " + std::strerror(errno));
  }
  ::unlink(tmp.c_str());
  SyncDir(dir);
  return OkStatus();
}

}  // namespace

Result<FirstStart> EnsureFirstAccount(IamService& service, const std::string& data_dir) {
  const std::string path = data_dir + "/admin-apikey";
  const std::string tmp = path + ".tmp";
  FirstStart out;
  out.apikey_path = path;

  if (auto done = VEIL_TRY_VALUE(service.FirstAccountId())) {
    // Finish a first start that crashed between its commit and the link.
    struct stat st {};
    if (::lstat(tmp.c_str(), &st) == 0) VEIL_TRY(Publish(tmp, path, data_dir));
    out.account_id = *done;
    return out;
  }

  // Written once: a key file without a first account is from another database, and must not
  // be mistaken for this one's.
  struct stat existing {};
  if (::lstat(path.c_str(), &existing) == 0) {
    return FailedPrecondition(path +
                              " exists but the database has no first account: move it away "
                              "or use the data directory it belongs to");
  }
  auto created = VEIL_TRY_VALUE(service.CreateFirstAccount([&](const SecretBytes& key) {
    // A leftover temporary file is from a start that never committed (or from a retried
    // transaction): its key is not the one being stored.
    ::unlink(tmp.c_str());
    return WriteKeyFile(tmp, key);
  }));
  if (!created) {
    // Another replica won the race; its key file is its own business.
    ::unlink(tmp.c_str());
    out.account_id = VEIL_TRY_VALUE(service.FirstAccountId()).value_or("");
    return out;
  }
  VEIL_TRY(Publish(tmp, path, data_dir));
  out.created = true;
  out.account_id = created->account_id;
  out.admin_iam_id = created->admin_iam_id;
  log::Info("iam", "created the first account " + created->account_id + " and admin user " +
                       created->admin_iam_id + "; admin API key written to " + path);
  return out;
}

}  // namespace veil::iam
