/* Backend kind `local`: the in-process engine behind the backend interface.
 * The model loads once at start (sl__local_prepare_all). A call renders the chat
 * template, tokenizes (template markup may hold control tokens; client text may
 * not), and submits to the engine. Tokens come back on the engine thread, where
 * they are detokenized and checked against stop strings (so the engine can stop
 * at once); the text is handed to the loop that made the call through that
 * loop's port: one uv_async_t and a mutex-guarded list of calls with news. The
 * engines are shared by every loop of the process (loaded once); each loop has
 * its own port. Model math never runs on a loop. */
#include "backend_int.h"
#include "chat_template.h"
#include "engine.h"
#include "gguf.h"
#include "sl_err.h"
#include "sl_log.h"
#include "sl_stop.h"
#include "tokenizer.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LOCAL_ENGINES 8
#define MAX_TEXT (16u << 20)

typedef struct local_call local_call_t;

typedef struct {
  char *path;
  sl_engine_t *engine;
  sl_tok_t *tok;
  int queue_max;
  size_t max_piece; /* the longest token's text in bytes: no token covers more input */
} local_engine_t;

/* Engines are only ever added (at start and on reload, under load_mu), never
 * removed until shutdown: readers on other loops see a complete entry once
 * they see the count that covers it (release/acquire on n). */
struct sl_local_set {
  local_engine_t eng[MAX_LOCAL_ENGINES];
  int n;
  pthread_mutex_t load_mu;
};

struct sl_local_port {
  uv_async_t async;
  pthread_mutex_t mu;
  local_call_t *dirty; /* calls with news for the loop (guarded by mu) */
};

struct local_call {
  sl_call_t base;
  local_engine_t *le;
  struct sl_local_port *port;
  /* Stop strings, copied: the engine thread reads them until the sequence's
   * on_done, which can come after the request that asked for them is gone. */
  char **stop;
  size_t n_stop;
  int stop_hit;             /* engine thread: the stop string that ended the answer, or -1 */
  int32_t *prompt;
  size_t n_prompt;
  sl_engine_req_t er;
  uint64_t seq;
  uv_timer_t timer;    /* local_timeout_ms */
  bool submitted, timed_out;
  /* engine thread writes, loop reads; guarded by port->mu */
  sl_detok_t detok;    /* engine thread only */
  sl_buf_t scan;       /* engine thread: text not yet released (stop-string lookahead) */
  sl_buf_t ready;      /* text for the loop */
  /* logprobs, when asked: one packed record per token (see lp_put), first held
   * on the engine thread (lp_wait) until text at or after the token's start is
   * released, then handed over with that text (lp_ready, guarded by port->mu) */
  bool want_lp;
  uint64_t produced;   /* engine thread: text bytes produced so far */
  uint64_t released;   /* engine thread: text bytes released so far */
  sl_buf_t lp_wait, lp_ready;
  bool done, in_dirty;
  uint32_t gen_so_far;  /* tokens generated so far (port->mu), for sl_call_usage */
  double busy_so_far_ms;/* and the sequence's busy time */
  sl_engine_finish_t why;
  int err;
  sl_engine_stats_t st;
  local_call_t *next_dirty;
};

static void mark_dirty(local_call_t *c) {
  /* caller holds mu */
  if (!c->in_dirty) {
    c->in_dirty = true;
    c->next_dirty = c->port->dirty;
    c->port->dirty = c;
  }
}

/* A token's logprob record: u64 start | f32 logprob | u16 n_top | piece, then
 * n_top × (f32 logprob | piece); a piece is u16 length + bytes. */
/* The sampled token's bytes as the answer's text has them (a control token
 * renders as nothing there: `special` false); an alternative's with their
 * control tokens spelled out. */
static int lp_piece(sl_buf_t *b, const sl_tok_t *tok, int32_t id, bool special) {
  char piece[256];
  int n = sl_tok_piece(tok, id, special, piece, sizeof piece);
  uint16_t len = n > 0 ? (uint16_t)(n < (int)sizeof piece ? n : (int)sizeof piece) : 0;
  int rc = sl_buf_append(b, &len, sizeof len);
  return rc ? rc : sl_buf_append(b, piece, len);
}

