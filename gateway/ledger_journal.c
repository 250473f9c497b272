/* The ledger's pending-rows journal: PATH-pending beside the database. With
 * ledger.durability "journal", a row is appended here (framed records, O_APPEND,
 * one write(2) for all the rows of a loop turn) before its callback runs, so it
 * survives a crash of the process from that moment, and the request need not
 * wait for the SQLite commit. The writer thread commits rows on its own schedule, records the
 * last journal sequence number it committed in ledger_meta (in the same
 * transaction), and empties the file once everything in it is committed — or,
 * under load that never lets it empty, rewrites it without the committed head
 * once it passes a size. At the next open, records newer than that number are
 * committed first.
 *
 * Record: "SLJ3" | u32 payload length | u64 sequence | payload | u64 checksum
 * of payload then sequence (little-endian), so that an appender checksums the
 * payload before it knows its sequence number. The checksum takes 8 bytes per
 * multiply (word_sum); records of the earlier formats, whose FNV-1a took one
 * byte per multiply ("SLJ2": payload then sequence; "SLJ1": sequence then
 * payload), are still read. A torn record at the end (the
 * process died inside write) fails its length or checksum and is ignored: its
 * append never returned, so nobody was told it was recorded.
 *
 * One process per journal: an exclusive flock; a second process falls back to
 * waiting for commits. Power-loss safety is not claimed (no fsync on the loop);
 * that is what durability "commit" with sync FULL is for. */
#include "ledger_int.h"

#include "sl_err.h"
#include "sl_log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAGIC "SLJ3"
#define MAGIC2 "SLJ2" /* byte-wise FNV-1a of payload, then sequence */
#define MAGIC1 "SLJ1" /* byte-wise FNV-1a of sequence, then payload */
#define HEAD SL_LJ_HEAD /* magic, length, sequence */
#define TAIL SL_LJ_TAIL /* checksum */
#define MAX_RECORD (1u << 20)

struct sl_ljournal {
  int fd;
  char *path;
  /* Logical offsets grow forever; the file holds [base, base + size). Records
   * are only ever cut from the front, by truncate or compact. */
  uint64_t base, size;
};

static uint64_t fnv(uint64_t h, const unsigned char *p, size_t n) {
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ULL;
  return h;
}

