/* Fixed-capacity metric store. Series live in one array searched by a hash of
 * (family, labels); families remember their type and help text for rendering.
 * A mutex guards each store. Each event-loop thread updates a store of its own
 * (sl_metrics_child): with one store shared by all loops, a loop preempted
 * while holding its lock stalled the others (several locks per request); the
 * root merges its children when it renders. */
#include "metrics.h"
#include "sl_err.h"
#include "sl_str.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FAMILIES 64
#define MAX_SERIES 4096
#define N_BUCKETS 14

static const double buckets[N_BUCKETS] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                          0.25,  0.5,    1,     2.5,  5,    10,  30};

typedef struct {
  char name[64];
  char help[160];
  sl_metric_type_t type;
} family_t;

typedef struct {
  int fam; /* -1: free */
  char labels[192];
  double value; /* counter/gauge value, histogram sum */
  uint64_t count;
  uint64_t b[N_BUCKETS];
  uint64_t set_seq; /* gauges: when last set (the newest wins in a merge) */
} series_t;

#define MAX_CHILDREN 64

struct sl_metrics {
  pthread_mutex_t mu;
  family_t fam[MAX_FAMILIES];
  int n_fam;
  /* Callers name families with string literals: the addresses already seen
   * find their family without comparing strings. */
  const char *alias[2 * MAX_FAMILIES];
  int alias_fam[2 * MAX_FAMILIES];
  int n_alias;
  series_t *s;
  sl_metrics_t *parent;                   /* a child's root */
  sl_metrics_t *children[MAX_CHILDREN];   /* the root's, set before any update */
  int n_children;
  _Atomic uint64_t set_seq;               /* the root's gauge clock */
};

sl_metrics_t *sl_metrics_create(void) {
  sl_metrics_t *m = calloc(1, sizeof *m);
  if (!m) return NULL;
  m->s = calloc(MAX_SERIES, sizeof *m->s);
  if (!m->s) {
    free(m);
    return NULL;
  }
  for (int i = 0; i < MAX_SERIES; i++) m->s[i].fam = -1;
  pthread_mutex_init(&m->mu, NULL);
  return m;
}

sl_metrics_t *sl_metrics_child(sl_metrics_t *root) {
  if (root->parent || root->n_children >= MAX_CHILDREN) return NULL;
  sl_metrics_t *c = sl_metrics_create();
  if (!c) return NULL;
  memcpy(c->fam, root->fam, sizeof c->fam);
  c->n_fam = root->n_fam;
  c->parent = root;
  root->children[root->n_children++] = c;
  return c;
}

void sl_metrics_free(sl_metrics_t *m) {
  if (!m) return;
  for (int i = 0; i < m->n_children; i++) sl_metrics_free(m->children[i]);
  pthread_mutex_destroy(&m->mu);
  free(m->s);
  free(m);
}

void sl_metrics_declare(sl_metrics_t *m, const char *name, sl_metric_type_t type,
                        const char *help) {
  if (m->n_fam >= MAX_FAMILIES) return;
  family_t *f = &m->fam[m->n_fam++];
  snprintf(f->name, sizeof f->name, "%s", name);
  snprintf(f->help, sizeof f->help, "%s", help);
  f->type = type;
}

static int find_fam(sl_metrics_t *m, const char *name) {
  for (int i = 0; i < m->n_alias; i++)
    if (m->alias[i] == name) return m->alias_fam[i];
  for (int i = 0; i < m->n_fam; i++)
    if (!strcmp(m->fam[i].name, name)) {
      if (m->n_alias < 2 * MAX_FAMILIES) {
        m->alias[m->n_alias] = name;
        m->alias_fam[m->n_alias++] = i;
      }
      return i;
    }
  return -1;
}

static uint64_t hash(int fam, const char *s) {
  uint64_t h = 1469598103934665603ull ^ (uint64_t)fam;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h;
}

static series_t *get(sl_metrics_t *m, const char *name, const char *labels) {
  int f = find_fam(m, name);
  if (f < 0) return NULL;
  if (strlen(labels) >= sizeof m->s[0].labels) labels = "overflow=\"1\"";
  for (int attempt = 0; attempt < 2; attempt++) {
    uint64_t h = hash(f, labels);
    for (int i = 0; i < MAX_SERIES; i++) {
      series_t *s = &m->s[(h + (uint64_t)i) % MAX_SERIES];
      if (s->fam == f && !strcmp(s->labels, labels)) return s;
      if (s->fam == -1) {
        /* keep a few slots so the overflow series can always be created */
        s->fam = f;
        snprintf(s->labels, sizeof s->labels, "%s", labels);
        return s;
      }
    }
    labels = "overflow=\"1\"";
  }
  return NULL;
}

void sl_metrics_add(sl_metrics_t *m, const char *name, const char *labels, double v) {
  pthread_mutex_lock(&m->mu);
  series_t *s = get(m, name, labels);
  if (s) s->value += v;
  pthread_mutex_unlock(&m->mu);
}

