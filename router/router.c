/* The classifier's front: compiles the detectors, runs them over a request's
 * text (one Hyperscan pass, validators, the word-level pass for names and
 * addresses, custom PCRE2 detectors), resolves overlapping findings, assigns
 * levels (per-type overrides, declared class) and scores difficulty. Any
 * failure classifies the request as restricted (fail closed). */
#include "router_int.h"
#include "sl_err.h"
#include "sl_log.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <ctype.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* Requests may carry invalid UTF-8; custom patterns still match the valid parts. */
#ifdef PCRE2_MATCH_INVALID_UTF
#define MATCH_INVALID PCRE2_MATCH_INVALID_UTF
#else
#define MATCH_INVALID 0
#endif

static const char *const level_names[] = {"public", "internal", "confidential", "restricted"};

const char *sl_level_name(sl_level_t l) {
  return (unsigned)l < 4 ? level_names[l] : "restricted";
}

int sl_level_parse(const char *s, sl_level_t *out) {
  if (!s) return SL_EINVAL;
  for (int i = 0; i < 4; i++)
    if (!strcasecmp(s, level_names[i])) {
      *out = (sl_level_t)i;
      return 0;
    }
  return SL_EINVAL;
}

static const struct {
  const char *name;
  sl_level_t level;
} etypes[] = {
#define SL_ET_ROW(n, l) {#n, l},
    SL_ETYPE_MAP(SL_ET_ROW)
#undef SL_ET_ROW
};

const char *sl__etype_name(int t) {
  return t >= 0 && t < SL_ET__COUNT ? etypes[t].name : "UNKNOWN";
}

sl_level_t sl__etype_default_level(int t) {
  return t >= 0 && t < SL_ET__COUNT ? etypes[t].level : SL_LEVEL_RESTRICTED;
}

void sl__cands_add(sl__cands_t *c, uint32_t s, uint32_t e, int type, const char *det, int prio) {
  if (c->err || e <= s) return;
  if (c->n == c->cap) {
    size_t nc = c->cap ? c->cap * 2 : 64;
    if (nc > SL_ROUTER_MAX_CANDS) {
      c->err = SL_ETOOBIG;
      return;
    }
    sl__cand_t *nv = realloc(c->v, nc * sizeof *nv);
    if (!nv) {
      c->err = SL_ENOMEM;
      return;
    }
    c->v = nv;
    c->cap = nc;
  }
  c->v[c->n++] = (sl__cand_t){s, e, type, det, (int16_t)prio, false};
}

void sl__router_fail_inject(sl_router_t *r, int on) { r->fail_inject = on; }

static int find_type(const char *name) {
  for (int i = 0; i < SL_ET__COUNT; i++)
    if (!strcmp(etypes[i].name, name)) return i;
  return -1;
}

/* ---- the pool of working arrays --------------------------------------- */

/* A workspace that grew past this (a huge prompt) is freed rather than kept. */
#define WORK_KEEP_BYTES ((size_t)4 << 20)
#define WORK_POOL_MAX 64

static void work_free(sl__work_t *w) {
  if (!w) return;
  free(w->hits.v);
  free(w->toks.v);
  free(w->toks.runs);
  free(w->toks.sel);
  free(w->toks.sel_addr);
  free(w->toks.sel_name);
  free(w->toks.sel_caps);
  free(w->cands.v);
  free(w);
}

static sl__work_t *work_get(const sl_router_t *cr) {
  sl_router_t *r = (sl_router_t *)cr; /* only the pool (under its mutex) changes */
  sl__work_t *w = NULL;
  pthread_mutex_lock(&r->work_mu);
  if (r->work_free) {
    w = r->work_free;
    r->work_free = w->next;
    r->n_work_free--;
  }
  pthread_mutex_unlock(&r->work_mu);
  if (!w) w = calloc(1, sizeof *w);
  return w;
}

static void work_put(const sl_router_t *cr, sl__work_t *w) {
  sl_router_t *r = (sl_router_t *)cr;
  size_t bytes = w->hits.cap * sizeof *w->hits.v + w->toks.cap * sizeof *w->toks.v +
                 w->toks.cap_runs * 2 * sizeof *w->toks.runs + w->toks.cap_sel * sizeof *w->toks.sel +
                 w->toks.cap * 3 * sizeof *w->toks.sel_addr +
                 w->cands.cap * sizeof *w->cands.v;
  if (bytes > WORK_KEEP_BYTES) {
    work_free(w);
    return;
  }
  pthread_mutex_lock(&r->work_mu);
  if (r->n_work_free < WORK_POOL_MAX) {
    w->next = r->work_free;
    r->work_free = w;
    r->n_work_free++;
    w = NULL;
  }
  pthread_mutex_unlock(&r->work_mu);
  work_free(w);
}

