/* GGUF reader: maps a llama.cpp-style model file (GGUF v2 or v3) read-only and
 * exposes its metadata and tensor table. Every count, length, offset and size in
 * the file is checked for range and overflow before it is used, so a truncated or
 * hostile file yields a clear error message, never a crash.
 *
 * Strings inside the file are NOT NUL-terminated: accessors return a pointer into
 * the mapping plus a length. Key and tensor names are the exception (the reader
 * keeps NUL-terminated copies, since they are looked up by C string).
 * Numeric array data may be unaligned in the file; use the element accessors or
 * memcpy from sl_gguf_arr_data(). */
#ifndef SL_GGUF_H
#define SL_GGUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sl_gguf sl_gguf_t;

/* Metadata value types, numbered as in the GGUF spec. */
typedef enum {
  SL_GGUF_U8 = 0,
  SL_GGUF_I8 = 1,
  SL_GGUF_U16 = 2,
  SL_GGUF_I16 = 3,
  SL_GGUF_U32 = 4,
  SL_GGUF_I32 = 5,
  SL_GGUF_F32 = 6,
  SL_GGUF_BOOL = 7,
  SL_GGUF_STRING = 8,
  SL_GGUF_ARRAY = 9,
  SL_GGUF_U64 = 10,
  SL_GGUF_I64 = 11,
  SL_GGUF_F64 = 12,
  SL_GGUF_NTYPES
} sl_gguf_type_t;

/* Tensor element types, numbered as ggml's enum ggml_type. Only types whose block
 * size is known are accepted by the reader; the model supports a subset. */
typedef enum {
  SL_GGML_F32 = 0,
  SL_GGML_F16 = 1,
  SL_GGML_Q4_0 = 2,
  SL_GGML_Q4_1 = 3,
  SL_GGML_Q5_0 = 6,
  SL_GGML_Q5_1 = 7,
  SL_GGML_Q8_0 = 8,
  SL_GGML_Q8_1 = 9,
  SL_GGML_Q2_K = 10,
  SL_GGML_Q3_K = 11,
  SL_GGML_Q4_K = 12,
  SL_GGML_Q5_K = 13,
  SL_GGML_Q6_K = 14,
  SL_GGML_Q8_K = 15,
  SL_GGML_I8 = 24,
  SL_GGML_I16 = 25,
  SL_GGML_I32 = 26,
  SL_GGML_I64 = 27,
  SL_GGML_F64 = 28,
  SL_GGML_BF16 = 30,
} sl_ggml_type_t;

#define SL_GGUF_MAX_DIMS 4
#define SL_GGUF_DEFAULT_ALIGNMENT 32

typedef struct {
  const char *name;            /* NUL-terminated copy owned by the reader */
  uint32_t type;               /* sl_ggml_type_t */
  uint32_t n_dims;             /* 1..4 */
  uint64_t ne[SL_GGUF_MAX_DIMS]; /* ne[0] is the contiguous (innermost) dimension;
                                    unused dims are 1 */
  uint64_t n_elems;
  uint64_t offset;             /* relative to the start of the data section */
  size_t nbytes;
  const void *data;            /* into the mapping, aligned to the file alignment */
} sl_gguf_tensor_t;

/* Maps and parses `path`. On failure returns NULL and writes a message naming the
 * problem (and the bad value) into err. */
sl_gguf_t *sl_gguf_open(const char *path, char *err, size_t errlen);
/* Parses a GGUF image already in memory; the memory is borrowed and must outlive
 * the reader (used by the fuzz target and the tests). */
sl_gguf_t *sl_gguf_open_mem(const void *data, size_t size, char *err, size_t errlen);
void sl_gguf_close(sl_gguf_t *g);

uint32_t sl_gguf_version(const sl_gguf_t *g);
size_t sl_gguf_alignment(const sl_gguf_t *g);
/* The whole mapped image (e.g. for checksumming). */
const void *sl_gguf_base(const sl_gguf_t *g, size_t *size);

/* ---- metadata ---- */

size_t sl_gguf_n_kv(const sl_gguf_t *g);
/* Index of `key`, or -1 if absent. */
int64_t sl_gguf_find_key(const sl_gguf_t *g, const char *key);
/* Name (NUL-terminated) and type of entry `kid`; NULL / SL_GGUF_NTYPES if out of range. */
const char *sl_gguf_key(const sl_gguf_t *g, int64_t kid);
sl_gguf_type_t sl_gguf_kv_type(const sl_gguf_t *g, int64_t kid);

/* Scalar getters by key. Return 0, SL_ENOTFOUND if the key is absent, SL_EINVAL if
 * its type does not fit the request. Integer getters accept any integer type whose
 * value fits the target; sl_gguf_get_f32 accepts F32 and F64. */
int sl_gguf_get_u32(const sl_gguf_t *g, const char *key, uint32_t *out);
int sl_gguf_get_i32(const sl_gguf_t *g, const char *key, int32_t *out);
int sl_gguf_get_u64(const sl_gguf_t *g, const char *key, uint64_t *out);
int sl_gguf_get_i64(const sl_gguf_t *g, const char *key, int64_t *out);
int sl_gguf_get_f32(const sl_gguf_t *g, const char *key, float *out);
int sl_gguf_get_bool(const sl_gguf_t *g, const char *key, bool *out);
/* String value: pointer into the file (not NUL-terminated) and its length. */
int sl_gguf_get_str(const sl_gguf_t *g, const char *key, const char **s, size_t *len);
/* True if the key holds a string equal to `want`. */
bool sl_gguf_str_eq(const sl_gguf_t *g, const char *key, const char *want);

/* Arrays, by entry index (from sl_gguf_find_key). For a non-array entry the type
 * is SL_GGUF_NTYPES and the length 0. Nested arrays are refused at open. */
sl_gguf_type_t sl_gguf_arr_type(const sl_gguf_t *g, int64_t kid);
size_t sl_gguf_arr_len(const sl_gguf_t *g, int64_t kid);
/* Element i of a string array (not NUL-terminated), or NULL if kid is not a string
 * array or i is out of range. O(1). */
const char *sl_gguf_arr_str(const sl_gguf_t *g, int64_t kid, size_t i, size_t *len);
/* Element i of a numeric array, converted: 0, or SL_EINVAL (wrong type / out of
 * range). _i32 accepts I32/U32(<2^31)/I16/U16/I8/U8; _f32 accepts F32/F64. */
int sl_gguf_arr_i32(const sl_gguf_t *g, int64_t kid, size_t i, int32_t *out);
int sl_gguf_arr_f32(const sl_gguf_t *g, int64_t kid, size_t i, float *out);
/* Raw little-endian element data of a numeric array (possibly unaligned), or NULL. */
const void *sl_gguf_arr_data(const sl_gguf_t *g, int64_t kid);

/* ---- tensors ---- */

size_t sl_gguf_n_tensors(const sl_gguf_t *g);
const sl_gguf_tensor_t *sl_gguf_tensor(const sl_gguf_t *g, size_t i);
/* By name, or NULL. */
const sl_gguf_tensor_t *sl_gguf_find_tensor(const sl_gguf_t *g, const char *name);

/* "F32", "Q8_0", ... or "unknown". */
const char *sl_ggml_type_name(uint32_t type);
/* Elements per block and bytes per block of a tensor type; 0 if unknown. */
size_t sl_ggml_blck_size(uint32_t type);
size_t sl_ggml_type_size(uint32_t type);

#endif