void sl_metrics_add_many(sl_metrics_t *m, const sl_metric_inc_t *inc, size_t n) {
  pthread_mutex_lock(&m->mu);
  for (size_t i = 0; i < n; i++) {
    series_t *s = get(m, inc[i].name, inc[i].labels);
    if (s) s->value += inc[i].v;
  }
  pthread_mutex_unlock(&m->mu);
}

void sl_metrics_set(sl_metrics_t *m, const char *name, const char *labels, double v) {
  pthread_mutex_lock(&m->mu);
  series_t *s = get(m, name, labels);
  if (s) {
    s->value = v;
    s->set_seq = ++(m->parent ? m->parent : m)->set_seq;
  }
  pthread_mutex_unlock(&m->mu);
}

void sl_metrics_observe(sl_metrics_t *m, const char *name, const char *labels, double v) {
  pthread_mutex_lock(&m->mu);
  series_t *s = get(m, name, labels);
  if (s) {
    s->value += v;
    s->count++;
    for (int i = 0; i < N_BUCKETS; i++)
      if (v <= buckets[i]) s->b[i]++;
  }
  pthread_mutex_unlock(&m->mu);
}

void sl_metrics_label(char *out, size_t n, const char *key, const char *value) {
  size_t o = 0;
  size_t w = sl_cat(out, n, key, "=\"", (char *)NULL);
  if (w >= n) {
    if (n) out[0] = '\0';
    return;
  }
  o = w;
  for (const char *p = value ? value : ""; *p && o + 3 < n; p++) {
    if (*p == '\\' || *p == '"') out[o++] = '\\', out[o++] = *p;
    else if (*p == '\n') out[o++] = '\\', out[o++] = 'n';
    else out[o++] = *p;
  }
  if (o + 2 <= n) out[o++] = '"';
  out[o < n ? o : n - 1] = '\0';
}

/* Adds the series of `from` into `to` (same families by name): counters and
 * histograms add up, a gauge (or a counter that was set) keeps the value set
 * last. */
static void merge(sl_metrics_t *to, sl_metrics_t *from) {
  pthread_mutex_lock(&from->mu);
  for (int i = 0; i < MAX_SERIES; i++) {
    const series_t *s = &from->s[i];
    if (s->fam < 0) continue;
    series_t *d = get(to, from->fam[s->fam].name, s->labels);
    if (!d) continue;
    /* a gauge, or a counter set to a process-wide total (the ledger's rows, set
     * by whichever loop answers the scrape): the value set last, not a sum */
    if (from->fam[s->fam].type == SL_M_GAUGE || s->set_seq) {
      if (s->set_seq >= d->set_seq) d->value = s->value, d->set_seq = s->set_seq;
      continue;
    }
    d->value += s->value;
    d->count += s->count;
    for (int b = 0; b < N_BUCKETS; b++) d->b[b] += s->b[b];
  }
  pthread_mutex_unlock(&from->mu);
}

static int render_store(sl_metrics_t *m, sl_buf_t *out) {
  static const char *types[] = {"counter", "gauge", "histogram"};
  int rc = 0;
  for (int f = 0; f < m->n_fam && !rc; f++) {
    const family_t *fa = &m->fam[f];
    rc = sl_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", fa->name, fa->help, fa->name,
                       types[fa->type]);
    for (int i = 0; i < MAX_SERIES && !rc; i++) {
      const series_t *s = &m->s[i];
      if (s->fam != f) continue;
      const char *sep = s->labels[0] ? "," : "";
      if (fa->type != SL_M_HISTOGRAM) {
        rc = s->labels[0] ? sl_buf_printf(out, "%s{%s} %.17g\n", fa->name, s->labels, s->value)
                          : sl_buf_printf(out, "%s %.17g\n", fa->name, s->value);
        continue;
      }
      for (int b = 0; b < N_BUCKETS && !rc; b++)
        rc = sl_buf_printf(out, "%s_bucket{%s%sle=\"%g\"} %llu\n", fa->name, s->labels, sep,
                           buckets[b], (unsigned long long)s->b[b]);
      if (!rc)
        rc = sl_buf_printf(out, "%s_bucket{%s%sle=\"+Inf\"} %llu\n%s_sum{%s} %.17g\n%s_count{%s} %llu\n",
                           fa->name, s->labels, sep, (unsigned long long)s->count, fa->name,
                           s->labels, s->value, fa->name, s->labels,
                           (unsigned long long)s->count);
    }
  }
  return rc;
}

int sl_metrics_render(sl_metrics_t *m, sl_buf_t *out) {
  sl_metrics_t *root = m->parent ? m->parent : m;
  sl_metrics_t *all = sl_metrics_create(); /* the root and its children, merged */
  if (!all) return SL_ENOMEM;
  memcpy(all->fam, root->fam, sizeof all->fam);
  all->n_fam = root->n_fam;
  merge(all, root);
  for (int i = 0; i < root->n_children; i++) merge(all, root->children[i]);
  int rc = render_store(all, out);
  sl_metrics_free(all);
  return rc;
}