/* Makes room for about one token per 5 bytes, so the tokenizer rarely grows. */
static int work_reserve(sl__work_t *w, size_t len) {
  size_t want = len / 5 + 16;
  if (sl__toks_reserve(&w->toks, want)) return SL_ENOMEM;
  if (w->hits.cap < 256) {
    sl__hit_t *nv = realloc(w->hits.v, 256 * sizeof *nv);
    if (!nv) return SL_ENOMEM;
    w->hits.v = nv;
    w->hits.cap = 256;
  }
  w->hits.n = 0;
  w->hits.err = 0;
  w->toks.n = 0;
  w->toks.err = 0;
  w->toks.has_upper = false;
  w->toks.n_runs = 0;
  w->toks.n_addr = 0;
  w->toks.n_name = 0;
  w->toks.n_caps = 0;
  w->cands.n = 0;
  w->cands.err = 0;
  return 0;
}

sl_router_t *sl_router_create(const sl_router_opts_t *opts, sl_jerr_t *err) {
  sl_router_opts_t none = {0};
  if (!opts) opts = &none;
  sl_router_t *r = calloc(1, sizeof *r);
  if (!r) {
    sl_jerr_set(err, "$", "out of memory");
    return NULL;
  }
  pthread_mutex_init(&r->work_mu, NULL);
  static _Atomic uint64_t gens;
  r->gen = ++gens;
  for (int i = 0; i < SL_ET__COUNT; i++) r->level_of[i] = etypes[i].level;

  if (opts->n_custom > SL_ROUTER_MAX_CUSTOM) {
    sl_jerr_set(err, "$.detectors.custom", "at most %u custom detectors", SL_ROUTER_MAX_CUSTOM);
    goto fail;
  }
  for (size_t i = 0; i < opts->n_custom; i++) {
    const sl_custom_detector_t *cd = &opts->custom[i];
    char path[96];
    snprintf(path, sizeof path, "$.detectors.custom[%zu]", i);
    if (!cd->type || !*cd->type || strlen(cd->type) >= sizeof r->custom[0].type) {
      sl_jerr_set(err, path, "type must be a non-empty name of at most 39 bytes");
      goto fail;
    }
    if (!cd->pattern || !*cd->pattern) {
      sl_jerr_set(err, path, "pattern must be a non-empty PCRE2 pattern");
      goto fail;
    }
    if ((unsigned)cd->level > SL_LEVEL_RESTRICTED) {
      sl_jerr_set(err, path, "level out of range");
      goto fail;
    }
    int ec;
    PCRE2_SIZE eo;
    pcre2_code *code = pcre2_compile((PCRE2_SPTR)cd->pattern, PCRE2_ZERO_TERMINATED, PCRE2_UTF | MATCH_INVALID,
                                     &ec, &eo, NULL);
    if (!code) {
      PCRE2_UCHAR buf[160];
      pcre2_get_error_message(ec, buf, sizeof buf);
      sl_jerr_set(err, path, "pattern: %s at offset %zu", (char *)buf, (size_t)eo);
      goto fail;
    }
    pcre2_jit_compile(code, PCRE2_JIT_COMPLETE); /* interpreter fallback if JIT is unavailable */
    snprintf(r->custom[i].type, sizeof r->custom[i].type, "%s", cd->type);
    r->custom[i].code = code;
    r->custom[i].level = cd->level;
    r->n_custom = i + 1;
  }
  if (opts->n_levels) {
    r->extra_levels = calloc(opts->n_levels, sizeof *r->extra_levels);
    if (!r->extra_levels) {
      sl_jerr_set(err, "$.detectors.levels", "out of memory");
      goto fail;
    }
  }
  for (size_t i = 0; i < opts->n_levels; i++) {
    const char *ty = opts->level_types[i];
    char path[128];
    snprintf(path, sizeof path, "$.detectors.levels.%s", ty ? ty : "?");
    if (!ty || !*ty || strlen(ty) >= sizeof r->extra_levels[0].type) {
      sl_jerr_set(err, path, "entity type name must be 1..39 bytes");
      goto fail;
    }
    if ((unsigned)opts->level_values[i] > SL_LEVEL_RESTRICTED) {
      sl_jerr_set(err, path, "level out of range");
      goto fail;
    }
    int t = find_type(ty);
    if (t >= 0) {
      r->level_of[t] = opts->level_values[i];
      continue;
    }
    bool custom = false;
    for (size_t k = 0; k < r->n_custom; k++) custom |= !strcmp(r->custom[k].type, ty);
    if (!custom) {
      sl_jerr_set(err, path, "unknown entity type");
      goto fail;
    }
    snprintf(r->extra_levels[r->n_extra_levels].type, sizeof r->extra_levels[0].type, "%s", ty);
    r->extra_levels[r->n_extra_levels++].level = opts->level_values[i];
  }
  sl__diff_default(&r->diff);
  if (opts->difficulty_weights && *opts->difficulty_weights) {
    if (sl__diff_load(opts->difficulty_weights, &r->diff, err)) goto fail;
  }
  /* The costly part last, so that bad options fail fast. */
  char msg[256];
  r->scan = sl__scan_create(msg, sizeof msg);
  if (!r->scan) {
    sl_jerr_set(err, "$.detectors", "%s", msg);
    goto fail;
  }
  sl__lexicon_init(); /* not on the first request */
  sl__figures_init();
  sl__pii_init();
  sl__diff_init();
  r->gaz = sl__gaz_create();
  if (r->gaz) {
    sl__names_register(r->gaz);
    sl__address_register(r->gaz);
    if (sl__names_register_places(r->gaz)) {
      sl__gaz_free(r->gaz);
      r->gaz = NULL;
    }
  }
  r->gaz_addr = sl__gaz_create_small();
  if (r->gaz_addr && (sl__address_register_small(r->gaz_addr) || sl__names_register_starters(r->gaz_addr))) {
    sl__gaz_free(r->gaz_addr);
    r->gaz_addr = NULL;
  }
  if (!r->gaz || !r->gaz_addr) {
    sl_jerr_set(err, "$.detectors", "cannot build the name gazetteer");
    goto fail;
  }
  /* Warm up here rather than on the first request: one workspace and one
   * Hyperscan scratch in the pools, and the detectors' code and tables paged in. */
  static const char warm[] =
      "Hi, I'm Jane Doe (jane.doe@example.com, +1 415 555 0100), 22 Baker Street, born "
      "4 July 1976, host fe80::1. password = \"hunter2!\"; api_key: 'sk-test'. Solve x^2 = 4 "
      "step by step.";
  sl_class_t c;
  if (sl_router_classify_text(r, warm, sizeof warm - 1, NULL, &c)) {
    sl_class_free(&c);
    /* which custom pattern (the usual cause): named, with PCRE2's reason */
    pcre2_match_data *md = pcre2_match_data_create(4, NULL);
    for (size_t i = 0; md && i < r->n_custom; i++) {
      int m = pcre2_match(r->custom[i].code, (PCRE2_SPTR)warm, sizeof warm - 1, 0, 0, md, NULL);
      if (m >= 0 || m == PCRE2_ERROR_NOMATCH) continue;
      PCRE2_UCHAR msg[160];
      pcre2_get_error_message(m, msg, sizeof msg);
      char path[64];
      snprintf(path, sizeof path, "$.detectors.custom[%zu].pattern", i);
      sl_jerr_set(err, path, "fails on ordinary text (%s): a pattern that backtracks without bound "
                             "needs rewriting", (const char *)msg);
      pcre2_match_data_free(md);
      goto fail;
    }
    pcre2_match_data_free(md);
    sl_jerr_set(err, "$.detectors", "classifier self-test failed");
    goto fail;
  }
  sl_class_free(&c);
  return r;
fail:
  sl_router_free(r);
  return NULL;
}

