/* libcurl multi on libuv. The glue follows curl's multi-uv example shape:
 * CURLMOPT_SOCKETFUNCTION maps each socket to a uv_poll_t, CURLMOPT_TIMERFUNCTION
 * to one uv_timer_t, and every event is fed back through curl_multi_socket_action.
 * Completed transfers are reaped with curl_multi_info_read after each action. */
#include "http_client.h"
#include "sl_err.h"
#include "sl_log.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define EASY_POOL 256 /* idle easy handles kept for reuse (curl_easy_reset) */

struct sl_hc {
  uv_loop_t *loop;
  CURL *pool[EASY_POOL];
  int n_pool;
  CURLM *multi;
  uv_timer_t timer;
  size_t active;
  int in_action; /* inside curl_multi_socket_action: removal must wait */
  size_t turn_bytes; /* delivered since curl was last entered from the loop */
  uv_idle_t resume;  /* transfers that yielded go on at the loop's next turn */
  int open_handles;  /* the timer and the idle handle: hc goes with the last */
  sl_hc_req_t *all;
  struct sock_ctx **socks; /* by fd */
  size_t n_socks;
};

typedef struct sock_ctx sock_ctx_t;

struct sl_hc_req {
  sl_hc_t *hc;
  CURL *easy;
  /* The header list lives in the request: its nodes here, its strings after
   * the body copy in `body` (one allocation, wiped when freed: it can hold a key). */
  struct curl_slist headers[SL_HC_MAX_HEADERS + 2];
  char *body;
  size_t body_cap;
  sl_hc_cbs_t cbs;
  void *data;
  sl_hc_req_t *prev, *next;
  /* first-byte timeout; once the answer began, the idle timeout (restarted at
   * each piece, stopped while paused); after the answer's last event, its end */
  uv_timer_t fb_timer;
  long idle_ms;
  bool got_response, canceled, timed_out_fb, ending;
  bool paused, held; /* held: curl keeps a piece we refused while paused */
  bool yielded;      /* held back until the loop's next turn (TURN_BYTES) */
  bool doomed;       /* to end at the loop's next turn (resume, sl_hc_cancel) */
  bool adding;       /* started inside a curl callback: added at the next turn */
  long retry_after_ms, retry_after_s_ms; /* of the header block being read */
  bool no_retry;                          /* it said x-should-retry: false */
  long long clen;                         /* its Content-Length, -1 before one */
  bool bad_framing;                       /* two that differ: the body's end is unknown */
  bool switched;                          /* a 101 nobody asked for: no HTTP answer follows */
  int attempts;                           /* connections the request was about to go out on */
  bool resend_refused;                    /* curl would have sent it again, unrecorded */
  int status;
  char errbuf[CURL_ERROR_SIZE];
};

/* One uv_poll_t per upstream socket, found by fd. A socket outlives its
 * transfers: when curl parks a connection in its cache (CURL_POLL_REMOVE) the
 * handle keeps watching it for reading, and when curl takes it up again with the
 * same interest nothing changes, so a reused connection costs no epoll_ctl. (libuv
 * re-registers the fd on every uv_poll_start, so we call it only when the
 * interest changes.) The handle is closed in curl's close-socket callback, before
 * the fd. */
struct sock_ctx {
  uv_poll_t poll;
  curl_socket_t fd;
  sl_hc_t *hc;
  int events;  /* UV_READABLE | UV_WRITABLE being watched */
  bool parked; /* in curl's cache, no transfer on it */
};

static void check_done(sl_hc_t *hc);

/* Each entry into curl from the loop (a socket event, curl's timer, a resume)
 * starts a turn with a fresh budget of TURN_BYTES: past it, on_write holds the
 * transfer back until the loop's next turn. curl reads a socket for as long as
 * it has bytes, so without this a fast upstream whose client takes everything
 * at once kept the loop inside one curl call for the whole answer (48 MB, a
 * second and more): no other client was served, and a client that went away
 * meanwhile was noticed only at the end. */
#define TURN_BYTES (256u << 10)

static void hc_enter(sl_hc_t *hc) {
  if (!hc->in_action++) hc->turn_bytes = 0;
}

