/* The in-process inference engine: one model, one scheduler thread, continuous
 * batching. Every step the scheduler runs ONE forward pass holding a decode row for
 * each running sequence plus chunks of pending prompts (so a long prompt never
 * stalls the others), samples one token per sequence that needs one, and hands it
 * to the sequence's callback. Sequences join and leave between steps.
 *
 * Threading: sl_engine_submit / sl_engine_cancel / sl_engine_load are safe from
 * any thread. All callbacks run on the engine thread and must not block (forward
 * to your own loop, e.g. with uv_async_send) and must not call sl_engine_free.
 * If submit fails, no callback ever runs for that request. Otherwise on_done runs
 * exactly once per sequence, after its last on_token. */
#ifndef SL_ENGINE_H
#define SL_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "sampler.h"

typedef struct sl_engine sl_engine_t;

typedef struct {
  const char *model_path;
  int threads;          /* oneDNN (OpenMP) threads for the model math; ≤ 0: 1 */
  int max_batch;        /* sequences running at once (KV slots); ≤ 0: 8 */
  size_t kv_cache_mb;   /* cap on the KV cache for all slots (F32; F16 for s8 models); 0: 1024. A model whose
                           full context does not fit gets a shorter n_ctx */
  int n_ctx;            /* positions per sequence (prompt + output); 0: the model's,
                           lowered to fit kv_cache_mb */
  int queue_max;        /* submissions waiting for a slot; beyond it SL_EBUSY; ≤ 0: 64 */
  int step_tokens;      /* rows per forward pass (decode rows + prompt chunks); ≤ 0: 128 */
  int prec;             /* -1 (default): automatic; else a sl_kern_prec_t */
  sl_kern_impl_t impl;  /* SL_KIMPL_DNNL (default) or SL_KIMPL_REF */
} sl_engine_opts_t;

void sl_engine_opts_init(sl_engine_opts_t *o);

typedef enum {
  SL_FINISH_STOP,   /* on_stop or on_token asked to stop (EOG, stop string) */
  SL_FINISH_LENGTH, /* max_tokens reached or the context is full */
  SL_FINISH_CANCEL, /* sl_engine_cancel, or the engine shut down */
  SL_FINISH_ERROR,  /* the forward pass failed; see err */
} sl_engine_finish_t;

const char *sl_engine_finish_name(sl_engine_finish_t f); /* "stop", "length", ... */

typedef struct {
  uint32_t prompt_tokens;
  uint32_t generated_tokens; /* tokens passed to on_token */
  double queue_ms;           /* submit → admitted to a slot */
  double ttft_ms;            /* submit → first token sampled */
  double total_ms;           /* submit → done */
  double prefill_ms;         /* admitted → first token */
  double decode_ms;          /* first token → done */
  double busy_ms;            /* this sequence's share of forward-pass time (by rows) */
} sl_engine_stats_t;

typedef struct {
  uint64_t id;     /* the sequence */
  uint32_t index;  /* 0-based position in the output */
  sl_sample_t s;   /* token id, logprob, top alternatives (if asked) */
  double busy_ms;  /* the sequence's share of forward-pass time so far */
} sl_engine_token_t;

/* Before a sampled token is delivered: return true if it ends the sequence
 * without being delivered (an end-of-generation token). Optional. */
typedef bool (*sl_engine_stop_cb)(void *user, int32_t token);
/* A generated token. Return true to end the sequence with SL_FINISH_STOP after it
 * (a stop string completed). */
typedef bool (*sl_engine_token_cb)(void *user, const sl_engine_token_t *t);
/* Exactly once at the end; err is 0 or the SL_E* code behind SL_FINISH_ERROR. */
typedef void (*sl_engine_done_cb)(void *user, uint64_t id, sl_engine_finish_t why, int err,
                                  const sl_engine_stats_t *st);

typedef struct {
  const int32_t *prompt; /* copied at submit */
  size_t n_prompt;
  sl_sampler_params_t sampling;
  int max_tokens;        /* ≤ 0: until the context is full */
  sl_engine_stop_cb on_stop;
  sl_engine_token_cb on_token; /* required */
  sl_engine_done_cb on_done;   /* required */
  void *user;
} sl_engine_req_t;

/* Loads the model and starts the scheduler thread. NULL on failure, with a
 * message in err. */
sl_engine_t *sl_engine_create(const sl_engine_opts_t *o, char *err, size_t errlen);
/* Stops the thread; sequences still queued or running end with SL_FINISH_CANCEL
 * (their on_done runs on the engine thread before it exits). */
void sl_engine_free(sl_engine_t *e);

/* Queues a sequence. 0 and *id, or SL_EINVAL (empty prompt, token out of the
 * vocabulary, missing callback), SL_ETOOBIG (prompt does not fit the context),
 * SL_EBUSY (queue full), SL_EUNAVAILABLE (engine stopping). */
int sl_engine_submit(sl_engine_t *e, const sl_engine_req_t *r, uint64_t *id);
/* Ends a sequence at the next step (SL_FINISH_CANCEL). SL_ENOTFOUND if it has
 * already finished or never existed. */
int sl_engine_cancel(sl_engine_t *e, uint64_t id);

typedef struct {
  int running, queued;        /* sequences in slots / waiting with no free slot */
  uint64_t steps;             /* forward passes so far */
  uint64_t rows;              /* rows (tokens) computed */
  uint64_t generated;         /* tokens sampled */
  double busy_ms;             /* time in forward passes */
} sl_engine_load_t;

void sl_engine_load(sl_engine_t *e, sl_engine_load_t *out);
const sl_model_t *sl_engine_model(const sl_engine_t *e);
int sl_engine_n_ctx(const sl_engine_t *e);

#endif