static void put_u32(unsigned char *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static void put_u64(unsigned char *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static uint32_t get_u32(const unsigned char *p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}
static uint64_t get_u64(const unsigned char *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}

#define FNV_BASIS 1469598103934665603ULL

/* The SLJ3 checksum: FNV-1a's constants over 8-byte little-endian words, the
 * high half folded down after each multiply (a multiply alone carries a change
 * only towards the high bits), then the tail bytes and the length as one more
 * word. It guards against torn and damaged records, not against an attacker
 * (the hash chain in SQLite does that). */
static uint64_t word_mix(uint64_t h, uint64_t w) {
  h = (h ^ w) * 1099511628211ULL;
  return h ^ (h >> 29);
}

static uint64_t word_sum(const unsigned char *p, size_t n) {
  uint64_t h = FNV_BASIS;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) h = word_mix(h, get_u64(p + i));
  uint64_t tail = 0;
  for (size_t k = 0; i + k < n; k++) tail |= (uint64_t)p[i + k] << (8 * k);
  return word_mix(word_mix(h, tail), n);
}

static uint64_t checksum1(const unsigned char *seq8, const void *payload, size_t n) {
  return fnv(fnv(FNV_BASIS, seq8, 8), payload, n);
}

int sl__ljournal_open(const char *db_path, sl_ljournal_t **out) {
  *out = NULL;
  sl_ljournal_t *j = calloc(1, sizeof *j);
  if (!j) return SL_ENOMEM;
  size_t n = strlen(db_path) + sizeof "-pending";
  if (!(j->path = malloc(n))) {
    free(j);
    return SL_ENOMEM;
  }
  snprintf(j->path, n, "%s-pending", db_path);
  j->fd = open(j->path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (j->fd < 0) {
    SL_ERROR("ledger: cannot open %s: %s", j->path, strerror(errno));
    free(j->path);
    free(j);
    return SL_EIO;
  }
  if (flock(j->fd, LOCK_EX | LOCK_NB)) {
    int busy = errno == EWOULDBLOCK;
    if (!busy) SL_ERROR("ledger: cannot lock %s: %s", j->path, strerror(errno));
    close(j->fd);
    free(j->path);
    free(j);
    return busy ? SL_EBUSY : SL_EIO;
  }
  struct stat st;
  j->size = fstat(j->fd, &st) ? 0 : (uint64_t)st.st_size;
  *out = j;
  return 0;
}

void sl__ljournal_close(sl_ljournal_t *j) {
  if (!j) return;
  close(j->fd); /* releases the lock */
  free(j->path);
  free(j);
}

void sl__ljournal_seal(unsigned char *frame, size_t len) {
  memcpy(frame, MAGIC, 4);
  put_u32(frame + 4, (uint32_t)len);
  put_u64(frame + 8, 0);
  put_u64(frame + HEAD + len, word_sum(frame + HEAD, len)); /* the sequence goes in later */
}

/* A short write leaves a torn record that replay ignores, but the next record
 * would land after it: cut it off. */
static int write_failed(sl_ljournal_t *j, ssize_t w) {
  if (w > 0) {
    struct stat st;
    if (!fstat(j->fd, &st) && ftruncate(j->fd, st.st_size - w)) { /* nothing more to do */ }
  }
  SL_ERROR("ledger: cannot write %s: %s", j->path, w < 0 ? strerror(errno) : "short write");
  return SL_EIO;
}

int sl__ljournal_write(sl_ljournal_t *j, uint64_t seq, unsigned char *buf, size_t len,
                       uint64_t *start) {
  for (size_t off = 0; off + HEAD + TAIL <= len; seq++) {
    unsigned char *p = buf + off, *tail = p + HEAD + get_u32(p + 4);
    put_u64(p + 8, seq);
    put_u64(tail, word_mix(get_u64(tail), seq));
    off = (size_t)(tail + TAIL - buf);
  }
  ssize_t w;
  do w = write(j->fd, buf, len); /* one write for all of them */
  while (w < 0 && errno == EINTR);
  if (w != (ssize_t)len) return write_failed(j, w);
  *start = j->base + j->size;
  j->size += len;
  return 0;
}

int sl__ljournal_truncate(sl_ljournal_t *j) {
  if (ftruncate(j->fd, 0)) return SL_EIO;
  j->base += j->size;
  j->size = 0;
  return 0;
}

uint64_t sl__ljournal_bytes(const sl_ljournal_t *j) { return j->size; }

int sl__ljournal_compact(sl_ljournal_t *j, uint64_t cut) {
  if (cut <= j->base) return 0;
  if (cut >= j->base + j->size) return sl__ljournal_truncate(j);
  size_t from = (size_t)(cut - j->base), n = (size_t)(j->size - from);
  unsigned char *tail = malloc(n);
  if (!tail) return SL_ENOMEM;
  size_t got = 0;
  while (got < n) {
    ssize_t r = pread(j->fd, tail + got, n - got, (off_t)(from + got));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += (size_t)r;
  }
  char tmp[4200];
  int rc = SL_EIO;
  int fd = -1;
  if (got == n && (size_t)snprintf(tmp, sizeof tmp, "%s.tmp", j->path) < sizeof tmp &&
      (fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600)) >= 0 &&
      !flock(fd, LOCK_EX | LOCK_NB) && write(fd, tail, n) == (ssize_t)n && !rename(tmp, j->path)) {
    close(j->fd); /* the old file's lock goes with it; the new file is locked */
    j->fd = fd;
    j->base = cut;
    j->size = n;
    rc = 0;
  } else {
    if (fd >= 0) {
      close(fd);
      unlink(tmp);
    }
    SL_WARN("ledger: cannot compact %s: %s", j->path, strerror(errno));
  }
  free(tail);
  return rc;
}

/* The size of the intact record at buf[off], or 0. */
static size_t record_at(const unsigned char *buf, size_t got, size_t off) {
  if (off + HEAD + TAIL > got) return 0;
  const unsigned char *p = buf + off;
  uint32_t len = get_u32(p + 4);
  int v = !memcmp(p, MAGIC, 4) ? 3 : !memcmp(p, MAGIC2, 4) ? 2 : !memcmp(p, MAGIC1, 4) ? 1 : 0;
  if (!v || len > MAX_RECORD || off + HEAD + len + TAIL > got) return 0;
  uint64_t sum = v == 3   ? word_mix(word_sum(p + HEAD, len), get_u64(p + 8))
                 : v == 2 ? fnv(fnv(FNV_BASIS, p + HEAD, len), p + 8, 8)
                          : checksum1(p + 8, p + HEAD, len);
  return get_u64(p + HEAD + len) == sum ? HEAD + len + TAIL : 0;
}

/* Whether the n bytes at p can be the start of a record whose write was cut
 * short: a magic (or the start of one), and a length that runs past the end. */
static bool torn_prefix(const unsigned char *p, size_t n) {
  static const char *const magics[] = {MAGIC, MAGIC2, MAGIC1};
  bool magic = false;
  for (size_t i = 0; i < 3; i++) magic |= !memcmp(p, magics[i], n < 4 ? n : 4);
  if (!magic || n < 8) return magic;
  uint32_t len = get_u32(p + 4);
  return len <= MAX_RECORD && (size_t)HEAD + len + TAIL > n;
}

int sl__ljournal_replay(sl_ljournal_t *j, sl_ljournal_record_cb cb, void *ud, size_t *torn,
                        size_t *damaged, size_t *damaged_tail) {
  *torn = *damaged = *damaged_tail = 0;
  struct stat st;
  if (fstat(j->fd, &st)) return SL_EIO;
  size_t size = (size_t)st.st_size;
  if (!size) return 0;
  unsigned char *buf = malloc(size);
  if (!buf) return SL_ENOMEM;
  size_t got = 0;
  while (got < size) {
    ssize_t r = pread(j->fd, buf + got, size - got, (off_t)got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += (size_t)r;
  }
  size_t off = 0;
  int rc = 0;
  while (!rc && off < got) {
    size_t n = record_at(buf, got, off);
    if (!n) {
      /* Damaged: the next intact record, if any, resumes the replay (a torn
       * append is only ever the last thing in the file). */
      size_t next = off + 1;
      while (next < got && !record_at(buf, got, next)) next++;
      if (next >= got) break;
      *damaged += next - off;
      off = next;
      continue;
    }
    const unsigned char *p = buf + off;
    rc = cb(ud, get_u64(p + 8), p + HEAD, n - HEAD - TAIL);
    off += n;
  }
  if (!rc && off < got) {
    if (torn_prefix(buf + off, got - off)) *torn = got - off;
    else *damaged_tail = got - off;
  }
  free(buf);
  return rc;
}
