/* `sluice serve`: loads the policy, the backends (the local model once, at start)
 * and serves on `workers` event-loop threads (loop 0 is this thread, which also
 * takes the signals) until SIGTERM/SIGINT, then drains every loop: stop
 * accepting, finish in-flight requests, exit 0. SIGHUP, a change of the config
 * file and POST /admin/reload re-read the config; a bad file keeps the old
 * policy. Teardown runs with no loop running: backends (the engines' owner
 * first), the ledger, then each loop's handles. */
#include "cli.h"
#include "gateway.h"
#include "sl_err.h"
#include "sl_log.h"

#include <cjson/cJSON.h>

#include <pthread.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { CMD_DRAIN = 1, CMD_STOP = 2 };
#define RECHECK_MS 2000 /* how often the config's path is resolved again */
/* what the config directory's watch asks for: names appearing and leaving */
#define DIR_EVENTS (IN_CREATE | IN_MOVED_TO | IN_DELETE | IN_MOVED_FROM | IN_ONLYDIR)

/* The Responses output items kept for item references (gateway/items.h). */
#define RESPONSE_ITEMS_BYTES ((size_t)32 << 20)

typedef struct {
  sl_gw_shared_t sh;
  uv_loop_t *loops;            /* workers 1..n-1 (worker 0 runs the default loop) */
  uv_signal_t sigterm, sigint, sighup;
  uv_fs_event_t watch;
  /* The config's directory, for a symlink at the config's name repointed there.
   * inotify with names appearing and leaving only: libuv's directory watch also
   * asks for every write to every file there (the ledger's, if it sits beside
   * the config), and each write then costs the writer an event. */
  uv_poll_t watch_dir;
  int watch_dir_fd, watch_dir_wd;
  char config_dir[4096], config_base[256];
  uv_timer_t debounce;
  bool settled; /* a refused reload of a freshly written file waited once already */
  /* Both watches are on inodes: a directory replaced (mv cfg.new cfg) or a
   * symlink above the file repointed leaves them on the old ones. The file's
   * and the directory's identities as their paths resolve are checked every
   * few seconds, and a change re-arms both and reloads. */
  uv_timer_t recheck;
  struct stat seen_file, seen_dir;
  bool watching, draining;
  bool forced;      /* a second signal cut the drain short */
  bool watch_said;  /* "cannot watch" logged: once until the file is back */
  int exit_code;
} serve_t;

/* API backends whose key variable is not set: sent nothing until it is (the
 * environment is read at start: a restart with the key set). */
static void warn_keyless(const sl_config_t *cfg) {
  for (size_t i = 0; i < cfg->n_backends; i++) {
    if (sl_backend_key_missing(&cfg->backends[i]))
      SL_WARN("backend \"%s\": $%s is not set; no request is sent to it (set it and restart)",
              cfg->backends[i].name, cfg->backends[i].api_key_env);
    if (sl_config_cleartext_external(&cfg->backends[i]))
      SL_WARN("backend \"%s\" is external and plain http://: its API key and every request to it "
              "cross the network unencrypted", cfg->backends[i].name);
  }
}