void sl_router_free(sl_router_t *r) {
  if (!r) return;
  sl__scan_free(r->scan);
  sl__gaz_free(r->gaz);
  sl__gaz_free(r->gaz_addr);
  for (size_t i = 0; i < r->n_custom; i++) pcre2_code_free(r->custom[i].code);
  free(r->extra_levels);
  while (r->work_free) {
    sl__work_t *w = r->work_free;
    r->work_free = w->next;
    work_free(w);
  }
  pthread_mutex_destroy(&r->work_mu);
  free(r);
}

/* Says which custom detector failed a classification (at most once a second:
 * requests may repeat it). */
static void custom_failed(const sl_router_t *r, size_t i, int pcre_rc) {
  static _Atomic long long last_ms;
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  long long now = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, prev = last_ms;
  if (now - prev < 1000 || !atomic_compare_exchange_strong(&last_ms, &prev, now)) return;
  PCRE2_UCHAR msg[160];
  pcre2_get_error_message(pcre_rc, msg, sizeof msg);
  SL_WARN("custom detector %zu (type %s) failed on a request (%s): it is classified "
          "restricted; a pattern that backtracks without bound needs rewriting",
          i, r->custom[i].type, (const char *)msg);
}

static int run_custom(const sl_router_t *r, const char *text, size_t len, sl__cands_t *out) {
  if (!r->n_custom) return 0;
  pcre2_match_data *md = pcre2_match_data_create(4, NULL);
  if (!md) return SL_ENOMEM;
  int rc = 0;
  for (size_t i = 0; i < r->n_custom && !rc; i++) {
    PCRE2_SIZE off = 0;
    int guard = 0;
    while (off <= len) {
      int m = pcre2_match(r->custom[i].code, (PCRE2_SPTR)text, len, off, 0, md, NULL);
      if (m == PCRE2_ERROR_NOMATCH) break;
      if (m < 0) {
        /* invalid UTF-8 in the request or a resource limit: fail closed */
        custom_failed(r, i, m);
        rc = SL_EINTERNAL;
        break;
      }
      PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
      if (ov[1] > ov[0])
        sl__cands_add(out, (uint32_t)ov[0], (uint32_t)ov[1], SL_ET_CUSTOM + (int)i, "custom", 100);
      off = ov[1] > ov[0] ? ov[1] : ov[1] + 1;
      if (++guard > 100000 || out->err) break;
    }
  }
  pcre2_match_data_free(md);
  return rc ? rc : out->err;
}

