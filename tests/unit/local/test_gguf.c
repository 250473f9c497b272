/* The GGUF reader on the shared model files and on files written here, including
 * every truncation of a small valid file and hand-made hostile headers: each must
 * be a clear error, never a crash. Also writes the fuzz seeds when asked
 * (SLUICE_WRITE_FUZZ_SEEDS=DIR), which is how tests/fuzz/corpus/fuzz_gguf was made. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backends/local/gguf.h"
#include "common/sl_err.h"
#include "tests/tools/gguf_writer.h"

static char *shared_path(const char *name) {
  static char p[512];
  const char *s = getenv("SLUICE_SHARED");
  snprintf(p, sizeof p, "%s/models/%s", s ? s : "../shared", name);
  return p;
}

static void test_shared_models(void **st) {
  char err[256];
  sl_gguf_t *g = sl_gguf_open(shared_path("stories260K.gguf"), err, sizeof err);
  if (!g) fail_msg("%s", err);
  assert_int_equal(sl_gguf_version(g), 3);
  assert_int_equal(sl_gguf_alignment(g), 32);
  assert_int_equal(sl_gguf_n_tensors(g), 48);
  assert_true(sl_gguf_str_eq(g, "general.architecture", "llama"));
  uint32_t u;
  assert_int_equal(sl_gguf_get_u32(g, "llama.embedding_length", &u), 0);
  assert_int_equal(u, 64);
  int32_t i;
  assert_int_equal(sl_gguf_get_i32(g, "llama.block_count", &i), 0);
  assert_int_equal(i, 5);
  /* u32 0xffffffff does not fit an i32 */
  assert_int_equal(sl_gguf_get_i32(g, "tokenizer.ggml.seperator_token_id", &i), SL_EINVAL);
  float f;
  assert_int_equal(sl_gguf_get_f32(g, "llama.attention.layer_norm_rms_epsilon", &f), 0);
  assert_true(f > 9e-6f && f < 1.1e-5f);
  assert_int_equal(sl_gguf_get_f32(g, "llama.block_count", &f), SL_EINVAL);
  assert_int_equal(sl_gguf_get_u32(g, "no.such.key", &u), SL_ENOTFOUND);
  int64_t kt = sl_gguf_find_key(g, "tokenizer.ggml.tokens");
  assert_true(kt >= 0);
  assert_int_equal(sl_gguf_kv_type(g, kt), SL_GGUF_ARRAY);
  assert_int_equal(sl_gguf_arr_type(g, kt), SL_GGUF_STRING);
  assert_int_equal(sl_gguf_arr_len(g, kt), 512);
  size_t n;
  const char *s = sl_gguf_arr_str(g, kt, 1, &n);
  assert_int_equal(n, 3);
  assert_memory_equal(s, "<s>", 3);
  assert_null(sl_gguf_arr_str(g, kt, 512, &n));
  int64_t ks = sl_gguf_find_key(g, "tokenizer.ggml.scores");
  assert_int_equal(sl_gguf_arr_f32(g, ks, 0, &f), 0);
  assert_int_equal(sl_gguf_arr_i32(g, ks, 0, &i), SL_EINVAL);
  int64_t ky = sl_gguf_find_key(g, "tokenizer.ggml.token_type");
  assert_int_equal(sl_gguf_arr_i32(g, ky, 1, &i), 0);
  assert_int_equal(i, 3); /* <s> is CONTROL */
  assert_non_null(sl_gguf_arr_data(g, ky));
  const sl_gguf_tensor_t *t = sl_gguf_find_tensor(g, "blk.0.ffn_down.weight");
  assert_non_null(t);
  assert_int_equal(t->type, SL_GGML_F32);
  assert_int_equal(t->ne[0], 172);
  assert_int_equal(t->ne[1], 64);
  assert_int_equal(t->nbytes, 172 * 64 * 4);
  assert_int_equal((uintptr_t)t->data % 32, 0);
  assert_null(sl_gguf_find_tensor(g, "nope"));
  sl_gguf_close(g);
  g = sl_gguf_open(shared_path("tiny-qwen2.gguf"), err, sizeof err);
  assert_non_null(g);
  t = sl_gguf_find_tensor(g, "token_embd.weight");
  assert_int_equal(t->type, SL_GGML_F16);
  bool b = true;
  assert_int_equal(sl_gguf_get_bool(g, "tokenizer.ggml.add_bos_token", &b), 0);
  assert_false(b);
  int64_t km = sl_gguf_find_key(g, "tokenizer.ggml.merges");
  assert_int_equal(sl_gguf_arr_len(g, km), 151387);
  sl_gguf_close(g);
}

