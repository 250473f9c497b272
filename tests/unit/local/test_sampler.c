/* The sampler against hand-computed distributions: greedy, top-k/top-p/min-p
 * support, temperature, penalties, logprobs, and seed determinism. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backends/local/sampler.h"

enum { V = 1000 };

static void test_greedy_and_logprobs(void **st) {
  sl_sampler_t *s = sl_sampler_new(V, 64);
  float l[V];
  for (int i = 0; i < V; i++) l[i] = (float)(i % 17) * 0.1f;
  l[421] = 5.f;
  l[7] = 4.f;
  sl_sampler_params_t p;
  sl_sampler_params_init(&p);
  p.n_logprobs = 3;
  sl_sampler_reset(s, &p);
  sl_sample_t out;
  p.n_logprobs = 0; /* not asked: nothing computed */
  sl_sampler_reset(s, &p);
  assert_int_equal(sl_sampler_sample(s, l, &out), 421);
  assert_true(out.logprob == 0 && out.n_top == 0);
  p.n_logprobs = 3;
  sl_sampler_reset(s, &p);
  assert_int_equal(sl_sampler_sample(s, l, &out), 421);
  double z = 0;
  for (int i = 0; i < V; i++) z += exp(l[i]);
  assert_true(fabs(out.logprob - (5.0 - log(z))) < 1e-4);
  assert_int_equal(out.n_top, 3);
  assert_int_equal(out.top_ids[0], 421);
  assert_int_equal(out.top_ids[1], 7);
  assert_true(fabs(out.top_logprobs[1] - (4.0 - log(z))) < 1e-4);
  assert_true(out.top_logprobs[2] <= out.top_logprobs[1]);
  sl_sampler_free(s);
}

/* Greedy picks what the plain loop `if (l[i] > l[tok]) tok = i` picks (the first
 * index of the largest value, NaNs skipped, 0 if l[0] is NaN) for vocabularies
 * around the vector widths, with ties, NaNs, infinities and signed zeros. */
static void test_greedy_edge_cases(void **st) {
  static const int sizes[] = {1, 2, 15, 16, 17, 63, 64, 65, 100, 512, 1000};
  srand(7);
  for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++) {
    int n = sizes[si];
    sl_sampler_t *s = sl_sampler_new(n, 64);
    float l[V];
    for (int trial = 0; trial < 200; trial++) {
      for (int i = 0; i < n; i++) {
        int r = rand() % 40;
        l[i] = r == 0 ? NAN : r == 1 ? INFINITY : r == 2 ? -INFINITY : r == 3 ? -0.f : r == 4 ? 0.f
                                                                              : (float)(rand() % 7 - 3);
      }
      if (trial % 3 == 0) l[0] = NAN;
      if (trial % 5 == 0)
        for (int i = 0; i < n; i++) l[i] = l[i] == l[i] ? -0.f : l[i]; /* only zeros and NaNs */
      int want = 0;
      for (int i = 1; i < n; i++)
        if (l[i] > l[want]) want = i;
      assert_int_equal(sl_sampler_sample(s, l, NULL), want);
    }
    sl_sampler_free(s);
  }
}

