/* Picks the next token from a logits row: greedy, or temperature → top-k → top-p
 * → min-p → a draw from a seeded generator (same seed, same logits → same token),
 * after llama.cpp-style repetition and OpenAI-style frequency/presence penalties
 * over a window of recent tokens. Also reports the chosen token's log-probability
 * and the top alternatives. One sampler per sequence slot, allocated at load: the
 * per-token path does not allocate. */
#ifndef SL_SAMPLER_H
#define SL_SAMPLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SL_SAMPLER_MAX_LOGPROBS 20

typedef struct {
  float temperature;       /* below 1e-6 (0 included): greedy (argmax) */
  int top_k;               /* ≤ 0: off */
  float top_p;             /* ≥ 1 or ≤ 0: off */
  float min_p;             /* ≤ 0: off */
  float repeat_penalty;    /* 1: off. > 1 divides positive / multiplies negative logits of
                              tokens seen in the window (llama.cpp) */
  float frequency_penalty; /* subtracts count · f (OpenAI) */
  float presence_penalty;  /* subtracts p once a token has appeared (OpenAI) */
  int penalty_last_n;      /* window of recent tokens (prompt included); ≤ 0: 64 */
  uint64_t seed;
  bool logprobs;           /* compute the chosen token's logprob (costs one pass of exp
                              over the vocabulary per token; implied by n_logprobs > 0) */
  int n_logprobs;          /* alternatives to report, 0..SL_SAMPLER_MAX_LOGPROBS */
} sl_sampler_params_t;

/* Greedy, no penalties, window 64. */
void sl_sampler_params_init(sl_sampler_params_t *p);

typedef struct {
  int32_t token;
  float logprob;           /* log-softmax of the model's raw logits (before penalties and
                              temperature), as OpenAI reports it; 0 unless asked for */
  int n_top;
  int32_t top_ids[SL_SAMPLER_MAX_LOGPROBS];
  float top_logprobs[SL_SAMPLER_MAX_LOGPROBS];
} sl_sample_t;

typedef struct sl_sampler sl_sampler_t;

/* max_window bounds penalty_last_n. Returns NULL on bad arguments or no memory. */
sl_sampler_t *sl_sampler_new(int n_vocab, int max_window);
void sl_sampler_free(sl_sampler_t *s);
/* Starts a new sequence with params p (clamped to valid ranges). */
void sl_sampler_reset(sl_sampler_t *s, const sl_sampler_params_t *p);
/* Adds a generated token to the penalty window (repetition, presence and
 * frequency penalties). */
void sl_sampler_accept(sl_sampler_t *s, int32_t tok);
/* Adds a prompt token to the window: the repetition penalty counts it (as
 * llama.cpp's does), presence and frequency do not (as OpenAI's). */
void sl_sampler_accept_prompt(sl_sampler_t *s, int32_t tok);
/* Chooses a token from logits (n_vocab values, not modified). Fills out if given. */
int32_t sl_sampler_sample(sl_sampler_t *s, const float *logits, sl_sample_t *out);

#endif
