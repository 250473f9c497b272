/* Difficulty: surface features of a request (length, turns, code, math,
 * reasoning cues, constraints, tools / JSON schema, max_tokens, language) and a
 * logistic-regression score over them. Weights and the easy/medium/hard
 * thresholds come from a JSON file (router/difficulty_weights.json, fitted by
 * `sluice train-router`); the same numbers are compiled in as the default. */
#include "sl_file.h"
#include "router_int.h"
#include "sl_err.h"

#include <cjson/cJSON.h>
#include <hs/hs.h>
#include <pthread.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *const sl__df_names[SL_DF__COUNT] = {
#define SL_DF_NAME(n) #n,
    SL_DF_MAP(SL_DF_NAME)
#undef SL_DF_NAME
};

/* Compiled-in default: the committed router/difficulty_weights.json. */
#include "difficulty_default.h"

void sl__diff_default(sl__diffmodel_t *m) {
  memset(m, 0, sizeof *m);
  for (int i = 0; i < SL_DF__COUNT; i++) m->w[i] = sl__diff_default_w[i];
  m->t_medium = SL_DIFF_DEFAULT_T_MEDIUM;
  m->t_hard = SL_DIFF_DEFAULT_T_HARD;
}

static double cap1(double x) { return x > 1 ? 1 : x; }

/* Cue words per feature group, counted in one Hyperscan pass (compiled once per
 * process; the counting falls back to plain loops if it cannot be built). */
enum { G_CODE, G_LATEX, G_MATHW, G_REASON, G_CONS, G_PROOF, G_EASY, G_CODEREQ, G_JSON, G_DEF, G_EXPERT, G_LOOK, G__N };
static const char *const words[G__N][80] = {
    [G_CODE] = {"def ", "return", "function", "class ", "import ", "#include", "const ", "=>",
                "();", "){", ") {", "public ", "void ", "int ", "print(", "select ", "var ", "let ",
                "struct ", "lambda", "async ", "->", ">>>", "\"\"\"", NULL},
    [G_LATEX] = {"$", "\\frac", "\\sqrt", "\\pi", "\\cdot", "\\le", "\\ge", "\\pmod", "\\sum",
                 "\\int", "\\angle", "\\triangle", NULL},
    [G_MATHW] = {"integer", "equation", "solve", "compute", "probability", "polynomial", "triangle",
                 "real number", "remainder", "prime", "divisible", "circle", "radius", "area of",
                 "how many", "greatest", "least", "sum of", "product of", "value of",
                 "express your answer", "simplify", "evaluate", "function f", "matrix",
                 "derivative", "integral", "modulo", "digits", "coordinates", "sequence", NULL},
    [G_REASON] = {"step by step", "explain why", "reason", "analyze", "analyse", "derive",
                  "trade-off", "tradeoff", "optimize", "optimise", "algorithm", "complexity",
                  "efficient", "implement", "debug", "design a", "architecture", "edge case",
                  "prove", "why does", "what if", "puzzle", "riddle", "logic", NULL},
    [G_CONS] = {"must", "should", "at least", "at most", "exactly", "without", "only", "do not",
                "don't", "ensure", "make sure", "no more than", "requirement", "constraint",
                "assume", "given that", "such that", NULL},
    [G_PROOF] = {"prove", "show that", "lemma", "theorem", "find all", "for all", "if and only if",
                 "determine", "beweise", "zeige, dass", "zeigen sie", "montrer que", "montrez",
                 "démontrer", "démontrez", "demuestra", "demostrar", "dimostra", "prove que",
                 "mostre que", "докаж", "证明", "証明", NULL},
    [G_EASY] = {"what is", "what are", "who is", "who was", "name the", "give me", "list",
                "translate", "rewrite", "classify", "extract", "suggest", "brainstorm", "summarize",
                "tell me", "what does", "describe", "example", "where is", "when did", NULL},
    [G_CODEREQ] = {"python", "javascript", "typescript", "java ", "c++", "c#", "golang", "rust",
                   "sql", "html", "css", "program", "script", "function", "code", "regex", "api",
                   "bash", "compile", "bug", "class", "method", "library", NULL},
    [G_JSON] = {"json schema", "json_schema", NULL},
    /* a definition at a line's start: code to complete or to work on, fenced or not */
    [G_DEF] = {"\ndef ", "\n    def ", "\nasync def ", "\nfunction ", "\nfunc ", "\nfn ",
               "\npub fn ", "\nclass ", "\n#include", "\nint main", "\ntemplate <", NULL},
    /* terms of expert fields: a short question that names one can be a hard one */
    [G_EXPERT] = {"transcendental", "isomorph", "homomorph", "abelian", "eigen", "manifold",
                  "topolog", "asymptotic", "bijecti", "injective", "surjective", "countabl",
                  "conjecture", "diophantine", "galois", "lebesgue", "hilbert", "banach",
                  "martingale", "stochastic", "ergodic", "chromatic", "hamiltonian", "planar graph",
                  "np-hard", "np-complete", "undecidab", "linearizab", "serializab", "byzantine",
                  "paxos", "consensus", "lock-free", "wait-free", "deadlock", "race condition",
                  "memory model", "amortized", "invariant", "contravarian", "monad", "cache coheren",
                  "generating function", "recurrence", "uniformly continuous", "converge",
                  "gleichmäßig", "stetig", "abélien", "continue uniformément", "convergen",
                  "p-adic", "modular form", "cohomolog", "ideal ", "prime ideal", "sylow",
                  "group of order", "groups of order", "normal subgroup", "simple group",
                  "unique factorization", "irrational", "nowhere differentiable", "ramsey",
                  "measure zero", "compactness", "halting problem", NULL},
    /* counted in the ask around a paste only: asking to read something off it */
    [G_LOOK] = {"which", "what's", "what is", "who", "when", "where", "title", "name", "how many",
                "how much", "value", "version", "language", "date", "rename", "thank", "hello",
                "quel", "welche", "wie lautet", "cuál", "qual", NULL},
};
/* LaTeX commands and code punctuation match anywhere; words only at a word start. */
static bool word_start(int grp, const char *w) {
  return grp != G_LATEX && grp != G_CODE && (isalnum((unsigned char)w[0]));
}

