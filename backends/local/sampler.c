/* Token sampling. Candidates are narrowed with quickselects and never sorted,
 * so a 150K vocabulary costs O(V) per token, not O(V log V): top-k selects the
 * k best, top-p the fewest best candidates whose mass reaches p (a selection
 * weighted by probability), and the draw walks the kept ones in token-id order
 * through a table indexed by id. A flat distribution (a high temperature, a weak
 * model) once had top-p sort most of the vocabulary for every token, on the
 * engine thread that every sequence of the batch waits on. */
#include "sampler.h"

#include <math.h>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif
#include <stdlib.h>
#include <string.h>

typedef struct {
  float v; /* logit / temperature */
  int32_t id;
} cand_t;

#define MIN_TEMPERATURE 1e-6f

struct sl_sampler {
  int n_vocab, max_window;
  sl_sampler_params_t p;
  uint64_t rng[4];
  int32_t *ring; /* last tokens, max_window */
  uint8_t *ring_gen; /* whether each was generated (not the prompt's) */
  int ring_len, ring_pos;
  int32_t *counts; /* generated occurrences in the window, per token */
  uint32_t *stamp; /* marks tokens already penalised in this call */
  uint32_t step;
  float *work;     /* penalised logits */
  cand_t *cand;
  double *w;       /* cand[i]'s weight exp(v - max), the unnormalised probability */
  double *wid;     /* the kept candidates' weights by token id, 0 for the others */
};

void sl_sampler_params_init(sl_sampler_params_t *p) {
  memset(p, 0, sizeof *p);
  p->top_p = 1.f;
  p->repeat_penalty = 1.f;
  p->penalty_last_n = 64;
}

sl_sampler_t *sl_sampler_new(int n_vocab, int max_window) {
  if (n_vocab < 1 || max_window < 1) return NULL;
  sl_sampler_t *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  s->n_vocab = n_vocab;
  s->max_window = max_window;
  s->ring = malloc(sizeof(int32_t) * (size_t)max_window);
  s->ring_gen = malloc((size_t)max_window);
  s->counts = calloc((size_t)n_vocab, sizeof(int32_t));
  s->stamp = calloc((size_t)n_vocab, sizeof(uint32_t));
  s->work = malloc(sizeof(float) * (size_t)n_vocab);
  s->cand = malloc(sizeof(cand_t) * (size_t)n_vocab);
  s->w = malloc(sizeof(double) * (size_t)n_vocab);
  s->wid = calloc((size_t)n_vocab, sizeof(double));
  if (!s->ring || !s->ring_gen || !s->counts || !s->stamp || !s->work || !s->cand || !s->w || !s->wid) {
    sl_sampler_free(s);
    return NULL;
  }
  sl_sampler_params_t p;
  sl_sampler_params_init(&p);
  sl_sampler_reset(s, &p);
  return s;
}

void sl_sampler_free(sl_sampler_t *s) {
  if (!s) return;
  free(s->ring), free(s->ring_gen), free(s->counts), free(s->stamp), free(s->work), free(s->cand);
  free(s->w), free(s->wid);
  free(s);
}

