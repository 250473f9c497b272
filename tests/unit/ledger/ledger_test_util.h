/* Shared by the ledger tests: temporary files, a typical row, running SQL on
 * the ledger file behind the writer's back, and capturing a CLI's stdout. */
#ifndef LEDGER_TEST_UTIL_H
#define LEDGER_TEST_UTIL_H

#include "gateway/ledger.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A fresh path for a ledger file (in a new temporary directory). */
static inline void tmp_ledger(char *path, size_t cap) {
  const char *base = getenv("TMPDIR");
  char dir[512];
  snprintf(dir, sizeof dir, "%s/sl_ledger_XXXXXX", base && *base ? base : "/tmp");
  if (!mkdtemp(dir)) abort();
  snprintf(path, cap, "%s/ledger.db", dir);
}

static inline void rm_ledger(const char *path) {
  char p[700];
  snprintf(p, sizeof p, "%s-wal", path);
  unlink(p);
  snprintf(p, sizeof p, "%s-shm", path);
  unlink(p);
  snprintf(p, sizeof p, "%s-pending", path);
  unlink(p);
  unlink(path);
  snprintf(p, sizeof p, "%s", path);
  char *slash = strrchr(p, '/');
  if (slash) {
    *slash = '\0';
    rmdir(p);
  }
}

static inline sl_ledger_row_t sample_row(int i) {
  sl_ledger_row_t r;
  memset(&r, 0, sizeof r);
  static char rid[64];
  snprintf(rid, sizeof rid, "req-%06d", i);
  r.kind = SL_LEDGER_REQUEST;
  r.ts_ms = 1795000000000LL + (int64_t)i * 1000; /* 2026-11-17 */
  r.request_id = rid;
  r.tenant = i % 2 ? "team-b" : "team-a";
  r.key_id = i % 2 ? "key-b" : "key-a";
  r.rule = "default";
  r.policy_version = "5f1e0c0c4e0f8f0e6a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f6071";
  r.backend = "local";
  r.model = "qwen2-0.5b";
  r.location = "in-process";
  r.level = "confidential";
  r.entity_types = "{\"EMAIL_ADDRESS\":{\"count\":1,\"offsets\":[[10,27]]}}";
  r.redactions = "{}";
  r.classification = "{\"level\":\"confidential\",\"difficulty\":0.250000,\"label\":"
                     "\"easy\",\"entities\":1,\"error\":false}";
  r.difficulty = 0.25;
  r.tokens_in = 100 + i;
  r.tokens_out = 20;
  r.cost_usd = 0.000125;
  r.avoided_cost_usd = 0.0045;
  r.latency_ms = 42;
  r.http_status = 200;
  r.status = "ok";
  return r;
}

/* Runs SQL on the file with a connection of its own; returns the SQLite code. */
static inline int run_sql(const char *path, const char *sql) {
  sqlite3 *db;
  if (sqlite3_open(path, &db) != SQLITE_OK) return SQLITE_CANTOPEN;
  char *msg = NULL;
  int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
  if (rc != SQLITE_OK && getenv("LEDGER_TEST_VERBOSE")) fprintf(stderr, "sql: %s\n", msg);
  sqlite3_free(msg);
  sqlite3_close(db);
  return rc;
}

/* Runs fn(argc, argv) with stdout captured into a malloc'ed string. */
static inline int capture(int (*fn)(int, char **), int argc, char **argv, char **out) {
  char tmpl[] = "/tmp/sl_ledger_out_XXXXXX";
  int fd = mkstemp(tmpl);
  if (fd < 0) abort();
  fflush(stdout);
  int saved = dup(1);
  dup2(fd, 1);
  int rc = fn(argc, argv);
  fflush(stdout);
  dup2(saved, 1);
  close(saved);
  off_t n = lseek(fd, 0, SEEK_END);
  lseek(fd, 0, SEEK_SET);
  char *buf = malloc((size_t)n + 1);
  ssize_t got = read(fd, buf, (size_t)n);
  buf[got > 0 ? got : 0] = '\0';
  close(fd);
  unlink(tmpl);
  *out = buf;
  return rc;
}

#endif
