/* `sluice generate`: runs the in-process engine once from the command line —
 * tokenize the prompt with the model's own tokenizer, generate, stream the text (or
 * print one JSON object with the token ids, the text and timings). The same code
 * path as the `local` backend, minus HTTP: useful to check a model file and to
 * compare token ids with llama.cpp. */
#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdbool.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "engine.h"
#include "sl_buf.h"
#include "sl_err.h"
#include "tokenizer.h"

#define MAX_OUT 65536

static void usage(FILE *f) {
  fprintf(f,
          "usage: sluice generate --model FILE.gguf [-p PROMPT] [-n N] [--temp T] [--seed S]\n"
          "                       [--threads K] [--json]\n"
          "  -p PROMPT         text prompt (BOS added if the vocabulary asks; default \"\")\n"
          "  --prompt-ids L    comma-separated token ids instead of text\n"
          "  -n N              tokens to generate (default 64)\n"
          "  --temp T          0 (default) is greedy\n"
          "  --top-k K --top-p P --min-p P --repeat-penalty R   sampling\n"
          "  --seed S          sampler seed (default 0)\n"
          "  --threads K       oneDNN threads (default 1)\n"
          "  --ctx N           context positions (default: the model's)\n"
          "  --prec f32|bf16|s8  matmul precision (default: s8 for Q8_0 and 4- to 6-bit files, else f32)\n"
          "  --json            print one JSON object: prompt_tokens and output_tokens (the token\n                    ids, arrays), text, timings\n");
}

typedef struct {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  bool done;
  sl_engine_finish_t why;
  int err;
  sl_engine_stats_t st;
  const sl_tok_t *tok;
  sl_detok_t detok;
  sl_buf_t text;
  bool stream;
  int32_t *out;
  size_t n_out, cap_out;
} run_t;

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static bool on_stop(void *u, int32_t id) {
  run_t *r = u;
  return r->tok && sl_tok_is_eog(r->tok, id);
}

static bool on_token(void *u, const sl_engine_token_t *t) {
  run_t *r = u;
  if (r->n_out < r->cap_out) r->out[r->n_out++] = t->s.token;
  if (r->tok) {
    size_t before = r->text.len;
    sl_detok_push(&r->detok, t->s.token, &r->text);
    if (r->stream && r->text.len > before) {
      fwrite(r->text.data + before, 1, r->text.len - before, stdout);
      fflush(stdout);
    }
  }
  return false;
}

static void on_done(void *u, uint64_t id, sl_engine_finish_t why, int err, const sl_engine_stats_t *st) {
  run_t *r = u;
  pthread_mutex_lock(&r->mu);
  r->done = true;
  r->why = why;
  r->err = err;
  r->st = *st;
  pthread_cond_signal(&r->cv);
  pthread_mutex_unlock(&r->mu);
}

static int parse_ids(const char *s, int32_t **ids, size_t *n) {
  size_t cap = 16;
  *ids = malloc(cap * sizeof **ids);
  *n = 0;
  if (!*ids) return SL_ENOMEM;
  while (*s) {
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || v < 0 || v > INT32_MAX) return SL_EINVAL;
    if (*n == cap) {
      int32_t *p = realloc(*ids, (cap *= 2) * sizeof **ids);
      if (!p) return SL_ENOMEM;
      *ids = p;
    }
    (*ids)[(*n)++] = (int32_t)v;
    s = end;
    /* one comma between ids (spaces around it allowed): "1,,2" and "1,"
     * are a list with a hole, not 1 and 2 */
    while (*s == ' ') s++;
    if (*s == ',') {
      s++;
      while (*s == ' ') s++;
      if (!*s || *s == ',') return SL_EINVAL;
    } else if (*s) {
      return SL_EINVAL;
    }
  }
  return *n ? 0 : SL_EINVAL;
}

static cJSON *id_array(const int32_t *ids, size_t n) {
  cJSON *a = cJSON_CreateArray();
  for (size_t i = 0; i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(ids[i]));
  return a;
}

/* Numeric options, read whole and in range, or a message naming them. */
static bool int_arg(const char *name, const char *v, long lo, long hi, int *out) {
  long x;
  if (!sl_cli_whole(v, lo, hi, &x)) {
    fprintf(stderr, "sluice generate: %s must be a whole number from %ld to %ld (got '%s')\n", name, lo, hi, v);
    return false;
  }
  *out = (int)x;
  return true;
}

static bool num_arg(const char *name, const char *v, double lo, double hi, float *out) {
  char *end;
  double x = strtod(v, &end);
  if (end == v || *end || !(x >= lo && x <= hi)) {
    fprintf(stderr, "sluice generate: %s must be a number from %g to %g (got '%s')\n", name, lo, hi, v);
    return false;
  }
  *out = (float)x;
  return true;
}

