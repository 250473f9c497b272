/* The ledger's pending-rows journal: PATH-pending beside the database. With
 * ledger.durability "journal", a row is copied here before its callback runs,
 * so it survives a crash of the process from that moment, and the request need
 * not wait for the SQLite commit. The writer thread commits rows on its own
 * schedule and records the last journal sequence number it committed in
 * ledger_meta (in the same transaction). At the next open, records newer than
 * that number are committed first.
 *
 * The file is a ring of fixed size mapped shared into the process: an append
 * is a copy into the mapping, no system call (the kernel's page cache holds the
 * bytes, so they outlive a killed process). Records are placed one after the
 * other, 8-byte aligned, and start again at the front when one would not fit
 * before the end; the space of committed records is reused. An append never
 * overwrites a record that is not committed: when the ring is full it is
 * refused (SL_EBUSY), like a full queue.
 *
 * Record: "SLJ3" | u32 payload length | u64 sequence | payload | u64 checksum
 * of payload then sequence (little-endian), so that an appender checksums the
 * payload before it knows its sequence number. The checksum takes 8 bytes per
 * multiply (word_sum); records of the earlier formats, whose FNV-1a took one
 * byte per multiply ("SLJ2": payload then sequence; "SLJ1": sequence then
 * payload), are still read.
 *
 * Crash order: an append first zeroes the record's first 8 bytes (magic and
 * length), then copies the rest, then writes those 8 bytes with one store. A
 * process killed at any point leaves either the whole record or no magic at
 * that place: never a torn record. A replay scans the whole file, takes every
 * intact record in sequence order and skips the ones already committed (the
 * ring still holds them, and pieces of them where newer records overwrote
 * part). A record whose frame is whole but whose checksum fails is damage
 * (the disk's, or a hand's), and is reported to the replay as such. Journals
 * written by earlier versions (records back to back, appended with write(2))
 * replay the same way; their torn last record (a write cut short) runs past
 * the end of the file and is ignored: its append never returned.
 *
 * One process per journal: an exclusive flock; a second process falls back to
 * waiting for commits. Power-loss safety is not claimed (nothing is synced on
 * the loop); that is what durability "commit" with sync FULL is for. */
#include "ledger_int.h"

#include "sl_err.h"
#include "sl_log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAGIC "SLJ3"
#define MAGIC2 "SLJ2" /* byte-wise FNV-1a of payload, then sequence */
#define MAGIC1 "SLJ1" /* byte-wise FNV-1a of sequence, then payload */
#define HEAD SL_LJ_HEAD /* magic, length, sequence */
#define TAIL SL_LJ_TAIL /* checksum */
#define MAX_RECORD (1u << 20)
#define MAX_FILE ((size_t)256 << 20) /* more than any journal sluice writes */
/* The header page of a ring journal: RING_MAGIC, the file's size, and the
 * sequence number of the last record written (stored after the record), so a
 * replay knows how many records there should be after the last committed one. */
#define HDR_PAGE 4096
#define RING_MAGIC "SLJRING1"

