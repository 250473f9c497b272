/* The scheduler. A mutex guards only the hand-over structures (the pending queue,
 * cancel flags, the id → sequence map); the model, the slots and the samplers
 * belong to the engine thread alone, so the forward pass runs unlocked. All
 * per-step buffers (batch rows, row owners) are sized at create: a step does not
 * allocate. */
#include "engine.h"

#include "sl_err.h"
#include "sl_log.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct seq {
  uint64_t id;
  sl_engine_req_t req;
  int32_t *prompt;
  int slot;         /* -1 while queued */
  int n_fed;        /* prompt tokens already in the KV cache */
  int n_past;       /* positions in the KV cache */
  int n_gen;
  int32_t last;     /* token to feed next (decode) */
  bool cancel;
  double t_submit, t_admit, t_first;
  double busy_ms;
  struct seq *next; /* pending queue link */
  struct seq *cnext; /* cancelled list link (one step) */
} seq_t;

struct sl_engine {
  sl_model_t *model;
  int threads, max_batch, queue_max, step_tokens, n_ctx, n_vocab;
  pthread_t thread;
  bool started;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  bool stopping;
  seq_t *q_head, *q_tail; /* pending, FIFO */
  seq_t **slots;          /* running, by slot (engine thread; ids read under mu) */
  int n_running;
  uint64_t next_id;
  sl_sampler_t **samplers;
  /* step buffers */
  int32_t *tok, *pos, *slot_of;
  bool *want;
  seq_t **row_seq;
  int *rows_of_slot;
  sl_engine_load_t load;
};

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

void sl_engine_opts_init(sl_engine_opts_t *o) {
  memset(o, 0, sizeof *o);
  o->threads = 1;
  o->max_batch = 8;
  o->queue_max = 64;
  o->step_tokens = 128;
  o->prec = -1;
  o->impl = SL_KIMPL_DNNL;
}

const char *sl_engine_finish_name(sl_engine_finish_t f) {
  switch (f) {
  case SL_FINISH_STOP: return "stop";
  case SL_FINISH_LENGTH: return "length";
  case SL_FINISH_CANCEL: return "cancel";
  case SL_FINISH_ERROR: return "error";
  }
  return "?";
}

static void finish(sl_engine_t *e, seq_t *s, sl_engine_finish_t why, int err) {
  double t = now_ms();
  sl_engine_stats_t st = {
      .prompt_tokens = (uint32_t)s->req.n_prompt,
      .generated_tokens = (uint32_t)s->n_gen,
      .queue_ms = s->t_admit ? s->t_admit - s->t_submit : t - s->t_submit,
      .ttft_ms = s->t_first ? s->t_first - s->t_submit : 0,
      .total_ms = t - s->t_submit,
      .prefill_ms = s->t_first && s->t_admit ? s->t_first - s->t_admit : 0,
      .decode_ms = s->t_first ? t - s->t_first : 0,
      .busy_ms = s->busy_ms,
  };
  if (s->slot >= 0) {
    pthread_mutex_lock(&e->mu);
    e->slots[s->slot] = NULL;
    e->n_running--;
    pthread_mutex_unlock(&e->mu);
  }
  s->req.on_done(s->req.user, s->id, why, err, &st);
  free(s->prompt);
  free(s);
}

/* Moves queued sequences into free slots (engine thread, mu held). */
static void admit(sl_engine_t *e, double t) {
  for (int i = 0; i < e->max_batch && e->q_head; i++) {
    if (e->slots[i]) continue;
    seq_t *s = e->q_head;
    e->q_head = s->next;
    if (!e->q_head) e->q_tail = NULL;
    s->next = NULL;
    s->slot = i;
    s->t_admit = t;
    e->slots[i] = s;
    e->n_running++;
    sl_sampler_t *sm = e->samplers[i];
    sl_sampler_reset(sm, &s->req.sampling);
    int w = s->req.sampling.penalty_last_n > 0 ? s->req.sampling.penalty_last_n : 64;
    size_t from = s->req.n_prompt > (size_t)w ? s->req.n_prompt - (size_t)w : 0;
    for (size_t k = from; k < s->req.n_prompt; k++) sl_sampler_accept_prompt(sm, s->prompt[k]);
  }
}

