/* Fuzz target: the ledger's pending-rows journal as the next start finds it
 * (any bytes: a ring of records, an earlier version's file, damage, garbage).
 * Committing it either fails with an error or leaves a ledger whose chain
 * verifies; never a crash or a leak. Each input gets a fresh directory. */
#include "gateway/ledger.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void rm(const char *dir, const char *name) {
  char p[600];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  unlink(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *base = getenv("TMPDIR");
  char dir[512], path[600], jpath[700];
  snprintf(dir, sizeof dir, "%s/sl_fuzz_journal_XXXXXX", base && *base ? base : "/tmp");
  if (!mkdtemp(dir)) return 0;
  snprintf(path, sizeof path, "%s/ledger.db", dir);
  snprintf(jpath, sizeof jpath, "%s-pending", path);
  int fd = open(jpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd >= 0) {
    if (write(fd, data, size) != (ssize_t)size) { /* an empty journal then */ }
    close(fd);
    uint64_t rows = 0;
    if (sl_ledger_commit_pending(path, &rows) == 0 && !access(path, F_OK)) {
      sl_ledger_verify_t v;
      if (sl_ledger_verify(path, 0, NULL, &v) != 0) __builtin_trap(); /* a broken chain */
    }
  }
  static const char *const files[] = {"ledger.db", "ledger.db-wal", "ledger.db-shm",
                                      "ledger.db-pending", "ledger.db-pending.tmp"};
  for (size_t i = 0; i < sizeof files / sizeof *files; i++) rm(dir, files[i]);
  rmdir(dir);
  return 0;
}