struct sl_ljournal {
  int fd;
  char *path;
  unsigned char *map; /* the file, once sl__ljournal_reset() mapped it */
  size_t cap;         /* its size: the header page, then the ring */
  size_t ring;        /* cap - HDR_PAGE */
  /* Logical offsets grow forever; a record at logical offset o sits at
   * o % cap. [tail, head) holds the records not committed yet. */
  uint64_t head; /* appenders store it (under the ledger's jmu); atomics */
  uint64_t tail; /* the writer stores it, appenders load it; atomics */
  bool created;  /* this open made the file */
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

char *sl__ljournal_path(const char *db_path) {
  /* The database's real path: one journal (and one lock) per database,
   * whatever symlink leads to it. */
  char *real = realpath(db_path, NULL);
  const char *db = real ? real : db_path;
  size_t n = strlen(db) + sizeof "-pending";
  char *path = malloc(n);
  if (path) snprintf(path, n, "%s-pending", db);
  free(real);
  return path;
}

int sl__ljournal_open(const char *db_path, sl_ljournal_t **out) {
  *out = NULL;
  sl_ljournal_t *j = calloc(1, sizeof *j);
  if (!j) return SL_ENOMEM;
  if (!(j->path = sl__ljournal_path(db_path))) {
    free(j);
    return SL_ENOMEM;
  }
  /* never through a symlink, never anything but a regular file: the journal
   * is truncated and written, so a link planted at its name would have that
   * done to another file (an auditor's run commits a journal it finds) */
  j->fd = open(j->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  j->created = j->fd >= 0;
  if (j->fd < 0 && errno == EEXIST) j->fd = open(j->path, O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  struct stat fst;
  if (j->fd >= 0 && (fstat(j->fd, &fst) || !S_ISREG(fst.st_mode))) {
    close(j->fd);
    j->fd = -1;
    errno = EINVAL;
    SL_ERROR("ledger: %s is not a regular file; not using it as the journal", j->path);
  } else if (j->fd >= 0) {
    fcntl(j->fd, F_SETFL, fcntl(j->fd, F_GETFL) & ~O_NONBLOCK);
  }
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
  *out = j;
  return 0;
}

void sl__ljournal_discard(sl_ljournal_t *j) {
  if (!j) return;
  if (j->created && !j->map) unlink(j->path); /* (still empty: nothing was reserved or written) */
  sl__ljournal_close(j);
}

void sl__ljournal_close(sl_ljournal_t *j) {
  if (!j) return;
  if (j->map) {
    munmap(j->map, j->cap);
    /* everything committed: nothing for the next open to read */
    uint64_t head = __atomic_load_n(&j->head, __ATOMIC_ACQUIRE);
    uint64_t tail = __atomic_load_n(&j->tail, __ATOMIC_ACQUIRE);
    if (head != tail && sl__ljournal_gone(j))
      SL_ERROR("ledger: %llu bytes of rows not committed were in %s, which was deleted or replaced "
               "while sluice ran: they are lost (a gap the chain cannot show)", (unsigned long long)(head - tail),
               j->path);
    else if (head != tail)
      SL_WARN("ledger: rows not committed stay in %s (%llu bytes of records); the next start "
              "or `sluice audit` commits them", j->path, (unsigned long long)(head - tail));
    else if (ftruncate(j->fd, 0))
      SL_WARN("ledger: cannot empty %s: %s", j->path, strerror(errno));
  }
  close(j->fd); /* releases the lock */
  free(j->path);
  free(j);
}

void sl__ljournal_seal(unsigned char *frame, size_t len) {
  memcpy(frame, MAGIC, 4);
  put_u32(frame + 4, (uint32_t)len);
  put_u64(frame + 8, 0);
  put_u64(frame + HEAD + len, word_sum(frame + HEAD, len)); /* the sequence goes in later */
  memset(frame + HEAD + len + TAIL, 0, SL_LJ_FRAME(len) - (HEAD + len + TAIL));
}

int sl__ljournal_reset(sl_ljournal_t *j, size_t cap) {
  if (j->map) munmap(j->map, j->cap);
  j->map = NULL;
  cap = (cap + 4095) & ~(size_t)4095;
  /* Every block reserved now: a write into the mapping must never need one
   * the disk no longer has (that would be SIGBUS, not an error to handle),
   * and filling a page then costs no allocation. */
  int err = ftruncate(j->fd, 0) ? errno : posix_fallocate(j->fd, 0, (off_t)cap);
  if (err) {
    SL_ERROR("ledger: cannot reserve %zu bytes for %s: %s", cap, j->path, strerror(err));
    return SL_EIO;
  }
  void *m = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_SHARED, j->fd, 0);
  if (m == MAP_FAILED) {
    SL_ERROR("ledger: cannot map %s: %s", j->path, strerror(errno));
    return SL_EIO;
  }
#ifdef MADV_POPULATE_WRITE
  /* the pages made writable now, not one fault at a time on the loops */
  if (madvise(m, cap, MADV_POPULATE_WRITE)) { /* older kernel: faults later */ }
#endif
  memcpy(m, RING_MAGIC, 8);
  put_u64((unsigned char *)m + 8, cap);
  j->map = m;
  j->cap = cap;
  j->ring = cap - HDR_PAGE;
  __atomic_store_n(&j->head, 0, __ATOMIC_RELEASE);
  __atomic_store_n(&j->tail, 0, __ATOMIC_RELEASE);
  return 0;
}

/* Where the frame of `size` bytes written at logical offset h starts: h, or
 * the front of the ring if it would not fit before the end. */
static uint64_t place(const sl_ljournal_t *j, uint64_t h, size_t size) {
  size_t at = (size_t)(h % j->ring);
  return at + size > j->ring ? h + (j->ring - at) : h;
}

int sl__ljournal_write(sl_ljournal_t *j, uint64_t seq, unsigned char *buf, size_t len,
                       sl_ljournal_placed_cb placed, void *ud) {
  if (!j->map) return SL_EIO;
  /* Room for all of them, or none is written: the rows are refused together. */
  uint64_t h = j->head;
  for (size_t off = 0; off + HEAD + TAIL <= len;) {
    size_t size = SL_LJ_FRAME(get_u32(buf + off + 4));
    h = place(j, h, size) + size;
    off += size;
  }
  if (h - __atomic_load_n(&j->tail, __ATOMIC_ACQUIRE) > j->ring) return SL_EBUSY;
  h = j->head;
  for (size_t off = 0; off + HEAD + TAIL <= len; seq++) {
    unsigned char *p = buf + off, *tail = p + HEAD + get_u32(p + 4);
    size_t size = SL_LJ_FRAME(get_u32(p + 4));
    put_u64(p + 8, seq);
    put_u64(tail, word_mix(get_u64(tail), seq));
    h = place(j, h, size);
    unsigned char *dst = j->map + HDR_PAGE + h % j->ring;
    uint64_t first;
    memcpy(&first, p, 8);
    /* no magic at dst while the rest lands, then magic and length at once */
    __atomic_store_n((uint64_t *)(void *)dst, 0, __ATOMIC_RELAXED);
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    memcpy(dst + 8, p + 8, size - 8);
    __atomic_store_n((uint64_t *)(void *)dst, first, __ATOMIC_RELEASE);
    h += size;
    if (placed) placed(ud, h);
    off += size;
  }
  __atomic_store_n(&j->head, h, __ATOMIC_RELEASE);
  uint64_t last; /* the records are in: the header may count them */
  put_u64((unsigned char *)&last, seq - 1);
  __atomic_store_n((uint64_t *)(void *)(j->map + 16), last, __ATOMIC_RELEASE);
  return 0;
}

bool sl__ljournal_gone(const sl_ljournal_t *j) {
  struct stat fs, ps;
  if (fstat(j->fd, &fs)) return true;
  if (fs.st_nlink == 0) return true;
  if (stat(j->path, &ps)) return errno == ENOENT; /* (a directory made unreadable: not known gone) */
  return ps.st_dev != fs.st_dev || ps.st_ino != fs.st_ino;
}

size_t sl__ljournal_room(const sl_ljournal_t *j) {
  if (!j->map) return 0;
  uint64_t used = __atomic_load_n(&j->head, __ATOMIC_ACQUIRE) -
                  __atomic_load_n(&j->tail, __ATOMIC_ACQUIRE);
  return used < j->ring ? j->ring - (size_t)used : 0;
}

void sl__ljournal_release(sl_ljournal_t *j, uint64_t upto) {
  if (upto > __atomic_load_n(&j->tail, __ATOMIC_RELAXED))
    __atomic_store_n(&j->tail, upto, __ATOMIC_RELEASE);
}

/* The size of the intact record at buf[off], or 0. */
/* The record format a frame header at p (HEAD bytes) names: 3, 2 or 1, or 0
 * when its magic is none of ours or its length is past any record's. */
static int header_version(const unsigned char *p) {
  int v = !memcmp(p, MAGIC, 4) ? 3 : !memcmp(p, MAGIC2, 4) ? 2 : !memcmp(p, MAGIC1, 4) ? 1 : 0;
  return get_u32(p + 4) <= MAX_RECORD ? v : 0;
}

static size_t record_at(const unsigned char *buf, size_t got, size_t off) {
  if (off + HEAD + TAIL > got) return 0;
  const unsigned char *p = buf + off;
  uint32_t len = get_u32(p + 4);
  int v = header_version(p);
  if (!v || off + HEAD + len + TAIL > got) return 0;
  uint64_t sum = v == 3   ? word_mix(word_sum(p + HEAD, len), get_u64(p + 8))
                 : v == 2 ? fnv(fnv(FNV_BASIS, p + HEAD, len), p + 8, 8)
                          : checksum1(p + 8, p + HEAD, len);
  return get_u64(p + HEAD + len) == sum ? HEAD + len + TAIL : 0;
}

typedef struct {
  uint64_t seq;
  size_t off, len; /* payload */
  bool intact;
} found_t;

static int by_seq(const void *a, const void *b) {
  const found_t *x = a, *y = b;
  if (x->seq != y->seq) return x->seq < y->seq ? -1 : 1;
  return (int)y->intact - (int)x->intact; /* an intact copy first */
}

int sl__ljournal_replay(sl_ljournal_t *j, sl_ljournal_record_cb cb, void *ud,
                        sl_ljournal_found_t *found) {
  *found = (sl_ljournal_found_t){0};
  size_t *torn = &found->torn;
  struct stat st;
  if (fstat(j->fd, &st)) return SL_EIO;
  size_t size = (size_t)st.st_size;
  if (!size) return 0;
  if ((uint64_t)st.st_size > MAX_FILE) {
    SL_ERROR("ledger: %s is %lld bytes, more than any journal sluice writes; not reading it "
             "(move it aside to start)", j->path, (long long)st.st_size);
    return SL_EIO;
  }
  unsigned char *buf = malloc(size);
  if (!buf) return SL_ENOMEM;
  size_t got = 0;
  while (got < size) {
    ssize_t r = pread(j->fd, buf + got, size - got, (off_t)got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += (size_t)r;
  }
  size_t start = 0;
  found->bytes = got;
  if (got >= HDR_PAGE && !memcmp(buf, RING_MAGIC, 8)) {
    found->appended = get_u64(buf + 16);
    found->cut = get_u64(buf + 8) != got;
    start = HDR_PAGE;
  }
  found_t *v = NULL;
  size_t n = 0, cap = 0;
  int rc = 0;
  for (size_t off = start; off < got;) {
    const unsigned char *s = memchr(buf + off, 'S', got - off);
    if (!s) break;
    off = (size_t)(s - buf);
    size_t whole = record_at(buf, got, off);
    bool header = whole || (got - off >= HEAD + TAIL && header_version(buf + off));
    if (!header) {
      off++;
      continue;
    }
    size_t len = get_u32(buf + off + 4);
    if (!whole && off + HEAD + len + TAIL > got) {
      /* runs past the end of the file: an earlier version's append cut short
       * (it never returned), or a damaged length; in a ring (whose records
       * never run past its end) the header's count says what is missing */
      if (!start) *torn = got - off;
      off++;
      continue;
    }
    if (n == cap) {
      size_t nc = cap ? cap * 2 : 256;
      found_t *nv = realloc(v, nc * sizeof *nv);
      if (!nv) {
        rc = SL_ENOMEM;
        break;
      }
      v = nv;
      cap = nc;
    }
    v[n++] = (found_t){get_u64(buf + off + 8), off + HEAD, len, whole != 0};
    /* past an intact record; a damaged one may hide a newer record inside it */
    off += whole ? whole : 1;
  }
  if (!rc && !start && !n && !*torn) /* no header, no record: zeros, or not ours */
    for (size_t i = 0; i < got && !found->unknown; i++) found->unknown = buf[i] != 0;
  if (!rc) {
    if (n) qsort(v, n, sizeof *v, by_seq);
    for (size_t i = 0; i < n && !rc; i++) {
      if (i && v[i].seq == v[i - 1].seq) continue; /* the first copy of a number */
      rc = v[i].intact ? cb(ud, v[i].seq, buf + v[i].off, v[i].len) : cb(ud, v[i].seq, NULL, 0);
    }
  }
  free(v);
  free(buf);
  return rc;
}