static int lp_put(sl_buf_t *b, const sl_tok_t *tok, uint64_t start, const sl_sample_t *s) {
  uint16_t n_top = (uint16_t)(s->n_top < SL_MAX_TOP_LOGPROBS ? s->n_top : SL_MAX_TOP_LOGPROBS);
  int rc = sl_buf_append(b, &start, sizeof start);
  if (!rc) rc = sl_buf_append(b, &s->logprob, sizeof s->logprob);
  if (!rc) rc = sl_buf_append(b, &n_top, sizeof n_top);
  if (!rc) rc = lp_piece(b, tok, s->token, false);
  for (int i = 0; i < n_top && !rc; i++) {
    rc = sl_buf_append(b, &s->top_logprobs[i], sizeof(float));
    if (!rc) rc = lp_piece(b, tok, s->top_ids[i], true);
  }
  return rc;
}

/* Reads one record at *p (advanced past it); returns false at the end. */
static bool lp_get(const char **p, const char *end, uint64_t *start, sl_token_logprob_t *t) {
  const char *q = *p;
  uint16_t n_top, len;
  if ((size_t)(end - q) < 8 + 4 + 2 + 2) return false;
  float f;
  memcpy(start, q, 8), q += 8;
  memcpy(&f, q, 4), q += 4;
  t->logprob = f;
  memcpy(&n_top, q, 2), q += 2;
  memcpy(&len, q, 2), q += 2;
  t->token = q, t->len = len, q += len;
  t->n_top = n_top;
  for (int i = 0; i < n_top; i++) {
    memcpy(&f, q, 4), q += 4;
    t->top[i].logprob = f;
    memcpy(&len, q, 2), q += 2;
    t->top[i].token = q, t->top[i].len = len, q += len;
  }
  *p = q;
  return true;
}

/* engine thread, with port->mu held: hand over the records of tokens that start
 * before `upto` bytes of released text (all of them with upto = UINT64_MAX) */
static void lp_release(local_call_t *c, uint64_t upto) {
  const char *p = c->lp_wait.data, *end = p ? p + c->lp_wait.len : NULL, *q = p;
  sl_token_logprob_t t;
  uint64_t start;
  while (q && lp_get(&q, end, &start, &t) && start < upto) p = q;
  if (!c->lp_wait.data || p == c->lp_wait.data) return;
  size_t n = (size_t)(p - c->lp_wait.data);
  if (sl_buf_append(&c->lp_ready, c->lp_wait.data, n)) c->want_lp = false; /* too much: stop */
  sl_buf_consume(&c->lp_wait, n);
}

/* engine thread */
static bool on_stop(void *user, int32_t token) {
  local_call_t *c = user;
  return sl_tok_is_eog(c->le->tok, token);
}

/* engine thread: detokenize, look for stop strings, release the text that can no
 * longer become part of one */
static bool on_token(void *user, const sl_engine_token_t *t) {
  local_call_t *c = user;
  const local_call_t *r = c;
  size_t before = c->scan.len;
  if (c->want_lp && lp_put(&c->lp_wait, c->le->tok, c->produced, &t->s)) c->want_lp = false;
  sl_detok_push(&c->detok, t->s.token, &c->scan);
  c->produced += c->scan.len - before;
  bool stop = false;
  size_t release = c->scan.len;
  size_t at;
  int hit = sl_stop_find(r->stop, r->n_stop, c->scan.data, c->scan.len, &at);
  if (hit >= 0) {
    release = at;
    stop = true;
    c->stop_hit = hit;
  } else {
    release -= sl_stop_holdback(r->stop, r->n_stop, c->scan.data ? c->scan.data : "", c->scan.len);
  }
  c->released += release;
  pthread_mutex_lock(&c->port->mu);
  c->gen_so_far = t->index + 1;
  c->busy_so_far_ms = t->busy_ms;
  if (release) {
    if (sl_buf_append(&c->ready, c->scan.data, release)) stop = true; /* answer too long */
    if (c->want_lp) lp_release(c, c->released);
    mark_dirty(c);
  }
  pthread_mutex_unlock(&c->port->mu);
  if (stop) {
    sl_buf_reset(&c->scan);
    sl_buf_reset(&c->lp_wait); /* tokens of the stop string itself */
  } else {
    sl_buf_consume(&c->scan, release);
  }
  if (release) uv_async_send(&c->port->async);
  return stop;
}