/* Finished transfers are reaped once the outermost entry is over: inside a
 * curl callback (sl_hc_pause from a write callback, say) curl refuses to
 * remove a handle, and a handle left in the multi but back in the pool made
 * the next transfer on it fail to start. */
static void hc_leave(sl_hc_t *hc) {
  if (!--hc->in_action) check_done(hc);
}

static void on_poll_closed(uv_handle_t *h) { free(h->data); }

static sock_ctx_t *sock_find(sl_hc_t *hc, curl_socket_t fd) {
  return fd >= 0 && (size_t)fd < hc->n_socks ? hc->socks[fd] : NULL;
}

static void sock_close(sl_hc_t *hc, sock_ctx_t *s) {
  hc->socks[s->fd] = NULL;
  uv_close((uv_handle_t *)&s->poll, on_poll_closed);
}

static void sock_watch(sock_ctx_t *s, int events);

static void on_poll(uv_poll_t *p, int status, int events) {
  sock_ctx_t *s = p->data;
  sl_hc_t *hc = s->hc;
  if (s->parked) {
    /* An idle cached connection became readable: the upstream closed it, reset
     * it or sent something unasked. curl's check before reusing a connection
     * takes pending bytes (or a pending reset) for a live connection, and would
     * read stray bytes as the next request's answer — another client's, if the
     * upstream sent one too many. So the connection is made to read as closed:
     * what is pending is drained, both directions shut, and curl drops it. */
    char junk[4096];
    ssize_t k;
    int rounds = 0;
    while ((k = recv(s->fd, junk, sizeof junk, MSG_DONTWAIT)) > 0 && ++rounds < 256) {
    }
    shutdown(s->fd, SHUT_RDWR);
    sock_watch(s, 0);
    return;
  }
  int flags = 0;
  if (status < 0) flags = CURL_CSELECT_ERR;
  if (events & UV_READABLE) flags |= CURL_CSELECT_IN;
  if (events & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
  int running;
  hc_enter(hc);
  curl_multi_socket_action(hc->multi, s->fd, flags, &running);
  hc_leave(hc);
}

static void sock_watch(sock_ctx_t *s, int events) {
  if (events == s->events) return;
  s->events = events;
  if (events) uv_poll_start(&s->poll, events, on_poll);
  else uv_poll_stop(&s->poll);
}

static int on_socket(CURL *e, curl_socket_t fd, int what, void *userp, void *socketp) {
  sl_hc_t *hc = userp;
  sock_ctx_t *s = sock_find(hc, fd);
  if (what == CURL_POLL_REMOVE) {
    if (!s) return 0;
    /* A paused transfer (the client is slow to read) keeps its connection: its
     * pending bytes are its answer, to be read on resume. */
    sl_hc_req_t *r = NULL;
    curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&r);
    if (r && (r->paused || r->yielded)) {
      s->parked = false;
      sock_watch(s, 0);
      return 0;
    }
    /* No answer came on it: a connect that failed, timed out or was abandoned,
     * or happy eyeballs dropping the slower address. Such a socket is not kept
     * for reuse, and curl may have closed it already without the close-socket
     * callback (7.88 does for a pending connect); watching a closed fd aborts
     * libuv. So it is not watched, and its handle goes if the fd is gone. */
    if (!r || !r->got_response) {
      s->parked = false;
      sock_watch(s, 0);
      if (fcntl(fd, F_GETFD) == -1 && errno == EBADF) sock_close(hc, s);
      return 0;
    }
    s->parked = true;
    sock_watch(s, UV_READABLE);
    return 0;
  }
  if (!s) {
    if (fd < 0) return -1;
    if ((size_t)fd >= hc->n_socks) {
      size_t n = hc->n_socks ? hc->n_socks : 64;
      while (n <= (size_t)fd) n *= 2;
      sock_ctx_t **ns = realloc(hc->socks, n * sizeof *ns);
      if (!ns) return -1;
      memset(ns + hc->n_socks, 0, (n - hc->n_socks) * sizeof *ns);
      hc->socks = ns;
      hc->n_socks = n;
    }
    s = calloc(1, sizeof *s);
    if (!s) return -1;
    s->fd = fd;
    s->hc = hc;
    if (uv_poll_init_socket(hc->loop, &s->poll, fd)) {
      free(s);
      return -1;
    }
    s->poll.data = s;
    hc->socks[fd] = s;
  }
  s->parked = false;
  int ev = 0;
  if (what & CURL_POLL_IN) ev |= UV_READABLE;
  if (what & CURL_POLL_OUT) ev |= UV_WRITABLE;
  sock_watch(s, ev);
  return 0;
}

