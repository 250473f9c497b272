/* GGUF reader over mmap. The file is hostile until checked: a cursor with a hard
 * end reads every field, each count is bounded by the bytes left before anything is
 * allocated for it, and each tensor's extent is checked against the mapping. */
#include "sl_file.h"
#include "gguf.h"

#include "sl_err.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define GGUF_MAGIC 0x46554747u /* "GGUF" little-endian */
/* Keys and tensor names longer than this are not plausible; refusing them bounds
 * the copies we keep. */
#define GGUF_MAX_NAME 65535u

typedef struct {
  const char *p;
  uint64_t len;
} gstr_t;

typedef struct {
  char *key;
  uint32_t type;     /* sl_gguf_type_t */
  uint32_t arr_type; /* element type when type == ARRAY */
  uint64_t n;        /* array length */
  const uint8_t *val; /* start of the value (after the array header for arrays) */
  gstr_t *strs;      /* string arrays: one entry per element */
} gkv_t;

struct sl_gguf {
  const uint8_t *base;
  size_t size;
  bool mapped;
  uint32_t version;
  size_t alignment;
  uint64_t n_kv, n_tensors;
  gkv_t *kv;
  sl_gguf_tensor_t *tensors;
  size_t data_off;
};

typedef struct {
  const uint8_t *p, *end;
  char *err;
  size_t errlen;
} cur_t;

static int fail(char *err, size_t errlen, const char *fmt, ...) {
  if (err && errlen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
  }
  return SL_EPARSE;
}

static uint64_t left(const cur_t *c) { return (uint64_t)(c->end - c->p); }

static int rd(cur_t *c, void *out, size_t n, const char *what) {
  if (left(c) < n)
    return fail(c->err, c->errlen, "gguf: truncated while reading %s (need %zu bytes, %llu left)",
                what, n, (unsigned long long)left(c));
  memcpy(out, c->p, n);
  c->p += n;
  return 0;
}

static int rd_str(cur_t *c, gstr_t *s, const char *what) {
  uint64_t n = 0;
  int rc = rd(c, &n, 8, what);
  if (rc) return rc;
  if (n > left(c))
    return fail(c->err, c->errlen, "gguf: %s length %llu exceeds the %llu bytes left", what,
                (unsigned long long)n, (unsigned long long)left(c));
  s->p = (const char *)c->p;
  s->len = n;
  c->p += n;
  return 0;
}

static const size_t scalar_size[SL_GGUF_NTYPES] = {
    [SL_GGUF_U8] = 1,  [SL_GGUF_I8] = 1,  [SL_GGUF_U16] = 2, [SL_GGUF_I16] = 2,
    [SL_GGUF_U32] = 4, [SL_GGUF_I32] = 4, [SL_GGUF_F32] = 4, [SL_GGUF_BOOL] = 1,
    [SL_GGUF_U64] = 8, [SL_GGUF_I64] = 8, [SL_GGUF_F64] = 8,
};

static char *dup_name(cur_t *c, gstr_t s, const char *what) {
  if (s.len == 0 || s.len > GGUF_MAX_NAME) {
    fail(c->err, c->errlen, "gguf: %s has bad length %llu", what, (unsigned long long)s.len);
    return NULL;
  }
  if (memchr(s.p, 0, s.len)) {
    fail(c->err, c->errlen, "gguf: %s contains a NUL byte", what);
    return NULL;
  }
  char *d = malloc(s.len + 1);
  if (!d) {
    fail(c->err, c->errlen, "gguf: out of memory");
    return NULL;
  }
  memcpy(d, s.p, s.len);
  d[s.len] = 0;
  return d;
}