/* engine thread */
static void on_engine_done(void *user, uint64_t id, sl_engine_finish_t why, int err,
                           const sl_engine_stats_t *st) {
  local_call_t *c = user;
  struct sl_local_port *port = c->port; /* c may be freed by the loop once done is seen */
  if (why != SL_FINISH_STOP) sl_detok_flush(&c->detok, &c->scan);
  pthread_mutex_lock(&port->mu);
  if (c->scan.len) sl_buf_append(&c->ready, c->scan.data, c->scan.len);
  if (c->want_lp && c->scan.len) lp_release(c, UINT64_MAX);
  sl_buf_reset(&c->scan);
  c->done = true;
  c->why = why;
  c->err = err;
  c->st = *st;
  mark_dirty(c);
  pthread_mutex_unlock(&port->mu);
  uv_async_send(&port->async);
}

static void free_stops(local_call_t *c) {
  for (size_t i = 0; i < c->n_stop; i++) free(c->stop[i]);
  free(c->stop);
}

static void call_discard(local_call_t *c) {
  free_stops(c);
  sl_buf_free(&c->base.body);
  sl_buf_free(&c->scan);
  sl_buf_free(&c->ready);
  sl_buf_free(&c->lp_wait);
  sl_buf_free(&c->lp_ready);
  free(c->prompt);
  free(c);
}

static void on_timer_closed(uv_handle_t *h) { call_discard(h->data); }

static void call_free(local_call_t *c) {
  uv_timer_stop(&c->timer);
  uv_close((uv_handle_t *)&c->timer, on_timer_closed);
}

static void call_error(local_call_t *c, int code, const char *msg) {
  sl_call_error_t e = {.code = code, .http_status = code == SL_EBUSY ? 429 : 503,
                       .retryable = !c->base.started, .started = c->base.started, .retryable_fresh = true};
  snprintf(e.type, sizeof e.type, "%s", code == SL_ETIMEOUT ? "timeout" : "backend_error");
  snprintf(e.message, sizeof e.message, "%s", msg);
  c->base.cbs.on_error(c->base.data, &e);
}

/* loop thread: the records as sl_token_logprob_t, a few at a time */
static int deliver_logprobs(local_call_t *c, const sl_buf_t *lp) {
  enum { CHUNK = 8 };
  sl_token_logprob_t t[CHUNK];
  const char *p = lp->data, *end = lp->data + lp->len;
  uint64_t start;
  size_t n = 0;
  int rc = 0;
  while (!rc && lp_get(&p, end, &start, &t[n])) {
    if (++n == CHUNK) {
      rc = c->base.cbs.on_logprobs(c->base.data, t, n);
      n = 0;
    }
  }
  if (!rc && n) rc = c->base.cbs.on_logprobs(c->base.data, t, n);
  return rc;
}

/* loop thread: deliver what the engine produced. A call stays marked in_dirty
 * until it is taken off the detached list here, so the engine thread cannot
 * push it onto the next list (reusing next_dirty) while this walk still needs it. */