/* curl closes a socket: its handle goes first (libuv must not watch a closed fd). */
static int on_close_socket(void *userp, curl_socket_t fd) {
  sl_hc_t *hc = userp;
  sock_ctx_t *s = sock_find(hc, fd);
  if (s) sock_close(hc, s);
  return close(fd);
}

static void on_timeout(uv_timer_t *t) {
  sl_hc_t *hc = t->data;
  int running;
  hc_enter(hc);
  curl_multi_socket_action(hc->multi, CURL_SOCKET_TIMEOUT, 0, &running);
  hc_leave(hc);
}

static int on_timer(CURLM *m, long ms, void *userp) {
  sl_hc_t *hc = userp;
  if (ms < 0) uv_timer_stop(&hc->timer);
  else uv_timer_start(&hc->timer, on_timeout, (uint64_t)ms, 0);
  return 0;
}

static char *default_ca; /* libcurl's built-in CA bundle, for transfers without ca_file */

static void global_init(void) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  CURL *probe = curl_easy_init();
  char *ca = NULL;
  if (probe && curl_easy_getinfo(probe, CURLINFO_CAINFO, &ca) == CURLE_OK && ca) default_ca = strdup(ca);
  curl_easy_cleanup(probe);
}

int sl_hc_create(uv_loop_t *loop, sl_hc_t **out) {
  static uv_once_t once = UV_ONCE_INIT;
  uv_once(&once, global_init);
  sl_hc_t *hc = calloc(1, sizeof *hc);
  if (!hc) return SL_ENOMEM;
  hc->loop = loop;
  hc->multi = curl_multi_init();
  if (!hc->multi) {
    free(hc);
    return SL_ENOMEM;
  }
  uv_timer_init(loop, &hc->timer);
  hc->timer.data = hc;
  uv_idle_init(loop, &hc->resume);
  hc->resume.data = hc;
  hc->open_handles = 2;
  curl_multi_setopt(hc->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
  curl_multi_setopt(hc->multi, CURLMOPT_SOCKETDATA, hc);
  curl_multi_setopt(hc->multi, CURLMOPT_TIMERFUNCTION, on_timer);
  curl_multi_setopt(hc->multi, CURLMOPT_TIMERDATA, hc);
  curl_multi_setopt(hc->multi, CURLMOPT_MAXCONNECTS, 1024L);
  *out = hc;
  return 0;
}

/* Easy handles are reused: one from the pool keeps the options every transfer
 * shares (set once in easy_setup), so a transfer sets only its own. Reusing
 * handles also keeps curl's per-handle buffers. */
static size_t on_write(char *p, size_t sz, size_t n, void *ud);
static size_t on_header(char *p, size_t sz, size_t n, void *ud);

static void easy_setup(sl_hc_t *hc, CURL *e) {
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
  curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, on_close_socket);
  curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, hc);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, ""); /* gzip/deflate if the upstream wants */
  curl_easy_setopt(e, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
}

static CURL *easy_get(sl_hc_t *hc) {
  if (hc->n_pool) return hc->pool[--hc->n_pool];
  CURL *e = curl_easy_init();
  if (e) easy_setup(hc, e);
  return e;
}

static void easy_put(sl_hc_t *hc, CURL *e) {
  if (!e) return;
  if (hc->n_pool < EASY_POOL) {
    /* drop what points into the finished transfer */
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, NULL);
    curl_easy_setopt(e, CURLOPT_PRIVATE, NULL);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, NULL);
    hc->pool[hc->n_pool++] = e;
  } else {
    curl_easy_cleanup(e);
  }
}

static void on_fb_closed(uv_handle_t *h) {
  sl_hc_req_t *r = h->data;
  free(r);
}

static void body_free(sl_hc_req_t *r) {
  if (r->body) explicit_bzero(r->body, r->body_cap);
  free(r->body);
  r->body = NULL;
}

