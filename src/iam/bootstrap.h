// The first start: veild creates the first account, an admin user with every role on the
// account, and an API key for it written to <data-dir>/admin-apikey (mode 0600, written once).
//
// EnsureFirstAccount is idempotent: once the database records the first start (iam_meta
// "first_account"), later calls change nothing and write nothing, even when admin-apikey was
// deleted since. The key reaches the file before the database commits, through a temporary file
// (admin-apikey.tmp, O_EXCL, 0600, fsynced) that is hard-linked to admin-apikey after the commit
// (link(2) never replaces an existing file) and then removed; a crash in between is finished on
// the next start. The admin's policy grants Administrator (every platform action) and Manager
// (every service action but the explicit-only KeyPurge) on every resource of the account.
//
// Thread-safety: call once, from the composition root, before serving.
#pragma once

#include <string>

#include "common/result.h"
#include "iam/iam_service.h"

namespace veil::iam {

struct FirstStart {
  bool created = false;  // false: the first start happened before
  std::string account_id;
  std::string admin_iam_id;
  std::string apikey_path;
};

// Logs once, when it creates them: "created the first account <id> and admin user <iam_id>;
// admin API key written to <path>" (never the key).
[[nodiscard]] Result<FirstStart> EnsureFirstAccount(IamService& service,
                                                    const std::string& data_dir);

}  // namespace veil::iam