static int cmp_start(const void *a, const void *b) {
  const sl__cand_t *x = a, *y = b;
  if (x->start != y->start) return x->start < y->start ? -1 : 1;
  return x->end > y->end ? -1 : x->end < y->end;
}

static int cmp_prio(const void *a, const void *b) {
  const sl__cand_t *x = a, *y = b;
  if (x->prio != y->prio) return y->prio - x->prio;
  uint32_t lx = x->end - x->start, ly = y->end - y->start;
  if (lx != ly) return lx > ly ? -1 : 1;
  return x->start < y->start ? -1 : x->start > y->start;
}

/* A stable sort: insertion for the few findings of a typical request, else the
 * C library's qsort (glibc's is a stable merge sort, so both give one order). */
static void sort_cands(sl__cand_t *v, size_t n, int (*cmp)(const void *, const void *)) {
  if (n > 32) {
    qsort(v, n, sizeof *v, cmp);
    return;
  }
  for (size_t i = 1; i < n; i++) {
    sl__cand_t x = v[i];
    size_t j = i;
    for (; j > 0 && cmp(&v[j - 1], &x) > 0; j--) v[j] = v[j - 1];
    v[j] = x;
  }
}

/* Within each cluster of overlapping findings, keep the highest-priority ones
 * that do not overlap each other. Clusters are small, so the greedy is cheap. */
static size_t resolve(sl__cand_t *v, size_t n, bool *swept) {
  if (n < 2) return n;
  sort_cands(v, n, cmp_start);
  size_t out = 0, i = 0;
  while (i < n) {
    size_t j = i + 1;
    uint32_t hi = v[i].end;
    while (j < n && v[j].start < hi) {
      if (v[j].end > hi) hi = v[j].end;
      j++;
    }
    size_t k = j - i;
    if (k > 1024) {
      /* Hostile input: one huge chain of overlapping findings. Keep a linear
       * sweep (no quadratic greedy); the caller then takes the level over all
       * findings, dropped ones included, to stay fail-closed. */
      *swept = true;
      size_t kept = 0;
      uint32_t last_end = 0;
      for (size_t a = i; a < j; a++)
        if (!kept || v[a].start >= last_end) {
          v[i + kept++] = v[a];
          last_end = v[a].end;
        }
      k = kept;
    } else if (k > 1) {
      sort_cands(v + i, k, cmp_prio);
      size_t kept = 0;
      for (size_t a = i; a < j; a++) {
        bool ok = true;
        for (size_t b = i; b < i + kept && ok; b++)
          if (v[a].start < v[b].end && v[b].start < v[a].end) ok = false;
        if (ok) v[i + kept++] = v[a];
      }
      sort_cands(v + i, kept, cmp_start);
      k = kept;
    }
    memmove(v + out, v + i, k * sizeof *v);
    out += k;
    i = j;
  }
  return out;
}