/* Draws many samples and checks the empirical support and rough frequencies. */
static void test_filters(void **st) {
  sl_sampler_t *s = sl_sampler_new(V, 64);
  float l[V];
  for (int i = 0; i < V; i++) l[i] = -10.f;
  l[1] = 2.f, l[2] = 1.f, l[3] = 0.f, l[4] = -1.f; /* p ∝ e^2, e^1, e^0, e^-1 */
  sl_sampler_params_t p;
  sl_sampler_params_init(&p);
  p.temperature = 1.f;
  int cnt[V];
  /* top_k = 2 → only 1 and 2, in ratio e:1 */
  p.top_k = 2;
  p.seed = 1;
  sl_sampler_reset(s, &p);
  memset(cnt, 0, sizeof cnt);
  for (int i = 0; i < 4000; i++) cnt[sl_sampler_sample(s, l, NULL)]++;
  assert_int_equal(cnt[1] + cnt[2], 4000);
  assert_true(fabs((double)cnt[1] / cnt[2] - exp(1)) < 0.4);
  /* top_p = 0.8: mass of 1 is .64, 1+2 is .88 → support {1,2} */
  p.top_k = 0;
  p.top_p = 0.8f;
  sl_sampler_reset(s, &p);
  memset(cnt, 0, sizeof cnt);
  for (int i = 0; i < 2000; i++) cnt[sl_sampler_sample(s, l, NULL)]++;
  assert_int_equal(cnt[1] + cnt[2], 2000);
  assert_true(cnt[2] > 0);
  /* top_p = 0: the top candidate only (not "no filter") */
  p.top_p = 0.f;
  sl_sampler_reset(s, &p);
  memset(cnt, 0, sizeof cnt);
  for (int i = 0; i < 500; i++) cnt[sl_sampler_sample(s, l, NULL)]++;
  assert_int_equal(cnt[1], 500);
  /* min_p = 0.3: keeps tokens with p ≥ 0.3·p1 → e^(v-2) ≥ .3 → v ≥ 0.796 → {1,2} */
  p.top_p = 1.f;
  p.min_p = 0.3f;
  sl_sampler_reset(s, &p);
  memset(cnt, 0, sizeof cnt);
  for (int i = 0; i < 2000; i++) cnt[sl_sampler_sample(s, l, NULL)]++;
  assert_int_equal(cnt[1] + cnt[2], 2000);
  /* low temperature concentrates on the best */
  p.min_p = 0;
  p.temperature = 0.05f;
  sl_sampler_reset(s, &p);
  memset(cnt, 0, sizeof cnt);
  for (int i = 0; i < 500; i++) cnt[sl_sampler_sample(s, l, NULL)]++;
  assert_int_equal(cnt[1], 500);
  /* top_p over a flat vocabulary has to widen past its first sorted prefix */
  for (int i = 0; i < V; i++) l[i] = 0.f;
  p.temperature = 1.f;
  p.top_p = 0.95f;
  sl_sampler_reset(s, &p);
  memset(cnt, 0, sizeof cnt);
  int distinct = 0;
  for (int i = 0; i < 20000; i++) cnt[sl_sampler_sample(s, l, NULL)]++;
  for (int i = 0; i < V; i++) distinct += cnt[i] > 0;
  assert_true(distinct > 900);
  sl_sampler_free(s);
}

static int by_value_desc(const void *a, const void *b) {
  float x = **(const float *const *)a, y = **(const float *const *)b;
  return x > y ? -1 : x < y;
}

/* top_p's kept set is the fewest best candidates whose mass reaches p, as a
 * plain sort-and-sum says, for random logits of a large vocabulary: nothing
 * outside it is ever drawn, and its likely members are. */