static void declare_metrics(sl_metrics_t *m) {
  sl_metrics_declare(m, "sluice_requests_total", SL_M_COUNTER, "Requests answered, by HTTP status and backend.");
  sl_metrics_declare(m, "sluice_request_duration_seconds", SL_M_HISTOGRAM, "Request latency from first byte to answer, by backend.");
  sl_metrics_declare(m, "sluice_route_requests_total", SL_M_COUNTER, "Requests by the policy rule that routed them.");
  sl_metrics_declare(m, "sluice_upstream_errors_total", SL_M_COUNTER, "Failed backend calls, by backend.");
  sl_metrics_declare(m, "sluice_egress_bytes_total", SL_M_COUNTER, "Bytes sent to external backends, by backend.");
  sl_metrics_declare(m, "sluice_open_connections", SL_M_GAUGE, "Client connections open now.");
  sl_metrics_declare(m, "sluice_refused_connections_total", SL_M_COUNTER,
                     "Client connections refused with 503 (max_connections reached, or shutting down).");
  sl_metrics_declare(m, "sluice_inflight_requests", SL_M_GAUGE, "Requests being processed now.");
  sl_metrics_declare(m, "sluice_send_timeouts_total", SL_M_COUNTER, "Client connections closed for taking none of their answer for limits.send_timeout_ms.");
  sl_metrics_declare(m, "sluice_held_answer_bytes", SL_M_GAUGE, "Answer bytes held in memory now (non-streamed upstream answers being received, answers queued for clients); bounded by limits.max_buffered_bytes.");
  sl_metrics_declare(m, "sluice_client_bytes_in_total", SL_M_COUNTER, "Bytes received from clients.");
  sl_metrics_declare(m, "sluice_client_bytes_out_total", SL_M_COUNTER, "Bytes sent to clients.");
  sl_metrics_declare(m, "sluice_stream_pauses_total", SL_M_COUNTER, "Times a streamed answer's backend was held back because its client read slower than it sent, by backend.");
  sl_metrics_declare(m, "sluice_tokens_total", SL_M_COUNTER, "Tokens by backend, rule, key and direction (in/out).");
  sl_metrics_declare(m, "sluice_cost_usd_total", SL_M_COUNTER, "Spend in USD by backend, rule and key (API prices; local: usd_per_hour x busy time).");
  sl_metrics_declare(m, "sluice_avoided_cost_usd_total", SL_M_COUNTER, "API-equivalent USD avoided by serving inside the network, by backend, rule and key.");
  sl_metrics_declare(m, "sluice_egress_bytes_by_route_total", SL_M_COUNTER, "Bytes sent to external backends by backend, rule and key.");
  sl_metrics_declare(m, "sluice_ledger_rows_total", SL_M_COUNTER, "Ledger rows by outcome.");
  sl_metrics_declare(m, "sluice_ledger_queue_depth", SL_M_GAUGE, "Ledger rows waiting for the writer.");
  sl_metrics_declare(m, "sluice_local_sequences", SL_M_GAUGE, "Local engine sequences by backend and state (running in a slot, queued waiting for one).");
  sl_metrics_declare(m, "sluice_policy_reloads_total", SL_M_COUNTER, "Config reloads, by result.");
}

/* The counters of events that may not happen for a while start at 0 for the
 * results and backends known at start: a series that appears only at its
 * first event has no earlier sample, and increase() over it misses that
 * event (the first refused reload after a start, say). */
static void zero_series(sl_metrics_t *m, const sl_config_t *cfg) {
  sl_metrics_add(m, "sluice_policy_reloads_total", "result=\"ok\"", 0);
  sl_metrics_add(m, "sluice_policy_reloads_total", "result=\"error\"", 0);
  for (size_t i = 0; i < cfg->n_backends; i++) {
    char lab[200];
    sl_metrics_label(lab, sizeof lab, "backend", cfg->backends[i].name);
    sl_metrics_add(m, "sluice_upstream_errors_total", lab, 0);
    sl_metrics_add(m, "sluice_stream_pauses_total", lab, 0);
  }
}

sl_policy_t *sl_gw_policy(sl_gw_t *gw) {
  pthread_mutex_lock(&gw->sh->mu);
  sl_policy_t *p = sl_policy_ref(gw->sh->policy);
  pthread_mutex_unlock(&gw->sh->mu);
  return p;
}

int sl_gw_ledger_append(sl_gw_t *gw, const sl_ledger_row_t *row, sl_ledger_done_cb cb,
                        void *data) {
  return gw->ledger_port ? sl_ledger_append_on(gw->ledger_port, row, cb, data)
                         : sl_ledger_append(gw->ledger, row, cb, data);
}

static bool debug_flag; /* --debug: the config's log_level does not apply */

/* The open-file limit up to what the system allows (its soft value is 1024 under
 * systemd and most shells; every client and upstream connection takes a
 * file), and a warning when it is still under what max_connections asks: past
 * it, connections are closed unanswered. */