static hs_database_t *cue_db;
static hs_scratch_t *cue_proto;
static unsigned cue_group[512];
static pthread_once_t cue_once = PTHREAD_ONCE_INIT;

static char cue_buf[512][64];
static bool cue_bytewise[512];
static unsigned cue_n;

/* The punctuation cues the byte pass (tokenize.c) counts: keep the two in step. */
static const char *const bytewise[] = {"=>", "->", "();", "){", ") {", "$", NULL};
static pthread_once_t expr_once = PTHREAD_ONCE_INIT;

static void expr_init(void) {
  unsigned n = 0;
  for (int g = 0; g < G__N; g++)
    for (int k = 0; words[g][k] && n < 512; k++) {
      const char *w = words[g][k];
      size_t o = 0;
      if (word_start(g, w)) o += (size_t)snprintf(cue_buf[n], 64, "\\b");
      for (const char *p = w; *p && o + 3 < 64; p++) {
        unsigned char c = (unsigned char)*p;
        if (c < 0x80 && !isalnum(c) && c != ' ') cue_buf[n][o++] = '\\';
        cue_buf[n][o++] = *p;
      }
      cue_buf[n][o] = 0;
      cue_group[n] = (unsigned)g;
      for (const char *const *b = bytewise; *b; b++) cue_bytewise[n] |= !strcmp(w, *b);
      n++;
    }
  cue_n = n;
}

size_t sl__diff_cue_count(void) {
  pthread_once(&expr_once, expr_init);
  return cue_n;
}
const char *sl__diff_cue_expr(size_t i) { return i < cue_n ? cue_buf[i] : NULL; }
unsigned sl__diff_cue_group(size_t i) { return i < cue_n ? cue_group[i] : 0; }

bool sl__diff_cue_main_pass(size_t i) {
  return i < cue_n && !cue_bytewise[i] && cue_group[i] != G_LOOK;
}

static void cue_init(void) {
  const char *ex[512];
  unsigned fl[512], ids[512], n = (unsigned)sl__diff_cue_count();
  for (unsigned i = 0; i < n; i++) {
    ex[i] = cue_buf[i];
    fl[i] = HS_FLAG_CASELESS;
    ids[i] = i;
  }
  hs_compile_error_t *ce = NULL;
  if (hs_compile_multi(ex, fl, ids, n, HS_MODE_BLOCK, NULL, &cue_db, &ce) != HS_SUCCESS) {
    hs_free_compile_error(ce);
    cue_db = NULL;
    return;
  }
  if (hs_alloc_scratch(cue_db, &cue_proto) != HS_SUCCESS) {
    hs_free_database(cue_db);
    cue_db = NULL;
  }
}