static bool seed_arg(const char *name, const char *v, uint64_t *out) {
  char *end;
  errno = 0;
  long long x = strtoll(v, &end, 10); /* signed 64 bits, as the API's seed */
  if (errno || end == v || *end) {
    fprintf(stderr, "sluice generate: %s must be a signed 64-bit integer, as the API's seed (got '%s')\n", name, v);
    return false;
  }
  *out = (uint64_t)x;
  return true;
}

int sl_cli_generate(int argc, char **argv) {
  const char *model = NULL, *prompt = "", *prompt_ids = NULL;
  bool json = false;
  sl_engine_opts_t eo;
  sl_engine_opts_init(&eo);
  eo.max_batch = 1;
  sl_engine_req_t rq = {0};
  sl_sampler_params_init(&rq.sampling);
  rq.max_tokens = 64;
  bool ok = true;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
#define ARG(name) (!strcmp(a, name) && v && (i++, 1))
    if (ARG("--model") || ARG("-m")) model = v;
    else if (ARG("-p") || ARG("--prompt")) prompt = v;
    else if (ARG("--prompt-ids")) prompt_ids = v;
    else if (ARG("-n")) ok = int_arg(a, v, 1, 1 << 20, &rq.max_tokens);
    else if (ARG("--temp")) ok = num_arg(a, v, 0, 2, &rq.sampling.temperature);
    else if (ARG("--top-k")) ok = int_arg(a, v, 0, 1 << 20, &rq.sampling.top_k);
    else if (ARG("--top-p")) ok = num_arg(a, v, 0, 1, &rq.sampling.top_p);
    else if (ARG("--min-p")) ok = num_arg(a, v, 0, 1, &rq.sampling.min_p);
    else if (ARG("--repeat-penalty")) ok = num_arg(a, v, 0.01, 100, &rq.sampling.repeat_penalty);
    else if (ARG("--seed")) ok = seed_arg(a, v, &rq.sampling.seed);
    else if (ARG("--threads")) ok = int_arg(a, v, 1, 1024, &eo.threads);
    else if (ARG("--ctx")) ok = int_arg(a, v, 1, 1 << 24, &eo.n_ctx);
    else if (ARG("--prec")) {
      eo.prec = !strcmp(v, "f32") ? SL_KPREC_F32 : !strcmp(v, "bf16") ? SL_KPREC_BF16 : !strcmp(v, "s8") ? SL_KPREC_S8 : -2;
      if (eo.prec == -2) {
        fprintf(stderr, "sluice generate: --prec must be f32, bf16 or s8\n");
        return 2;
      }
    } else if (!strcmp(a, "--json")) json = true;
    else if (sl_cli_is_help(a)) {
      usage(stdout);
      return 0;
    } else {
      fprintf(stderr, "sluice generate: unknown or incomplete argument '%s'\n", a);
      usage(stderr);
      return 2;
    }
#undef ARG
    if (!ok) return 2;
  }
  if (!model) {
    usage(stderr);
    return 2;
  }
  char err[512];
  double t0 = now_ms();
  eo.model_path = model;
  sl_engine_t *e = sl_engine_create(&eo, err, sizeof err);
  if (!e) {
    fprintf(stderr, "sluice generate: %s\n", err);
    return 1;
  }
  double t_load = now_ms() - t0;
  const sl_model_info_t *mi = sl_model_info(sl_engine_model(e));
  if (mi->n_ctx > mi->n_ctx_train)
    fprintf(stderr, "sluice generate: warning: --ctx %d is past the %d positions the model was "
                    "trained for: text that reaches past them may lose its coherence\n",
            mi->n_ctx, mi->n_ctx_train);
  /* (the engine keeps no file open: the tokenizer reads the metadata itself) */
  sl_gguf_t *g = sl_gguf_open(model, err, sizeof err);
  sl_tok_t *tok = g ? sl_tok_from_gguf(g, err, sizeof err) : NULL;
  sl_gguf_close(g);
  if (!tok && !prompt_ids) {
    fprintf(stderr, "sluice generate: tokenizer: %s\n", err);
    sl_engine_free(e);
    return 1;
  }
  int32_t *ids = NULL;
  size_t n_ids = 0;
  int rc = prompt_ids ? parse_ids(prompt_ids, &ids, &n_ids)
                      : sl_tok_encode(tok, prompt, strlen(prompt), sl_tok_add_bos(tok), true, &ids, &n_ids);
  bool said = false;
  if (!rc && !n_ids) { /* an empty prompt with no BOS has nothing to condition on */
    fprintf(stderr, "sluice generate: the prompt is empty and this model's vocabulary adds no "
                    "beginning-of-text token: there is nothing to generate from\n");
    rc = SL_EINVAL, said = true;
  }
  if (rc == SL_EINVAL && prompt_ids && !said) {
    fprintf(stderr, "sluice generate: --prompt-ids '%s' is not a list of token ids separated by single commas\n",
            prompt_ids);
    said = true;
  }
  /* what the engine would refuse, said in the model's numbers */
  for (size_t i = 0; !rc && i < n_ids; i++)
    if (ids[i] < 0 || ids[i] >= mi->n_vocab) {
      fprintf(stderr, "sluice generate: prompt token %zu is id %d: the model's ids are 0..%d\n", i,
              (int)ids[i], mi->n_vocab - 1);
      rc = SL_ERANGE, said = true;
    }
  if (!rc && n_ids >= (size_t)sl_engine_n_ctx(e)) {
    fprintf(stderr, "sluice generate: the prompt has %zu tokens: the context holds %d, and one "
                    "more is needed for an answer\n", n_ids, sl_engine_n_ctx(e));
    rc = SL_ERANGE, said = true;
  }
  if (rc) {
    if (!said)
      fprintf(stderr, "sluice generate: cannot make prompt tokens: %s\n", sl_strerror(rc));
    free(ids);
    sl_tok_free(tok);
    sl_engine_free(e);
    return 1;
  }
  run_t r = {.tok = tok, .stream = !json, .cap_out = MAX_OUT};
  pthread_mutex_init(&r.mu, NULL);
  pthread_cond_init(&r.cv, NULL);
  sl_buf_init(&r.text, (size_t)MAX_OUT * 64);
  r.out = malloc(MAX_OUT * sizeof(int32_t));
  if (tok) sl_detok_init(&r.detok, tok, false, false);
  rq.prompt = ids;
  rq.n_prompt = n_ids;
  rq.on_stop = on_stop;
  rq.on_token = on_token;
  rq.on_done = on_done;
  rq.user = &r;
  if (!r.out || (rc = sl_engine_submit(e, &rq, NULL))) {
    fprintf(stderr, "sluice generate: %s\n", sl_strerror(r.out ? rc : SL_ENOMEM));
    rc = 1;
  } else {
    pthread_mutex_lock(&r.mu);
    while (!r.done) pthread_cond_wait(&r.cv, &r.mu);
    pthread_mutex_unlock(&r.mu);
    if (tok) {
      size_t before = r.text.len;
      sl_detok_flush(&r.detok, &r.text);
      if (r.stream && r.text.len > before) fwrite(r.text.data + before, 1, r.text.len - before, stdout);
    }
    double pf_s = r.st.prefill_ms / 1e3, dc_s = r.st.decode_ms / 1e3;
    if (json) {
      cJSON *o = cJSON_CreateObject();
      cJSON_AddItemToObject(o, "prompt_tokens", id_array(ids, n_ids));
      cJSON_AddItemToObject(o, "output_tokens", id_array(r.out, r.n_out));
      cJSON_AddStringToObject(o, "text", r.text.data ? r.text.data : "");
      cJSON_AddStringToObject(o, "finish_reason", sl_engine_finish_name(r.why));
      cJSON *t = cJSON_AddObjectToObject(o, "timings");
      cJSON_AddNumberToObject(t, "load_ms", t_load);
      cJSON_AddNumberToObject(t, "prefill_ms", r.st.prefill_ms);
      cJSON_AddNumberToObject(t, "decode_ms", r.st.decode_ms);
      cJSON_AddNumberToObject(t, "ttft_ms", r.st.ttft_ms);
      cJSON_AddNumberToObject(t, "prefill_tokens_per_s", pf_s > 0 ? n_ids / pf_s : 0);
      /* The first token comes out of the prefill pass; decode makes the rest. */
      cJSON_AddNumberToObject(t, "decode_tokens_per_s", dc_s > 0 && r.n_out > 1 ? (r.n_out - 1) / dc_s : 0);
      cJSON *mo = cJSON_AddObjectToObject(o, "model");
      cJSON_AddStringToObject(mo, "arch", mi->arch);
      cJSON_AddStringToObject(mo, "precision", sl_kern_prec_name(mi->prec));
      cJSON_AddNumberToObject(mo, "threads", eo.threads);
      char *s = cJSON_PrintUnformatted(o);
      if (s) puts(s);
      free(s);
      cJSON_Delete(o);
    } else {
      printf("\n");
      fprintf(stderr, "[%zu prompt tokens, %zu generated, %s; prefill %.1f ms, decode %.1f tok/s]\n", n_ids,
              r.n_out, sl_engine_finish_name(r.why), r.st.prefill_ms,
              dc_s > 0 && r.n_out > 1 ? (r.n_out - 1) / dc_s : 0.0);
    }
    rc = r.why == SL_FINISH_ERROR ? 1 : 0;
  }
  free(r.out);
  sl_buf_free(&r.text);
  free(ids);
  sl_tok_free(tok);
  sl_engine_free(e);
  return rc;
}