/* Detaches and frees a transfer; the uv timer is closed asynchronously. */
static void req_free(sl_hc_req_t *r) {
  sl_hc_t *hc = r->hc;
  if (r->prev) r->prev->next = r->next;
  else hc->all = r->next;
  if (r->next) r->next->prev = r->prev;
  curl_multi_remove_handle(hc->multi, r->easy);
  easy_put(hc, r->easy);
  body_free(r);
  hc->active--;
  uv_timer_stop(&r->fb_timer);
  uv_close((uv_handle_t *)&r->fb_timer, on_fb_closed);
}

/* What went wrong, in words for the client and the log: libcurl's own text
 * for some codes names its internals ("select/poll returned error" for a
 * connection reset, "Out of memory" for headers over its 100 KB limit). */
static const char *failure_text(const sl_hc_req_t *r, CURLcode cc) {
  switch (cc) {
  case CURLE_OUT_OF_MEMORY:
    if (!r->got_response) return "upstream response headers too large (over 100 KB)";
    break;
  case CURLE_RECV_ERROR:
    /* libcurl's own words for framing it could not read ("Malformed encoding
     * found in chunked-encoding", an overflowing chunk size) */
    if (strstr(r->errbuf, "chunk")) return "upstream sent a body with malformed chunked encoding";
    /* fall through */
  case CURLE_SEND_ERROR: /* (what libcurl reports for a reset it saw through our poll) */
  case CURLE_UNRECOVERABLE_POLL: return "the upstream connection was reset or broke";
  case CURLE_GOT_NOTHING: return "upstream closed the connection without answering";
  case CURLE_PARTIAL_FILE: return "upstream closed the connection before the answer's end";
  default: break;
  }
  return r->errbuf[0] ? r->errbuf : curl_easy_strerror(cc);
}

/* A transfer that failed on a connection curl reused, before a byte of any
 * answer came back: the upstream closed or reset the idle connection as the
 * request went out (the keep-alive race). It is reported as SL_ESTALE, so that
 * the caller sends it again on a new connection as a transmission of its own
 * (the ledger records every one); curl resends only after a clean close. */
static bool stale(sl_hc_req_t *r, CURLcode cc) {
  if (r->got_response || r->timed_out_fb ||
      (cc != CURLE_SEND_ERROR && cc != CURLE_RECV_ERROR && cc != CURLE_GOT_NOTHING))
    return false;
  long conns = 1, header_bytes = 1;
  curl_easy_getinfo(r->easy, CURLINFO_NUM_CONNECTS, &conns);
  curl_easy_getinfo(r->easy, CURLINFO_HEADER_SIZE, &header_bytes);
  return conns == 0 && header_bytes == 0;
}

bool sl_hc_sent_nothing(const sl_hc_req_t *r) {
  long headers = 1;
  curl_off_t body = 1;
  if (curl_easy_getinfo(r->easy, CURLINFO_REQUEST_SIZE, &headers) != CURLE_OK ||
      curl_easy_getinfo(r->easy, CURLINFO_SIZE_UPLOAD_T, &body) != CURLE_OK)
    return false;
  return headers == 0 && body == 0;
}