static int on_cue(unsigned id, unsigned long long from, unsigned long long to, unsigned f, void *ctx) {
  (void)from, (void)to, (void)f;
  ((int *)ctx)[cue_group[id]]++;
  return 0;
}

static int count_ci(const char *t, size_t n, const char *w, bool ws) {
  size_t m = strlen(w);
  int c = 0;
  for (size_t i = 0; i + m <= n; i++) {
    if ((t[i] | 32) != (w[0] | 32)) continue;
    if (ws && i > 0 && isalnum((unsigned char)t[i - 1])) continue;
    if (!strncasecmp(t + i, w, m)) c++, i += m - 1;
  }
  return c;
}

/* Scratch space: a small mutex-guarded pool, freed at exit. */
static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
static hs_scratch_t *pool[64];
static int n_pool;

__attribute__((destructor)) static void cue_release(void) {
  for (int i = 0; i < n_pool; i++) hs_free_scratch(pool[i]);
  n_pool = 0;
  if (cue_proto) hs_free_scratch(cue_proto);
  if (cue_db) hs_free_database(cue_db);
  cue_proto = NULL;
  cue_db = NULL;
}

void sl__diff_init(void) { pthread_once(&cue_once, cue_init); }

/* Counts of each group's cue words in t. */
static void count_cues(const char *t, size_t n, int cnt[G__N]) {
  memset(cnt, 0, sizeof(int) * G__N);
  sl__diff_init();
  hs_scratch_t *sc = NULL;
  if (cue_db) {
    pthread_mutex_lock(&pool_mu);
    if (n_pool) sc = pool[--n_pool];
    pthread_mutex_unlock(&pool_mu);
    if (!sc && hs_clone_scratch(cue_proto, &sc) != HS_SUCCESS) sc = NULL;
  }
  if (sc) {
    hs_error_t rc = hs_scan(cue_db, t, (unsigned)n, 0, sc, on_cue, cnt);
    pthread_mutex_lock(&pool_mu);
    if (n_pool < 64) pool[n_pool++] = sc, sc = NULL;
    pthread_mutex_unlock(&pool_mu);
    if (sc) hs_free_scratch(sc);
    if (rc == HS_SUCCESS) return;
  }
  memset(cnt, 0, sizeof(int) * G__N);
  for (int g = 0; g < G__N; g++)
    for (int k = 0; words[g][k]; k++) cnt[g] += count_ci(t, n, words[g][k], word_start(g, words[g][k]));
}

_Static_assert(G__N <= SL_DIFF_GROUPS, "cue groups fit the hit counters");

#define SHORT_TEXT 400 /* the longest text the long-word share is counted in */

/* The features of one text: its size, its bytes and its cue words. `cue_cnt` and
 * `bs` are the main pass's counts over this same text, or NULL to count here. */