static void test_top_p_support(void **st) {
  enum { NV = 3000 };
  float *l = malloc(sizeof(float) * NV);
  const float **ord = malloc(sizeof *ord * NV);
  int *cnt = malloc(sizeof(int) * NV);
  bool *in = malloc(sizeof(bool) * NV);
  uint32_t x = 7;
  for (int i = 0; i < NV; i++) {
    x = x * 1664525u + 1013904223u;
    l[i] = (float)(x >> 8) / (float)(1u << 24) * 6.f; /* flat-ish: a wide support */
    ord[i] = &l[i];
  }
  qsort(ord, NV, sizeof *ord, by_value_desc);
  double z = 0, mx = *ord[0];
  for (int i = 0; i < NV; i++) z += exp((double)*ord[i] - mx);
  sl_sampler_t *s = sl_sampler_new(NV, 64);
  const float ps[] = {0.05f, 0.5f, 0.9f, 0.99f};
  for (size_t k = 0; k < sizeof ps / sizeof *ps; k++) {
    memset(in, 0, sizeof(bool) * NV);
    double cum = 0;
    int n_in = 0;
    for (int i = 0; i < NV && cum < ps[k]; i++, n_in++) {
      cum += exp((double)*ord[i] - mx) / z;
      in[ord[i] - l] = true;
    }
    sl_sampler_params_t p;
    sl_sampler_params_init(&p);
    p.temperature = 1.f;
    p.top_p = ps[k];
    p.seed = 3;
    sl_sampler_reset(s, &p);
    memset(cnt, 0, sizeof(int) * NV);
    for (int i = 0; i < 10000; i++) cnt[sl_sampler_sample(s, l, NULL)]++;
    int outside = 0, top_seen = 0, top = n_in < 20 ? n_in : 20;
    for (int i = 0; i < NV; i++) outside += cnt[i] && !in[i];
    for (int i = 0; i < top; i++) top_seen += cnt[ord[i] - l] > 0;
    assert_int_equal(outside, 0);
    assert_int_equal(top_seen, top);
  }
  sl_sampler_free(s);
  free(l), free(ord), free(cnt), free(in);
}

static void test_seed(void **st) {
  sl_sampler_t *a = sl_sampler_new(V, 64), *b = sl_sampler_new(V, 64);
  float l[V];
  for (int i = 0; i < V; i++) l[i] = sinf((float)i);
  sl_sampler_params_t p;
  sl_sampler_params_init(&p);
  p.temperature = 0.9f;
  p.top_p = 0.9f;
  p.seed = 1234;
  sl_sampler_reset(a, &p);
  sl_sampler_reset(b, &p);
  int same = 1;
  for (int i = 0; i < 100; i++) same &= sl_sampler_sample(a, l, NULL) == sl_sampler_sample(b, l, NULL);
  assert_true(same);
  p.seed = 1235;
  sl_sampler_reset(b, &p);
  sl_sampler_reset(a, &(sl_sampler_params_t){.temperature = 0.9f, .top_p = 0.9f, .seed = 1234, .repeat_penalty = 1});
  int diff = 0;
  for (int i = 0; i < 100; i++) diff += sl_sampler_sample(a, l, NULL) != sl_sampler_sample(b, l, NULL);
  assert_true(diff > 10);
  sl_sampler_free(a);
  sl_sampler_free(b);
}

/* Logits that differ in their last bits (batching changes the order of a
 * matmul's sums) reorder near-equal candidates: with the same seed the draw
 * must still land on the same token nearly always (it walks the kept ones in
 * id order, not in the filters' order). */
static void test_seed_stable_under_noise(void **st) {
  sl_sampler_t *a = sl_sampler_new(V, 64), *b = sl_sampler_new(V, 64);
  float l[V], l2[V];
  for (int i = 0; i < V; i++) {
    l[i] = -(float)(i / 2) * 0.02f;           /* pairs of equal candidates */
    l2[i] = l[i] + (i % 2 ? 1e-6f : -1e-6f);   /* each pair's order flipped */
  }
  for (int mode = 0; mode < 2; mode++) {
    sl_sampler_params_t p;
    sl_sampler_params_init(&p);
    p.temperature = 0.8f;
    p.seed = 77;
    if (mode) p.top_k = 40;
    else p.top_p = 0.9f;
    sl_sampler_reset(a, &p);
    sl_sampler_reset(b, &p);
    int diff = 0;
    for (int i = 0; i < 200; i++) diff += sl_sampler_sample(a, l, NULL) != sl_sampler_sample(b, l2, NULL);
    assert_true(diff <= 2);
  }
  sl_sampler_free(a);
  sl_sampler_free(b);
}