/* A small valid file with every scalar type and arrays, written by our writer. */
static uint8_t *small_file(size_t *size) {
  gw_t *w = calloc(1, sizeof *w);
  gw_init(w);
  static const char *strs[] = {"a", "bc", ""};
  static const int32_t ints[] = {-1, 2, 3};
  static const float fl[] = {0.5f, -1.f};
  gw_str(w, "general.architecture", "llama");
  gw_u32(w, "u32", 7);
  gw_i32(w, "i32", -7);
  gw_u64(w, "u64", 1ull << 40);
  gw_f32(w, "f32", 1.5f);
  gw_bool(w, "bool", true);
  gw_kv(w, "u8", SL_GGUF_U8)->u = 200;
  gw_kv(w, "i16", SL_GGUF_I16)->u = (uint16_t)-300;
  gw_kv(w, "f64", SL_GGUF_F64)->f = 2.25;
  gw_kv(w, "i64", SL_GGUF_I64)->u = (uint64_t)-5;
  gw_arr(w, "strs", SL_GGUF_STRING, strs, 3);
  gw_arr(w, "ints", SL_GGUF_I32, ints, 3);
  gw_arr(w, "fl", SL_GGUF_F32, fl, 2);
  gw_tensor(w, "a", SL_GGML_F32, 4, 2);
  gw_tensor(w, "b", SL_GGML_Q8_0, 32, 1);
  gw_tensor(w, "c", SL_GGML_F16, 3, 0);
  char path[256];
  snprintf(path, sizeof path, "/tmp/sl_test_gguf_%d.gguf", (int)getpid());
  assert_int_equal(gw_begin(w, path), 0);
  float a[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  uint8_t q[34] = {0};
  uint16_t h[3] = {0x3c00, 0x4000, 0x4200};
  gw_data(w, a);
  gw_data(w, q);
  gw_data(w, h);
  assert_int_equal(gw_end(w), 0);
  free(w);
  FILE *f = fopen(path, "rb");
  fseek(f, 0, SEEK_END);
  *size = (size_t)ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *buf = malloc(*size);
  assert_int_equal(fread(buf, 1, *size, f), *size);
  fclose(f);
  unlink(path);
  return buf;
}

static void test_small_file(void **st) {
  size_t size;
  uint8_t *buf = small_file(&size);
  char err[256];
  sl_gguf_t *g = sl_gguf_open_mem(buf, size, err, sizeof err);
  if (!g) fail_msg("%s", err);
  uint32_t u;
  int32_t i;
  uint64_t u64;
  int64_t i64;
  float f;
  bool b;
  assert_int_equal(sl_gguf_get_u32(g, "u32", &u), 0), assert_int_equal(u, 7);
  assert_int_equal(sl_gguf_get_i32(g, "i32", &i), 0), assert_int_equal(i, -7);
  assert_int_equal(sl_gguf_get_u32(g, "i32", &u), SL_EINVAL);
  assert_int_equal(sl_gguf_get_u64(g, "u64", &u64), 0), assert_true(u64 == 1ull << 40);
  assert_int_equal(sl_gguf_get_u32(g, "u64", &u), SL_EINVAL);
  assert_int_equal(sl_gguf_get_u32(g, "u8", &u), 0), assert_int_equal(u, 200);
  assert_int_equal(sl_gguf_get_i32(g, "i16", &i), 0), assert_int_equal(i, -300);
  assert_int_equal(sl_gguf_get_i64(g, "i64", &i64), 0), assert_true(i64 == -5);
  assert_int_equal(sl_gguf_get_f32(g, "f32", &f), 0), assert_true(f == 1.5f);
  assert_int_equal(sl_gguf_get_f32(g, "f64", &f), 0), assert_true(f == 2.25f);
  assert_int_equal(sl_gguf_get_bool(g, "bool", &b), 0), assert_true(b);
  assert_int_equal(sl_gguf_get_bool(g, "u8", &b), SL_EINVAL);
  int64_t k = sl_gguf_find_key(g, "strs");
  size_t n;
  assert_memory_equal(sl_gguf_arr_str(g, k, 1, &n), "bc", 2);
  assert_int_equal(n, 2);
  assert_non_null(sl_gguf_arr_str(g, k, 2, &n));
  assert_int_equal(n, 0);
  k = sl_gguf_find_key(g, "ints");
  assert_int_equal(sl_gguf_arr_i32(g, k, 0, &i), 0), assert_int_equal(i, -1);
  assert_int_equal(sl_gguf_arr_i32(g, k, 3, &i), SL_EINVAL);
  k = sl_gguf_find_key(g, "fl");
  assert_int_equal(sl_gguf_arr_f32(g, k, 1, &f), 0), assert_true(f == -1.f);
  assert_int_equal(sl_gguf_n_tensors(g), 3);
  const sl_gguf_tensor_t *t = sl_gguf_find_tensor(g, "a");
  assert_int_equal(t->n_elems, 8);
  assert_true(((const float *)t->data)[7] == 8.f);
  assert_int_equal(sl_gguf_find_tensor(g, "b")->nbytes, 34);
  assert_int_equal(sl_gguf_find_tensor(g, "c")->nbytes, 6);
  sl_gguf_close(g);
  /* Every prefix that loses data is refused with a message (and no crash); only
   * the padding after the last tensor (6 bytes of "c", padded to 32) may go. */
  for (size_t cut = 0; cut < size; cut++) {
    err[0] = 0;
    g = sl_gguf_open_mem(buf, cut, err, sizeof err);
    if (cut >= size - 26) {
      assert_non_null(g);
      sl_gguf_close(g);
      continue;
    }
    if (g) fail_msg("prefix of %zu bytes accepted", cut);
    assert_true(strlen(err) > 0);
  }
  /* Every single-byte corruption either parses or fails cleanly. */
  uint8_t *m = malloc(size);
  for (size_t p = 0; p < size; p++)
    for (int v = 0; v < 3; v++) {
      memcpy(m, buf, size);
      m[p] = v == 0 ? 0xff : v == 1 ? 0x00 : (uint8_t)(m[p] ^ 0x80);
      g = sl_gguf_open_mem(m, size, err, sizeof err);
      sl_gguf_close(g);
    }
  free(m);
  free(buf);
}

/* Hand-made hostile headers. */
typedef struct {
  uint8_t b[256];
  size_t n;
} img_t;
static void put(img_t *m, const void *p, size_t n) { memcpy(m->b + m->n, p, n), m->n += n; }
static void put32(img_t *m, uint32_t v) { put(m, &v, 4); }
static void put64(img_t *m, uint64_t v) { put(m, &v, 8); }
static void putstr(img_t *m, const char *s) { put64(m, strlen(s)), put(m, s, strlen(s)); }
static void header(img_t *m, uint32_t ver, uint64_t nt, uint64_t nkv) {
  m->n = 0;
  put32(m, 0x46554747u), put32(m, ver), put64(m, nt), put64(m, nkv);
}

static const char *expect_fail(img_t *m, const char *needle) {
  static char err[256];
  err[0] = 0;
  sl_gguf_t *g = sl_gguf_open_mem(m->b, m->n, err, sizeof err);
  if (g) fail_msg("accepted (wanted '%s')", needle);
  if (!strstr(err, needle)) fail_msg("error '%s' does not mention '%s'", err, needle);
  return err;
}

static void test_hostile(void **st) {
  img_t m;
  header(&m, 3, 0, 0);
  m.b[0] = 'X';
  expect_fail(&m, "bad magic");
  header(&m, 1, 0, 0);
  expect_fail(&m, "unsupported version 1");
  header(&m, 3, 0, 1ull << 60);
  expect_fail(&m, "metadata count");
  header(&m, 3, 1ull << 40, 0);
  expect_fail(&m, "tensor count");
  /* a key whose length runs past the end */
  header(&m, 3, 0, 1);
  put64(&m, 1ull << 62);
  put(&m, "abcdefghijklmnop", 16);
  expect_fail(&m, "exceeds");
  /* unknown value type */
  header(&m, 3, 0, 1);
  putstr(&m, "k"), put32(&m, 99), put64(&m, 0);
  expect_fail(&m, "unknown value type 99");
  /* array with a count beyond the file */
  header(&m, 3, 0, 1);
  putstr(&m, "k"), put32(&m, SL_GGUF_ARRAY), put32(&m, SL_GGUF_U64), put64(&m, 1ull << 61);
  expect_fail(&m, "exceeds the file");
  /* nested arrays are refused */
  header(&m, 3, 0, 1);
  putstr(&m, "k"), put32(&m, SL_GGUF_ARRAY), put32(&m, SL_GGUF_ARRAY), put64(&m, 0);
  expect_fail(&m, "unsupported array element type");
  /* duplicate keys */
  header(&m, 3, 0, 2);
  putstr(&m, "k"), put32(&m, SL_GGUF_U8), put(&m, "x", 1);
  putstr(&m, "k"), put32(&m, SL_GGUF_U8), put(&m, "x", 1);
  put(&m, "................................................", 40);
  expect_fail(&m, "duplicate metadata key 'k'");
  /* bad alignment value */
  header(&m, 3, 0, 1);
  putstr(&m, "general.alignment"), put32(&m, SL_GGUF_U32), put32(&m, 24);
  put(&m, "................................................", 40);
  expect_fail(&m, "alignment");
  /* tensor: too many dims, zero dim, overflowing dims, bad type, unaligned offset,
   * data past the end */
  struct {
    uint32_t nd;
    uint64_t ne[4];
    uint32_t type;
    uint64_t off;
    const char *msg;
  } bad[] = {
      {5, {1, 1, 1, 1}, 0, 0, "dims"},
      {2, {0, 4}, 0, 0, "bad dim 0"},
      {2, {1ull << 40, 1ull << 40}, 0, 0, "bad dim 1"},
      {1, {4}, 77, 0, "unsupported type 77"},
      {1, {33}, SL_GGML_Q8_0, 0, "not a multiple"},
      {1, {48}, SL_GGML_Q4_0, 0, "row of 48 is not a multiple of the Q4_0 block 32"},
      {2, {128, 2}, SL_GGML_Q4_K, 0, "row of 128 is not a multiple of the Q4_K block 256"},
      {1, {256}, SL_GGML_Q4_K, 0, "past the end"}, /* 144 bytes needed, 32 present */
      {1, {64}, SL_GGML_Q4_0, 0, "past the end"},  /* 36 bytes needed, 32 present */
      {1, {4}, 0, 3, "not aligned"},
      {1, {1024}, 0, 0, "past the end"},
      {1, {4}, 0, 1ull << 63, "past the end"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    header(&m, 3, 1, 0);
    putstr(&m, "t");
    put32(&m, bad[i].nd);
    for (uint32_t d = 0; d < (bad[i].nd > 4 ? 1 : bad[i].nd); d++) put64(&m, bad[i].ne[d]);
    if (bad[i].nd <= 4) put32(&m, bad[i].type), put64(&m, bad[i].off);
    while (m.n % 32) m.b[m.n++] = 0;
    put(&m, "0123456789abcdef0123456789abcdef", 32);
    expect_fail(&m, bad[i].msg);
  }
  /* duplicate tensor names */
  header(&m, 3, 2, 0);
  for (int i = 0; i < 2; i++) putstr(&m, "t"), put32(&m, 1), put64(&m, 4), put32(&m, 0), put64(&m, 0);
  while (m.n % 32) m.b[m.n++] = 0;
  put(&m, "0123456789abcdef", 16);
  expect_fail(&m, "duplicate tensor 't'");
  /* v2 is accepted, an empty file too (no tensors) */
  header(&m, 2, 0, 0);
  char err[128];
  sl_gguf_t *g = sl_gguf_open_mem(m.b, m.n, err, sizeof err);
  assert_non_null(g);
  sl_gguf_close(g);
  assert_null(sl_gguf_open_mem(NULL, 0, err, sizeof err));
  assert_null(sl_gguf_open("/nonexistent/x.gguf", err, sizeof err));
  assert_non_null(strstr(err, "cannot open"));
  /* Optional: write the fuzz seeds. */
  const char *dir = getenv("SLUICE_WRITE_FUZZ_SEEDS");
  if (dir) {
    size_t size;
    uint8_t *buf = small_file(&size);
    char p[512];
    size_t cuts[] = {size, size - 1, size / 2, 40, 23, 4, 0};
    for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
      snprintf(p, sizeof p, "%s/small_cut_%zu.gguf", dir, cuts[i]);
      FILE *f = fopen(p, "wb");
      fwrite(buf, 1, cuts[i], f);
      fclose(f);
    }
    free(buf);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_shared_models),
      cmocka_unit_test(test_small_file),
      cmocka_unit_test(test_hostile),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
