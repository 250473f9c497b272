/* Internals shared by the ledger's own files (writer, verifier, audit CLI): the
 * column list in hash order, the canonical row encoding and the schema SQL. */
#ifndef SL_LEDGER_INT_H
#define SL_LEDGER_INT_H

#include "ledger.h"
#include "sl_buf.h"

#include <openssl/evp.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

/* Every hashed column, in the fixed order of the canonical encoding
 * (docs/ledger.md). T: TEXT, I: INTEGER, R6/R9: REAL canonicalised with 6 / 9
 * decimals. The table stores these, then prev_hash and hash. */
#define SL_LEDGER_COLUMNS(X)                                                           \
  X(id, I) X(ts, T) X(kind, T) X(request_id, T) X(tenant, T) X(key_id, T) X(rule, T)   \
  X(policy_version, T) X(backend, T) X(model, T) X(location, T) X(egress, I)          \
  X(destination, T) X(bytes_out, I) X(sha256_out, T) X(level, T) X(entity_types, T)   \
  X(redactions, T) X(classification, T) X(difficulty, R6) X(tokens_in, I)             \
  X(tokens_out, I) X(cost_usd, R9) X(avoided_cost_usd, R9) X(latency_ms, I)           \
  X(http_status, I) X(status, T)

enum {
#define SL_LEDGER_COL_ENUM(name, type) SL_LCOL_##name,
  SL_LEDGER_COLUMNS(SL_LEDGER_COL_ENUM)
#undef SL_LEDGER_COL_ENUM
  SL_LCOL__N
};

typedef enum { SL_LTYPE_T, SL_LTYPE_I, SL_LTYPE_R6, SL_LTYPE_R9 } sl_ltype_t;

extern const char *const sl__ledger_col_name[SL_LCOL__N];
extern const sl_ltype_t sl__ledger_col_type[SL_LCOL__N];

/* "id, ts, kind, ..., status" (no prev_hash/hash). */
extern const char sl__ledger_col_list[];

/* Canonical text of an INTEGER column: sl_itoa() (common/sl_str.h).
 * Canonical text of a REAL column: "%.6f" or "%.9f" (buf >= 48 bytes). If
 * `value` is not NULL it gets the double nearest to that text (what strtod
 * would read back). */
size_t sl__ledger_fmt_real(double v, sl_ltype_t t, char *buf, size_t cap, double *value);

/* Reusable state for hashing rows (one per thread): the canonical row buffer
 * and a digest context, so the per-row cost is the digest itself. */
typedef struct {
  sl_buf_t buf;
  EVP_MD_CTX *ctx;
  EVP_MD *md; /* fetched once: EVP_sha256() is looked up, under locks, on every init */
} sl_ledger_hasher_t;

int sl__ledger_hasher_init(sl_ledger_hasher_t *h);
void sl__ledger_hasher_free(sl_ledger_hasher_t *h);

/* hash = lowercase hex sha256(prev_hash (64 hex chars) || canonical row), where
 * the canonical row is, for each column in order: name "=" byte-length ":" value
 * "\n". `val`/`len` are the SL_LCOL__N column values as text. Returns 0 or
 * SL_ENOMEM/SL_ETOOBIG/SL_EINTERNAL. */
int sl__ledger_hash(sl_ledger_hasher_t *h, const char prev_hash[65], const char *const *val,
                    const size_t *len, char out[65]);

/* Schema (idempotent): table `requests` (STRICT), indexes, append-only triggers,
 * `ledger_meta`, views. */
int sl__ledger_schema(sqlite3 *db);
/* Whether db's tables and triggers differ from what sl__ledger_schema makes
 * (a foreign trigger, a column's collation changed): 1 with the object in
 * why, 0 when they match, SL_EIO when they cannot be read. */
int sl__ledger_schema_altered(sqlite3 *db, char *why, size_t n);
/* Whether db can be read as a sluice ledger of this version: ledger_meta says
 * schema 1 and the v1 hash rule, and sl__ledger_schema_altered finds nothing.
 * 0, or non-zero with the reason in why (what verify reports as BROKEN, and
 * the reports refuse). */
int sl__ledger_shape(sqlite3 *db, char *why, size_t n);
/* PRAGMA integrity_check: 0 when the indexes match the rows, SL_EPARSE (why
 * says so) when not, SL_EIO when the check could not run (why: SQLite's). */
int sl__ledger_integrity(sqlite3 *db, char *why, size_t n);
/* 0 when db is empty or a sluice ledger; SL_EINVAL (logged, naming path) when it
 * holds tables of something else, which the ledger must not write into. */
int sl__ledger_check_ours(sqlite3 *db, const char *path);

/* Transmissions (what left the network): every EGRESS row whose bytes left
 * (sl__ledger_egress_sent), plus REQUEST rows with egress = 1 whose request has
 * no EGRESS row; `final_status` is the completion row's status or "in_flight".
 * Used as a view and by `sluice audit egress`. */
