/* Engine benchmark: prefill (pp128) and decode (tg64) tokens/s of one stream, and
 * the aggregate decode tokens/s of 8 concurrent streams, at 1 and 2 threads, on the
 * shared stories260K and on a project-made random-weight Llama shaped like the 86M
 * model of ../shared/models/README.md (F32 and Q8_0, written here by our GGUF test
 * writer when missing). Each row is measured for llama.cpp too, on the same file
 * and thread count right after sluice, when SL_LLAMACPP names the harness that
 * does it (tests/bench/llamacpp_bench.c, "COMMAND BINDIR": tests/bench/engine.sh
 * sets it); the README's figures, from another machine, are printed below the
 * table. Also compares the matmul precisions (f32, bf16, s8) on the same model.
 *
 * usage: bench_engine MODEL_DIR [--quick]   (MODEL_DIR gets the random models) */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "backends/local/engine.h"
#include "kernels/kernels.h"
#include "tests/tools/gguf_writer.h"
#include "tests/unit/local/gguf_requant.h"

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* CPU time of the whole process: on a shared machine, wall time includes time
 * slices taken by other processes; tokens per CPU-second (meaningful at 1 thread,
 * where nothing else in the process runs) is the contention-free figure. */
static double cpu_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

typedef struct {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int pending;
  sl_engine_stats_t st[8];
} wait_t;

static bool on_token(void *u, const sl_engine_token_t *t) { return false; }
static void on_done(void *u, uint64_t id, sl_engine_finish_t why, int err, const sl_engine_stats_t *st) {
  wait_t *w = u;
  pthread_mutex_lock(&w->mu);
  w->st[--w->pending] = *st;
  pthread_cond_signal(&w->cv);
  pthread_mutex_unlock(&w->mu);
}

/* Runs n_streams sequences with the given prompt length and output count; returns
 * wall milliseconds from the first submit to the last done. */
static double run(sl_engine_t *e, int n_streams, int n_prompt, int n_out, wait_t *w) {
  static int32_t prompt[512];
  for (int i = 0; i < n_prompt; i++) prompt[i] = i == 0 ? 1 : 3 + (i * 7919) % 500;
  pthread_mutex_lock(&w->mu);
  w->pending = n_streams;
  pthread_mutex_unlock(&w->mu);
  double t0 = now_ms();
  for (int s = 0; s < n_streams; s++) {
    sl_engine_req_t r = {.prompt = prompt, .n_prompt = (size_t)n_prompt, .max_tokens = n_out,
                         .on_token = on_token, .on_done = on_done, .user = w};
    sl_sampler_params_init(&r.sampling);
    prompt[0] = 1;
    if (n_prompt > 1) prompt[1] = 3 + s; /* distinct sequences */
    if (sl_engine_submit(e, &r, NULL)) {
      fprintf(stderr, "submit failed\n");
      exit(1);
    }
  }
  pthread_mutex_lock(&w->mu);
  while (w->pending) pthread_cond_wait(&w->cv, &w->mu);
  pthread_mutex_unlock(&w->mu);
  return now_ms() - t0;
}

typedef struct {
  double pp, tg, agg8;
  double pp_cpu, tg_cpu, agg8_cpu; /* tokens per CPU-second */
} result_t;

static int reps = 5;

static result_t measure(const char *path, int threads, int prec) {
  sl_engine_opts_t o;
  sl_engine_opts_init(&o);
  o.model_path = path;
  o.threads = threads;
  o.max_batch = 8;
  o.n_ctx = 256;
  o.step_tokens = 128;
  o.prec = prec;
  char err[512];
  sl_engine_t *e = sl_engine_create(&o, err, sizeof err);
  if (!e) {
    fprintf(stderr, "bench_engine: %s\n", err);
    exit(1);
  }
  wait_t w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, {{0}}};
  result_t r = {0, 0, 0, 0, 0, 0};
  /* Warm-up creates the oneDNN primitives for every row count used below. */
  run(e, 1, 128, 2, &w);
  run(e, 8, 1, 4, &w);
  run(e, 1, 1, 4, &w);
  for (int i = 0; i < reps; i++) {
    /* pp128: one 128-token prompt in one forward pass (admit → first token). */
    double c0 = cpu_ms();
    run(e, 1, 128, 1, &w);
    double pp = 128 / (w.st[0].prefill_ms / 1e3), ppc = 128 / ((cpu_ms() - c0) / 1e3);
    /* tg64: 64 tokens decoded one at a time after a 1-token prompt, as llama-bench. */
    c0 = cpu_ms();
    run(e, 1, 1, 65, &w);
    double tg = 64 / (w.st[0].decode_ms / 1e3), tgc = 65 / ((cpu_ms() - c0) / 1e3);
    if (ppc > r.pp_cpu) r.pp_cpu = ppc;
    if (tgc > r.tg_cpu) r.tg_cpu = tgc;
    /* 8 streams of 64 decoded tokens each, all in one batch per step. */
    c0 = cpu_ms();
    double ms = run(e, 8, 1, 65, &w);
    double agg = 8 * 65 / (ms / 1e3), aggc = 8 * 65 / ((cpu_ms() - c0) / 1e3);
    if (aggc > r.agg8_cpu) r.agg8_cpu = aggc;
    if (pp > r.pp) r.pp = pp;
    if (tg > r.tg) r.tg = tg;
    if (agg > r.agg8) r.agg8 = agg;
  }
  sl_engine_free(e);
  return r;
}