static void on_async(uv_async_t *a) {
  struct sl_local_port *port = a->data;
  pthread_mutex_lock(&port->mu);
  local_call_t *list = port->dirty;
  port->dirty = NULL;
  pthread_mutex_unlock(&port->mu);
  while (list) {
    pthread_mutex_lock(&port->mu);
    local_call_t *c = list;
    list = c->next_dirty;
    c->in_dirty = false;
    sl_buf_t text = c->ready, lp = c->lp_ready;
    sl_buf_init(&c->ready, MAX_TEXT);
    sl_buf_init(&c->lp_ready, MAX_TEXT);
    bool done = c->done;
    pthread_mutex_unlock(&port->mu);
    if (lp.len && !c->base.abandoned && c->base.cbs.on_logprobs && deliver_logprobs(c, &lp)) {
      c->base.abandoned = true;
      sl_engine_cancel(c->le->engine, c->seq);
    }
    sl_buf_free(&lp);
    if (text.len && !c->base.abandoned) {
      c->base.started = true;
      if (c->base.cbs.on_text(c->base.data, text.data, text.len)) {
        c->base.abandoned = true;
        sl_engine_cancel(c->le->engine, c->seq);
      }
    }
    sl_buf_free(&text);
    if (!done) continue;
    if (!c->base.abandoned) {
      if (c->timed_out) {
        call_error(c, SL_ETIMEOUT, "the local engine did not finish in time");
      } else if (c->why == SL_FINISH_ERROR || c->why == SL_FINISH_CANCEL) {
        call_error(c, c->err ? c->err : SL_EUNAVAILABLE,
                   c->why == SL_FINISH_ERROR ? "the local engine failed" : "the local engine stopped");
      } else {
        sl_result_t res = {.prompt_tokens = (int)c->st.prompt_tokens,
                           .completion_tokens = (int)c->st.generated_tokens,
                           .usage_reported = true,
                           .finish_reason = c->why == SL_FINISH_LENGTH ? "length" : "stop",
                           .stop_sequence = c->why == SL_FINISH_STOP && c->stop_hit >= 0
                                                ? c->stop[c->stop_hit]
                                                : NULL,
                           .busy_seconds = c->st.busy_ms / 1000.0};
        c->base.cbs.on_done(c->base.data, &res);
      }
    }
    call_free(c);
  }
}

static void on_timeout(uv_timer_t *t) {
  local_call_t *c = t->data;
  c->timed_out = true;
  sl_engine_cancel(c->le->engine, c->seq); /* on_done follows on the engine thread */
}

/* ---- ops ---- */

static local_engine_t *find_engine(struct sl_local_set *set, const char *path) {
  int n = set ? __atomic_load_n(&set->n, __ATOMIC_ACQUIRE) : 0;
  for (int i = 0; path && i < n; i++)
    if (!strcmp(set->eng[i].path, path)) return &set->eng[i];
  return NULL;
}

static const char *model_path(const sl_backend_cfg_t *cfg) {
  const char *env = getenv("SLUICE_MODEL");
  return env && *env ? env : cfg->model_path;
}