static void open_files(int max_connections) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl)) return;
  rlim_t want = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > (1u << 20) ? (1u << 20) : rl.rlim_max;
  if (rl.rlim_cur < want) {
    rl.rlim_cur = want;
    if (setrlimit(RLIMIT_NOFILE, &rl) == 0) SL_DEBUG("open-file limit raised to %llu", (unsigned long long)want);
    else getrlimit(RLIMIT_NOFILE, &rl);
  }
  /* clients, as many upstream connections, and the files besides */
  unsigned long long need = 2ull * (unsigned)max_connections + 256;
  if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need)
    SL_WARN("the open-file limit (%llu) is under what limits.max_connections (%d) needs (about %llu: a "
            "client's connection and its upstream's each): connections past it are closed unanswered; "
            "raise it (systemd LimitNOFILE=, ulimit -n) or lower max_connections",
            (unsigned long long)rl.rlim_cur, max_connections, need);
}

/* The config's log_level, unless --debug said otherwise, and its access_log. */
static void apply_logging(sl_gw_shared_t *sh, const sl_config_t *cfg) {
  if (!debug_flag && cfg->log_level >= 0) sl_log_set_level((sl_log_level_t)cfg->log_level);
  atomic_store(&sh->access_log, cfg->access_log);
}

/* The config's keys a reload does not apply. */
static const char *const start_keys[] = {"listen", "workers", "limits", "ledger"};

/* Keeps the start-only keys of cfg, to tell a reload that changes them. */
static int keep_start_only(sl_gw_shared_t *sh, const sl_config_t *cfg) {
  sh->start_only = cJSON_CreateObject();
  for (size_t i = 0; sh->start_only && i < sizeof start_keys / sizeof *start_keys; i++) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg->root, start_keys[i]);
    if (v && !cJSON_AddItemToObject(sh->start_only, start_keys[i], cJSON_Duplicate(v, 1))) return SL_ENOMEM;
  }
  return sh->start_only ? 0 : SL_ENOMEM;
}

/* The start-only keys cfg changes, "listen, ledger: ...", into why ("" if none). */
static void changed_start_only(const sl_gw_shared_t *sh, const sl_config_t *cfg, char *why, size_t n) {
  size_t at = 0;
  why[0] = '\0';
  for (size_t i = 0; i < sizeof start_keys / sizeof *start_keys; i++) {
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(sh->start_only, start_keys[i]),
                *b = cJSON_GetObjectItemCaseSensitive(cfg->root, start_keys[i]);
    if ((!a && !b) || (a && b && cJSON_Compare(a, b, 1))) continue;
    int w = snprintf(why + at, n - at, "%s%s", at ? ", " : "", start_keys[i]);
    if (w > 0 && (size_t)w < n - at) at += (size_t)w;
  }
  if (at) snprintf(why + at, n - at, ": read at start only, not applied until a restart");
}

int sl_gw_reload(sl_gw_t *gw, bool quiet, char *why, size_t n) {
  sl_gw_shared_t *sh = gw->sh;
  why[0] = '\0';
  pthread_mutex_lock(&sh->reload_mu);
  sl_policy_t *p = NULL;
  sl_jerr_t err = {{0}};
  int rc = sl_policy_load(sh->config_path, &p, &err);
  if (!rc) {
    char e[300];
    rc = sl_backends_prepare(sh->workers[0].backends, sl_policy_config(p), e, sizeof e);
    if (rc) snprintf(err.msg, sizeof err.msg, "%s", e);
  }
  pthread_mutex_lock(&sh->mu);
  sl_policy_t *old = sh->policy;
  if (!rc) sh->policy = p; /* in-flight requests keep their own reference to `old` */
  pthread_mutex_unlock(&sh->mu);
  if (rc) {
    if (p) sl_policy_unref(p);
    snprintf(why, n, "%s", err.msg);
    if (!quiet) {
      SL_ERROR("reload of %s refused, keeping policy %.12s: %s", sh->config_path,
               sl_policy_version(old), err.msg);
      sl_metrics_add(gw->metrics, "sluice_policy_reloads_total", "result=\"error\"", 1);
    }
  } else {
    sl_policy_unref(old);
    apply_logging(sh, sl_policy_config(p));
    SL_INFO("policy reloaded from %s (version %.12s)", sh->config_path, sl_policy_version(p));
    warn_keyless(sl_policy_config(p));
    changed_start_only(sh, sl_policy_config(p), why, n);
    if (why[0]) SL_WARN("reload of %s: %s", sh->config_path, why);
    sl_metrics_add(gw->metrics, "sluice_policy_reloads_total", "result=\"ok\"", 1);
  }
  pthread_mutex_unlock(&sh->reload_mu);
  return rc;
}