static int parse_kv(cur_t *c, gkv_t *kv) {
  gstr_t key;
  int rc = rd_str(c, &key, "metadata key");
  if (rc) return rc;
  if (!(kv->key = dup_name(c, key, "metadata key"))) return SL_EPARSE;
  uint32_t t = 0;
  if ((rc = rd(c, &t, 4, "metadata type"))) return rc;
  if (t >= SL_GGUF_NTYPES)
    return fail(c->err, c->errlen, "gguf: key '%s' has unknown value type %u", kv->key, t);
  kv->type = t;
  if (t == SL_GGUF_STRING) {
    gstr_t s;
    kv->val = c->p;
    return rd_str(c, &s, kv->key);
  }
  if (t != SL_GGUF_ARRAY) {
    kv->val = c->p;
    if (left(c) < scalar_size[t])
      return fail(c->err, c->errlen, "gguf: truncated value of key '%s'", kv->key);
    c->p += scalar_size[t];
    return 0;
  }
  uint32_t et = 0;
  uint64_t n = 0;
  if ((rc = rd(c, &et, 4, "array element type"))) return rc;
  if ((rc = rd(c, &n, 8, "array length"))) return rc;
  if (et >= SL_GGUF_NTYPES || et == SL_GGUF_ARRAY)
    return fail(c->err, c->errlen, "gguf: key '%s' has unsupported array element type %u",
                kv->key, et);
  kv->arr_type = et;
  kv->n = n;
  kv->val = c->p;
  if (et != SL_GGUF_STRING) {
    /* n * size must fit in what is left: divide instead of multiplying. */
    if (n > left(c) / scalar_size[et])
      return fail(c->err, c->errlen, "gguf: array '%s' of %llu elements exceeds the file",
                  kv->key, (unsigned long long)n);
    c->p += n * scalar_size[et];
    return 0;
  }
  /* Every string element needs at least its 8-byte length. */
  if (n > left(c) / 8)
    return fail(c->err, c->errlen, "gguf: string array '%s' of %llu elements exceeds the file",
                kv->key, (unsigned long long)n);
  kv->strs = malloc((n ? n : 1) * sizeof *kv->strs);
  if (!kv->strs) return fail(c->err, c->errlen, "gguf: out of memory for array '%s'", kv->key);
  for (uint64_t i = 0; i < n; i++)
    if ((rc = rd_str(c, &kv->strs[i], kv->key))) return rc;
  return 0;
}

const char *sl_ggml_type_name(uint32_t type) {
  switch (type) {
  case SL_GGML_F32: return "F32";
  case SL_GGML_F16: return "F16";
  case SL_GGML_Q4_0: return "Q4_0";
  case SL_GGML_Q4_1: return "Q4_1";
  case SL_GGML_Q5_0: return "Q5_0";
  case SL_GGML_Q5_1: return "Q5_1";
  case SL_GGML_Q8_0: return "Q8_0";
  case SL_GGML_Q8_1: return "Q8_1";
  case SL_GGML_Q2_K: return "Q2_K";
  case SL_GGML_Q3_K: return "Q3_K";
  case SL_GGML_Q4_K: return "Q4_K";
  case SL_GGML_Q5_K: return "Q5_K";
  case SL_GGML_Q6_K: return "Q6_K";
  case SL_GGML_Q8_K: return "Q8_K";
  case SL_GGML_I8: return "I8";
  case SL_GGML_I16: return "I16";
  case SL_GGML_I32: return "I32";
  case SL_GGML_I64: return "I64";
  case SL_GGML_F64: return "F64";
  case SL_GGML_BF16: return "BF16";
  /* ggml's importance-matrix types, which sluice does not read: named in errors */
  case 16: return "IQ2_XXS";
  case 17: return "IQ2_XS";
  case 18: return "IQ3_XXS";
  case 19: return "IQ1_S";
  case 20: return "IQ4_NL";
  case 21: return "IQ3_S";
  case 22: return "IQ2_S";
  case 23: return "IQ4_XS";
  case 29: return "IQ1_M";
  default: return "unknown";
  }
}

size_t sl_ggml_blck_size(uint32_t type) {
  switch (type) {
  case SL_GGML_F32: case SL_GGML_F16: case SL_GGML_BF16: case SL_GGML_I8: case SL_GGML_I16:
  case SL_GGML_I32: case SL_GGML_I64: case SL_GGML_F64:
    return 1;
  case SL_GGML_Q4_0: case SL_GGML_Q4_1: case SL_GGML_Q5_0: case SL_GGML_Q5_1:
  case SL_GGML_Q8_0: case SL_GGML_Q8_1:
    return 32;
  case SL_GGML_Q2_K: case SL_GGML_Q3_K: case SL_GGML_Q4_K: case SL_GGML_Q5_K:
  case SL_GGML_Q6_K: case SL_GGML_Q8_K:
    return 256;
  default: return 0;
  }
}