/* snprintf(name, cap, "%s", s) without the format machinery (per entity, per request). */
static void copy_name(char *name, size_t cap, const char *s) {
  size_t n = strlen(s);
  if (n >= cap) n = cap - 1;
  memcpy(name, s, n);
  name[n] = 0;
}

static sl_level_t level_for(const sl_router_t *r, const sl__cand_t *c, char *name, size_t cap) {
  if (c->type >= SL_ET_CUSTOM) {
    size_t i = (size_t)(c->type - SL_ET_CUSTOM);
    copy_name(name, cap, r->custom[i].type);
    for (size_t k = 0; k < r->n_extra_levels; k++)
      if (!strcmp(r->extra_levels[k].type, name)) return r->extra_levels[k].level;
    return r->custom[i].level;
  }
  copy_name(name, cap, sl__etype_name(c->type));
  return r->level_of[c->type];
}

int sl_router_type_level(const sl_router_t *r, const char *type, sl_level_t *out) {
  for (size_t k = 0; k < r->n_extra_levels; k++)
    if (!strcmp(r->extra_levels[k].type, type)) return (*out = r->extra_levels[k].level), 0;
  for (size_t i = 0; i < r->n_custom; i++)
    if (!strcmp(r->custom[i].type, type)) return (*out = r->custom[i].level), 0;
  for (int t = 0; t < SL_ET__COUNT; t++)
    if (!strcmp(sl__etype_name(t), type)) return (*out = r->level_of[t]), 0;
  return SL_EINVAL;
}

static void fail_closed(sl_class_t *out, int err) {
  free(out->entities);
  out->entities = NULL;
  out->n_entities = 0;
  out->level = SL_LEVEL_RESTRICTED;
  out->error = err ? err : SL_EINTERNAL;
}

/* One word of the declared class: a level name, or a synonym; anything else is
 * restricted (an unreadable declaration fails closed). */
static sl_level_t declared_word(const char *w, size_t n) {
  char buf[32];
  if (n >= sizeof buf) return SL_LEVEL_RESTRICTED;
  memcpy(buf, w, n);
  buf[n] = 0;
  sl_level_t l;
  if (!sl_level_parse(buf, &l)) return l;
  if (!strcasecmp(buf, "secret") || !strcasecmp(buf, "keep-inside")) return SL_LEVEL_RESTRICTED;
  if (!strcasecmp(buf, "pii") || !strcasecmp(buf, "personal")) return SL_LEVEL_CONFIDENTIAL;
  return SL_LEVEL_RESTRICTED;
}

/* The declared class: the highest level of its words. Elements are separated by
 * commas or semicolons ("public, restricted" is what a proxy makes of two
 * header lines), words within one by spaces or tabs. Public when none was
 * declared (NULL); restricted when an element has no word (a header line sent
 * empty, as from an unset variable, or "public," names no level for one of
 * its parts: it fails closed like any other such value). */
static sl_level_t declared_level(const char *declared) {
  sl_level_t max = SL_LEVEL_PUBLIC;
  for (const char *p = declared; p;) {
    size_t el = strcspn(p, ",;");
    bool word = false;
    for (size_t i = 0; i < el;) {
      i += strspn(p + i, " \t");
      size_t n = strcspn(p + i, " \t,;");
      if (n) {
        sl_level_t l = declared_word(p + i, n);
        if (l > max) max = l;
        word = true;
      }
      i += n;
    }
    if (!word) return SL_LEVEL_RESTRICTED;
    p = p[el] ? p + el + 1 : NULL;
  }
  return max;
}

/* The scripts the text has letters of, by their UTF-8 lead bytes, in one pass:
 * SL_SCRIPT_* (router_int.h). */
