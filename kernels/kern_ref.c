/* The plain-C matmul: weights stay row-major as prepared by the front end. It is
 * the reference the oneDNN path is tested against, and the fallback when oneDNN
 * cannot make a primitive. */
#include "kern_int.h"

static int ref_init(sl_kern_t *k) { return 0; }
static void ref_fini(sl_kern_t *k) {}
static int ref_mat_init(sl_kern_t *k, sl_kern_mat_t *m) { return 0; }
static void ref_mat_fini(sl_kern_mat_t *m) {}

static int ref_matmul(sl_kern_t *k, const sl_kern_mat_t *w, const void *x, int m, float *y) {
  int K = w->n_in, N = w->n_out;
  for (int r = 0; r < m; r++)
    for (int n = 0; n < N; n++) {
      if (w->prec == SL_KPREC_F32) {
        y[(size_t)r * N + n] = sl_kern_dot((const float *)x + (size_t)r * K, (const float *)w->w + (size_t)n * K, K);
      } else if (w->prec == SL_KPREC_BF16) {
        const uint16_t *a = (const uint16_t *)x + (size_t)r * K, *b = (const uint16_t *)w->w + (size_t)n * K;
        float s = 0;
        for (int i = 0; i < K; i++) s += sl_kern_bf16_to_f32(a[i]) * sl_kern_bf16_to_f32(b[i]);
        y[(size_t)r * N + n] = s;
      } else {
        const int8_t *a = (const int8_t *)x + (size_t)r * K, *b = (const int8_t *)w->w + (size_t)n * K;
        int32_t s = 0;
        for (int i = 0; i < K; i++) s += (int32_t)a[i] * b[i];
        y[(size_t)r * N + n] = (float)s;
      }
    }
  if (w->prec == SL_KPREC_S8) sl__kern_scale_rows(k, w, m, y);
  return 0;
}

const sl__kern_ops_t sl__kern_ref_ops = {ref_init, ref_fini, ref_mat_init, ref_mat_fini, ref_matmul, NULL, NULL};