static uint64_t splitmix(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

/* xoshiro256** */
static uint64_t next_u64(sl_sampler_t *s) {
  uint64_t *r = s->rng, res = rotl(r[1] * 5, 7) * 9, t = r[1] << 17;
  r[2] ^= r[0], r[3] ^= r[1], r[1] ^= r[2], r[0] ^= r[3], r[2] ^= t, r[3] = rotl(r[3], 45);
  return res;
}

static double next_unit(sl_sampler_t *s) { return (next_u64(s) >> 11) * (1.0 / 9007199254740992.0); }

void sl_sampler_reset(sl_sampler_t *s, const sl_sampler_params_t *p) {
  /* Forget the previous window. */
  for (int i = 0; i < s->ring_len; i++) s->counts[s->ring[i]] = 0; /* all of it, prompt's too */
  s->ring_len = s->ring_pos = 0;
  s->p = *p;
  if (s->p.penalty_last_n <= 0) s->p.penalty_last_n = 64;
  if (s->p.penalty_last_n > s->max_window) s->p.penalty_last_n = s->max_window;
  if (s->p.n_logprobs < 0) s->p.n_logprobs = 0;
  if (s->p.n_logprobs > SL_SAMPLER_MAX_LOGPROBS) s->p.n_logprobs = SL_SAMPLER_MAX_LOGPROBS;
  if (!(s->p.repeat_penalty > 0)) s->p.repeat_penalty = 1.f;
  uint64_t x = p->seed;
  for (int i = 0; i < 4; i++) s->rng[i] = splitmix(&x);
}

static void accept(sl_sampler_t *s, int32_t tok, bool generated) {
  if (tok < 0 || tok >= s->n_vocab) return;
  int w = s->p.penalty_last_n;
  if (s->ring_len == w) {
    s->counts[s->ring[s->ring_pos]] -= s->ring_gen[s->ring_pos];
  } else {
    s->ring_len++;
  }
  s->ring[s->ring_pos] = tok;
  s->ring_gen[s->ring_pos] = generated;
  s->counts[tok] += generated;
  s->ring_pos = (s->ring_pos + 1) % w;
}

void sl_sampler_accept(sl_sampler_t *s, int32_t tok) { accept(s, tok, true); }

void sl_sampler_accept_prompt(sl_sampler_t *s, int32_t tok) { accept(s, tok, false); }

static bool before(const cand_t *a, const cand_t *b) {
  return a->v > b->v || (a->v == b->v && a->id < b->id);
}

/* Rearranges c[0..n) so that c[0..k) are the k best (in any order). */
static void select_top(cand_t *c, int n, int k) {
  int lo = 0, hi = n - 1;
  while (lo < hi && k > lo && k <= hi) {
    cand_t pivot = c[lo + (hi - lo) / 2];
    int i = lo, j = hi;
    while (i <= j) {
      while (before(&c[i], &pivot)) i++;
      while (before(&pivot, &c[j])) j--;
      if (i <= j) {
        cand_t t = c[i];
        c[i] = c[j];
        c[j] = t;
        i++, j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else break;
  }
}

/* Swaps candidates i and j and their weights. */
static void swap_cand(cand_t *c, double *w, int i, int j) {
  cand_t t = c[i];
  c[i] = c[j];
  c[j] = t;
  double u = w[i];
  w[i] = w[j];
  w[j] = u;
}

/* Rearranges c[0..n) so that c[0..k) are the fewest best candidates whose
 * weights sum to at least `target` (in any order), and returns k; n when even
 * all of them fall short. A quickselect that sums the weights of the part
 * before each pivot: O(n) expected. */
static int select_mass(cand_t *c, double *w, int n, double target) {
  int lo = 0, hi = n; /* c[0..lo) are in, their mass acc < target; k in (lo, hi] */
  double acc = 0;
  while (hi - lo > 1) {
    /* the median of three as the pivot, moved to the end */
    int a = lo, m = lo + (hi - lo) / 2, b = hi - 1;
    if (before(&c[m], &c[a])) swap_cand(c, w, m, a);
    if (before(&c[b], &c[a])) swap_cand(c, w, b, a);
    if (before(&c[m], &c[b])) swap_cand(c, w, m, b);
    cand_t pivot = c[b];
    double pw = w[b];
    int i = lo;
    double sum = 0;
    for (int j = lo; j < b; j++)
      if (before(&c[j], &pivot)) {
        sum += w[j];
        swap_cand(c, w, i++, j);
      }
    swap_cand(c, w, i, b); /* the pivot at i: c[lo..i) better, c(i..hi) worse */
    if (acc + sum >= target) hi = i;
    else if (acc + sum + pw >= target) return i + 1;
    else acc += sum + pw, lo = i + 1;
  }
  return hi;
}

/* An index of w[0..n) drawn in proportion to the weights (the last one when
 * rounding leaves the draw past their sum). */
static int draw(sl_sampler_t *s, const double *w, int n) {
  double z = 0, acc = 0;
  for (int i = 0; i < n; i++) z += w[i];
  double r = next_unit(s) * z;
  for (int i = 0; i < n; i++) {
    acc += w[i];
    if (r < acc) return i;
  }
  return n - 1;
}

/* The first index of the largest value, NaNs skipped (index 0 if l[0] is NaN),
 * as the plain loop `if (l[i] > l[tok]) tok = i` gives. That loop ran at ~11
 * cycles a value here: each comparison waited on the load of l[tok], one chain
 * through memory, ~1.9 µs for stories260K's 512 logits — about as long as a
 * row's whole attention. Here the maximum is taken 64 values at a time and its
 * first occurrence found with one more pass. */
static int32_t argmax(const float *l, int V) {
  if (l[0] != l[0]) return 0;
  int i = 0;
  float best = l[0];
#if defined(__AVX512F__)
  if (V >= 64) {
    __m512 m0 = _mm512_set1_ps(best), m1 = m0, m2 = m0, m3 = m0;
    /* vmaxps returns its second operand when either is NaN: a NaN logit leaves
     * the running maximum as it was, as the scalar comparison does. */
    for (; i + 64 <= V; i += 64) {
      m0 = _mm512_max_ps(_mm512_loadu_ps(l + i), m0);
      m1 = _mm512_max_ps(_mm512_loadu_ps(l + i + 16), m1);
      m2 = _mm512_max_ps(_mm512_loadu_ps(l + i + 32), m2);
      m3 = _mm512_max_ps(_mm512_loadu_ps(l + i + 48), m3);
    }
    best = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_max_ps(m0, m1), _mm512_max_ps(m2, m3)));
  }
#endif
  for (; i < V; i++) best = l[i] > best ? l[i] : best;
  i = 0;
#if defined(__AVX512F__)
  for (__m512 b = _mm512_set1_ps(best); i + 16 <= V; i += 16) {
    unsigned eq = _mm512_cmp_ps_mask(_mm512_loadu_ps(l + i), b, _CMP_EQ_OQ);
    if (eq) return i + __builtin_ctz(eq);
  }
#endif
  while (l[i] != best) i++;
  return i;
}

static void logprobs(sl_sampler_t *s, const float *logits, int32_t tok, sl_sample_t *out) {
  int V = s->n_vocab;
  float mx = logits[0];
  for (int i = 1; i < V; i++) mx = logits[i] > mx ? logits[i] : mx;
  double sum = 0;
  for (int i = 0; i < V; i++) sum += exp((double)logits[i] - mx);
  double lse = mx + log(sum);
  out->logprob = (float)(logits[tok] - lse);
  int n = s->p.n_logprobs;
  out->n_top = 0;
  for (int i = 0; i < V && n > 0; i++) { /* insertion into a small sorted list */
    int c = out->n_top;
    if (c == n && logits[i] <= out->top_logprobs[c - 1]) continue;
    int j = c < n ? c : n - 1;
    while (j > 0 && out->top_logprobs[j - 1] < logits[i]) {
      out->top_logprobs[j] = out->top_logprobs[j - 1];
      out->top_ids[j] = out->top_ids[j - 1];
      j--;
    }
    out->top_logprobs[j] = logits[i];
    out->top_ids[j] = i;
    if (c < n) out->n_top++;
  }
  for (int i = 0; i < out->n_top; i++) out->top_logprobs[i] = (float)(out->top_logprobs[i] - lse);
}

int32_t sl_sampler_sample(sl_sampler_t *s, const float *logits, sl_sample_t *out) {
  const sl_sampler_params_t *p = &s->p;
  int V = s->n_vocab;
  const float *l = logits;
  bool pen = p->repeat_penalty != 1.f || p->frequency_penalty != 0.f || p->presence_penalty != 0.f;
  if (pen && s->ring_len) {
    memcpy(s->work, logits, sizeof(float) * (size_t)V);
    if (++s->step == 0) { /* stamp wrapped: clear it */
      memset(s->stamp, 0, sizeof(uint32_t) * (size_t)V);
      s->step = 1;
    }
    for (int i = 0; i < s->ring_len; i++) {
      int32_t t = s->ring[i];
      if (s->stamp[t] == s->step) continue;
      s->stamp[t] = s->step;
      float *v = &s->work[t];
      *v = *v > 0 ? *v / p->repeat_penalty : *v * p->repeat_penalty;
      /* presence and frequency, as OpenAI's: over the tokens generated so far */
      if (s->counts[t]) *v -= (float)s->counts[t] * p->frequency_penalty + p->presence_penalty;
    }
    l = s->work;
  }
  int32_t tok = 0;
  if (!(p->temperature >= MIN_TEMPERATURE)) { /* 0, or so small that 1/t overflows: greedy */
    tok = argmax(l, V);
  } else {
    cand_t *c = s->cand;
    float inv_t = 1.f / p->temperature;
    for (int i = 0; i < V; i++) c[i] = (cand_t){l[i] * inv_t, i};
    int n = V;
    if (p->top_k > 0 && p->top_k < n) {
      select_top(c, n, p->top_k);
      n = p->top_k;
    }
    /* Softmax weights of the remaining candidates (max first for stability). */
    float mx = c[0].v;
    for (int i = 1; i < n; i++) mx = c[i].v > mx ? c[i].v : mx;
    double z = 0;
    double *w = s->w;
    for (int i = 0; i < n; i++) z += w[i] = exp((double)c[i].v - mx);
    int keep = n;
    if (p->top_p > 0 && p->top_p < 1) {
      keep = select_mass(c, w, n, (double)p->top_p * z);
    } else if (p->top_p <= 0) { /* 0 keeps the top candidate only, as the APIs read it */
      int b = 0;
      for (int i = 1; i < n; i++) b = before(&c[i], &c[b]) ? i : b;
      swap_cand(c, w, 0, b);
      keep = 1;
    }
    if (p->min_p > 0) {
      /* p_i ≥ min_p · p_max  ⇔  v_i ≥ v_max + log(min_p); the max always stays. */
      float thr = mx + logf(p->min_p);
      int j = 0;
      for (int i = 0; i < keep; i++)
        if (c[i].v >= thr) swap_cand(c, w, j++, i);
      keep = j > 0 ? j : 1;
    }
    /* The draw walks the kept candidates in token-id order, not in the order
     * the filters left them: two near-equal candidates that swap places when
     * batching changes a logit's last bits then move the draw's boundaries by
     * that difference only, and a seed gives the same text alone and under load.
     * Unfiltered (or by min_p alone, which keeps their order) they are in it. */
    bool filtered = (p->top_k > 0 && p->top_k < V) || p->top_p < 1;
    if (filtered) {
      int32_t last = 0;
      for (int i = 0; i < keep; i++) {
        s->wid[c[i].id] = w[i];
        last = c[i].id > last ? c[i].id : last;
      }
      tok = draw(s, s->wid, last + 1); /* (ids between the kept ones weigh 0) */
      for (int i = 0; i < keep; i++) s->wid[c[i].id] = 0;
    } else {
      tok = c[draw(s, w, keep)].id;
    }
  }
  if (out) {
    out->token = tok;
    out->logprob = 0;
    out->n_top = 0;
    if (p->logprobs || p->n_logprobs > 0) logprobs(s, logits, tok, out);
  }
  return tok;
}