size_t sl_ggml_type_size(uint32_t type) {
  switch (type) {
  case SL_GGML_F32: return 4;
  case SL_GGML_F16: return 2;
  case SL_GGML_BF16: return 2;
  case SL_GGML_I8: return 1;
  case SL_GGML_I16: return 2;
  case SL_GGML_I32: return 4;
  case SL_GGML_I64: return 8;
  case SL_GGML_F64: return 8;
  case SL_GGML_Q4_0: return 18;
  case SL_GGML_Q4_1: return 20;
  case SL_GGML_Q5_0: return 22;
  case SL_GGML_Q5_1: return 24;
  case SL_GGML_Q8_0: return 34;
  case SL_GGML_Q8_1: return 36;
  case SL_GGML_Q2_K: return 84;
  case SL_GGML_Q3_K: return 110;
  case SL_GGML_Q4_K: return 144;
  case SL_GGML_Q5_K: return 176;
  case SL_GGML_Q6_K: return 210;
  case SL_GGML_Q8_K: return 292;
  default: return 0;
  }
}

static int parse_tensor(cur_t *c, sl_gguf_tensor_t *t) {
  gstr_t name;
  int rc = rd_str(c, &name, "tensor name");
  if (rc) return rc;
  char *nm = dup_name(c, name, "tensor name");
  if (!nm) return SL_EPARSE;
  t->name = nm;
  if ((rc = rd(c, &t->n_dims, 4, "tensor n_dims"))) return rc;
  if (t->n_dims < 1 || t->n_dims > SL_GGUF_MAX_DIMS)
    return fail(c->err, c->errlen, "gguf: tensor '%s' has %u dims (1..4 allowed)", nm, t->n_dims);
  for (int i = 0; i < SL_GGUF_MAX_DIMS; i++) t->ne[i] = 1;
  for (uint32_t i = 0; i < t->n_dims; i++)
    if ((rc = rd(c, &t->ne[i], 8, "tensor dim"))) return rc;
  if ((rc = rd(c, &t->type, 4, "tensor type"))) return rc;
  if ((rc = rd(c, &t->offset, 8, "tensor offset"))) return rc;
  size_t bs = sl_ggml_blck_size(t->type), ts = sl_ggml_type_size(t->type);
  if (!bs || !ts) { /* by name where ggml has one for it ("IQ2_XXS"), else by number */
    const char *tn = sl_ggml_type_name(t->type);
    if (strcmp(tn, "unknown"))
      return fail(c->err, c->errlen, "gguf: tensor '%s' has unsupported type %s", nm, tn);
    return fail(c->err, c->errlen, "gguf: tensor '%s' has unsupported type %u", nm, t->type);
  }
  /* Element count: each dim ≥ 1 and the product below 2^62 so byte sizes fit. */
  uint64_t n = 1;
  for (int i = 0; i < SL_GGUF_MAX_DIMS; i++) {
    if (t->ne[i] == 0 || t->ne[i] > ((uint64_t)1 << 62) / n)
      return fail(c->err, c->errlen, "gguf: tensor '%s' has bad dim %d = %llu", nm, i,
                  (unsigned long long)t->ne[i]);
    n *= t->ne[i];
  }
  if (t->ne[0] % bs)
    return fail(c->err, c->errlen, "gguf: tensor '%s' row of %llu is not a multiple of the %s block %zu",
                nm, (unsigned long long)t->ne[0], sl_ggml_type_name(t->type), bs);
  t->n_elems = n;
  uint64_t nb = n / bs * ts;
  if (nb > SIZE_MAX) return fail(c->err, c->errlen, "gguf: tensor '%s' too large", nm);
  t->nbytes = (size_t)nb;
  return 0;
}