static void check_done(sl_hc_t *hc) {
  CURLMsg *msg;
  int left;
  while ((msg = curl_multi_info_read(hc->multi, &left))) {
    if (msg->msg != CURLMSG_DONE) continue;
    sl_hc_req_t *r = NULL;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
    CURLcode cc = msg->data.result;
    if (!r) continue;
    if (r->canceled) {
      req_free(r);
      continue;
    }
    int err = 0;
    const char *m = "ok";
    char mbuf[320];
    if (r->bad_framing) {
      err = SL_EUPSTREAM;
      m = "upstream answer has conflicting Content-Length headers";
    } else if (r->resend_refused) {
      err = SL_ESTALE;
      m = "upstream closed a reused connection before answering";
    } else if (r->switched) {
      err = SL_EUPSTREAM;
      m = "upstream switched protocols (HTTP 101) though no upgrade was asked for";
    } else if (stale(r, cc)) {
      err = SL_ESTALE;
      snprintf(mbuf, sizeof mbuf, "upstream closed a reused connection before answering: %s",
               r->errbuf[0] ? r->errbuf : curl_easy_strerror(cc));
      m = mbuf;
    } else if (r->timed_out_fb) {
      err = SL_ETIMEOUT;
      m = "upstream sent no response in time (first-byte timeout)";
    } else if (cc == CURLE_OPERATION_TIMEDOUT) {
      /* (curl's own text counts body bytes only: "with 0 bytes received" of an
       * upstream whose head had come) */
      err = SL_ETIMEOUT;
      double secs = 0, conn = 0;
      curl_easy_getinfo(r->easy, CURLINFO_TOTAL_TIME, &secs);
      curl_easy_getinfo(r->easy, CURLINFO_CONNECT_TIME, &conn);
      if (conn <= 0)
        snprintf(mbuf, sizeof mbuf, "upstream did not take the connection in time (connect timeout, after %.1f s)",
                 secs);
      else
        snprintf(mbuf, sizeof mbuf, "upstream did not finish in time (total timeout, after %.1f s%s)", secs,
                 r->got_response ? "; its answer had begun" : "");
      m = mbuf;
    } else if (cc != CURLE_OK && cc != CURLE_WRITE_ERROR) {
      err = SL_EUPSTREAM;
      snprintf(mbuf, sizeof mbuf, "upstream transfer failed: %s", failure_text(r, cc));
      m = mbuf;
    } else if (cc == CURLE_WRITE_ERROR) {
      err = SL_ECANCELED;
      m = "transfer aborted";
    }
    long st = 0;
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &st);
    r->cbs.on_done(r->data, err, (int)st, m);
    req_free(r);
  }
}

static void on_first_byte_timeout(uv_timer_t *t) {
  sl_hc_req_t *r = t->data;
  if (r->got_response || r->canceled) return;
  r->timed_out_fb = true;
  /* A timer callback is outside curl's callbacks: the transfer can go now. */
  r->cbs.on_done(r->data, SL_ETIMEOUT, 0,
                 "upstream sent no response in time (first-byte timeout)");
  req_free(r);
}

static void on_idle_timeout(uv_timer_t *t) {
  sl_hc_req_t *r = t->data;
  if (r->canceled) return;
  char m[128];
  snprintf(m, sizeof m, "upstream sent nothing for %ld ms (idle timeout)", r->idle_ms);
  r->cbs.on_done(r->data, SL_ETIMEOUT, r->status, m);
  req_free(r);
}

/* The idle clock starts over: a piece of the answer came, or taking it resumed. */
static void idle_restart(sl_hc_req_t *r) {
  if (r->idle_ms > 0 && !r->ending && !r->paused)
    uv_timer_start(&r->fb_timer, on_idle_timeout, (uint64_t)r->idle_ms, 0);
}

static void on_end_grace(uv_timer_t *t) {
  sl_hc_req_t *r = t->data;
  if (r->canceled) return;
  /* A timer callback is outside curl's callbacks: the transfer can go now (its
   * connection with it: the body never ended). */
  r->cbs.on_done(r->data, 0, r->status, "ok");
  req_free(r);
}

void sl_hc_expect_end(sl_hc_req_t *r, uint64_t ms) {
  if (!r || r->canceled || !r->got_response) return;
  r->ending = true;
  uv_timer_start(&r->fb_timer, on_end_grace, ms, 0);
}

static int note_response(sl_hc_req_t *r) {
  if (r->got_response) return 0;
  r->got_response = true;
  uv_timer_stop(&r->fb_timer);
  idle_restart(r);
  long st = 0;
  char *ct = NULL;
  curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &st);
  curl_easy_getinfo(r->easy, CURLINFO_CONTENT_TYPE, &ct);
  r->status = (int)st;
  long ra = r->retry_after_ms ? r->retry_after_ms : r->retry_after_s_ms;
  return r->cbs.on_response ? r->cbs.on_response(r->data, (int)st, ct, ra, r->no_retry) : 0;
}

static void on_resume(uv_idle_t *idle);

/* r ends at the loop's next turn, outside curl's callbacks. */
static void doom(sl_hc_req_t *r) {
  r->doomed = true;
  uv_idle_start(&r->hc->resume, on_resume);
}