/* ---- workers ---- */

static void send_command(sl_gw_t *w, int cmd) {
  atomic_fetch_or(&w->command, cmd);
  uv_async_send(&w->wake);
}

static void on_worker_drained(void *data) {
  sl_gw_t *w = data;
  uv_stop(w->loop); /* its thread returns; the main thread joins it */
}

static void on_main_drained(void *data) {
  serve_t *s = data;
  uv_stop(s->sh.workers[0].loop); /* "drained; exiting" once the other loops are too */
}

static void on_wake(uv_async_t *a) {
  sl_gw_t *w = a->data;
  int cmd = atomic_exchange(&w->command, 0);
  if (cmd & CMD_STOP) {
    uv_stop(w->loop);
    return;
  }
  if ((cmd & CMD_DRAIN) && !w->draining) {
    w->draining = true;
    sl_server_shutdown(w->srv, on_worker_drained, w);
  }
}

static void worker_main(void *arg) {
  sl_gw_t *w = arg;
  pthread_setname_np(pthread_self(), "sluice-loop");
  uv_run(w->loop, UV_RUN_DEFAULT);
}

/* Everything one worker needs on its loop; worker 0 also owns the local engines. */
static int worker_init(serve_t *s, sl_gw_t *w, const sl_config_t *cfg, const char *listen,
                       atomic_uint *open_all) {
  sl_gw_t *w0 = &s->sh.workers[0];
  int rc;
  if ((rc = sl_backends_create(w->loop, w->index ? w0->backends : NULL, &w->backends))) {
    fprintf(stderr, "sluice: cannot create backends\n");
    return rc;
  }
  if (w->ledger && w->index && (rc = sl_ledger_port_open(w->ledger, w->loop, &w->ledger_port))) {
    fprintf(stderr, "sluice: ledger: %s\n", sl_strerror(rc));
    return rc;
  }
  if ((rc = sl_server_create(w->loop, &cfg->limits, sl_gw_handle, w, &w->srv))) return rc;
  sl_server_on_error(w->srv, sl_gw_protocol_error, w);
  sl_server_share_limit(w->srv, open_all);
  /* port 0: the first worker picks the port, the others join it */
  char addr[300];
  snprintf(addr, sizeof addr, "%s", listen);
  if (w->index) {
    char *colon = strrchr(addr, ':');
    if (colon) snprintf(colon + 1, sizeof addr - (size_t)(colon + 1 - addr), "%d", sl_server_port(w0->srv));
  }
  if ((rc = sl_server_listen(w->srv, addr, w->index ? SL_LISTEN_JOIN : SL_LISTEN_FIRST))) {
    fprintf(stderr, "sluice: cannot listen on %s: %s\n", addr,
            rc == SL_EADDRINUSE ? "the address is in use (another sluice?)" : sl_strerror(rc));
    return rc;
  }
  uv_async_init(w->loop, &w->wake, on_wake);
  w->wake.data = w;
  return 0;
}

static unsigned worker_count(int configured) {
  if (configured > 0) return (unsigned)configured;
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n < 1 ? 1 : n > SL_MAX_WORKERS ? SL_MAX_WORKERS : (unsigned)n;
}

static void on_stop_signal(uv_signal_t *h, int signum) {
  serve_t *s = h->data;
  sl_gw_t *ws = s->sh.workers;
  if (s->draining) {
    unsigned left = 0;
    for (unsigned i = 0; i < s->sh.n_workers; i++) left += ws[i].inflight;
    SL_WARN("second signal: exiting now, cutting %u in-flight requests (exit status 1)", left);
    s->forced = true;
    for (unsigned i = 1; i < s->sh.n_workers; i++) send_command(&ws[i], CMD_STOP);
    uv_stop(ws[0].loop);
    return;
  }
  unsigned inflight = 0;
  for (unsigned i = 0; i < s->sh.n_workers; i++) inflight += ws[i].inflight;
  SL_INFO("signal %d: draining %u in-flight requests", signum, inflight);
  s->draining = ws[0].draining = true;
  for (unsigned i = 1; i < s->sh.n_workers; i++) send_command(&ws[i], CMD_DRAIN);
  sl_server_shutdown(ws[0].srv, on_main_drained, s);
}