static int cmp_str_ptr(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Duplicate names make lookups ambiguous; refuse them (sorted copy: O(n log n) even
 * for a hostile file with many entries). */
static int check_dups(char **names, size_t n, const char *what, char *err, size_t errlen) {
  if (n < 2) return 0;
  char **s = malloc(n * sizeof *s);
  if (!s) return fail(err, errlen, "gguf: out of memory");
  memcpy(s, names, n * sizeof *s);
  qsort(s, n, sizeof *s, cmp_str_ptr);
  int rc = 0;
  for (size_t i = 1; i < n; i++)
    if (!strcmp(s[i - 1], s[i])) {
      rc = fail(err, errlen, "gguf: duplicate %s '%s'", what, s[i]);
      break;
    }
  free(s);
  return rc;
}

static int parse(sl_gguf_t *g, char *err, size_t errlen) {
  cur_t c = {g->base, g->base + g->size, err, errlen};
  uint32_t magic = 0;
  int rc;
  if ((rc = rd(&c, &magic, 4, "magic"))) return rc;
  if (magic != GGUF_MAGIC) return fail(err, errlen, "gguf: bad magic 0x%08x (not a GGUF file)", magic);
  if ((rc = rd(&c, &g->version, 4, "version"))) return rc;
  if (g->version < 2 || g->version > 3)
    return fail(err, errlen, "gguf: unsupported version %u (2 and 3 are supported)", g->version);
  if ((rc = rd(&c, &g->n_tensors, 8, "tensor count"))) return rc;
  if ((rc = rd(&c, &g->n_kv, 8, "metadata count"))) return rc;
  /* A key needs at least 8 (length) + 1 + 4 (type) + 1 bytes; a tensor info
   * 8 + 1 + 4 + 8 + 4 + 8. Bounding counts by the bytes left keeps a hostile
   * header from making us allocate gigabytes. */
  if (g->n_kv > left(&c) / 14)
    return fail(err, errlen, "gguf: metadata count %llu exceeds the file", (unsigned long long)g->n_kv);
  if (g->n_tensors > left(&c) / 33)
    return fail(err, errlen, "gguf: tensor count %llu exceeds the file",
                (unsigned long long)g->n_tensors);
  g->kv = calloc(g->n_kv ? g->n_kv : 1, sizeof *g->kv);
  g->tensors = calloc(g->n_tensors ? g->n_tensors : 1, sizeof *g->tensors);
  if (!g->kv || !g->tensors) return fail(err, errlen, "gguf: out of memory");
  for (uint64_t i = 0; i < g->n_kv; i++)
    if ((rc = parse_kv(&c, &g->kv[i]))) return rc;
  g->alignment = SL_GGUF_DEFAULT_ALIGNMENT;
  int64_t ak = sl_gguf_find_key(g, "general.alignment");
  if (ak >= 0) {
    uint32_t a;
    if (sl_gguf_get_u32(g, "general.alignment", &a) || a == 0 || (a & (a - 1)) || a > (1u << 20))
      return fail(err, errlen, "gguf: general.alignment must be a power of two u32 up to 1 MiB");
    g->alignment = a;
  }
  for (uint64_t i = 0; i < g->n_tensors; i++)
    if ((rc = parse_tensor(&c, &g->tensors[i]))) return rc;
  {
    char **names = malloc((g->n_kv > g->n_tensors ? g->n_kv : g->n_tensors) * sizeof(char *) + 1);
    if (!names) return fail(err, errlen, "gguf: out of memory");
    for (uint64_t i = 0; i < g->n_kv; i++) names[i] = g->kv[i].key;
    rc = check_dups(names, g->n_kv, "metadata key", err, errlen);
    for (uint64_t i = 0; !rc && i < g->n_tensors; i++) names[i] = (char *)g->tensors[i].name;
    if (!rc) rc = check_dups(names, g->n_tensors, "tensor", err, errlen);
    free(names);
    if (rc) return rc;
  }
  size_t off = (size_t)(c.p - g->base);
  size_t pad = (g->alignment - off % g->alignment) % g->alignment;
  if (g->n_tensors && pad > g->size - off)
    return fail(err, errlen, "gguf: file ends before the tensor data section");
  g->data_off = off + pad;
  size_t data_size = g->size > g->data_off ? g->size - g->data_off : 0;
  for (uint64_t i = 0; i < g->n_tensors; i++) {
    sl_gguf_tensor_t *t = &g->tensors[i];
    if (t->offset % g->alignment)
      return fail(err, errlen, "gguf: tensor '%s' offset %llu is not aligned to %zu", t->name,
                  (unsigned long long)t->offset, g->alignment);
    if (t->offset > data_size || t->nbytes > data_size - t->offset)
      return fail(err, errlen,
                  "gguf: tensor '%s' (%llu bytes at offset %llu) extends past the end of the file "
                  "(data section is %zu bytes)",
                  t->name, (unsigned long long)t->nbytes, (unsigned long long)t->offset, data_size);
    t->data = g->base + g->data_off + t->offset;
  }
  return 0;
}

static sl_gguf_t *open_common(sl_gguf_t *g, char *err, size_t errlen) {
  if (err && errlen) err[0] = 0;
  if (parse(g, err, errlen)) {
    sl_gguf_close(g);
    return NULL;
  }
  return g;
}

sl_gguf_t *sl_gguf_open_mem(const void *data, size_t size, char *err, size_t errlen) {
  sl_gguf_t *g = calloc(1, sizeof *g);
  if (!g) {
    fail(err, errlen, "gguf: out of memory");
    return NULL;
  }
  g->base = data;
  g->size = data ? size : 0;
  return open_common(g, err, errlen);
}

sl_gguf_t *sl_gguf_open(const char *path, char *err, size_t errlen) {
  const char *why;
  int fd = sl_open_regular(path, &why);
  if (fd < 0) {
    fail(err, errlen, "gguf: cannot open '%s': %s", path, why);
    return NULL;
  }
  struct stat st; /* (a regular file: sl_open_regular saw to it) */
  if (fstat(fd, &st)) {
    fail(err, errlen, "gguf: cannot open '%s': %s", path, strerror(errno));
    close(fd);
    return NULL;
  }
  if (st.st_size < 24) {
    fail(err, errlen, "gguf: '%s' is too small (%lld bytes) to be a GGUF file", path,
         (long long)st.st_size);
    close(fd);
    return NULL;
  }
  void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  if (m == MAP_FAILED) {
    fail(err, errlen, "gguf: cannot map '%s': %s", path, strerror(errno));
    return NULL;
  }
  sl_gguf_t *g = calloc(1, sizeof *g);
  if (!g) {
    munmap(m, (size_t)st.st_size);
    fail(err, errlen, "gguf: out of memory");
    return NULL;
  }
  g->base = m;
  g->size = (size_t)st.st_size;
  g->mapped = true;
  return open_common(g, err, errlen);
}

void sl_gguf_close(sl_gguf_t *g) {
  if (!g) return;
  if (g->kv)
    for (uint64_t i = 0; i < g->n_kv; i++) {
      free(g->kv[i].key);
      free(g->kv[i].strs);
    }
  if (g->tensors)
    for (uint64_t i = 0; i < g->n_tensors; i++) free((char *)g->tensors[i].name);
  free(g->kv);
  free(g->tensors);
  if (g->mapped) munmap((void *)g->base, g->size);
  free(g);
}

uint32_t sl_gguf_version(const sl_gguf_t *g) { return g->version; }
size_t sl_gguf_alignment(const sl_gguf_t *g) { return g->alignment; }
const void *sl_gguf_base(const sl_gguf_t *g, size_t *size) {
  if (size) *size = g->size;
  return g->base;
}

size_t sl_gguf_n_kv(const sl_gguf_t *g) { return (size_t)g->n_kv; }

int64_t sl_gguf_find_key(const sl_gguf_t *g, const char *key) {
  for (uint64_t i = 0; i < g->n_kv; i++)
    if (g->kv[i].key && !strcmp(g->kv[i].key, key)) return (int64_t)i;
  return -1;
}

static const gkv_t *kv_at(const sl_gguf_t *g, int64_t kid) {
  return kid >= 0 && (uint64_t)kid < g->n_kv ? &g->kv[kid] : NULL;
}

const char *sl_gguf_key(const sl_gguf_t *g, int64_t kid) {
  const gkv_t *kv = kv_at(g, kid);
  return kv ? kv->key : NULL;
}

sl_gguf_type_t sl_gguf_kv_type(const sl_gguf_t *g, int64_t kid) {
  const gkv_t *kv = kv_at(g, kid);
  return kv ? (sl_gguf_type_t)kv->type : SL_GGUF_NTYPES;
}

/* Reads an integer of file type t at p as a signed/unsigned pair. */
static bool read_int(uint32_t t, const uint8_t *p, bool *neg, uint64_t *mag) {
  *neg = false;
  switch (t) {
  case SL_GGUF_U8: *mag = p[0]; return true;
  case SL_GGUF_I8: { int8_t v; memcpy(&v, p, 1); *neg = v < 0; *mag = v < 0 ? (uint64_t)(-(int64_t)v) : (uint64_t)v; return true; }
  case SL_GGUF_U16: { uint16_t v; memcpy(&v, p, 2); *mag = v; return true; }
  case SL_GGUF_I16: { int16_t v; memcpy(&v, p, 2); *neg = v < 0; *mag = v < 0 ? (uint64_t)(-(int64_t)v) : (uint64_t)v; return true; }
  case SL_GGUF_U32: { uint32_t v; memcpy(&v, p, 4); *mag = v; return true; }
  case SL_GGUF_I32: { int32_t v; memcpy(&v, p, 4); *neg = v < 0; *mag = v < 0 ? (uint64_t)(-(int64_t)v) : (uint64_t)v; return true; }
  case SL_GGUF_U64: { uint64_t v; memcpy(&v, p, 8); *mag = v; return true; }
  case SL_GGUF_I64: {
    int64_t v;
    memcpy(&v, p, 8);
    *neg = v < 0;
    *mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    return true;
  }
  default: return false;
  }
}

static int get_int(const sl_gguf_t *g, const char *key, bool *neg, uint64_t *mag) {
  int64_t kid = sl_gguf_find_key(g, key);
  if (kid < 0) return SL_ENOTFOUND;
  const gkv_t *kv = &g->kv[kid];
  return read_int(kv->type, kv->val, neg, mag) ? 0 : SL_EINVAL;
}

int sl_gguf_get_u32(const sl_gguf_t *g, const char *key, uint32_t *out) {
  bool neg;
  uint64_t m;
  int rc = get_int(g, key, &neg, &m);
  if (rc) return rc;
  if (neg || m > UINT32_MAX) return SL_EINVAL;
  *out = (uint32_t)m;
  return 0;
}

int sl_gguf_get_i32(const sl_gguf_t *g, const char *key, int32_t *out) {
  bool neg;
  uint64_t m;
  int rc = get_int(g, key, &neg, &m);
  if (rc) return rc;
  if (neg ? m > (uint64_t)INT32_MAX + 1 : m > INT32_MAX) return SL_EINVAL;
  *out = neg ? (int32_t)(-(int64_t)m) : (int32_t)m;
  return 0;
}

int sl_gguf_get_u64(const sl_gguf_t *g, const char *key, uint64_t *out) {
  bool neg;
  uint64_t m;
  int rc = get_int(g, key, &neg, &m);
  if (rc) return rc;
  if (neg) return SL_EINVAL;
  *out = m;
  return 0;
}

int sl_gguf_get_i64(const sl_gguf_t *g, const char *key, int64_t *out) {
  bool neg;
  uint64_t m;
  int rc = get_int(g, key, &neg, &m);
  if (rc) return rc;
  if (neg ? m > (uint64_t)INT64_MAX + 1 : m > INT64_MAX) return SL_EINVAL;
  *out = neg ? (int64_t)(0 - m) : (int64_t)m;
  return 0;
}

int sl_gguf_get_f32(const sl_gguf_t *g, const char *key, float *out) {
  int64_t kid = sl_gguf_find_key(g, key);
  if (kid < 0) return SL_ENOTFOUND;
  const gkv_t *kv = &g->kv[kid];
  if (kv->type == SL_GGUF_F32) {
    memcpy(out, kv->val, 4);
    return 0;
  }
  if (kv->type == SL_GGUF_F64) {
    double d;
    memcpy(&d, kv->val, 8);
    *out = (float)d;
    return 0;
  }
  return SL_EINVAL;
}

int sl_gguf_get_bool(const sl_gguf_t *g, const char *key, bool *out) {
  int64_t kid = sl_gguf_find_key(g, key);
  if (kid < 0) return SL_ENOTFOUND;
  const gkv_t *kv = &g->kv[kid];
  if (kv->type != SL_GGUF_BOOL) return SL_EINVAL;
  *out = kv->val[0] != 0;
  return 0;
}

int sl_gguf_get_str(const sl_gguf_t *g, const char *key, const char **s, size_t *len) {
  int64_t kid = sl_gguf_find_key(g, key);
  if (kid < 0) return SL_ENOTFOUND;
  const gkv_t *kv = &g->kv[kid];
  if (kv->type != SL_GGUF_STRING) return SL_EINVAL;
  uint64_t n;
  memcpy(&n, kv->val, 8);
  *s = (const char *)kv->val + 8;
  *len = (size_t)n;
  return 0;
}

bool sl_gguf_str_eq(const sl_gguf_t *g, const char *key, const char *want) {
  const char *s;
  size_t n;
  if (sl_gguf_get_str(g, key, &s, &n)) return false;
  return n == strlen(want) && !memcmp(s, want, n);
}

sl_gguf_type_t sl_gguf_arr_type(const sl_gguf_t *g, int64_t kid) {
  const gkv_t *kv = kv_at(g, kid);
  return kv && kv->type == SL_GGUF_ARRAY ? (sl_gguf_type_t)kv->arr_type : SL_GGUF_NTYPES;
}

size_t sl_gguf_arr_len(const sl_gguf_t *g, int64_t kid) {
  const gkv_t *kv = kv_at(g, kid);
  return kv && kv->type == SL_GGUF_ARRAY ? (size_t)kv->n : 0;
}

const char *sl_gguf_arr_str(const sl_gguf_t *g, int64_t kid, size_t i, size_t *len) {
  const gkv_t *kv = kv_at(g, kid);
  if (!kv || kv->type != SL_GGUF_ARRAY || kv->arr_type != SL_GGUF_STRING || i >= kv->n) return NULL;
  if (len) *len = (size_t)kv->strs[i].len;
  return kv->strs[i].p;
}

int sl_gguf_arr_i32(const sl_gguf_t *g, int64_t kid, size_t i, int32_t *out) {
  const gkv_t *kv = kv_at(g, kid);
  if (!kv || kv->type != SL_GGUF_ARRAY || i >= kv->n) return SL_EINVAL;
  uint32_t t = kv->arr_type;
  if (t == SL_GGUF_STRING || t == SL_GGUF_F32 || t == SL_GGUF_F64 || t == SL_GGUF_BOOL)
    return SL_EINVAL;
  bool neg;
  uint64_t m;
  if (!read_int(t, kv->val + i * scalar_size[t], &neg, &m)) return SL_EINVAL;
  if (neg ? m > (uint64_t)INT32_MAX + 1 : m > INT32_MAX) return SL_EINVAL;
  *out = neg ? (int32_t)(-(int64_t)m) : (int32_t)m;
  return 0;
}

int sl_gguf_arr_f32(const sl_gguf_t *g, int64_t kid, size_t i, float *out) {
  const gkv_t *kv = kv_at(g, kid);
  if (!kv || kv->type != SL_GGUF_ARRAY || i >= kv->n) return SL_EINVAL;
  if (kv->arr_type == SL_GGUF_F32) {
    memcpy(out, kv->val + i * 4, 4);
    return 0;
  }
  if (kv->arr_type == SL_GGUF_F64) {
    double d;
    memcpy(&d, kv->val + i * 8, 8);
    *out = (float)d;
    return 0;
  }
  return SL_EINVAL;
}

const void *sl_gguf_arr_data(const sl_gguf_t *g, int64_t kid) {
  const gkv_t *kv = kv_at(g, kid);
  if (!kv || kv->type != SL_GGUF_ARRAY || kv->arr_type == SL_GGUF_STRING) return NULL;
  return kv->val;
}

size_t sl_gguf_n_tensors(const sl_gguf_t *g) { return (size_t)g->n_tensors; }

const sl_gguf_tensor_t *sl_gguf_tensor(const sl_gguf_t *g, size_t i) {
  return i < g->n_tensors ? &g->tensors[i] : NULL;
}

const sl_gguf_tensor_t *sl_gguf_find_tensor(const sl_gguf_t *g, const char *name) {
  for (uint64_t i = 0; i < g->n_tensors; i++)
    if (!strcmp(g->tensors[i].name, name)) return &g->tensors[i];
  return NULL;
}