/* A transfer on_write held (paused or yielded) goes on: curl hands on_write
 * the held piece now. When on_write refuses it (the call failed on it: an
 * answer over limits.max_buffered_bytes, a malformed stream), curl_easy_pause
 * fails and curl leaves the transfer where it was, never to end: its call,
 * and the answer bytes it holds, stayed for good. It ends as a write error
 * would have ended it. */
static void resume(sl_hc_req_t *r) {
  r->held = false;
  if (curl_easy_pause(r->easy, CURLPAUSE_CONT) != CURLE_OK) doom(r);
}

/* The loop's next turn: doomed transfers end, and each transfer that yielded
 * gets its held piece (with a turn of its own, so that the first in the list
 * do not starve the rest); curl reads on at its next socket event or timer. */
static void on_resume(uv_idle_t *idle) {
  sl_hc_t *hc = idle->data;
  uv_idle_stop(idle);
  hc->in_action++;
  for (sl_hc_req_t *r = hc->all, *next; r; r = next) {
    next = r->next;
    if (r->adding && !r->doomed) {
      r->adding = false;
      if (curl_multi_add_handle(hc->multi, r->easy) != CURLM_OK) r->doomed = true;
    }
    if (r->doomed) {
      if (!r->canceled) r->cbs.on_done(r->data, SL_ECANCELED, r->status, "transfer aborted");
      req_free(r);
      next = hc->all; /* (its callback may have changed the list) */
      continue;
    }
    if (!r->yielded) continue;
    r->yielded = false;
    if (r->paused || r->canceled || !r->held) continue;
    hc->turn_bytes = 0;
    resume(r);
  }
  hc_leave(hc);
}

static size_t on_write(char *p, size_t sz, size_t n, void *ud) {
  sl_hc_req_t *r = ud;
  size_t len = sz * n;
  if (r->canceled || r->doomed) return CURL_WRITEFUNC_ERROR;
  if (note_response(r)) return CURL_WRITEFUNC_ERROR;
  if (r->paused || r->yielded) { /* curl keeps this piece and reads no more until resumed */
    r->held = true;
    return CURL_WRITEFUNC_PAUSE;
  }
  sl_hc_t *hc = r->hc;
  if (hc->turn_bytes >= TURN_BYTES) { /* the loop's turn is over: on at the next */
    r->yielded = r->held = true;
    uv_idle_start(&hc->resume, on_resume);
    return CURL_WRITEFUNC_PAUSE;
  }
  hc->turn_bytes += len;
  idle_restart(r);
  if (r->cbs.on_data(r->data, p, len)) return CURL_WRITEFUNC_ERROR;
  return r->canceled ? CURL_WRITEFUNC_ERROR : len;
}

/* The value of a "name: value" header line (name lower-case, with its colon),
 * past the blanks after the colon, and its length in *vn; NULL when the line
 * is another header. */
static const char *header_value(const char *p, size_t len, const char *name, size_t *vn) {
  size_t k = strlen(name);
  if (len <= k || strncasecmp(p, name, k)) return NULL;
  while (k < len && (p[k] == ' ' || p[k] == '\t')) k++;
  *vn = len - k;
  return p + k;
}

/* The value of a "name: digits" header line in units (at most a day), or -1. */
static long header_number(const char *p, size_t len, const char *name, long unit) {
  size_t n, i = 0;
  const char *d = header_value(p, len, name, &n);
  if (!d) return -1;
  long v = 0;
  while (i < n && d[i] >= '0' && d[i] <= '9' && v < 86400000L) v = v * 10 + (d[i++] - '0');
  if (!i) return -1;
  v *= unit;
  return v > 86400000L ? 86400000L : v;
}

/* The wait until the HTTP-date of a "name: date" header line in ms (RFC 9110
 * allows a date in Retry-After), at most a day; -1 when it is not a date. */
static long header_date_wait(const char *p, size_t len, const char *name) {
  size_t n;
  const char *d = header_value(p, len, name, &n);
  if (!d || n > 64) return -1;
  char v[72];
  memcpy(v, d, n);
  v[n] = 0;
  time_t at = curl_getdate(v, NULL);
  if (at < 0) return -1;
  time_t now = time(NULL);
  if (at <= now) return 0;
  return at - now > 86400 ? 86400000L : (long)(at - now) * 1000;
}