static int text_features(const char *t, size_t n, const int *cue_cnt, const sl__bytestats_t *bs,
                         double f[SL_DF__COUNT]) {
  /* byte counts over a bounded prefix (length features use the full size) */
  sl__bytestats_t own;
  if (!bs) {
    sl__byte_pass(t, n, NULL, &own);
    bs = &own;
  }
  size_t scan = bs->scanned;
  size_t words_n = bs->words;
  if (scan < n) words_n = (size_t)((double)words_n * (double)n / (double)scan);
  f[SL_DF_log_chars] = log1p((double)n) / 10.0;
  f[SL_DF_log_words] = log1p((double)words_n) / 8.0;
  f[SL_DF_lines] = log1p((double)bs->lines) / 5.0;
  f[SL_DF_digits] = scan ? cap1(5.0 * (double)bs->digits / (double)scan) : 0;
  f[SL_DF_non_ascii] = scan ? cap1(3.0 * (double)bs->nonascii / (double)scan) : 0;
  f[SL_DF_math_ops] = scan ? cap1(20.0 * (double)bs->ops / (double)scan) : 0;

  int cnt[G__N];
  if (cue_cnt) {
    memcpy(cnt, cue_cnt, sizeof cnt);
    cnt[G_CODE] += (int)bs->cue_code; /* the punctuation cues the literal pass leaves out */
    cnt[G_LATEX] += (int)bs->cue_latex;
  } else {
    count_cues(t, scan, cnt);
  }
  f[SL_DF_code_fence] = bs->fence ? 1 : 0;
  f[SL_DF_code_tokens] = cap1(cnt[G_CODE] / 8.0);
  f[SL_DF_math_latex] = cap1(cnt[G_LATEX] / 6.0);
  f[SL_DF_math_words] = cap1(cnt[G_MATHW] / 4.0);
  f[SL_DF_reasoning_cues] = cap1(cnt[G_REASON] / 4.0);
  f[SL_DF_constraints] = cap1((cnt[G_CONS] + (int)bs->listing) / 8.0);
  f[SL_DF_proof_cues] = cap1(cnt[G_PROOF] / 2.0);
  f[SL_DF_task_easy_cues] = cap1(cnt[G_EASY] / 2.0);
  f[SL_DF_code_request] = cap1(cnt[G_CODEREQ] / 3.0);
  /* the text's first line counts too (the literals start at a newline) */
  int defs = cnt[G_DEF];
  for (int k = 0; words[G_DEF][k]; k++) {
    const char *w = words[G_DEF][k] + 1; /* without its '\n' */
    size_t m = strlen(w);
    defs += n > m && !strncasecmp(t, w, m);
  }
  f[SL_DF_code_def] = cap1(defs / 2.0);
  f[SL_DF_expert_terms] = cap1(cnt[G_EXPERT] / 2.0);
  f[SL_DF_question_short] = (n < 120 && n > 0 && memchr(t, '?', n)) ? 1 : 0;
  /* long words in a short text: the vocabulary of a field ("chromatic",
   * "transcendental") rather than of everyday questions */
  if (n <= SHORT_TEXT) {
    size_t w = 0, lw = 0, run = 0;
    for (size_t i = 0; i <= n; i++) {
      unsigned char c = i < n ? (unsigned char)t[i] : ' ';
      if (isalpha(c) || c >= 0x80) {
        run += c < 0x80 || (c & 0xC0) == 0xC0; /* letters, not UTF-8 continuation bytes */
      } else if (run) {
        w++, lw += run >= 10, run = 0;
      }
    }
    f[SL_DF_long_words] = w ? cap1(4.0 * (double)lw / (double)w) : 0;
  }
  /* a formula with hardly a word around it asks for a calculation; a problem
   * that takes thought takes words to state */
  f[SL_DF_bare_math] = n < 100 && words_n < 10 && (cnt[G_LATEX] || bs->ops) ? 1 : 0;
  if (cnt[G_JSON]) f[SL_DF_json_schema] = 1;
  return cnt[G_LOOK];
}

/* The task: the last user message with text (one of whitespace alone has
 * none). A system prompt, the conversation before it, tool results after it
 * and the request's tool definitions are its context, which counts by its
 * size alone (a long conversation that ends in "thanks, good night" is an
 * easy ask). NULL when the task is the whole text. */
static const char *task_of(const sl_chat_req_t *req, size_t n, size_t *tn) {
  if (!req) return NULL;
  const sl_msg_t *last = NULL;
  for (size_t i = 0; i < req->n_msgs; i++)
    if (req->msgs[i].role && !strcmp(req->msgs[i].role, "user") && req->msgs[i].content &&
        req->msgs[i].content[strspn(req->msgs[i].content, " \t\r\n")])
      last = &req->msgs[i];
  if (!last) return NULL;
  /* (the whole text when it is the task: one message, or a folded text
   * shorter than the message it came from, "，" read as ",") */
  size_t len = strlen(last->content);
  if (len >= n) return NULL;
  *tn = len;
  return last->content;
}

/* The ask around material pasted into the task, at most ASK_MAX bytes: the text
 * outside ``` fences, or in a long task without fences (or with nothing
 * outside them) its first and last lines (the paste between them: "Who
 * sent this email?" first, or "What port does it listen on?" last). Its
 * length, or 0 when the task has no material to set apart (the ask is then
 * the task). */
#define ASK_MAX 1024
#define ASK_PASTE 600 /* a task shorter than this has no paste */
#define ASK_LINE 300  /* a first line longer than this is not an instruction */

/* The first ``` in t[0, n): a search for the backtick, which most texts
 * hold none of (memmem read every byte at a few times the cost). */
static const char *fence(const char *t, size_t n) {
  for (const char *p = memchr(t, '`', n), *end = t + n; p; p = memchr(p + 1, '`', (size_t)(end - p - 1)))
    if (end - p >= 3 && p[1] == '`' && p[2] == '`') return p;
    else if (end - p < 3) break;
  return NULL;
}

/* Copies the bytes of t outside fences whose place in that outside text is in
 * [from, to) to out + (place - skip). Returns the outside text's length. */
