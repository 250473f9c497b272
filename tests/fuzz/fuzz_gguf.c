/* libFuzzer entry point for the GGUF reader: parse any bytes, then walk every
 * accessor over what was accepted, so a reader bug shows up as an ASan/UBSan
 * report, not only a parse crash; the first row of every tensor of a type the
 * engine loads is decoded too (sl_model_dtype). The corpus (tests/fuzz/corpus/fuzz_gguf) holds
 * valid small files and truncated / hostile variants; CTest replays it. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "backends/local/gguf.h"
#include "backends/local/model.h"
#include "kernels/kernels.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char err[256];
  sl_gguf_t *g = sl_gguf_open_mem(data, size, err, sizeof err);
  if (!g) return 0;
  volatile uint64_t sink = 0;
  for (size_t i = 0; i < sl_gguf_n_kv(g); i++) {
    const char *key = sl_gguf_key(g, (int64_t)i);
    uint32_t u32;
    int32_t i32;
    uint64_t u64;
    int64_t i64;
    float f;
    bool b;
    const char *s;
    size_t n;
    if (!sl_gguf_get_u32(g, key, &u32)) sink += u32;
    if (!sl_gguf_get_i32(g, key, &i32)) sink += (uint64_t)i32;
    if (!sl_gguf_get_u64(g, key, &u64)) sink += u64;
    if (!sl_gguf_get_i64(g, key, &i64)) sink += (uint64_t)i64;
    if (!sl_gguf_get_f32(g, key, &f)) sink += (uint64_t)(f == f);
    if (!sl_gguf_get_bool(g, key, &b)) sink += b;
    if (!sl_gguf_get_str(g, key, &s, &n) && n) sink += (uint8_t)s[n - 1];
    size_t len = sl_gguf_arr_len(g, (int64_t)i);
    for (size_t j = 0; j < len && j < 4096; j++) {
      if ((s = sl_gguf_arr_str(g, (int64_t)i, j, &n)) && n) sink += (uint8_t)s[n - 1];
      if (!sl_gguf_arr_i32(g, (int64_t)i, j, &i32)) sink += (uint64_t)i32;
      if (!sl_gguf_arr_f32(g, (int64_t)i, j, &f)) sink += (uint64_t)(f == f);
    }
    sl_gguf_arr_i32(g, (int64_t)i, len, &i32); /* one past the end: refused */
  }
  for (size_t i = 0; i < sl_gguf_n_tensors(g); i++) {
    const sl_gguf_tensor_t *t = sl_gguf_tensor(g, i);
    /* The whole extent must be readable. */
    if (t->nbytes) sink += ((const uint8_t *)t->data)[0] + ((const uint8_t *)t->data)[t->nbytes - 1];
    if (sl_gguf_find_tensor(g, t->name) != t) __builtin_trap();
    /* Decode the first row (at most 1024 elements) of every type the engine
     * loads: the block decoders must stay inside what the reader accepted. */
    sl_kern_dtype_t dt;
    if (sl_model_dtype(t->type, &dt)) continue;
    static float row[1024];
    size_t n = t->ne[0], bs = sl_kern_block(dt);
    if (n > 1024) n = 1024 / bs * bs;
    if (sl_kern_row_bytes(dt, n) > t->nbytes) __builtin_trap();
    sl_kern_to_f32(dt, t->data, row, n);
    for (size_t j = 0; j < n; j++) sink += (uint64_t)(row[j] == row[j]);
  }
  (void)sink;
  sl_gguf_close(g);
  return 0;
}