/* Called as the request is about to go out on a connection. A second time for
 * one transfer is libcurl sending it again by itself (the reused connection
 * died before an answer): bytes that would leave with no ledger row of their
 * own. The transfer stops here instead, and the caller sends it again as a
 * call of its own (SL_ESTALE), its egress recorded first. */
static int on_prereq(void *ud, char *ip, char *local_ip, int port, int local_port) {
  (void)ip, (void)local_ip, (void)port, (void)local_port;
  sl_hc_req_t *r = ud;
  if (++r->attempts > 1) {
    r->resend_refused = true;
    return CURL_PREREQFUNC_ABORT;
  }
  return CURL_PREREQFUNC_OK;
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud) {
  sl_hc_req_t *r = ud;
  size_t len = sz * n;
  if (len > 5 && !strncmp(p, "HTTP/", 5)) {
    r->retry_after_ms = r->retry_after_s_ms = 0;
    r->no_retry = false;
    r->clen = -1;
  }
  /* Content-Length headers that disagree (RFC 9112 6.3: unrecoverable) would
   * have curl wait for bytes that never come, until the idle timeout: the
   * transfer fails now instead. */
  size_t vn;
  const char *hv;
  if ((hv = header_value(p, len, "content-length:", &vn))) {
    long long cl = strtoll(hv, NULL, 10);
    if (r->clen >= 0 && cl != r->clen) {
      r->bad_framing = true;
      return 0;
    }
    r->clen = cl;
  }
  if ((hv = header_value(p, len, "x-should-retry:", &vn))) r->no_retry = vn >= 5 && !strncasecmp(hv, "false", 5);
  long v;
  if ((v = header_number(p, len, "retry-after-ms:", 1)) >= 0) r->retry_after_ms = v;
  else if ((v = header_number(p, len, "retry-after:", 1000)) >= 0) r->retry_after_s_ms = v;
  else if ((v = header_date_wait(p, len, "retry-after:")) >= 0) r->retry_after_s_ms = v;
  /* The blank line ends a header block; a 100 Continue block is not the answer. */
  if (len <= 2 && (p[0] == '\r' || p[0] == '\n')) {
    long st = 0;
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &st);
    if (st == 101) { /* what follows is another protocol's, never an answer: fail now */
      r->switched = true;
      return 0;
    }
    if (st >= 200 && note_response(r)) return 0;
  }
  return r->canceled ? 0 : len;
}

