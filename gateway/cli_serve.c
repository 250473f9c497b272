/* `sluice serve`: loads the policy, the backends (the local model once, at start)
 * and serves until SIGTERM/SIGINT, then drains: stop accepting, finish in-flight
 * requests, exit 0. SIGHUP, a change of the config file and POST /admin/reload
 * re-read the config; a bad file keeps the old policy. */
#include "cli.h"
#include "gateway.h"
#include "sl_err.h"
#include "sl_log.h"

#include <signal.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  sl_gw_t gw;
  uv_signal_t sigterm, sigint, sighup;
  uv_fs_event_t watch;
  uv_timer_t debounce;
  bool watching;
  int exit_code;
} serve_t;

static void declare_metrics(sl_metrics_t *m) {
  sl_metrics_declare(m, "sluice_requests_total", SL_M_COUNTER, "Requests answered, by HTTP status and backend.");
  sl_metrics_declare(m, "sluice_request_duration_seconds", SL_M_HISTOGRAM, "Request latency from first byte to answer, by backend.");
  sl_metrics_declare(m, "sluice_route_requests_total", SL_M_COUNTER, "Requests by the policy rule that routed them.");
  sl_metrics_declare(m, "sluice_upstream_errors_total", SL_M_COUNTER, "Failed backend calls, by backend.");
  sl_metrics_declare(m, "sluice_egress_bytes_total", SL_M_COUNTER, "Bytes sent to external backends, by backend.");
  sl_metrics_declare(m, "sluice_open_connections", SL_M_GAUGE, "Client connections open now.");
  sl_metrics_declare(m, "sluice_inflight_requests", SL_M_GAUGE, "Requests being processed now.");
  sl_metrics_declare(m, "sluice_client_bytes_in_total", SL_M_COUNTER, "Bytes received from clients.");
  sl_metrics_declare(m, "sluice_client_bytes_out_total", SL_M_COUNTER, "Bytes sent to clients.");
  sl_metrics_declare(m, "sluice_tokens_total", SL_M_COUNTER, "Tokens by backend, rule, key and direction (in/out).");
  sl_metrics_declare(m, "sluice_cost_usd_total", SL_M_COUNTER, "Spend in USD by backend, rule and key (API prices; local: usd_per_hour x busy time).");
  sl_metrics_declare(m, "sluice_avoided_cost_usd_total", SL_M_COUNTER, "API-equivalent USD avoided by serving inside the network, by backend, rule and key.");
  sl_metrics_declare(m, "sluice_egress_bytes_by_route_total", SL_M_COUNTER, "Bytes sent to external backends by backend, rule and key.");
  sl_metrics_declare(m, "sluice_ledger_rows_total", SL_M_COUNTER, "Ledger rows by outcome.");
  sl_metrics_declare(m, "sluice_ledger_queue_depth", SL_M_GAUGE, "Ledger rows waiting for the writer.");
  sl_metrics_declare(m, "sluice_policy_reloads_total", SL_M_COUNTER, "Config reloads, by result.");
}

int sl_gw_reload(sl_gw_t *gw, char *why, size_t n) {
  sl_policy_t *p = NULL;
  sl_jerr_t err = {{0}};
  int rc = sl_policy_load(gw->config_path, &p, &err);
  if (!rc) {
    char e[300];
    rc = sl_backends_prepare(gw->backends, sl_policy_config(p), e, sizeof e);
    if (rc) snprintf(err.msg, sizeof err.msg, "%s", e);
  }
  if (rc) {
    if (p) sl_policy_unref(p);
    snprintf(why, n, "%s", err.msg);
    SL_ERROR("reload of %s refused, keeping policy %.12s: %s", gw->config_path,
             sl_policy_version(gw->policy), err.msg);
    sl_metrics_add(gw->metrics, "sluice_policy_reloads_total", "result=\"error\"", 1);
    return rc;
  }
  sl_policy_t *old = gw->policy;
  gw->policy = p; /* in-flight requests keep their own reference to `old` */
  sl_policy_unref(old);
  SL_INFO("policy reloaded from %s (version %.12s)", gw->config_path, sl_policy_version(p));
  sl_metrics_add(gw->metrics, "sluice_policy_reloads_total", "result=\"ok\"", 1);
  return 0;
}

static void on_shutdown_done(void *data) {
  serve_t *s = data;
  SL_INFO("drained; exiting");
  uv_stop(s->gw.loop);
}

static void on_stop_signal(uv_signal_t *h, int signum) {
  serve_t *s = h->data;
  if (s->gw.draining) {
    SL_WARN("second signal: exiting now");
    uv_stop(s->gw.loop);
    return;
  }
  SL_INFO("signal %d: draining %u in-flight requests", signum, s->gw.inflight);
  s->gw.draining = true;
  sl_server_shutdown(s->gw.srv, on_shutdown_done, s);
}

static void on_hup(uv_signal_t *h, int signum) {
  serve_t *s = h->data;
  char why[600];
  sl_gw_reload(&s->gw, why, sizeof why);
}

static void on_file_change(uv_fs_event_t *h, const char *fn, int events, int status);