static unsigned scripts_of(const char *text, size_t len) {
  const unsigned char *t = (const unsigned char *)text;
  unsigned out = 0;
  for (size_t i = 0; i < len; i += 64) {
    size_t m = len - i < 64 ? len - i : 64;
    if (!sl__block_has(t + i, m, 0xCE, 0xED)) continue; /* ASCII, Latin accents, dashes and quotes */
    for (size_t k = 0; k < m; k++) {
      unsigned char b = t[i + k];
      out |= (b >= 0xD0 && b <= 0xD1 ? SL_SCRIPT_CYRILLIC : 0) | (b >= 0xD8 && b <= 0xDB ? SL_SCRIPT_ARABIC : 0) |
             (b == 0xCE || b == 0xCF || b == 0xD7 ? SL_SCRIPT_GREEK_HEBREW : 0) |
             (b == 0xE0 ? SL_SCRIPT_DEVANAGARI : 0) | (b >= 0xE3 && b <= 0xE9 ? SL_SCRIPT_CJK : 0) |
             (b >= 0xEA && b <= 0xED ? SL_SCRIPT_HANGUL : 0);
    }
  }
  return out;
}

static int classify_plain(const sl_router_t *r, const sl_chat_req_t *req, const char *text,
                          size_t len, const char *declared, sl_class_t *out) {
  memset(out, 0, sizeof *out);
  out->difficulty_label = "hard";
  out->difficulty = 1.0;
  if (!r || (!text && len)) {
    fail_closed(out, SL_EINVAL);
    return SL_EINVAL;
  }
  if (r->fail_inject) {
    fail_closed(out, SL_EINTERNAL);
    return SL_EINTERNAL;
  }
  if (len > SL_ROUTER_MAX_TEXT) {
    fail_closed(out, SL_ETOOBIG);
    return SL_ETOOBIG;
  }
  if (!text) text = "";
  sl__work_t *w = work_get(r);
  int rc = w ? work_reserve(w, len) : SL_ENOMEM;
  if (rc) {
    if (w) work_put(r, w);
    fail_closed(out, rc);
    return rc;
  }
  sl__hits_t *hits = &w->hits;
  sl__toks_t *toks = &w->toks;
  sl__cands_t *cands = &w->cands;
  sl__bytestats_t bytes;
  rc = sl__scan_run(r->scan, text, len, hits);
  if (!rc) {
    sl__ctx_t ctx = {text, len, hits, cands, NULL, 0, 0, 0};
    sl__detect_secrets(&ctx);
    sl__detect_pii(&ctx);
    sl__detect_hl7(&ctx);
    sl__detect_sql_values(&ctx);
    sl__tokenize(text, len, toks, &bytes);
    if (toks->err) rc = SL_ENOMEM;
    if (!rc) {
      /* (the byte pass counted the non-ASCII bytes of the first SL_DIFF_SCAN) */
      ctx.scripts = bytes.nonascii || len > SL_DIFF_SCAN ? scripts_of(text, len) : 0;
      sl__detect_token_runs(&ctx, toks);
      sl__detect_id_shapes(&ctx, toks);
      /* names first: the address rules reuse the gazetteer flags they looked up */
      sl__detect_names(&ctx, r->gaz, toks);
      sl__detect_addresses(&ctx, r->gaz, r->gaz_addr, toks);
      sl__detect_cjk_addresses(&ctx);
    }
    if (!rc) rc = run_custom(r, text, len, cands);
    if (!rc) rc = cands->err;
  }
  if (rc) {
    work_put(r, w);
    fail_closed(out, rc);
    return rc;
  }
  sl_level_t level = declared_level(declared), all_max = SL_LEVEL_PUBLIC;
  for (size_t i = 0; i < cands->n; i++) {
    const sl__cand_t *cd = &cands->v[i];
    sl_level_t l = cd->type >= SL_ET_CUSTOM ? SL_LEVEL_RESTRICTED : r->level_of[cd->type];
    if (l > all_max) all_max = l; /* custom: upper bound, only used after a hostile sweep */
  }
  /* Built-in and custom findings are resolved apart: a custom detector's match
   * never hides a built-in one it overlaps ("\b512\b" inside an SSN), and
   * redaction covers overlapping spans. Custom findings come last (run_custom). */
  size_t nb = 0;
  while (nb < cands->n && cands->v[nb].type < SL_ET_CUSTOM) nb++;
  bool swept = false;
  size_t n = resolve(cands->v, nb, &swept);
  size_t nc = resolve(cands->v + nb, cands->n - nb, &swept);
  if (nc) {
    memmove(cands->v + n, cands->v + nb, nc * sizeof *cands->v);
    n += nc;
    sort_cands(cands->v, n, cmp_start);
  }
  if (swept && all_max > level) level = all_max;
  if (n) {
    out->entities = calloc(n, sizeof *out->entities);
    if (!out->entities) {
      work_put(r, w);
      fail_closed(out, SL_ENOMEM);
      return SL_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
      sl_entity_t *e = &out->entities[i];
      e->level = level_for(r, &cands->v[i], e->type, sizeof e->type);
      e->detector = cands->v[i].detector;
      e->start = cands->v[i].start;
      e->end = cands->v[i].end;
      if (e->level > level) level = e->level;
    }
    out->n_entities = n;
  }
  out->level = level;
  double f[SL_DF__COUNT];
  sl__diff_features(req, text, len, hits->cue_cnt, &bytes, f);
  work_put(r, w);
  out->difficulty = sl__diff_score(&r->diff, f);
  out->difficulty_label = out->difficulty >= r->diff.t_hard     ? "hard"
                          : out->difficulty >= r->diff.t_medium ? "medium"
                                                                : "easy";
  return 0;
}