static size_t outside_fences(const char *t, size_t n, size_t from, size_t to, size_t skip, char *out) {
  size_t at = 0;
  for (const char *p = t, *end = t + n; p < end;) {
    const char *f = fence(p, (size_t)(end - p));
    size_t seg = (size_t)((f ? f : end) - p);
    size_t lo = at > from ? at : from, hi = at + seg < to ? at + seg : to; /* its part in [from, to) */
    if (lo < hi) memcpy(out + (lo - skip), p + (lo - at), hi - lo);
    p += seg, at += seg;
    if (!f) break;
    const char *close = fence(f + 3, (size_t)(end - f - 3));
    if (!close) break; /* an open fence runs to the end */
    if (at >= from && at < to) out[at - skip] = '\n';
    at++;
    p = close + 3;
  }
  return at;
}

/* The first and last lines of a task without (closed) fences; a first line
 * longer than ASK_LINE is a paragraph of the paste, and one a tenth of it
 * digits a log's or a table's. (Taking only the line that
 * asks, a question last or a question or announcement first, read lower on
 * the dev file and in cross-validation.) */
static size_t ask_lines(const char *t, size_t n, char *out) {
  const size_t half = ASK_MAX / 2;
  const char *first = memchr(t, '\n', n);
  size_t e = n;
  while (e && (t[e - 1] == '\n' || t[e - 1] == ' ' || t[e - 1] == '\r')) e--;
  const char *last = e ? memrchr(t, '\n', e) : NULL;
  if (!first || !last || last <= first) return 0;
  size_t a = (size_t)(first - t), b = e - (size_t)(last + 1 - t);
  size_t digits = 0;
  for (size_t i = 0; i < a && i <= ASK_LINE; i++) digits += t[i] >= '0' && t[i] <= '9';
  /* (nor is a first line of a log or a table, a tenth of it digits) */
  if (a > ASK_LINE || digits * 10 > a) a = 0;
  if (b > half - 1) b = half - 1;
  memcpy(out, t, a);
  out[a] = '\n';
  memcpy(out + a + 1, t + e - b, b);
  return a + 1 + b;
}

static size_t ask_of(const char *t, size_t n, char *out) {
  if (n < ASK_PASTE) return 0;
  const size_t half = ASK_MAX / 2;
  size_t an = 0;
  if (fence(t, n)) {
    size_t total = outside_fences(t, n, 0, half, 0, out);
    an = total < half ? total : half;
    if (total > ASK_MAX) /* and the last half */
      outside_fences(t, n, total - half, total, total - ASK_MAX, out), an = ASK_MAX;
    else if (total > half)
      outside_fences(t, n, half, total, 0, out), an = total;
  }
  /* no fence, or nothing outside them (a fence left open takes the rest) */
  if (an < 2) an = ask_lines(t, n, out);
  return an * 10 < n * 9 ? an : 0;
}

/* What the classifier's text holds beside the conversation and the tool
 * definitions (sl_chat_text: the user field, passed-through members, stop
 * strings, beta features): no context for the task, so not counted as such. */
static size_t request_meta_len(const sl_chat_req_t *req) {
  size_t m = 0;
  const char *parts[] = {req->user, req->passthrough, req->beta};
  for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
    if (parts[i] && *parts[i]) m += 1 + strlen(parts[i]);
  for (size_t i = 0; i < req->n_stop; i++)
    if (req->stop[i] && *req->stop[i]) m += 1 + strlen(req->stop[i]);
  return m;
}