int sl_hc_start(sl_hc_t *hc, const sl_hc_opts_t *o, const sl_hc_cbs_t *cbs, void *data,
                sl_hc_req_t **out) {
  /* curl adds "Expect: 100-continue" for large bodies: one round trip wasted. */
  static const char no_expect[] = "Expect:";
  size_t n_h = 0, cap = o->body_len + sizeof no_expect;
  for (const char *const *h = o->headers; h && *h; h++, n_h++) cap += strlen(*h) + 1;
  if (n_h > SL_HC_MAX_HEADERS) return SL_EINVAL;
  sl_hc_req_t *r = calloc(1, sizeof *r);
  if (!r) return SL_ENOMEM;
  r->hc = hc;
  r->cbs = *cbs;
  r->data = data;
  r->easy = easy_get(hc);
  r->body = malloc(cap);
  r->body_cap = cap;
  if (!r->easy || !r->body) goto nomem;
  if (o->body_len) memcpy(r->body, o->body, o->body_len);
  char *p = r->body + o->body_len;
  for (size_t i = 0; i <= n_h; i++) {
    const char *h = i < n_h ? o->headers[i] : no_expect;
    size_t len = strlen(h) + 1;
    memcpy(p, h, len);
    r->headers[i].data = p;
    r->headers[i].next = i < n_h ? &r->headers[i + 1] : NULL;
    p += len;
  }
  CURL *e = r->easy;
  curl_easy_setopt(e, CURLOPT_URL, o->url);
  curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, o->method);
  bool post = !strcmp(o->method, "POST");
  curl_easy_setopt(e, CURLOPT_POSTFIELDS, post ? r->body : NULL);
  curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, post ? (curl_off_t)o->body_len : (curl_off_t)-1);
  if (!post) curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
  curl_easy_setopt(e, CURLOPT_PREREQFUNCTION, on_prereq);
  curl_easy_setopt(e, CURLOPT_PREREQDATA, r);
  curl_easy_setopt(e, CURLOPT_PRIVATE, r);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, o->connect_timeout_ms > 0 ? o->connect_timeout_ms : 0L);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, o->total_timeout_ms > 0 ? o->total_timeout_ms : 0L);
  r->idle_ms = o->idle_timeout_ms;
  r->clen = -1;
  curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, o->fresh_connect ? 1L : 0L);
  /* (a pooled handle may have served another backend's ca_file; libcurl
   * reuses a connection only for a transfer with the same TLS settings) */
  curl_easy_setopt(e, CURLOPT_CAINFO, o->ca_file ? o->ca_file : default_ca);
  uv_timer_init(hc->loop, &r->fb_timer);
  r->fb_timer.data = r;
  /* A call started inside a curl callback (a retry decided in a write
   * callback) cannot be added there: curl refuses any multi call from its
   * callbacks. It is added at the loop's next turn (on_resume). */
  CURLMcode mc = hc->in_action ? CURLM_RECURSIVE_API_CALL : curl_multi_add_handle(hc->multi, e);
  if (mc == CURLM_RECURSIVE_API_CALL) {
    r->adding = true;
    uv_idle_start(&hc->resume, on_resume);
  } else if (mc != CURLM_OK) {
    uv_close((uv_handle_t *)&r->fb_timer, on_fb_closed);
    easy_put(hc, r->easy);
    body_free(r);
    return SL_EINTERNAL;
  }
  r->next = hc->all;
  if (hc->all) hc->all->prev = r;
  hc->all = r;
  hc->active++;
  /* The loop's clock is cached per iteration; a slow handler earlier in this
   * iteration must not eat into the upstream's time. */
  uv_update_time(hc->loop);
  if (o->first_byte_timeout_ms > 0)
    uv_timer_start(&r->fb_timer, on_first_byte_timeout, (uint64_t)o->first_byte_timeout_ms, 0);
  *out = r;
  return 0;
nomem:
  easy_put(hc, r->easy);
  body_free(r);
  free(r);
  return SL_ENOMEM;
}

void sl_hc_cancel(sl_hc_req_t *r) {
  if (!r || r->canceled) return;
  r->canceled = true;
  /* Inside a curl callback the handle cannot be removed: the write callback
   * returns an error and check_done reaps it. Elsewhere remove it now, which
   * closes its connection (the upstream sees the abort). */
  if (r->hc->in_action) {
    if (r->held) doom(r); /* paused: curl calls on_write no more */
    return;
  }
  req_free(r);
}

void sl_hc_pause(sl_hc_req_t *r, bool pause) {
  if (!r || r->canceled || r->paused == pause) return;
  r->paused = pause;
  /* the idle clock stops while our client is slow: the upstream is not idle */
  if (pause && r->got_response && !r->ending) uv_timer_stop(&r->fb_timer);
  if (!pause && r->got_response) idle_restart(r);
  if (pause || !r->held || r->yielded) return; /* on_write refuses the next piece */
  sl_hc_t *hc = r->hc;
  hc_enter(hc); /* the held piece comes through on_write now */
  resume(r);
  hc_leave(hc);
}

size_t sl_hc_active(const sl_hc_t *hc) { return hc->active; }

static void on_hc_handle_closed(uv_handle_t *h) {
  sl_hc_t *hc = h->data;
  if (--hc->open_handles) return;
  while (hc->n_pool) curl_easy_cleanup(hc->pool[--hc->n_pool]);
  curl_multi_cleanup(hc->multi); /* closes cached connections (their handles are gone) */
  free(hc->socks);
  free(hc);
}

void sl_hc_free(sl_hc_t *hc) {
  if (!hc) return;
  while (hc->all) {
    hc->all->canceled = true;
    req_free(hc->all);
  }
  for (size_t i = 0; i < hc->n_socks; i++)
    if (hc->socks[i]) sock_close(hc, hc->socks[i]);
  uv_timer_stop(&hc->timer);
  uv_close((uv_handle_t *)&hc->timer, on_hc_handle_closed);
  uv_close((uv_handle_t *)&hc->resume, on_hc_handle_closed);
}