/* llama.cpp's pp128, tg64 and 8-stream figures for one row, from the harness
 * SL_LLAMACPP names; false when there is none or it failed. */
typedef struct {
  double pp, tg, agg8;
} llama_t;

static bool measure_llamacpp(const char *path, int threads, llama_t *out) {
  const char *cmd = getenv("SL_LLAMACPP");
  if (!cmd || !*cmd || strchr(path, '\'')) return false;
  char line[1600];
  snprintf(line, sizeof line, "%s '%s' %d", cmd, path, threads);
  FILE *p = popen(line, "r");
  if (!p) return false;
  bool ok = fgets(line, sizeof line, p) &&
            sscanf(line, "pp128 %lf tg64 %lf agg8 %lf", &out->pp, &out->tg, &out->agg8) == 3;
  return pclose(p) == 0 && ok;
}

static void make_random(const char *path, uint32_t wtype, const char *shared) {
  struct stat st;
  if (!stat(path, &st)) return;
  /* The stories260K vocabulary (512 SentencePiece tokens), so the model can be
   * driven with real text through `sluice generate` too. */
  char voc[600], err[256];
  snprintf(voc, sizeof voc, "%s/models/stories260K.gguf", shared);
  sl_gguf_t *g = sl_gguf_open(voc, err, sizeof err);
  static const char *tokens[512];
  static char storage[512][64];
  static float scores[512];
  static int32_t types[512];
  gw_llama_t c = {.arch = "llama", .dim = 768, .n_layers = 12, .n_heads = 12, .n_kv_heads = 12,
                  .n_ff = 2048, .n_ctx = 1024, .n_vocab = 512, .std = 0.02f, .rope_base = 10000.f,
                  .eps = 1e-5f, .wtype = wtype, .seed = 86};
  if (g) {
    int64_t kt = sl_gguf_find_key(g, "tokenizer.ggml.tokens"), ks = sl_gguf_find_key(g, "tokenizer.ggml.scores"),
            ky = sl_gguf_find_key(g, "tokenizer.ggml.token_type");
    if (sl_gguf_arr_len(g, kt) == 512) {
      for (int i = 0; i < 512; i++) {
        size_t n;
        const char *s = sl_gguf_arr_str(g, kt, (size_t)i, &n);
        snprintf(storage[i], sizeof storage[i], "%.*s", (int)n, s);
        tokens[i] = storage[i];
        sl_gguf_arr_f32(g, ks, (size_t)i, &scores[i]);
        sl_gguf_arr_i32(g, ky, (size_t)i, &types[i]);
      }
      c.tokens = tokens, c.scores = scores, c.token_types = types;
    }
  }
  fprintf(stderr, "bench_engine: writing %s ...\n", path);
  if (gw_random_llama(path, &c)) {
    fprintf(stderr, "bench_engine: cannot write %s\n", path);
    exit(1);
  }
  sl_gguf_close(g);
}