/* Samples for one sequence from logits row j; returns true if it finished. */
static bool emit(sl_engine_t *e, seq_t *s, const float *logits, double t) {
  sl_engine_token_t tk = {.id = s->id, .index = (uint32_t)s->n_gen, .busy_ms = s->busy_ms};
  int32_t tok = sl_sampler_sample(e->samplers[s->slot], logits, &tk.s);
  if (!s->t_first) s->t_first = t;
  if (s->req.on_stop && s->req.on_stop(s->req.user, tok)) {
    finish(e, s, SL_FINISH_STOP, 0);
    return true;
  }
  s->n_gen++;
  sl_sampler_accept(e->samplers[s->slot], tok);
  if (s->req.on_token(s->req.user, &tk)) {
    finish(e, s, SL_FINISH_STOP, 0);
    return true;
  }
  /* The sampled token still has to be fed at position n_past: stop if there is
   * no room, or if the caller's budget is spent. */
  if ((s->req.max_tokens > 0 && s->n_gen >= s->req.max_tokens) || s->n_past >= e->n_ctx) {
    finish(e, s, SL_FINISH_LENGTH, 0);
    return true;
  }
  s->last = tok;
  return false;
}

static void step(sl_engine_t *e) {
  int n = 0, budget = e->step_tokens;
  /* Decode rows first: one per sequence whose prompt is in. */
  for (int i = 0; i < e->max_batch; i++) {
    seq_t *s = e->slots[i];
    e->rows_of_slot[i] = 0;
    if (!s || s->n_fed < (int)s->req.n_prompt) continue;
    e->tok[n] = s->last, e->pos[n] = s->n_past, e->slot_of[n] = i, e->want[n] = true;
    e->row_seq[n++] = s;
    e->rows_of_slot[i] = 1;
  }
  budget -= n;
  /* Then prompt chunks, oldest admission first, within what is left. */
  while (budget > 0) {
    seq_t *best = NULL;
    for (int i = 0; i < e->max_batch; i++) {
      seq_t *s = e->slots[i];
      if (s && s->n_fed < (int)s->req.n_prompt && !e->rows_of_slot[i] &&
          (!best || s->t_admit < best->t_admit || (s->t_admit == best->t_admit && s->id < best->id)))
        best = s;
    }
    if (!best) break;
    int left = (int)best->req.n_prompt - best->n_fed;
    int c = left < budget ? left : budget;
    for (int k = 0; k < c; k++) {
      e->tok[n] = best->prompt[best->n_fed + k];
      e->pos[n] = best->n_fed + k;
      e->slot_of[n] = best->slot;
      e->want[n] = best->n_fed + k == (int)best->req.n_prompt - 1;
      e->row_seq[n++] = best;
    }
    e->rows_of_slot[best->slot] = c;
    budget -= c;
  }
  if (!n) return;
  double t0 = now_ms();
  sl_model_batch_t b = {n, e->tok, e->pos, e->slot_of, e->want};
  int rc = sl_model_forward(e->model, &b);
  double t1 = now_ms(), dt = t1 - t0;
  int n_sample = 0;
  for (int r = 0; r < n; r++) n_sample += e->want[r];
  pthread_mutex_lock(&e->mu);
  e->load.steps++;
  e->load.rows += (uint64_t)n;
  e->load.busy_ms += dt;
  if (!rc) e->load.generated += (uint64_t)n_sample;
  pthread_mutex_unlock(&e->mu);
  /* Book-keeping first (positions, busy share), then sampling, which may finish
   * and free sequences. */
  for (int i = 0; i < e->max_batch; i++) {
    seq_t *s = e->slots[i];
    if (!s || !e->rows_of_slot[i]) continue;
    s->busy_ms += dt * e->rows_of_slot[i] / n;
    if (s->n_fed < (int)s->req.n_prompt) {
      s->n_fed += e->rows_of_slot[i];
      s->n_past = s->n_fed;
    } else {
      s->n_past++;
    }
  }
  if (rc) {
    SL_ERROR("engine: forward pass failed: %s", sl_strerror(rc));
    for (int i = 0; i < e->max_batch; i++)
      if (e->slots[i] && e->rows_of_slot[i]) finish(e, e->slots[i], SL_FINISH_ERROR, rc);
    return;
  }
  int j = 0;
  for (int r = 0; r < n; r++)
    if (e->want[r]) emit(e, e->row_seq[r], sl_model_logits(e->model, j++), t1);
}

