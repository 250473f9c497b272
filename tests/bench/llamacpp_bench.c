/* llama.cpp on this machine, measured the way bench_engine measures sluice's
 * engine, so that `make bench-engine` prints both side by side from one run.
 *
 * It links the prebuilt llama.cpp of the npm package node-llama-cpp (its
 * libllama and libggml; ggml picks the CPU variant for this processor at run
 * time, AVX-512 and AMX included) against the headers of the source bundle that
 * package ships. tests/bench/llamacpp.sh installs and builds it; nothing here
 * is part of sluice.
 *
 * What it measures, best of REPS after one warm-up, with a persistent thread
 * pool as llama-bench uses:
 * - pp128: a 128-token prompt in one llama_decode (the last token's logits);
 * - tg64: 64 tokens decoded one at a time, one llama_decode each (as
 *   llama-bench -n 64: no sampling, fixed tokens);
 * - 8 streams: 8 sequences in one context, a 1-token prompt each and then 64
 *   steps, each step one llama_decode of one token per sequence (as bench_engine's
 *   8 streams of 1 + 64 tokens).
 *
 * usage: llamacpp_bench BINDIR MODEL.gguf THREADS
 * prints: "pp128 X tg64 Y agg8 Z" (tokens/s) on stdout, diagnostics on stderr. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ggml-backend.h"
#include "ggml-cpu.h"
#include "llama.h"

enum { REPS = 5, N_PROMPT = 128, N_GEN = 64, N_STREAMS = 8 };

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_log(enum ggml_log_level level, const char *text, void *user) {
  (void)user;
  if (level == GGML_LOG_LEVEL_ERROR) fputs(text, stderr);
}

typedef struct ggml_threadpool *(*pool_new_t)(struct ggml_threadpool_params *);
typedef void (*pool_free_t)(struct ggml_threadpool *);

typedef struct {
  struct llama_context *ctx;
  struct ggml_threadpool *pool;
  pool_free_t pool_free;
} ctx_t;

static void die(const char *what) {
  fprintf(stderr, "llamacpp_bench: %s\n", what);
  exit(1);
}

static ctx_t ctx_new(struct llama_model *m, int threads, int n_seq) {
  struct llama_context_params cp = llama_context_default_params();
  cp.n_ctx = 256 * (uint32_t)n_seq;
  cp.n_batch = cp.n_ubatch = 512;
  cp.n_seq_max = (uint32_t)n_seq;
  cp.n_threads = cp.n_threads_batch = threads;
  cp.kv_unified = false; /* independent sequences: llama.h's advice */
  ctx_t c = {llama_init_from_model(m, cp), NULL, NULL};
  if (!c.ctx) die("cannot create a context");
  /* llama-bench's persistent thread pool (without it ggml starts threads at
   * every llama_decode) */
  ggml_backend_dev_t cpu = ggml_backend_dev_by_type(GGML_BACKEND_DEVICE_TYPE_CPU);
  ggml_backend_reg_t reg = cpu ? ggml_backend_dev_backend_reg(cpu) : NULL;
  pool_new_t pool_new = reg ? (pool_new_t)ggml_backend_reg_get_proc_address(reg, "ggml_threadpool_new") : NULL;
  c.pool_free = reg ? (pool_free_t)ggml_backend_reg_get_proc_address(reg, "ggml_threadpool_free") : NULL;
  if (pool_new && c.pool_free) {
    struct ggml_threadpool_params tp = ggml_threadpool_params_default(threads);
    tp.poll = 50; /* llama-bench's default */
    c.pool = pool_new(&tp);
    if (c.pool) llama_attach_threadpool(c.ctx, c.pool, NULL);
  }
  return c;
}

static void ctx_free(ctx_t *c) {
  llama_free(c->ctx);
  if (c->pool) c->pool_free(c->pool);
}

static void decode(struct llama_context *ctx, struct llama_batch b) {
  if (llama_decode(ctx, b)) die("llama_decode failed");
  llama_synchronize(ctx);
}

/* Best tokens/s of one run function over a warm-up and REPS runs. */
static double best_of(double (*run)(ctx_t *, int), ctx_t *c, int n_vocab) {
  double best = 0;
  for (int r = 0; r <= REPS; r++) {
    llama_memory_clear(llama_get_memory(c->ctx), true);
    double tps = run(c, n_vocab);
    if (r > 0 && tps > best) best = tps;
  }
  return best;
}

static double run_pp(ctx_t *c, int n_vocab) {
  llama_token p[N_PROMPT];
  for (int i = 0; i < N_PROMPT; i++) p[i] = (10 + i) % n_vocab;
  double t0 = now_s();
  decode(c->ctx, llama_batch_get_one(p, N_PROMPT));
  return N_PROMPT / (now_s() - t0);
}

static double run_tg(ctx_t *c, int n_vocab) {
  double t0 = now_s();
  for (int i = 0; i < N_GEN; i++) {
    llama_token t = (200 + 7 * i) % n_vocab;
    decode(c->ctx, llama_batch_get_one(&t, 1));
  }
  return N_GEN / (now_s() - t0);
}

static double run_agg8(ctx_t *c, int n_vocab) {
  struct llama_batch b = llama_batch_init(N_STREAMS, 0, 1);
  double t0 = now_s();
  for (int step = 0; step <= N_GEN; step++) {
    b.n_tokens = N_STREAMS;
    for (int s = 0; s < N_STREAMS; s++) {
      b.token[s] = (3 + s + 7 * step) % n_vocab;
      b.pos[s] = step;
      b.n_seq_id[s] = 1;
      b.seq_id[s][0] = s;
      b.logits[s] = 1; /* every sequence samples from its logits */
    }
    decode(c->ctx, b);
  }
  double tps = N_STREAMS * (N_GEN + 1) / (now_s() - t0);
  llama_batch_free(b);
  return tps;
}

int main(int argc, char **argv) {
  if (argc != 4 || atoi(argv[3]) < 1) {
    fprintf(stderr, "usage: llamacpp_bench BINDIR MODEL.gguf THREADS\n");
    return 2;
  }
  int threads = atoi(argv[3]);
  llama_log_set(on_log, NULL);
  ggml_backend_load_all_from_path(argv[1]);
  llama_backend_init();
  struct llama_model_params mp = llama_model_default_params();
  mp.n_gpu_layers = 0;
  struct llama_model *m = llama_model_load_from_file(argv[2], mp);
  if (!m) die("cannot load the model");
  int n_vocab = llama_vocab_n_tokens(llama_model_get_vocab(m));

  ctx_t one = ctx_new(m, threads, 1);
  double pp = best_of(run_pp, &one, n_vocab), tg = best_of(run_tg, &one, n_vocab);
  ctx_free(&one);
  ctx_t eight = ctx_new(m, threads, N_STREAMS);
  double agg = best_of(run_agg8, &eight, n_vocab);
  ctx_free(&eight);

  printf("pp128 %.1f tg64 %.1f agg8 %.1f\n", pp, tg, agg);
  llama_model_free(m);
  llama_backend_free();
  return 0;
}