/* The text as the classifier reads it: when folding (fold.c) changes anything,
 * a folded copy in *folded, its length in *n and each byte's offset in the
 * original in *map; else *folded NULL. 0 or SL_ENOMEM. */
static int fold_copy(const char *text, size_t len, char **folded, uint32_t **map, size_t *n) {
  *folded = NULL;
  *map = NULL;
  if (len > SL_ROUTER_MAX_TEXT || !sl__fold_needed(text, len)) return 0;
  *folded = malloc(len + 1);
  *map = malloc((len + 1) * sizeof **map);
  if (!*folded || !*map) {
    free(*folded);
    free(*map);
    *folded = NULL;
    *map = NULL;
    return SL_ENOMEM;
  }
  *n = sl__fold(text, len, *folded, *map);
  return 0;
}

/* Classifies the folded text when folding changes anything, and reports the
 * findings at their offsets in the original text. */
static int classify(const sl_router_t *r, const sl_chat_req_t *req, const char *text, size_t len,
                    const char *declared, sl_class_t *out) {
  char *folded = NULL;
  uint32_t *map = NULL;
  size_t n = 0;
  if (!r || !text) return classify_plain(r, req, text, len, declared, out);
  if (fold_copy(text, len, &folded, &map, &n)) {
    memset(out, 0, sizeof *out);
    fail_closed(out, SL_ENOMEM);
    out->difficulty_label = "hard";
    out->difficulty = 1.0;
    return SL_ENOMEM;
  }
  if (!folded) return classify_plain(r, req, text, len, declared, out);
  int rc = classify_plain(r, req, folded, n, declared, out);
  for (size_t i = 0; i < out->n_entities; i++) {
    out->entities[i].start = map[out->entities[i].start];
    out->entities[i].end = map[out->entities[i].end];
  }
  free(folded);
  free(map);
  return rc;
}

/* The requested model goes upstream as it came to a backend without a model
 * list, so a number that names someone in it (an SSN, a card, an IBAN, a
 * phone: "ssn-512-84-3927") or a secret ("sk-proj-…", "password:hunter2…", a
 * JWT) raises the request's level as in the text. It is not classified whole
 * (model names read as names and dates to the detectors: "claude-…"): only
 * those types count — a key known by its form, not a token that merely looks
 * random ("TheBloke/Llama-2-13B-chat-GPTQ") — and only in a name with seven
 * digits, or of 16 characters or more, which short names are not. Requests
 * name the same few models again and again: each thread keeps its last
 * answer, so a long name costs a classification once, not per request. */