static int local_prepare(sl_backends_t *b, const sl_backend_cfg_t *cfg, const sl_call_opts_t *o,
                         const sl_call_cbs_t *cbs, void *data, sl_call_t **out) {
  /* The engine has no tool calling and no constrained decoding: a request
   * offering tools (and not forbidding their use) or asking for JSON output is
   * refused, so the route moves on or the client is told why (free text where
   * JSON was asked for fails the client's parser). */
  if (sl_chat_wants_tools_or_json(o->req)) return SL_EUNSUPPORTED;
  local_engine_t *le = find_engine(b->local, model_path(cfg));
  if (!le || !b->local_port) return SL_EUNAVAILABLE;
  local_call_t *c = calloc(1, sizeof *c);
  if (!c) return SL_ENOMEM;
  c->le = le;
  c->port = b->local_port;
  c->stop_hit = -1;
  for (size_t i = 0; i < o->req->n_stop; i++) {
    if (!o->req->stop[i][0]) continue; /* an empty stop string would end every answer at once */
    char **ns = realloc(c->stop, (c->n_stop + 1) * sizeof *ns);
    if (!ns || !(ns[c->n_stop] = strdup(o->req->stop[i]))) {
      if (ns) c->stop = ns;
      call_discard(c);
      return SL_ENOMEM;
    }
    c->stop = ns;
    c->n_stop++;
  }
  sl_buf_init(&c->base.body, MAX_TEXT);
  sl_buf_init(&c->scan, MAX_TEXT);
  sl_buf_init(&c->ready, MAX_TEXT);
  sl_buf_init(&c->lp_wait, MAX_TEXT);
  sl_buf_init(&c->lp_ready, MAX_TEXT);
  snprintf(c->base.destination, sizeof c->base.destination, "in-process");
  const char *tmpl = cfg->chat_template ? cfg->chat_template : sl_tok_chat_template(le->tok);
  char *text = NULL;
  size_t len = 0;
  sl_tok_span_t *spans = NULL;
  size_t n_spans = 0;
  int rc = SL_EUNSUPPORTED;
  if (tmpl && sl_chat_family_detect(tmpl) != SL_CHAT_FAMILY_UNKNOWN)
    rc = sl_chat_template_render(tmpl, o->req, true, &text, &len, &spans, &n_spans);
  /* A base model without a chat template continues the conversation's text. */
  if (rc == SL_EUNSUPPORTED) {
    rc = sl_chat_text(o->req, &text, &len);
    if (!rc) len = sl_chat_messages_len(o->req); /* the messages only, not tools or stops */
  }
  if (!rc) rc = sl_buf_append(&c->base.body, text, len);
  /* far too long for the context whatever the tokens (twice the bound, for a
   * normalizer that shortens text): refused before the tokenizer spends
   * seconds of this loop on megabytes */
  if (!rc && len / (2 * le->max_piece) > (size_t)sl_engine_n_ctx(le->engine)) rc = SL_ETOOBIG;
  if (!rc)
    rc = sl_tok_encode_spans(le->tok, text, len, true, spans, n_spans, &c->prompt, &c->n_prompt);
  free(text);
  free(spans);
  /* a prompt longer than the model's context is the client's to shorten: the
   * engine would refuse it at submit, which reads as a backend that failed */
  if (!rc && c->n_prompt > (size_t)sl_engine_n_ctx(le->engine)) rc = SL_ETOOBIG;
  if (rc) {
    call_discard(c);
    return rc;
  }
  /* the answer continues the prompt: its first piece keeps its leading space */
  sl_detok_init(&c->detok, le->tok, false, false);
  const sl_chat_req_t *r = o->req;
  sl_engine_req_t *er = &c->er;
  er->prompt = c->prompt;
  er->n_prompt = c->n_prompt;
  sl_sampler_params_init(&er->sampling);
  /* OpenAI's default temperature is 1; greedy only when asked for 0 */
  er->sampling.temperature = r->temperature >= 0 ? (float)r->temperature : 1.0f;
  if (r->top_k >= 0) er->sampling.top_k = r->top_k;
  if (r->top_p >= 0) er->sampling.top_p = (float)r->top_p;
  if (r->min_p >= 0) er->sampling.min_p = (float)r->min_p;
  er->sampling.presence_penalty = (float)r->presence_penalty;
  er->sampling.frequency_penalty = (float)r->frequency_penalty;
  er->sampling.repeat_penalty = (float)r->repetition_penalty;
  er->sampling.seed = r->has_seed ? r->seed : (uint64_t)uv_hrtime();
  if (r->logprobs && cbs->on_logprobs) {
    c->want_lp = true;
    er->sampling.logprobs = true;
    er->sampling.n_logprobs = r->top_logprobs < SL_MAX_TOP_LOGPROBS ? r->top_logprobs
                                                                    : SL_MAX_TOP_LOGPROBS;
  }
  er->max_tokens = r->max_tokens > 0 ? r->max_tokens : 0;
  er->on_stop = on_stop;
  er->on_token = on_token;
  er->on_done = on_engine_done;
  er->user = c;
  uv_timer_init(b->loop, &c->timer);
  c->timer.data = c;
  *out = &c->base;
  return 0;
}

static int local_start(sl_call_t *base) {
  local_call_t *c = (local_call_t *)base;
  int rc = sl_engine_submit(c->le->engine, &c->er, &c->seq);
  if (rc) {
    call_free(c);
    return rc;
  }
  c->submitted = true;
  base->answering = true; /* (a full queue refused it above) */
  uv_update_time(c->port->async.loop);
  if (base->cfg->local_timeout_ms > 0)
    uv_timer_start(&c->timer, on_timeout, (uint64_t)base->cfg->local_timeout_ms, 0);
  return 0;
}

static void local_cancel(sl_call_t *base) {
  local_call_t *c = (local_call_t *)base;
  if (!c->submitted) {
    call_free(c);
    return;
  }
  /* The engine owns the sequence until its on_done: the call is freed then. */
  c->base.abandoned = true;
  sl_engine_cancel(c->le->engine, c->seq);
}