static void on_file_change(uv_fs_event_t *h, const char *fn, int events, int status);
static void watch_dir_again(serve_t *s);

static bool same_file(const struct stat *a, const struct stat *b) {
  return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/* What path resolves to now; all zero when it does not. */
static void identity(const char *path, struct stat *st) {
  if (stat(path, st)) memset(st, 0, sizeof *st);
}

/* The watches on the file and on its directory, as their paths resolve now. */
static bool watch_again(serve_t *s) {
  uv_fs_event_stop(&s->watch);
  s->watching = uv_fs_event_start(&s->watch, on_file_change, s->sh.config_path, 0) == 0;
  identity(s->sh.config_path, &s->seen_file);
  struct stat d;
  identity(s->config_dir, &d);
  if (!same_file(&d, &s->seen_dir)) {
    s->seen_dir = d;
    watch_dir_again(s);
  }
  return s->watching;
}

static void on_hup(uv_signal_t *h, int signum) {
  serve_t *s = h->data;
  char why[600];
  watch_again(s);
  sl_gw_reload(&s->sh.workers[0], false, why, sizeof why);
}

static void on_recheck(uv_timer_t *t) {
  serve_t *s = t->data;
  struct stat f, d;
  identity(s->sh.config_path, &f);
  identity(s->config_dir, &d);
  if (same_file(&f, &s->seen_file) && same_file(&d, &s->seen_dir)) return;
  SL_INFO("%s now resolves to another file or directory: watching it and reloading",
          s->sh.config_path);
  on_file_change(&s->watch, s->config_base, UV_RENAME, 0);
}

static void on_debounce(uv_timer_t *t) {
  serve_t *s = t->data;
  /* Watch the path again: an editor's atomic save (write a temp file, rename it
   * over) or a symlink swap replaces the inode the old watch was on, and that watch
   * would never fire again. If the file is missing for a moment, try again soon. */
  if (!watch_again(s)) {
    /* said once (a config left missing would log every second), tried each second */
    if (!s->watch_said) SL_WARN("cannot watch %s (missing?); retrying every second", s->sh.config_path);
    s->watch_said = true;
    uv_timer_start(&s->debounce, on_debounce, 1000, 0);
    return;
  }
  if (s->watch_said) SL_INFO("watching %s again", s->sh.config_path);
  s->watch_said = false;
  /* A file written in place in several steps (a config agent, a slow editor)
   * may be read half-written. A file changed within the last second that does
   * not load is read again a second later, and only then, unchanged and still
   * refused, logged and counted as a refused reload (a further write restarts
   * the wait above instead). */
  struct stat st;
  struct timespec now;
  identity(s->sh.config_path, &st);
  clock_gettime(CLOCK_REALTIME, &now);
  bool fresh = !s->settled && st.st_mtim.tv_sec + 1 >= now.tv_sec;
  char why[600];
  if (sl_gw_reload(&s->sh.workers[0], fresh, why, sizeof why) && fresh) {
    s->settled = true;
    uv_timer_start(&s->debounce, on_debounce, 1000, 0);
    return;
  }
  s->settled = false;
}

static void on_file_change(uv_fs_event_t *h, const char *fn, int events, int status) {
  serve_t *s = h->data;
  s->settled = false;
  /* editors write in several steps: reload once things settle */
  uv_timer_start(&s->debounce, on_debounce, 200, 0);
}

/* The config's directory changed: only the config's own name matters there (a
 * symlink at that name repointed to another file: the watch on the path is on
 * the old target and would never fire). */
static void on_dir_change(uv_poll_t *h, int status, int events) {
  serve_t *s = h->data;
  _Alignas(struct inotify_event) char buf[4096];
  ssize_t n;
  bool ours = false;
  while ((n = read(s->watch_dir_fd, buf, sizeof buf)) > 0) {
    for (ssize_t off = 0; off + (ssize_t)sizeof(struct inotify_event) <= n;) {
      const struct inotify_event *ev = (const struct inotify_event *)(buf + off);
      ours |= (ev->mask & IN_Q_OVERFLOW) || (ev->len && !strcmp(ev->name, s->config_base));
      off += (ssize_t)(sizeof *ev + ev->len);
    }
  }
  if (ours) on_file_change(&s->watch, s->config_base, UV_RENAME, 0);
}

static void watch_config_dir(serve_t *s, uv_loop_t *loop, const char *config) {
  const char *slash = strrchr(config, '/');
  const char *dir = slash ? config : ".";
  size_t dn = !slash ? 1 : slash == config ? 1 : (size_t)(slash - config); /* "/x": "/" */
  const char *base = slash ? slash + 1 : config;
  if (dn >= sizeof s->config_dir || strlen(base) >= sizeof s->config_base) return;
  memcpy(s->config_dir, dir, dn);
  s->config_dir[dn] = 0;
  snprintf(s->config_base, sizeof s->config_base, "%s", base);
  int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0 || (s->watch_dir_wd = inotify_add_watch(fd, s->config_dir, DIR_EVENTS)) < 0 ||
      uv_poll_init(loop, &s->watch_dir, fd)) {
    if (fd >= 0) close(fd);
    SL_WARN("cannot watch %s: a config symlink repointed there needs SIGHUP", s->config_dir);
    return;
  }
  s->watch_dir_fd = fd;
  s->watch_dir.data = s;
  uv_poll_start(&s->watch_dir, UV_READABLE, on_dir_change);
}