static void on_debounce(uv_timer_t *t) {
  serve_t *s = t->data;
  /* Watch the path again: an editor's atomic save (write a temp file, rename it
   * over) or a symlink swap replaces the inode the old watch was on, and that watch
   * would never fire again. If the file is missing for a moment, try again soon. */
  uv_fs_event_stop(&s->watch);
  s->watching = uv_fs_event_start(&s->watch, on_file_change, s->gw.config_path, 0) == 0;
  if (!s->watching) {
    SL_WARN("cannot watch %s for now; retrying", s->gw.config_path);
    uv_timer_start(&s->debounce, on_debounce, 1000, 0);
    return;
  }
  char why[600];
  sl_gw_reload(&s->gw, why, sizeof why);
}

static void on_file_change(uv_fs_event_t *h, const char *fn, int events, int status) {
  serve_t *s = h->data;
  /* editors write in several steps: reload once things settle */
  uv_timer_start(&s->debounce, on_debounce, 200, 0);
}

static void close_walk(uv_handle_t *h, void *arg) {
  if (!uv_is_closing(h)) uv_close(h, NULL);
}

int sl_cli_serve(int argc, char **argv) {
  const char *config = getenv("SLUICE_CONFIG") ? getenv("SLUICE_CONFIG") : "deploy/sluice.json";
  const char *listen = NULL;
  for (int i = 0; i < argc; i++) {
    if (!strcmp(argv[i], "--config") && i + 1 < argc) config = argv[++i];
    else if (!strcmp(argv[i], "--listen") && i + 1 < argc) listen = argv[++i];
    else if (!strcmp(argv[i], "--debug")) sl_log_set_level(SL_LOG_DEBUG);
    else {
      fprintf(stderr, "usage: sluice serve [--config FILE] [--listen HOST:PORT] [--debug]\n");
      return 2;
    }
  }
  signal(SIGPIPE, SIG_IGN);
  serve_t *s = calloc(1, sizeof *s);
  if (!s) return 1;
  sl_gw_t *gw = &s->gw;
  gw->loop = uv_default_loop();
  gw->config_path = strdup(config);
  sl_jerr_t err = {{0}};
  int rc = sl_policy_load(config, &gw->policy, &err);
  if (rc) {
    fprintf(stderr, "sluice: %s: %s\n", config, err.msg);
    free(gw->config_path);
    free(s);
    return 1;
  }
  const sl_config_t *cfg = sl_policy_config(gw->policy);
  if (!listen) listen = cfg->listen;
  gw->metrics = sl_metrics_create();
  gw->rate = sl_rate_create(100000);
  if (!gw->metrics || !gw->rate) goto fail;
  declare_metrics(gw->metrics);
  char e[300] = "cannot create backends";
  if ((rc = sl_backends_create(gw->loop, &gw->backends)) ||
      (rc = sl_backends_prepare(gw->backends, cfg, e, sizeof e))) {
    fprintf(stderr, "sluice: %s\n", e);
    goto fail;
  }
  if (cfg->ledger_path) {
    /* Opened once at start (a reload does not move the ledger). */
    sl_ledger_opts_t lo = {.reject_on_failure = cfg->ledger_reject_on_failure};
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    if ((rc = sl_ledger_open(cfg->ledger_path, &lo, gw->loop, &gw->ledger)) ||
        (rc = sl_ledger_budgets_open(cfg->ledger_path, now, &gw->budgets))) {
      fprintf(stderr, "sluice: ledger %s: %s\n", cfg->ledger_path, sl_strerror(rc));
      goto fail;
    }
  }
  if ((rc = sl_server_create(gw->loop, &cfg->limits, sl_gw_handle, gw, &gw->srv)) ||
      (rc = sl_server_listen(gw->srv, listen))) {
    fprintf(stderr, "sluice: cannot listen on %s\n", listen);
    goto fail;
  }
  uv_signal_init(gw->loop, &s->sigterm);
  uv_signal_init(gw->loop, &s->sigint);
  uv_signal_init(gw->loop, &s->sighup);
  s->sigterm.data = s->sigint.data = s->sighup.data = s;
  uv_signal_start(&s->sigterm, on_stop_signal, SIGTERM);
  uv_signal_start(&s->sigint, on_stop_signal, SIGINT);
  uv_signal_start(&s->sighup, on_hup, SIGHUP);
  uv_timer_init(gw->loop, &s->debounce);
  s->debounce.data = s;
  uv_fs_event_init(gw->loop, &s->watch);
  s->watch.data = s;
  if (uv_fs_event_start(&s->watch, on_file_change, config, 0) == 0) s->watching = true;
  SL_INFO("sluice listening on %s (port %d; policy %s, version %.12s)", listen,
          sl_server_port(gw->srv), config, sl_policy_version(gw->policy));
  /* a machine-readable line for tests and supervisors that start us on port 0 */
  printf("listening %d\n", sl_server_port(gw->srv));
  fflush(stdout);

  uv_run(gw->loop, UV_RUN_DEFAULT);
  s->exit_code = 0;
  goto out;
fail:
  s->exit_code = 1;
out:
  /* Backends first: stopping the engine can still complete requests, and their
   * rows go to the ledger, which then writes what is queued. */
  sl_backends_free(gw->backends);
  sl_ledger_close(gw->ledger);
  uv_walk(gw->loop, close_walk, NULL);
  uv_run(gw->loop, UV_RUN_DEFAULT);
  sl_server_free(gw->srv);
  sl_policy_unref(gw->policy);
  sl_metrics_free(gw->metrics);
  sl_rate_free(gw->rate);
  sl_ledger_budgets_free(gw->budgets);
  free(gw->config_path);
  uv_loop_close(gw->loop);
  int code = s->exit_code;
  free(s);
  return code;
}