static void local_usage(const sl_call_t *base, sl_result_t *out) {
  local_call_t *c = (local_call_t *)base;
  if (!c->submitted) return;
  pthread_mutex_lock(&c->port->mu);
  out->completion_tokens = (int)c->gen_so_far;
  out->busy_seconds = c->busy_so_far_ms / 1000.0;
  pthread_mutex_unlock(&c->port->mu);
  /* the prompt counts once the engine has worked on it */
  out->prompt_tokens = out->busy_seconds > 0 || out->completion_tokens ? (int)c->n_prompt : 0;
}

const sl_backend_ops_t sl__local_ops = {"local", local_prepare, local_start, local_cancel,
                                        NULL /* no pause: max_tokens bounds the output */,
                                        local_usage};

static int load_all(sl_backends_t *b, const sl_config_t *cfg, char *err, size_t errlen);

/* A token's text is at least as long as the input it stands for (a byte-level
 * BPE letter or SentencePiece's ▁ takes more bytes than the byte it codes). */
static size_t longest_piece(const sl_tok_t *tok) {
  size_t most = 1;
  for (size_t id = 0; id < sl_tok_n_vocab(tok); id++) {
    size_t len = 0;
    if (sl_tok_text(tok, (int32_t)id, &len) && len > most) most = len;
  }
  return most;
}

static int port_open(sl_backends_t *b) {
  struct sl_local_port *p = calloc(1, sizeof *p);
  if (!p) return SL_ENOMEM;
  if (uv_async_init(b->loop, &p->async, on_async)) {
    free(p);
    return SL_EINTERNAL;
  }
  pthread_mutex_init(&p->mu, NULL);
  p->async.data = p;
  b->local_port = p;
  return 0;
}

/* With first == NULL, b owns a new (empty) set of engines; else it shares
 * first's. Either way b gets its own port on its loop. */
int sl__local_init(sl_backends_t *b, const sl_backends_t *first) {
  if (first) {
    b->local = first->local;
  } else {
    if (!(b->local = calloc(1, sizeof *b->local))) return SL_ENOMEM;
    b->local_owner = true;
    pthread_mutex_init(&b->local->load_mu, NULL);
  }
  return port_open(b);
}

int sl__local_prepare_all(sl_backends_t *b, const sl_config_t *cfg, char *err, size_t errlen) {
  if (!b->local) return SL_EINTERNAL;
  pthread_mutex_lock(&b->local->load_mu);
  int rc = load_all(b, cfg, err, errlen);
  pthread_mutex_unlock(&b->local->load_mu);
  return rc;
}

int sl_backends_check(const sl_config_t *cfg, bool require_model, char *err, size_t errlen) {
  for (size_t i = 0; i < cfg->n_backends; i++) {
    const sl_backend_cfg_t *bc = &cfg->backends[i];
    if (bc->kind != SL_BK_LOCAL) continue;
    if (require_model && !model_path(bc)) {
      snprintf(err, errlen, "$.backends[%zu].model: is required (or SLUICE_MODEL in the environment)", i);
      return SL_EINVAL;
    }
    /* a chat_template that names no family would be served as plain text */
    if (bc->chat_template && sl_chat_family_detect(bc->chat_template) == SL_CHAT_FAMILY_UNKNOWN) {
      snprintf(err, errlen,
               "$.backends[%zu].chat_template: \"%.60s\" is not a family sluice lays out "
               "(llama2, llama3, chatml/qwen, mistral, gemma, phi3, zephyr/tinyllama) nor a "
               "template of one",
               i, bc->chat_template);
      return SL_EINVAL;
    }
  }
  return 0;
}