static void test_penalties(void **st) {
  sl_sampler_t *s = sl_sampler_new(V, 8);
  float l[V];
  for (int i = 0; i < V; i++) l[i] = 0.f;
  l[5] = 3.f, l[6] = 2.5f, l[7] = -1.f;
  sl_sampler_params_t p;
  sl_sampler_params_init(&p);
  p.repeat_penalty = 1.5f; /* 3 / 1.5 = 2 < 2.5 */
  p.penalty_last_n = 4;
  sl_sampler_reset(s, &p);
  sl_sampler_accept(s, 5);
  assert_int_equal(sl_sampler_sample(s, l, NULL), 6);
  /* The window forgets: after 4 other tokens, 5 is back on top. */
  for (int i = 0; i < 4; i++) sl_sampler_accept(s, 100 + i);
  assert_int_equal(sl_sampler_sample(s, l, NULL), 5);
  /* frequency: 5 seen twice → 3 - 2·0.3 = 2.4 < 2.5 */
  sl_sampler_params_init(&p);
  p.frequency_penalty = 0.3f;
  sl_sampler_reset(s, &p);
  sl_sampler_accept(s, 5);
  assert_int_equal(sl_sampler_sample(s, l, NULL), 5); /* 2.7 */
  sl_sampler_accept(s, 5);
  assert_int_equal(sl_sampler_sample(s, l, NULL), 6);
  /* presence: once is enough */
  sl_sampler_params_init(&p);
  p.presence_penalty = 0.6f;
  sl_sampler_reset(s, &p);
  sl_sampler_accept(s, 5);
  assert_int_equal(sl_sampler_sample(s, l, NULL), 6);
  /* logprobs come from the raw logits, not the penalised ones */
  sl_sample_t out;
  p.n_logprobs = 1;
  sl_sampler_reset(s, &p);
  sl_sampler_accept(s, 5);
  sl_sampler_sample(s, l, &out);
  assert_int_equal(out.top_ids[0], 5);
  /* a negative logit is multiplied by the repetition penalty */
  sl_sampler_params_init(&p);
  p.repeat_penalty = 2.f;
  sl_sampler_reset(s, &p);
  for (int i = 0; i < V; i++) l[i] = -5.f;
  l[7] = -1.f, l[8] = -1.5f;
  sl_sampler_accept(s, 7); /* -2 < -1.5 */
  assert_int_equal(sl_sampler_sample(s, l, NULL), 8);
  /* prompt tokens: the repetition penalty counts them, presence does not */
  for (int i = 0; i < V; i++) l[i] = 0.f;
  l[5] = 3.f, l[6] = 2.5f;
  sl_sampler_reset(s, &p); /* repeat_penalty 2: 3 / 2 < 2.5 */
  sl_sampler_accept_prompt(s, 5);
  assert_int_equal(sl_sampler_sample(s, l, NULL), 6);
  sl_sampler_params_init(&p);
  p.presence_penalty = 2.f;
  sl_sampler_reset(s, &p);
  sl_sampler_accept_prompt(s, 5);
  assert_int_equal(sl_sampler_sample(s, l, NULL), 5); /* in the prompt only */
  sl_sampler_accept(s, 5);
  assert_int_equal(sl_sampler_sample(s, l, NULL), 6); /* generated: 3 - 2 < 2.5 */
  /* a temperature so small that 1/t overflows is greedy, not noise */
  sl_sampler_params_init(&p);
  p.temperature = 3e-38f;
  sl_sampler_reset(s, &p);
  assert_int_equal(sl_sampler_sample(s, l, NULL), 5);
  sl_sampler_free(s);
  assert_null(sl_sampler_new(0, 8));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_greedy_and_logprobs),
      cmocka_unit_test(test_greedy_edge_cases),
      cmocka_unit_test(test_filters),
      cmocka_unit_test(test_top_p_support),
      cmocka_unit_test(test_seed),
      cmocka_unit_test(test_seed_stable_under_noise),
      cmocka_unit_test(test_penalties),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