static void *run(void *arg) {
  sl_engine_t *e = arg;
  sl_kern_set_threads(e->threads);
  pthread_mutex_lock(&e->mu);
  for (;;) {
    while (!e->stopping && !e->n_running && !e->q_head) pthread_cond_wait(&e->cv, &e->mu);
    if (e->stopping) break;
    /* Cancelled sequences leave before the step, queued ones included. */
    seq_t *gone = NULL, **pp = &e->q_head;
    e->q_tail = NULL;
    while (*pp) {
      seq_t *s = *pp;
      if (s->cancel) {
        *pp = s->next;
        s->cnext = gone;
        gone = s;
      } else {
        e->q_tail = s;
        pp = &s->next;
      }
    }
    for (int i = 0; i < e->max_batch; i++)
      if (e->slots[i] && e->slots[i]->cancel) {
        e->slots[i]->cnext = gone;
        gone = e->slots[i];
      }
    admit(e, now_ms());
    pthread_mutex_unlock(&e->mu);
    while (gone) {
      seq_t *nx = gone->cnext;
      finish(e, gone, SL_FINISH_CANCEL, 0);
      gone = nx;
    }
    step(e);
    pthread_mutex_lock(&e->mu);
  }
  /* Shutting down: everything left ends as cancelled. */
  seq_t *q = e->q_head;
  e->q_head = e->q_tail = NULL;
  pthread_mutex_unlock(&e->mu);
  for (int i = 0; i < e->max_batch; i++)
    if (e->slots[i]) finish(e, e->slots[i], SL_FINISH_CANCEL, 0);
  while (q) {
    seq_t *nx = q->next;
    finish(e, q, SL_FINISH_CANCEL, 0);
    q = nx;
  }
  return NULL;
}

sl_engine_t *sl_engine_create(const sl_engine_opts_t *o, char *err, size_t errlen) {
  sl_engine_opts_t d;
  if (!o) {
    sl_engine_opts_init(&d);
    o = &d;
  }
  if (!o->model_path) {
    snprintf(err, errlen, "engine: no model path");
    return NULL;
  }
  sl_engine_t *e = calloc(1, sizeof *e);
  if (!e) {
    snprintf(err, errlen, "engine: out of memory");
    return NULL;
  }
  e->threads = o->threads > 0 ? o->threads : 1;
  e->max_batch = o->max_batch > 0 ? o->max_batch : 8;
  e->queue_max = o->queue_max > 0 ? o->queue_max : 64;
  e->step_tokens = o->step_tokens > 0 ? o->step_tokens : 128;
  if (e->step_tokens < e->max_batch) e->step_tokens = e->max_batch;
  e->next_id = 1;
  pthread_mutex_init(&e->mu, NULL);
  pthread_cond_init(&e->cv, NULL);
  sl_model_opts_t mo;
  sl_model_opts_init(&mo);
  mo.impl = o->impl;
  mo.prec = o->prec;
  mo.max_rows = e->step_tokens;
  mo.max_logits = e->max_batch;
  mo.n_slots = e->max_batch;
  mo.n_ctx = o->n_ctx;
  /* Without a cap a long-context model (Llama 3: 131072 positions) times the slots
   * would ask for hundreds of GB; 1 GiB is the default budget. */
  mo.kv_max_bytes = (o->kv_cache_mb ? o->kv_cache_mb : 1024) * 1024 * 1024;
  /* Weight reorders at load run on this thread's OpenMP team. */
  sl_kern_set_threads(e->threads);
  if (!(e->model = sl_model_load(o->model_path, &mo, err, errlen))) goto fail;
  const sl_model_info_t *in = sl_model_info(e->model);
  e->n_ctx = in->n_ctx;
  e->n_vocab = in->n_vocab;
  size_t R = (size_t)e->step_tokens;
  e->tok = malloc(R * sizeof(int32_t));
  e->pos = malloc(R * sizeof(int32_t));
  e->slot_of = malloc(R * sizeof(int32_t));
  e->want = malloc(R * sizeof(bool));
  e->row_seq = malloc(R * sizeof(seq_t *));
  e->rows_of_slot = calloc((size_t)e->max_batch, sizeof(int));
  e->slots = calloc((size_t)e->max_batch, sizeof(seq_t *));
  e->samplers = calloc((size_t)e->max_batch, sizeof(sl_sampler_t *));
  if (!e->tok || !e->pos || !e->slot_of || !e->want || !e->row_seq || !e->rows_of_slot || !e->slots ||
      !e->samplers) {
    snprintf(err, errlen, "engine: out of memory");
    goto fail;
  }
  for (int i = 0; i < e->max_batch; i++)
    if (!(e->samplers[i] = sl_sampler_new(e->n_vocab, 1024))) {
      snprintf(err, errlen, "engine: out of memory for samplers");
      goto fail;
    }
  if (pthread_create(&e->thread, NULL, run, e)) {
    snprintf(err, errlen, "engine: cannot start the scheduler thread");
    goto fail;
  }
  e->started = true;
  return e;
fail:
  sl_engine_free(e);
  return NULL;
}