static int load_all(sl_backends_t *b, const sl_config_t *cfg, char *err, size_t errlen) {
  struct sl_local_set *set = b->local;
  int rc = sl_backends_check(cfg, true, err, errlen);
  if (rc) return rc;
  for (size_t i = 0; i < cfg->n_backends; i++) {
    const sl_backend_cfg_t *bc = &cfg->backends[i];
    if (bc->kind != SL_BK_LOCAL) continue;
    const char *path = model_path(bc);
    if (find_engine(set, path)) continue; /* loaded once; a reload keeps it */
    if (set->n >= MAX_LOCAL_ENGINES) {
      snprintf(err, errlen, "$.backends[%zu].model (backend \"%s\"): at most %d local models", i,
               bc->name, MAX_LOCAL_ENGINES);
      return SL_ERANGE;
    }
    char e[256] = "";
    sl_gguf_t *g = sl_gguf_open(path, e, sizeof e);
    sl_tok_t *tok = g ? sl_tok_from_gguf(g, e, sizeof e) : NULL;
    if (g) sl_gguf_close(g);
    if (!tok) {
      snprintf(err, errlen, "$.backends[%zu].model (backend \"%s\"): %s: %s", i, bc->name, path, e);
      return SL_EINVAL;
    }
    const char *own = sl_tok_chat_template(tok);
    if (!bc->chat_template && own && sl_chat_family_detect(own) == SL_CHAT_FAMILY_UNKNOWN)
      SL_WARN("backend \"%s\": %s: its chat template is of no family sluice lays out; "
              "conversations reach the model as plain text (set \"chat_template\")",
              bc->name, path);
    sl_engine_opts_t o;
    sl_engine_opts_init(&o);
    o.model_path = path;
    o.threads = bc->threads;
    o.max_batch = bc->max_batch;
    o.kv_cache_mb = bc->kv_cache_mb;
    o.n_ctx = bc->ctx;
    o.queue_max = bc->queue_max;
    sl_engine_t *eng = sl_engine_create(&o, e, sizeof e);
    if (!eng) {
      sl_tok_free(tok);
      snprintf(err, errlen, "$.backends[%zu].model (backend \"%s\"): %s: %s", i, bc->name, path, e);
      return SL_EINVAL;
    }
    local_engine_t *le = &set->eng[set->n];
    le->path = strdup(path);
    le->engine = eng;
    le->tok = tok;
    le->max_piece = longest_piece(tok);
    le->queue_max = bc->queue_max;
    __atomic_store_n(&set->n, set->n + 1, __ATOMIC_RELEASE);
    SL_INFO("local backend \"%s\": loaded %s (context %d, %d thread%s, batch %d)", bc->name, path,
            sl_engine_n_ctx(eng), bc->threads, bc->threads == 1 ? "" : "s", bc->max_batch);
    const sl_model_info_t *mi = sl_model_info(sl_engine_model(eng));
    if (mi->n_ctx > mi->n_ctx_train)
      SL_WARN("local backend \"%s\": a context of %d positions is past the %d the model was "
              "trained for: answers that reach past them may lose their coherence",
              bc->name, mi->n_ctx, mi->n_ctx_train);
  }
  return 0;
}

bool sl__local_load(const sl_backends_t *b, const sl_backend_cfg_t *cfg, int *running,
                    int *queued, int *queue_max) {
  local_engine_t *le = find_engine(b->local, model_path(cfg));
  if (!le) return false;
  sl_engine_load_t ld;
  sl_engine_load(le->engine, &ld);
  *running = ld.running;
  *queued = ld.queued;
  *queue_max = le->queue_max;
  return true;
}

static void on_port_closed(uv_handle_t *h) {
  struct sl_local_port *p = h->data;
  pthread_mutex_destroy(&p->mu);
  free(p);
}

/* The owner (the first loop's backends) stops the engines: their remaining
 * sequences end and are posted to their loops' ports. Every set of backends
 * then delivers what its port holds, so every call is freed, and closes it.
 * Free the owner first, then the others, with no loop running. */
void sl__local_free_all(sl_backends_t *b) {
  struct sl_local_set *set = b->local;
  if (set && b->local_owner) {
    for (int i = 0; i < set->n; i++) {
      sl_engine_free(set->eng[i].engine); /* remaining sequences end (cancel) */
      sl_tok_free(set->eng[i].tok);
      free(set->eng[i].path);
    }
    set->n = 0;
  }
  if (b->local_port) {
    on_async(&b->local_port->async);
    uv_close((uv_handle_t *)&b->local_port->async, on_port_closed);
    b->local_port = NULL;
  }
  if (set && b->local_owner) {
    pthread_mutex_destroy(&set->load_mu);
    free(set);
  }
  b->local = NULL;
}
