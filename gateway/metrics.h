/* Prometheus metrics: counters, gauges and histograms keyed by a label string,
 * updated on the loop thread, rendered in the text exposition format. The number
 * of series is bounded; past it, updates fold into an "overflow" series. */
#ifndef SL_METRICS_H
#define SL_METRICS_H

#include "sl_buf.h"

typedef struct sl_metrics sl_metrics_t;

typedef enum { SL_M_COUNTER, SL_M_GAUGE, SL_M_HISTOGRAM } sl_metric_type_t;

sl_metrics_t *sl_metrics_create(void);
/* A store of its own for one thread (an event loop), with the root's families
 * (declare them all first); it is freed with the root, and rendering either
 * renders the root and all its children merged: counters and histograms
 * summed, each gauge as it was set last (and each counter that was set, not
 * added to: a process-wide total). NULL when out of memory or slots. */
sl_metrics_t *sl_metrics_child(sl_metrics_t *root);
void sl_metrics_free(sl_metrics_t *m);
/* Declares a metric family (once, before use). */
void sl_metrics_declare(sl_metrics_t *m, const char *name, sl_metric_type_t type, const char *help);
/* name: a family's name that lives as long as the store (a string literal);
 * labels: `a="x",b="y"` (already escaped with sl_metrics_label) or "". */
void sl_metrics_add(sl_metrics_t *m, const char *name, const char *labels, double v);
/* Several sl_metrics_add()s under one lock. */
typedef struct {
  const char *name, *labels;
  double v;
} sl_metric_inc_t;
void sl_metrics_add_many(sl_metrics_t *m, const sl_metric_inc_t *inc, size_t n);
void sl_metrics_set(sl_metrics_t *m, const char *name, const char *labels, double v);
void sl_metrics_observe(sl_metrics_t *m, const char *name, const char *labels, double v);
int sl_metrics_render(sl_metrics_t *m, sl_buf_t *out);
/* Writes `key="value"` with the value escaped per the exposition format. */
void sl_metrics_label(char *out, size_t n, const char *key, const char *value);

#endif