int main(int argc, char **argv) {
  if (argc < 2 || argv[1][0] == '-') { /* "--help" is no directory to write 400 MB into */
    fprintf(stderr, "usage: bench_engine MODEL_DIR [--quick] [--make-only]\n");
    return argc >= 2 && !strcmp(argv[1], "--help") ? 0 : 2;
  }
  bool quick = argc > 2 && !strcmp(argv[2], "--quick"), make_only = argc > 2 && !strcmp(argv[2], "--make-only");
  if (quick) reps = 1;
  const char *shared = getenv("SLUICE_SHARED") ? getenv("SLUICE_SHARED") : "../shared";
  char f32[600], q8[600], q4[600], stories[600];
  snprintf(f32, sizeof f32, "%s/rand86m-f32.gguf", argv[1]);
  snprintf(q8, sizeof q8, "%s/rand86m-q8_0.gguf", argv[1]);
  snprintf(q4, sizeof q4, "%s/rand86m-q4_0.gguf", argv[1]);
  snprintf(stories, sizeof stories, "%s/models/stories260K.gguf", shared);
  mkdir(argv[1], 0755);
  make_random(f32, SL_GGML_F32, shared);
  make_random(q8, SL_GGML_Q8_0, shared);
  struct stat st;
  if (stat(q4, &st)) { /* the test writer has no Q4_0: converted from the F32 file */
    fprintf(stderr, "bench_engine: writing %s ...\n", q4);
    if (gw_requant(f32, q4, SL_GGML_Q4_0)) {
      fprintf(stderr, "bench_engine: cannot write %s\n", q4);
      return 1;
    }
  }
  if (make_only) return 0;

  struct {
    const char *name, *path;
    int threads;
  } rows[] = {
      {"random 86M F32", f32, 1},  {"random 86M F32", f32, 2},  {"random 86M Q8_0", q8, 1},
      {"random 86M Q8_0", q8, 2},  {"random 86M Q4_0", q4, 1},  {"random 86M Q4_0", q4, 2},
      {"stories260K F32", stories, 1}, {"stories260K F32", stories, 2},
  };
  bool live = getenv("SL_LLAMACPP") && *getenv("SL_LLAMACPP");
  printf("\nsluice engine benchmark (tokens/s, best of %d)%s\n\n", reps,
         live ? "; llama.cpp measured right after each row, same file and threads" : "");
  double la[3] = {0};
  if (getloadavg(la, 3) > 0) printf("load average at start: %.2f (2 vCPUs shared with other work)\n\n", la[0]);
  printf("| model | threads | prec | pp128 sluice / llama.cpp | tg64 sluice / llama.cpp | 8 streams sluice / llama.cpp "
         "| 8-stream / tg64 sluice (llama.cpp) | per CPU-s: pp128 / tg64 / 8 streams (ratio) |\n");
  printf("|---|---|---|---|---|---|---|---|\n");
  /* SL_BENCH_ROW=i runs only row i of the table (for profiling). */
  const char *only = getenv("SL_BENCH_ROW");
  for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
    if (only && (size_t)atoi(only) != i) continue;
    result_t r = measure(rows[i].path, rows[i].threads, -1);
    llama_t l;
    char lpp[32] = "-", ltg[32] = "-", lagg[32] = "-", lratio[32] = "";
    if (live && measure_llamacpp(rows[i].path, rows[i].threads, &l)) {
      snprintf(lpp, sizeof lpp, "%.0f (%.2fx)", l.pp, r.pp / l.pp);
      snprintf(ltg, sizeof ltg, "%.0f (%.2fx)", l.tg, r.tg / l.tg);
      snprintf(lagg, sizeof lagg, "%.0f (%.2fx)", l.agg8, r.agg8 / l.agg8);
      snprintf(lratio, sizeof lratio, " (%.1fx)", l.agg8 / l.tg);
    }
    const char *prec = strstr(rows[i].name, "F32") ? "f32" : "s8";
    printf("| %s | %d | %s | %.0f / %s | %.0f / %s | %.0f / %s | %.1fx%s | %.0f / %.0f / %.0f (%.1fx) |\n",
           rows[i].name, rows[i].threads, prec, r.pp, lpp, r.tg, ltg, r.agg8, lagg, r.agg8 / r.tg, lratio,
           r.pp_cpu, r.tg_cpu, r.agg8_cpu, r.agg8_cpu / r.tg_cpu);
    fflush(stdout);
  }
  if (live)
    printf("\n(x): sluice / llama.cpp. llama.cpp is the prebuilt CPU build of node-llama-cpp "
           "(tests/bench/llamacpp.sh);\nits CPU variant is chosen for this processor at run time.\n");
  /* llama.cpp c392e50, llama-bench -p 128 -n 64, from ../shared/models/README.md:
   * ranges of three runs on the machine that README describes, not this one. */
  printf("\nllama.cpp c392e50 in ../shared/models/README.md (another machine: 2 vCPU AMD EPYC), "
         "pp128 / tg64:\n86M F32 1t 605-630 / 79-84, 2t 1007-1096 / 85-118; 86M Q8_0 1t 576-608 / 190-252, "
         "2t 808-978 / 187-237;\nstories260K 1t ~15700 / ~10400\n");
  if (only) return 0;
  printf("\nmatmul precision on the random 86M model (Q8_0 file; f32/bf16 use its dequantised weights)\n\n");
  printf("| threads | prec | pp128 | tg64 | 8 streams aggregate | per CPU-s: pp128 / tg64 / 8 streams |\n|---|---|---|---|---|---|\n");
  for (int t = 1; t <= 2; t++)
    for (int p = 0; p < 3; p++) {
      if (!sl_kern_dnnl_supports((sl_kern_prec_t)p)) { /* bf16 without AVX-512 */
        printf("| %d | %s | not supported on this CPU | | | |\n", t, sl_kern_prec_name((sl_kern_prec_t)p));
        continue;
      }
      result_t r = measure(q8, t, p);
      printf("| %d | %s | %.0f | %.0f | %.0f | %.0f / %.0f / %.0f |\n", t, sl_kern_prec_name((sl_kern_prec_t)p), r.pp,
             r.tg, r.agg8, r.pp_cpu, r.tg_cpu, r.agg8_cpu);
      fflush(stdout);
    }
  return 0;
}