static void watch_dir_again(serve_t *s) {
  if (s->watch_dir_fd < 0) return;
  inotify_rm_watch(s->watch_dir_fd, s->watch_dir_wd); /* fails if it went with its directory */
  s->watch_dir_wd = inotify_add_watch(s->watch_dir_fd, s->config_dir, DIR_EVENTS);
}

static void close_walk(uv_handle_t *h, void *arg) {
  if (!uv_is_closing(h)) uv_close(h, NULL);
}

int sl_cli_serve(int argc, char **argv) {
  const char *config = getenv("SLUICE_CONFIG") ? getenv("SLUICE_CONFIG") : "deploy/sluice.json";
  const char *listen = NULL;
  int workers = -1;
  for (int i = 0; i < argc; i++) {
    if (!strcmp(argv[i], "--config") && i + 1 < argc) config = argv[++i];
    else if (!strcmp(argv[i], "--listen") && i + 1 < argc) listen = argv[++i];
    else if (!strcmp(argv[i], "--workers") && i + 1 < argc) {
      long w;
      if (!sl_cli_whole(argv[++i], 0, SL_MAX_WORKERS, &w)) {
        fprintf(stderr, "sluice: --workers: a whole number from 0 (one per core) to %d (got \"%s\")\n",
                SL_MAX_WORKERS, argv[i]);
        return 2;
      }
      workers = (int)w;
    }
    else if (!strcmp(argv[i], "--debug")) sl_log_set_level(SL_LOG_DEBUG), debug_flag = true;
    else {
      bool help = sl_cli_is_help(argv[i]);
      if (!help) fprintf(stderr, "sluice serve: unknown or incomplete option \"%s\"\n", argv[i]);
      fprintf(help ? stdout : stderr,
              "usage: sluice serve [--config FILE] [--listen HOST:PORT] [--workers N] [--debug]\n");
      return help ? 0 : 2;
    }
  }
  sl_jerr_t lerr = {{0}};
  if (listen && sl_config_check_listen(listen, "--listen", 0, &lerr)) {
    fprintf(stderr, "sluice: %s\n", lerr.msg);
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  serve_t *s = calloc(1, sizeof *s);
  if (!s) return 1;
  s->watch_dir_fd = -1;
  sl_gw_shared_t *sh = &s->sh;
  pthread_mutex_init(&sh->mu, NULL);
  pthread_mutex_init(&sh->reload_mu, NULL);
  sh->config_path = strdup(config);
  sl_jerr_t err = {{0}};
  int rc = sl_policy_load(config, &sh->policy, &err);
  if (rc) {
    fprintf(stderr, "sluice: %s: %s\n", config, err.msg);
    free(sh->config_path);
    free(s);
    return 1;
  }
  const sl_config_t *cfg = sl_policy_config(sh->policy);
  if (keep_start_only(sh, cfg)) {
    fprintf(stderr, "sluice: out of memory\n");
    return 1;
  }
  apply_logging(sh, cfg);
  open_files(cfg->limits.max_connections);
  if (!listen) listen = cfg->listen;
  sh->n_workers = worker_count(workers >= 0 ? workers : cfg->workers);
  /* Request ids carry it: a restart within the same second must not reuse the
   * ids of the process before (the ledger links a request's rows by id). */
  if (getrandom(&sh->boot, sizeof sh->boot, 0) != (ssize_t)sizeof sh->boot) {
    struct timespec bt;
    clock_gettime(CLOCK_REALTIME, &bt);
    sh->boot = (uint32_t)bt.tv_nsec ^ ((uint32_t)getpid() << 16) ^ (uint32_t)bt.tv_sec;
  }
  sh->workers = calloc(sh->n_workers, sizeof *sh->workers);
  s->loops = calloc(sh->n_workers, sizeof *s->loops);
  sl_metrics_t *metrics = sl_metrics_create();
  sl_rate_t *rate = sl_rate_create(100000);
  sh->items = sl_items_new(RESPONSE_ITEMS_BYTES);
  sl_ledger_t *ledger = NULL;
  sl_ledger_budgets_t *budgets = NULL;
  atomic_uint open_all = 0;
  unsigned started = 0; /* workers whose loop was initialised */
  if (!sh->workers || !s->loops || !metrics || !rate || !sh->items) goto fail;
  declare_metrics(metrics);
  zero_series(metrics, cfg);
  uv_loop_t *main_loop = uv_default_loop();
  if (cfg->ledger_path) {
    /* Opened once at start (a reload does not move the ledger). */
    sl_ledger_opts_t lo = {.reject_on_failure = cfg->ledger_reject_on_failure,
                           .journal = cfg->ledger_journal};
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    /* A journal left by a crash under durability "journal" is committed first
     * whatever the durability now (in "journal" the open replays it anyway):
     * its rows are acknowledged requests, and the budgets count them. */
    uint64_t pending = 0;
    if (!lo.journal && (rc = sl_ledger_commit_pending(cfg->ledger_path, &pending)) &&
        rc != SL_EBUSY) { /* busy: a running sluice owns it and commits it */
      fprintf(stderr, "sluice: ledger %s: the rows pending in %s-pending: %s\n", cfg->ledger_path,
              cfg->ledger_path, sl_strerror(rc));
      goto fail;
    }
    if (pending) SL_INFO("ledger: committed %llu rows a crash left in %s-pending",
                         (unsigned long long)pending, cfg->ledger_path);
    if ((rc = sl_ledger_open(cfg->ledger_path, &lo, main_loop, &ledger)) ||
        (rc = sl_ledger_budgets_open(cfg->ledger_path, now, &budgets))) {
      /* (the cause, as SQLite or the system said it, is the error logged above) */
      fprintf(stderr, "sluice: ledger %s: %s (the cause is logged above)\n", cfg->ledger_path,
              rc == SL_EINVAL ? "not usable as a sluice ledger" : "cannot be opened");
      goto fail;
    }
  }
  for (unsigned i = 0; i < sh->n_workers; i++) {
    sl_gw_t *w = &sh->workers[i];
    w->sh = sh;
    w->index = i;
    w->metrics = sl_metrics_child(metrics); /* freed with the root */
    if (!w->metrics) goto fail;
    w->rate = rate;
    w->ledger = ledger;
    w->budgets = budgets;
    if (i == 0) {
      w->loop = main_loop;
    } else {
      w->loop = &s->loops[i];
      if (uv_loop_init(w->loop)) goto fail;
    }
    started = i + 1;
    if (worker_init(s, w, cfg, listen, &open_all)) goto fail;
    if (i == 0) {
      char e[300] = "";
      if (sl_backends_prepare(w->backends, cfg, e, sizeof e)) {
        fprintf(stderr, "sluice: %s\n", e);
        goto fail;
      }
    }
  }
  for (unsigned i = 1; i < sh->n_workers; i++) {
    sl_gw_t *w = &sh->workers[i];
    if (uv_thread_create(&w->thread, worker_main, w)) {
      fprintf(stderr, "sluice: cannot start worker thread %u\n", i);
      goto fail;
    }
    w->thread_started = true;
  }
  sl_gw_t *w0 = &sh->workers[0];
  uv_signal_init(main_loop, &s->sigterm);
  uv_signal_init(main_loop, &s->sigint);
  uv_signal_init(main_loop, &s->sighup);
  s->sigterm.data = s->sigint.data = s->sighup.data = s;
  uv_signal_start(&s->sigterm, on_stop_signal, SIGTERM);
  uv_signal_start(&s->sigint, on_stop_signal, SIGINT);
  uv_signal_start(&s->sighup, on_hup, SIGHUP);
  uv_timer_init(main_loop, &s->debounce);
  s->debounce.data = s;
  uv_fs_event_init(main_loop, &s->watch);
  s->watch.data = s;
  if (uv_fs_event_start(&s->watch, on_file_change, config, 0) == 0) s->watching = true;
  watch_config_dir(s, main_loop, config);
  identity(config, &s->seen_file);
  identity(s->config_dir, &s->seen_dir);
  uv_timer_init(main_loop, &s->recheck);
  s->recheck.data = s;
  uv_timer_start(&s->recheck, on_recheck, RECHECK_MS, RECHECK_MS);
  warn_keyless(sl_policy_config(sh->policy));
  SL_INFO("sluice listening on %s (port %d; %u event-loop threads; policy %s, version %.12s)",
          listen, sl_server_port(w0->srv), sh->n_workers, config, sl_policy_version(sh->policy));
  /* a machine-readable line for tests and supervisors that start us on port 0 */
  printf("listening %d\n", sl_server_port(w0->srv));
  fflush(stdout);
  sl_log_async(); /* serving: no loop waits for a stderr nobody reads */

  uv_run(main_loop, UV_RUN_DEFAULT);
  /* not drained: a supervisor and a script see the requests that were cut */
  s->exit_code = s->forced ? 1 : 0;
  for (unsigned i = 1; i < started; i++)
    if (sh->workers[i].thread_started) {
      uv_thread_join(&sh->workers[i].thread);
      sh->workers[i].thread_started = false;
    }
  if (!s->forced) SL_INFO("drained; exiting");
  goto out;
fail:
  s->exit_code = 1;
  for (unsigned i = 1; i < started; i++)
    if (sh->workers[i].thread_started) send_command(&sh->workers[i], CMD_STOP);
out:
  for (unsigned i = 1; i < started; i++)
    if (sh->workers[i].thread_started) uv_thread_join(&sh->workers[i].thread);
  /* No loop runs now. Backends first, the engines' owner before the others:
   * stopping the engine can still complete requests, and their rows go to the
   * ledger, which then writes what is queued and hands the last callbacks back. */
  for (unsigned i = 0; i < started; i++) sl_backends_free(sh->workers[i].backends);
  sl_ledger_close(ledger);
  for (unsigned i = started; i-- > 0;) {
    sl_gw_t *w = &sh->workers[i];
    sl_ledger_port_close(w->ledger_port);
    uv_walk(w->loop, close_walk, NULL);
    uv_run(w->loop, UV_RUN_DEFAULT);
    sl_server_free(w->srv);
    uv_loop_close(w->loop);
  }
  if (!started) uv_loop_close(uv_default_loop());
  if (s->watch_dir_fd >= 0) close(s->watch_dir_fd); /* its poll handle closed with the loop */
  sl_policy_unref(sh->policy);
  sl_metrics_free(metrics);
  sl_rate_free(rate);
  sl_items_free(sh->items);
  sl_ledger_budgets_free(budgets);
  free(sh->config_path);
  cJSON_Delete(sh->start_only);
  free(sh->workers);
  free(s->loops);
  pthread_mutex_destroy(&sh->mu);
  pthread_mutex_destroy(&sh->reload_mu);
  int code = s->exit_code;
  free(s);
  return code;
}