void sl_engine_free(sl_engine_t *e) {
  if (!e) return;
  if (e->started) {
    pthread_mutex_lock(&e->mu);
    e->stopping = true;
    pthread_cond_signal(&e->cv);
    pthread_mutex_unlock(&e->mu);
    pthread_join(e->thread, NULL);
  }
  if (e->samplers)
    for (int i = 0; i < e->max_batch; i++) sl_sampler_free(e->samplers[i]);
  free(e->samplers), free(e->slots), free(e->rows_of_slot), free(e->row_seq), free(e->want);
  free(e->slot_of), free(e->pos), free(e->tok);
  sl_model_free(e->model);
  pthread_mutex_destroy(&e->mu);
  pthread_cond_destroy(&e->cv);
  free(e);
}

/* Queued sequences that no free slot will take at the next step (mu held): a
 * burst into an idle engine is admitted whole up to max_batch + queue_max,
 * though every one of it sits in the queue until the engine thread wakes. A
 * cancelled sequence (its client went away) is dropped at the next step and
 * counts neither as queued nor as running: a client that comes right after
 * others left is not told the queue is full. */
static int waiting(const sl_engine_t *e) {
  int queued = 0, running = 0;
  for (const seq_t *s = e->q_head; s; s = s->next) queued += !s->cancel;
  for (int i = 0; i < e->max_batch; i++) running += e->slots[i] && !e->slots[i]->cancel;
  int free_slots = e->max_batch - running;
  return queued > free_slots ? queued - free_slots : 0;
}

int sl_engine_submit(sl_engine_t *e, const sl_engine_req_t *r, uint64_t *id) {
  if (!r || !r->prompt || !r->n_prompt || !r->on_token || !r->on_done) return SL_EINVAL;
  if (r->n_prompt > (size_t)e->n_ctx) return SL_ETOOBIG;
  for (size_t i = 0; i < r->n_prompt; i++)
    if (r->prompt[i] < 0 || r->prompt[i] >= e->n_vocab) return SL_EINVAL;
  seq_t *s = calloc(1, sizeof *s);
  int32_t *p = malloc(r->n_prompt * sizeof(int32_t));
  if (!s || !p) {
    free(s);
    free(p);
    return SL_ENOMEM;
  }
  memcpy(p, r->prompt, r->n_prompt * sizeof(int32_t));
  s->req = *r;
  s->req.prompt = s->prompt = p;
  s->slot = -1;
  s->t_submit = now_ms();
  pthread_mutex_lock(&e->mu);
  int rc = 0;
  if (e->stopping)
    rc = SL_EUNAVAILABLE;
  else if (waiting(e) >= e->queue_max)
    rc = SL_EBUSY;
  if (rc) {
    pthread_mutex_unlock(&e->mu);
    free(p);
    free(s);
    return rc;
  }
  s->id = e->next_id++;
  if (e->q_tail)
    e->q_tail->next = s;
  else
    e->q_head = s;
  e->q_tail = s;
  if (id) *id = s->id;
  pthread_cond_signal(&e->cv);
  pthread_mutex_unlock(&e->mu);
  return 0;
}

int sl_engine_cancel(sl_engine_t *e, uint64_t id) {
  int rc = SL_ENOTFOUND;
  pthread_mutex_lock(&e->mu);
  /* A queued sequence is admitted first and then dropped at the same step, so
   * that on_done always runs on the engine thread. */
  for (seq_t *s = e->q_head; s && rc; s = s->next)
    if (s->id == id) s->cancel = true, rc = 0;
  for (int i = 0; i < e->max_batch && rc; i++)
    if (e->slots[i] && e->slots[i]->id == id) e->slots[i]->cancel = true, rc = 0;
  pthread_cond_signal(&e->cv);
  pthread_mutex_unlock(&e->mu);
  return rc;
}

void sl_engine_load(sl_engine_t *e, sl_engine_load_t *out) {
  pthread_mutex_lock(&e->mu);
  *out = e->load;
  out->running = e->n_running;
  out->queued = waiting(e);
  pthread_mutex_unlock(&e->mu);
}

const sl_model_t *sl_engine_model(const sl_engine_t *e) { return e->model; }
int sl_engine_n_ctx(const sl_engine_t *e) { return e->n_ctx; }