static void model_level(const sl_router_t *r, const char *model, sl_class_t *out) {
  static const char *const numbers[] = {"US_SSN",   "CREDIT_CARD", "IBAN_CODE", "PHONE_NUMBER",
                                        "API_KEY",  "CLOUD_CREDENTIAL", "JWT",   "PASSWORD",
                                        "PRIVATE_KEY", NULL};
  static __thread uint64_t memo_gen; /* (a router's address may be a new one's after a reload) */
  static __thread char memo_model[SL_CHAT_MAX_MODEL + 1];
  static __thread sl_level_t memo_level;
  size_t digits = 0, n = model ? strlen(model) : 0;
  for (size_t i = 0; i < n; i++) digits += isdigit((unsigned char)model[i]) != 0;
  if ((digits < 7 && n < 16) || out->error) return;
  sl_level_t found = SL_LEVEL_PUBLIC;
  if (memo_gen == r->gen && !strcmp(memo_model, model)) {
    found = memo_level;
  } else {
    sl_class_t mc;
    if (classify(r, NULL, model, n, NULL, &mc)) {
      found = SL_LEVEL_RESTRICTED; /* fail closed (and not kept: it may pass) */
    } else {
      for (size_t i = 0; i < mc.n_entities; i++)
        for (const char *const *t = numbers; *t; t++)
          if (!strcmp(mc.entities[i].type, *t) && mc.entities[i].level > found &&
              !(mc.entities[i].detector && !strcmp(mc.entities[i].detector, "random_token")))
            found = mc.entities[i].level;
      if (n <= SL_CHAT_MAX_MODEL) {
        memo_gen = r->gen;
        memcpy(memo_model, model, n + 1);
        memo_level = found;
      }
    }
    sl_class_free(&mc);
  }
  if (found > out->level) out->level = found;
}

int sl_router_classify(const sl_router_t *r, const sl_chat_req_t *req, const char *declared,
                       sl_class_t *out) {
  if (!req) {
    memset(out, 0, sizeof *out);
    fail_closed(out, SL_EINVAL);
    out->difficulty_label = "hard";
    out->difficulty = 1.0;
    return SL_EINVAL;
  }
  char *text = NULL;
  size_t len = 0;
  int rc = sl_chat_text(req, &text, &len);
  if (rc) {
    memset(out, 0, sizeof *out);
    fail_closed(out, rc);
    out->difficulty_label = "hard";
    out->difficulty = 1.0;
    return rc;
  }
  rc = classify(r, req, text, len, declared, out);
  free(text);
  if (!rc) model_level(r, req->model, out);
  return rc;
}

int sl_router_classify_text(const sl_router_t *r, const char *text, size_t len,
                            const char *declared, sl_class_t *out) {
  return classify(r, NULL, text, len, declared, out);
}

void sl_class_free(sl_class_t *c) {
  if (!c) return;
  free(c->entities);
  c->entities = NULL;
  c->n_entities = 0;
}

size_t sl_router_difficulty_features(const sl_chat_req_t *req, double *f, size_t cap) {
  double tmp[SL_DF__COUNT];
  char *text = NULL;
  size_t len = 0;
  if (req && sl_chat_text(req, &text, &len)) text = NULL, len = 0;
  sl__diff_features(req, text ? text : "", len, NULL, NULL, tmp);
  free(text);
  for (size_t i = 0; i < cap && i < SL_DF__COUNT; i++) f[i] = tmp[i];
  return SL_DF__COUNT;
}

size_t sl_router_difficulty_terms(const sl_router_t *r, const sl_chat_req_t *req, double *terms,
                                  size_t cap) {
  char *text = NULL, *folded;
  uint32_t *map;
  size_t len = 0;
  if (!r || !req || sl_chat_text(req, &text, &len)) return 0;
  size_t n = len;
  if (fold_copy(text, len, &folded, &map, &n)) { /* (as classify() reads it) */
    free(text);
    return 0;
  }
  double f[SL_DF__COUNT];
  sl__diff_features(req, folded ? folded : text, folded ? n : len, NULL, NULL, f);
  free(text);
  free(folded);
  free(map);
  for (size_t i = 0; i < cap && i < SL_DF__COUNT; i++) terms[i] = f[i] * r->diff.w[i];
  return SL_DF__COUNT;
}

const char *sl_router_difficulty_feature_name(size_t i) {
  return i < SL_DF__COUNT ? sl__df_names[i] : NULL;
}

const char *const *sl_router_entity_types(void) {
  static const char *const names[] = {
#define SL_ET_NAME(n, l) #n,
      SL_ETYPE_MAP(SL_ET_NAME)
#undef SL_ET_NAME
          NULL};
  return names;
}

int sl_router_default_level(const char *type, sl_level_t *out) {
  int t = type ? find_type(type) : -1;
  if (t < 0) return SL_EINVAL;
  *out = etypes[t].level;
  return 0;
}