void sl__diff_features(const sl_chat_req_t *req, const char *t, size_t n, const int *cue_cnt,
                       const sl__bytestats_t *bs, double f[SL_DF__COUNT]) {
  memset(f, 0, sizeof(double) * SL_DF__COUNT);
  f[SL_DF_bias] = 1;
  size_t tn = n;
  const char *task = task_of(req, n, &tn);
  if (task) text_features(task, tn, NULL, NULL, f);
  else text_features(t, n, cue_cnt, bs, f), task = t;
  size_t ctx = n > tn ? n - tn : 0, meta = req ? request_meta_len(req) : 0;
  f[SL_DF_context_chars] = log1p((double)(ctx > meta ? ctx - meta : 0)) / 10.0;

  int turns = 0;
  if (req)
    for (size_t i = 0; i < req->n_msgs; i++)
      turns += req->msgs[i].role && strcmp(req->msgs[i].role, "system") != 0;
  f[SL_DF_turns] = cap1((turns > 0 ? turns - 1 : 0) / 6.0);

  /* A paste: the ask's features stand for the task's, the paste counts by its
   * share, its size and how much of it is code. */
  char ask[ASK_MAX];
  size_t an = ask_of(task, tn, ask);
  if (an) {
    double code = f[SL_DF_code_tokens] > f[SL_DF_code_def] ? f[SL_DF_code_tokens] : f[SL_DF_code_def];
    int look = text_features(ask, an, NULL, NULL, f); /* (the text features only) */
    f[SL_DF_pasted] = 1.0 - (double)an / (double)tn;
    f[SL_DF_paste_chars] = log1p((double)(tn - an)) / 10.0;
    f[SL_DF_paste_code] = code;
    f[SL_DF_ask_lookup] = cap1(look / 2.0);
  }
  if (req) {
    f[SL_DF_tools] = req->tools && strlen(req->tools) > 2 ? 1 : 0;
    if (req->response_format && (strstr(req->response_format, "json_schema") ||
                                 strstr(req->response_format, "json_object")))
      f[SL_DF_json_schema] = 1;
    f[SL_DF_max_tokens] = req->max_tokens > 0 ? log1p((double)req->max_tokens) / 10.0 : 0;
  }
}

double sl__diff_score(const sl__diffmodel_t *m, const double f[SL_DF__COUNT]) {
  double z = 0;
  for (int i = 0; i < SL_DF__COUNT; i++) z += m->w[i] * f[i];
  if (z > 40) z = 40;
  if (z < -40) z = -40;
  return 1.0 / (1.0 + exp(-z));
}

int sl__diff_parse(const char *json, size_t len, sl__diffmodel_t *m, sl_jerr_t *err) {
  cJSON *root = cJSON_ParseWithLength(json, len);
  if (!root || !cJSON_IsObject(root)) {
    cJSON_Delete(root);
    return sl_jerr_set(err, "$", "difficulty weights: not a JSON object");
  }
  sl__diffmodel_t tmp;
  memset(&tmp, 0, sizeof tmp);
  int rc = 0;
  const cJSON *w = cJSON_GetObjectItemCaseSensitive(root, "weights");
  if (!cJSON_IsObject(w)) {
    rc = sl_jerr_set(err, "$.weights", "must be an object of feature name -> number");
    goto out;
  }
  for (const cJSON *it = w->child; it; it = it->next) {
    int k = -1;
    for (int i = 0; i < SL_DF__COUNT; i++)
      if (!strcmp(sl__df_names[i], it->string)) k = i;
    char path[96];
    snprintf(path, sizeof path, "$.weights.%s", it->string);
    if (k < 0) {
      rc = sl_jerr_set(err, path, "unknown feature");
      goto out;
    }
    if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble) || fabs(it->valuedouble) > 1e6) {
      rc = sl_jerr_set(err, path, "must be a finite number");
      goto out;
    }
    tmp.w[k] = it->valuedouble;
  }
  const cJSON *th = cJSON_GetObjectItemCaseSensitive(root, "thresholds");
  const cJSON *tm = cJSON_GetObjectItemCaseSensitive(th, "medium");
  const cJSON *tH = cJSON_GetObjectItemCaseSensitive(th, "hard");
  if (!cJSON_IsNumber(tm) || !cJSON_IsNumber(tH) || !(tm->valuedouble >= 0) ||
      !(tH->valuedouble <= 1) || tm->valuedouble > tH->valuedouble) {
    rc = sl_jerr_set(err, "$.thresholds", "needs numbers medium <= hard within 0..1");
    goto out;
  }
  tmp.t_medium = tm->valuedouble;
  tmp.t_hard = tH->valuedouble;
  *m = tmp;
out:
  cJSON_Delete(root);
  return rc;
}

int sl__diff_load(const char *path, sl__diffmodel_t *m, sl_jerr_t *err) {
  const char *why;
  FILE *f = sl_fopen_regular(path, &why);
  if (!f) return sl_jerr_set(err, "$.router.difficulty_weights", "cannot open %s: %s", path, why);
  char *buf = malloc(1 << 20);
  size_t n = buf ? fread(buf, 1, 1 << 20, f) : 0;
  bool big = buf && n == (1 << 20);
  fclose(f);
  if (!buf || big) {
    free(buf);
    return sl_jerr_set(err, "$.router.difficulty_weights", "%s: too large (max 1 MiB)", path);
  }
  int rc = sl__diff_parse(buf, n, m, err);
  free(buf);
  return rc;
}