extern const char sl__ledger_egress_sql[];
/* The SQL condition that the EGRESS row `e` is of bytes that left (a connect
 * that failed sent none). */
extern const char sl__ledger_egress_sent[];

/* The pending-rows journal (ledger_journal.c): PATH-pending, a ring of framed
 * records mapped into the process, written before an append returns when
 * durability is "journal". */
typedef struct sl_ljournal sl_ljournal_t;
/* A replayed record: payload NULL when its frame is whole but its checksum
 * fails (damage: the row it held cannot be given back). */
typedef int (*sl_ljournal_record_cb)(void *ud, uint64_t seq, const void *payload, size_t len);
/* The journal's path: the database's real path and "-pending" (malloc'd; NULL
 * when out of memory). */
char *sl__ljournal_path(const char *db_path);
/* Opens and locks the journal of the database at db_path; SL_EBUSY when another
 * process holds it. Appends need sl__ljournal_reset() first (after a replay). */
int sl__ljournal_open(const char *db_path, sl_ljournal_t **out);
/* Unmaps and unlocks; empties the file when every record in it is released. */
void sl__ljournal_close(sl_ljournal_t *j);
/* Closes a journal that was never used, removing the file if this open made it
 * (a ledger that failed to open leaves nothing beside its database). */
void sl__ljournal_discard(sl_ljournal_t *j);
/* A frame is SL_LJ_HEAD bytes, the payload, SL_LJ_TAIL bytes, zeros to a
 * multiple of 8: SL_LJ_FRAME(payload length) bytes. sl__ljournal_seal() frames
 * a payload already placed at frame + SL_LJ_HEAD (checksumming it, outside any
 * lock). */
#define SL_LJ_HEAD 16
#define SL_LJ_TAIL 8
#define SL_LJ_FRAME(len) (((size_t)SL_LJ_HEAD + (len) + SL_LJ_TAIL + 7) & ~(size_t)7)
void sl__ljournal_seal(unsigned char *frame, size_t payload_len);
/* Empties the journal and maps it as a ring of `cap` bytes (rounded up to a
 * page). Nothing else may use it meanwhile. */
int sl__ljournal_reset(sl_ljournal_t *j, size_t cap);
/* Numbers the sealed frames lying back to back in buf from seq on, finishes
 * their checksums and copies them into the ring, calling placed(ud, end) with
 * each one's logical end offset, in order. All or none: SL_EBUSY when the ring
 * has no room for them beside the records not released yet. One appender at a
 * time. */
typedef void (*sl_ljournal_placed_cb)(void *ud, uint64_t end);
int sl__ljournal_write(sl_ljournal_t *j, uint64_t seq, unsigned char *buf, size_t len,
                       sl_ljournal_placed_cb placed, void *ud);
/* Bytes of the ring free now (an estimate while others append). */
size_t sl__ljournal_room(const sl_ljournal_t *j);
/* Whether the journal file is no longer at its path (deleted, renamed,
 * replaced): rows appended to it would not survive a crash. Two stat calls. */
bool sl__ljournal_gone(const sl_ljournal_t *j);
/* The records before logical offset `upto` are committed: their space may be
 * reused (the writer; safe beside an appender). */
void sl__ljournal_release(sl_ljournal_t *j, uint64_t upto);
/* What a replay found besides the records. */
typedef struct {
  size_t torn;       /* bytes of an earlier version's append cut short at the end
                        of the file (nobody was told it was recorded) */
  uint64_t appended; /* the ring header's last sequence number written (0: none) */
  bool cut;          /* the ring file is not the size its header says */
  bool unknown;      /* bytes that are neither zeros, nor a ring, nor records */
  size_t bytes;      /* the file's size, as read */
} sl_ljournal_found_t;
/* Calls cb for every record in the file, intact or whole-but-damaged, once per
 * sequence number, in sequence order (stops at the first non-zero return,
 * which it returns). */
int sl__ljournal_replay(sl_ljournal_t *j, sl_ljournal_record_cb cb, void *ud,
                        sl_ljournal_found_t *found);

/* Process-wide SQLite settings, once, before the first connection. */
void sl__ledger_sqlite_setup(void);

/* Opens an existing ledger read-only. SL_ENOTFOUND if the file does not exist,
 * SL_EBUSY if another process holds it locked (after waiting 5 s), SL_EPARSE
 * if it is damaged, SL_EIO if it is not a ledger. */
int sl__ledger_open_ro(const char *path, sqlite3 **out);
/* What an error of sl__ledger_open_ro means, for a message: SL_ENOTFOUND no
 * file, SL_EBUSY locked by another process, SL_EPARSE damaged, else not a
 * sluice ledger. */
const char *sl__ledger_open_error(int rc);

#endif
