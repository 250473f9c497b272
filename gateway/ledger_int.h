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

/* Transmissions (what left the network): every EGRESS row, plus REQUEST rows with
 * egress = 1 whose request has no EGRESS row; `final_status` is the completion
 * row's status or "in_flight". Used as a view and by `sluice audit egress`. */
extern const char sl__ledger_egress_sql[];

/* The pending-rows journal (ledger_journal.c): PATH-pending, one framed record
 * per row, written before an append returns when durability is "journal". */
typedef struct sl_ljournal sl_ljournal_t;
typedef int (*sl_ljournal_record_cb)(void *ud, uint64_t seq, const void *payload, size_t len);
/* Opens and locks the journal of the database at db_path; SL_EBUSY when another
 * process holds it. */
int sl__ljournal_open(const char *db_path, sl_ljournal_t **out);
void sl__ljournal_close(sl_ljournal_t *j);
/* Records gathered for one write: a frame is SL_LJ_HEAD bytes, the payload,
 * SL_LJ_TAIL bytes. sl__ljournal_seal() frames a payload already placed at
 * frame + SL_LJ_HEAD (checksumming it, outside any lock); sl__ljournal_write()
 * numbers the sealed frames lying back to back in buf from seq on, finishes their
 * checksums and writes them with one write(2); *start is the logical offset of
 * the first (offsets keep growing across truncate and compact). */
#define SL_LJ_HEAD 16
#define SL_LJ_TAIL 8
void sl__ljournal_seal(unsigned char *frame, size_t payload_len);
int sl__ljournal_write(sl_ljournal_t *j, uint64_t seq, unsigned char *buf, size_t len,
                       uint64_t *start);
int sl__ljournal_truncate(sl_ljournal_t *j);
/* Bytes in the file now. */
uint64_t sl__ljournal_bytes(const sl_ljournal_t *j);
/* Drops the records before logical offset `cut` (all committed): the rest is
 * copied to a new file that replaces the journal. Appenders must be held off. */
int sl__ljournal_compact(sl_ljournal_t *j, uint64_t cut);
/* Calls cb for every intact record in order (stops at the first non-zero
 * return, which it returns). Damaged bytes between intact records are skipped
 * (*damaged: how many; the records they held show as missing sequence numbers).
 * After the last intact record: *torn bytes of an append cut short (a prefix
 * of a record: nobody was told it was recorded), or *damaged_tail bytes that
 * are not one (a whole record that fails its checksum, garbage): damage. */
int sl__ljournal_replay(sl_ljournal_t *j, sl_ljournal_record_cb cb, void *ud, size_t *torn,
                        size_t *damaged, size_t *damaged_tail);

/* Process-wide SQLite settings, once, before the first connection. */
void sl__ledger_sqlite_setup(void);

/* Opens an existing ledger read-only. SL_ENOTFOUND if the file does not exist,
 * SL_EIO if it is not a ledger. */
int sl__ledger_open_ro(const char *path, sqlite3 **out);

#endif
