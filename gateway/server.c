/* HTTP/1.1 connections on libuv with llhttp. One request in flight per
 * connection: when a message completes the parser pauses, unparsed (pipelined)
 * bytes wait in `pending`, and reading stops until the response ends, so a
 * pipelining client is answered in order and cannot make us buffer without bound. */
#include "server.h"
#include "sl_err.h"
#include "sl_held.h"
#include "sl_log.h"
#include "sl_str.h"

#include <llhttp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <strings.h>
#include <errno.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define READ_CHUNK 65536

typedef enum { RS_IDLE, RS_HEADERS, RS_BODY } read_state_t;

struct sl_conn {
  uv_tcp_t tcp;
  uv_timer_t timer;         /* the reading side's: header, body, idle, discard */
  uv_timer_t send_timer;    /* while an answer waits for the client to take it */
  sl_server_t *srv;
  sl_conn_t *prev, *next;   /* server's list of open connections */
  llhttp_t parser;
  int refs;                 /* tcp handle, two timer handles, request in flight */
  bool closing, reading, in_request, keep_alive, streaming, aborted;
  bool driving, need_drive;
  bool head;                /* a HEAD request: its answer has no body */
  bool lingering;           /* the answer is written: closing once it has left */
  bool refused;             /* over max_connections: its 503 sent, draining its request */
  bool shut;                /* ... and our side is shut (FIN queued behind it) */
  bool discarding;          /* answered early (413/431): reading the rest, unparsed */
  uint64_t discard_until;   /* loop time (ms) the discarding ends at the latest */
  uv_shutdown_t shutdown;
  read_state_t rstate;
  int err_status;           /* limit hit inside a parser callback: answer this */
  const char *err_msg;      /* ... with this message (NULL: from the status) */
  sl_http_req_t req;
  sl_buf_t url, field, value;
  /* The request's header names and values, path and query, NUL-terminated one
   * after the other (no allocation per header); req's pointers are set into it
   * once the headers are complete, when it stops growing. */
  sl_buf_t hstore;
  uint32_t hname_off[SL_HTTP_MAX_HEADERS], hvalue_off[SL_HTTP_MAX_HEADERS];
  bool last_was_value;
  /* The head's bytes, counted as they stand in the input (whitespace, line
   * ends and all): head_raw from earlier reads, then from span_from on in
   * the one being parsed. A chunked body's trailer section counts on. */
  size_t header_bytes;
  size_t head_raw;
  const char *span_from;
  bool in_trailers, trailer_in_name;
  unsigned trailer_fields;
  sl_buf_t pending;         /* received, not yet parsed */
  size_t out_pending;       /* queued, not yet written (counted in sl_held) */
  uint64_t out_total;       /* every byte ever written or queued for the client */
  uint64_t taken_floor;     /* the client had taken at least this much when last asked */
  uint64_t send_mark;       /* what the client had taken at the send timer's last look */
  uint64_t send_moved;      /* loop time (ms) the client last took something */
  sl_http_abort_cb abort_cb;
  void *abort_data;
  sl_http_drain_cb drain_cb;
  void *drain_data;
  size_t drain_below;
  char readbuf[READ_CHUNK];
};

struct sl_server {
  uv_loop_t *loop;
  uv_tcp_t listener;
  uv_timer_t grace;
  sl_limits_t limits;
  sl_http_handler_cb handler;
  void *data;
  sl_http_error_cb error_cb;
  void *error_data;
  llhttp_settings_t settings;
  sl_conn_t *conns;
  bool listening, shutting_down, grace_over;
  void (*shutdown_cb)(void *);
  void *shutdown_data;
  int port;
  char keep_alive_head[64]; /* "Connection: keep-alive" and its Keep-Alive timeout */
  char date_head[48];       /* "Date: Mon, 07 Dec 2026 04:50:00 GMT\r\n", made once a second */
  time_t date_sec;
  sl_server_stats_t stats;
  atomic_uint own_open;
  atomic_uint *open_all; /* connections open on every server sharing the limit */
  uint64_t refused_logged_ns; /* when a refused connection was last logged */
  uint64_t accept_logged_ns;  /* when a failed accept was last logged */
  unsigned refused_draining;  /* refused connections reading their request's rest */
};

static uint64_t now_ns(void) { return uv_hrtime(); }

const char *sl_http_status_text(int s) {
  switch (s) {
  case 200: return "OK";
  case 204: return "No Content";
  case 400: return "Bad Request";
  case 401: return "Unauthorized";
  case 402: return "Payment Required";
  case 403: return "Forbidden";
  case 404: return "Not Found";
  case 405: return "Method Not Allowed";
  case 406: return "Not Acceptable";
  case 408: return "Request Timeout";
  case 409: return "Conflict";
  case 410: return "Gone";
  case 411: return "Length Required";
  case 413: return "Payload Too Large";
  case 415: return "Unsupported Media Type";
  case 416: return "Range Not Satisfiable";
  case 417: return "Expectation Failed";
  case 422: return "Unprocessable Entity";
  case 424: return "Failed Dependency";
  case 425: return "Too Early";
  case 426: return "Upgrade Required";
  case 428: return "Precondition Required";
  case 429: return "Too Many Requests";
  case 431: return "Request Header Fields Too Large";
  case 451: return "Unavailable For Legal Reasons";
  case 500: return "Internal Server Error";
  case 501: return "Not Implemented";
  case 502: return "Bad Gateway";
  case 503: return "Service Unavailable";
  case 504: return "Gateway Timeout";
  case 505: return "HTTP Version Not Supported";
  case 529: return "Site Overloaded"; /* Anthropic's overloaded_error */
  default: return s >= 500 ? "Server Error" : s >= 400 ? "Client Error" : s >= 300 ? "Redirection" : "Status";
  }
}

/* ---- lifetime ---- */

static void req_free_fields(sl_http_req_t *r) { sl_buf_free(&r->body); }

static void conn_release(sl_conn_t *c) {
  if (--c->refs > 0) return;
  req_free_fields(&c->req);
  sl_buf_free(&c->hstore);
  sl_buf_free(&c->url);
  sl_buf_free(&c->field);
  sl_buf_free(&c->value);
  sl_buf_free(&c->pending);
  free(c);
}

/* A body buffer this small stays with the connection for its next request. */
#define KEEP_BODY_BYTES (64 * 1024)

static void req_clear(sl_conn_t *c) {
  sl_http_req_t *r = &c->req;
  sl_buf_t body = r->body;
  if (body.cap > KEEP_BODY_BYTES) {
    sl_buf_free(&body);
    sl_buf_init(&body, c->srv->limits.max_body_bytes);
  }
  sl_buf_reset(&body);
  memset(r, 0, sizeof *r);
  r->body = body;
  sl_buf_reset(&c->hstore);
  sl_buf_reset(&c->url);
  sl_buf_reset(&c->field);
  sl_buf_reset(&c->value);
  c->last_was_value = false;
  c->header_bytes = 0;
}

static void maybe_shutdown_done(sl_server_t *s) {
  if (s->shutting_down && !s->conns && s->shutdown_cb) {
    void (*cb)(void *) = s->shutdown_cb;
    s->shutdown_cb = NULL;
    uv_timer_stop(&s->grace);
    cb(s->shutdown_data);
  }
}

static void on_handle_closed(uv_handle_t *h) { conn_release(h->data); }

static void conn_close(sl_conn_t *c) {
  if (c->closing) return;
  c->closing = true;
  sl_server_t *s = c->srv;
  if (c->prev) c->prev->next = c->next;
  else s->conns = c->next;
  if (c->next) c->next->prev = c->prev;
  c->prev = c->next = NULL;
  s->stats.connections_open--;
  if (c->refused) s->refused_draining--; /* its slot was given back when it was refused */
  else atomic_fetch_sub_explicit(s->open_all, 1, memory_order_relaxed);
  uv_timer_stop(&c->timer);
  uv_timer_stop(&c->send_timer);
  c->drain_cb = NULL;
  uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
  uv_close((uv_handle_t *)&c->timer, on_handle_closed);
  uv_close((uv_handle_t *)&c->send_timer, on_handle_closed);
  /* The handler still owns an unfinished request: tell it the client is gone. */
  if (c->in_request && !c->aborted) {
    c->aborted = true;
    if (c->abort_cb) c->abort_cb(c, SL_ABORT_GONE, c->abort_data);
  }
  maybe_shutdown_done(s);
}

/* Closes c with a reset, not a FIN behind what is still unsent: the kernel
 * drops those bytes at once instead of keeping them for a client that takes
 * nothing, and a client whose answer is cut learns so (a FIN at an event's
 * end would read as a whole answer to an HTTP/1.0 stream). */
static void conn_reset(sl_conn_t *c) {
  uv_os_fd_t fd;
  struct linger reset = {1, 0};
  if (!c->closing && !uv_fileno((uv_handle_t *)&c->tcp, &fd))
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
  conn_close(c);
}

/* ---- writing ---- */

typedef struct {
  uv_write_t w;
  sl_conn_t *c;
  size_t len;
  char data[];
} write_req_t;

static void arm_timer(sl_conn_t *c, unsigned ms);
static void on_send_timer(uv_timer_t *t);
static void answer_left(sl_conn_t *c);
static void drive(sl_conn_t *c);

/* The send timer looks four times per send_timeout_ms; once libuv has handed
 * everything to the kernel, at least every KERNEL_LOOK_MS, so that what
 * follows the answer's last acknowledgement (the idle timer, the close) is not
 * late. */
enum { KERNEL_LOOK_MS = 200 };
static unsigned send_look_ms(const sl_conn_t *c) {
  unsigned ms = c->srv->limits.send_timeout_ms / 4;
  if (!c->out_pending && ms > KERNEL_LOOK_MS) ms = KERNEL_LOOK_MS;
  return ms < 25 ? 25 : ms;
}

/* Bytes the kernel holds for the client, not yet acknowledged (and our FIN,
 * once sent and until acknowledged). None once the client has reset the
 * connection: the count then stays where it was, but nothing will leave (a
 * count of at most `small` is returned without asking). */
static uint64_t kernel_unacked(const sl_conn_t *c, uint64_t small) {
  uv_os_fd_t fd;
  int unacked = 0;
  if (uv_fileno((const uv_handle_t *)&c->tcp, &fd) || ioctl(fd, SIOCOUTQ, &unacked) || unacked <= 0)
    return 0;
  if ((uint64_t)unacked <= small) return (uint64_t)unacked;
  struct tcp_info ti;
  socklen_t tl = sizeof ti;
  if (!getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &tl) && ti.tcpi_state == TCP_CLOSE) return 0;
  return (uint64_t)unacked;
}

/* How many bytes the client has taken so far: what reached the kernel (all
 * but libuv's queue) less what the kernel still holds unacknowledged. The
 * kernel's part matters: with megabytes in its send buffer, the socket turns
 * writable again only once the client has read a good share of them, so
 * libuv's queue alone can stand still for many seconds under a steady slow
 * reader. */
static uint64_t out_taken(const sl_conn_t *c) {
  uint64_t handed = c->out_total - c->tcp.write_queue_size, unacked = kernel_unacked(c, 0);
  return unacked < handed ? handed - unacked : 0;
}

/* An answer is leaving while libuv queues part of it or the kernel holds more
 * than LEAVING_MIN bytes of it unacknowledged: only the send timer watches the
 * connection then. A finished answer that fits in the kernel's send buffer
 * (megabytes) would otherwise escape the send timeout, and closing our fd
 * would leave it to an orphaned connection the kernel keeps sending for. A
 * small tail (any answer's, for the moment its acknowledgement takes) is left
 * to the kernel as before: watching it would cost a timer per request. */
enum { LEAVING_MIN = 64 << 10 };
static bool answer_leaving(sl_conn_t *c) {
  if (c->out_pending) return true;
  /* the kernel cannot hold more than was handed to it since the client had
   * taken taken_floor: then no system call (most requests of a keep-alive
   * connection with small answers) */
  uint64_t handed = c->out_total - c->tcp.write_queue_size;
  if (handed - c->taken_floor <= LEAVING_MIN) return false;
  uint64_t unacked = kernel_unacked(c, LEAVING_MIN);
  c->taken_floor = unacked < handed ? handed - unacked : handed;
  return unacked > LEAVING_MIN;
}

/* Starts watching the client's progress, from now. */
static void watch_sending(sl_conn_t *c) {
  if (uv_is_active((uv_handle_t *)&c->send_timer)) return;
  c->send_mark = out_taken(c);
  c->send_moved = uv_now(c->srv->loop);
  uv_timer_start(&c->send_timer, on_send_timer, send_look_ms(c), 0);
}

/* Looks again soon: once libuv has handed everything to the kernel (at the
 * shorter interval of send_look_ms), keeping what the client took so far. */
static void look_soon(sl_conn_t *c) {
  if (uv_is_active((uv_handle_t *)&c->send_timer))
    uv_timer_start(&c->send_timer, on_send_timer, send_look_ms(c), 0);
  else
    watch_sending(c);
}

/* A client that takes nothing of its answer for limits.send_timeout_ms is
 * closed (its request, if still running, is aborted): it would otherwise hold
 * the answer's memory for as long as it keeps the socket open (nginx's
 * send_timeout). A slow reader that takes something keeps its connection. */
static void on_send_timer(uv_timer_t *t) {
  sl_conn_t *c = t->data;
  if (c->closing) return;
  if (!answer_leaving(c)) {
    answer_left(c);
    return;
  }
  uint64_t taken = out_taken(c), now = uv_now(c->srv->loop);
  if (taken > c->send_mark) c->send_mark = taken, c->send_moved = now;
  if (now - c->send_moved < c->srv->limits.send_timeout_ms) {
    uv_timer_start(t, on_send_timer, send_look_ms(c), 0);
    return;
  }
  c->srv->stats.send_timeouts++;
  conn_reset(c);
}

/* The client has acknowledged every byte of its answer: a lingering close
 * ends (once our FIN is out), otherwise the reading side's timer, which
 * waited while the answer was leaving (on_timer), starts again. */
static void answer_left(sl_conn_t *c) {
  uv_timer_stop(&c->send_timer);
  if (c->lingering) {
    if (c->shut) conn_close(c);
    return;
  }
  if (!c->in_request && !c->discarding)
    arm_timer(c, c->rstate == RS_IDLE && !c->pending.len ? c->srv->limits.idle_timeout_ms
                                                        : c->srv->limits.header_timeout_ms);
}

enum { QUEUE_PIECE = 256 << 10 };

static void on_write(uv_write_t *w, int status) {
  write_req_t *wr = (write_req_t *)w;
  sl_conn_t *c = wr->c;
  c->out_pending -= wr->len;
  sl_held_give(wr->len);
  free(wr);
  if (status < 0 && !c->closing) conn_close(c);
  if (!c->out_pending && !c->closing && !c->lingering) {
    if (answer_leaving(c)) look_soon(c); /* the kernel holds the rest */
    else answer_left(c);
    /* a pipelined request waited for its predecessor's answer to leave */
    if (!c->in_request && !c->discarding && c->pending.len) drive(c);
  }
  if (!c->closing && c->drain_cb && c->out_pending <= c->drain_below) {
    sl_http_drain_cb cb = c->drain_cb;
    c->drain_cb = NULL; /* once; cb may ask again */
    cb(c, c->drain_data);
  }
  conn_release(c);
}

/* Writes bufs in order. When nothing is queued, the bytes go out at once with
 * uv_try_write (no request to allocate, no copy, and libuv leaves the socket's
 * epoll interest alone); whatever the socket does not take is copied into one
 * queued uv_write. */
static void write_bufs(sl_conn_t *c, uv_buf_t *bufs, unsigned n) {
  if (c->closing) return;
  size_t total = 0;
  for (unsigned i = 0; i < n; i++) total += bufs[i].len;
  if (!total) return;
  c->srv->stats.bytes_out += total;
  size_t skip = 0;
  if (!c->out_pending) {
    int w = uv_try_write((uv_stream_t *)&c->tcp, bufs, n);
    if (w > 0) c->out_total += (size_t)w;
    if (w == (int)total) return;
    if (w < 0 && w != UV_EAGAIN) {
      conn_close(c);
      return;
    }
    if (w > 0) skip = (size_t)w;
  }
  /* What is left goes out in writes of at most QUEUE_PIECE bytes, each freed
   * (and its bytes given back to sl_held) as soon as the socket has taken it. */
  unsigned i = 0;
  for (size_t left = total - skip; left;) {
    size_t len = left < QUEUE_PIECE ? left : QUEUE_PIECE;
    write_req_t *wr = malloc(sizeof *wr + len);
    if (!wr) {
      conn_close(c);
      return;
    }
    for (size_t off = 0; off < len; i++) {
      size_t bl = bufs[i].len;
      if (skip >= bl) {
        skip -= bl;
        continue;
      }
      size_t take = bl - skip < len - off ? bl - skip : len - off;
      memcpy(wr->data + off, bufs[i].base + skip, take);
      off += take;
      skip += take;
      if (skip < bl) break; /* the piece is full: the rest of bufs[i] goes next */
      skip = 0;
    }
    wr->c = c;
    wr->len = len;
    uv_buf_t buf = uv_buf_init(wr->data, (unsigned)len);
    c->refs++;
    c->out_pending += len;
    sl_held_add(len);
    watch_sending(c);
    if (uv_write(&wr->w, (uv_stream_t *)&c->tcp, &buf, 1, on_write) < 0) {
      c->out_pending -= len;
      sl_held_give(len);
      free(wr);
      conn_release(c);
      conn_close(c);
      return;
    }
    c->out_total += len;
    left -= len;
  }
}

static void write_raw(sl_conn_t *c, const char *a, size_t alen, const char *b, size_t blen) {
  uv_buf_t bufs[2] = {uv_buf_init((char *)a, (unsigned)alen), uv_buf_init((char *)b, (unsigned)blen)};
  write_bufs(c, bufs, blen ? 2 : 1);
}

/* The Date header an origin server with a clock sends (RFC 9110, 6.6.1), in
 * the IMF-fixdate form, remade when the second changes. */
static const char *date_head(sl_server_t *s) {
  time_t now = time(NULL);
  if (now != s->date_sec) {
    static const char days[][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct tm tm;
    gmtime_r(&now, &tm);
    snprintf(s->date_head, sizeof s->date_head, "Date: %s, %02d %s %04d %02d:%02d:%02d GMT\r\n",
             days[tm.tm_wday % 7], tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour,
             tm.tm_min, tm.tm_sec);
    s->date_sec = now;
  }
  return s->date_head;
}

/* The status line and headers; the length, or n when they did not fit. */
static size_t head(char *out, size_t n, sl_conn_t *c, int status, const char *ctype,
                   const char *headers, const char *framing) {
  char code[24];
  sl_itoa(status, code);
  /* a 401 names the scheme the credentials go by (RFC 9110, 11.6.1) */
  return sl_cat(out, n, "HTTP/1.1 ", code, " ", sl_http_status_text(status), "\r\n", date_head(c->srv),
                ctype ? "Content-Type: " : "", ctype ? ctype : "", ctype ? "\r\n" : "",
                status == 401 ? "WWW-Authenticate: Bearer\r\n" : "", headers ? headers : "", framing,
                c->keep_alive ? c->srv->keep_alive_head : "Connection: close\r\n\r\n",
                (char *)NULL);
}

void sl_http_respond(sl_conn_t *c, int status, const char *ctype, const char *headers,
                     const char *body, size_t len) {
  if (c->closing) return;
  char num[24], framing[64];
  sl_utoa(len, num);
  sl_cat(framing, sizeof framing, "Content-Length: ", num, "\r\n", (char *)NULL);
  char h[4096];
  size_t n = head(h, sizeof h, c, status, ctype, headers, framing);
  if (n >= sizeof h) {
    conn_close(c);
    return;
  }
  write_raw(c, h, n, body, c->head ? 0 : len); /* HEAD: GET's headers, no body */
}

/* The request in flight is HTTP/1.0 (the parser, paused at its end, still
 * holds its version): a stream to it is sent as it is, ended by the close. */
static bool http10(const sl_conn_t *c) { return c->parser.http_major == 1 && c->parser.http_minor == 0; }

void sl_http_stream_begin(sl_conn_t *c, int status, const char *ctype, const char *headers) {
  if (c->closing) return;
  /* HTTP/1.0 has no chunked coding (RFC 9112, 6.1): the body ends with the
   * connection */
  if (http10(c)) c->keep_alive = false;
  char h[4096];
  size_t n = head(h, sizeof h, c, status, ctype, headers,
                  http10(c) ? "Cache-Control: no-cache\r\n"
                            : "Transfer-Encoding: chunked\r\nCache-Control: no-cache\r\n");
  if (n >= sizeof h) {
    conn_close(c);
    return;
  }
  c->streaming = true;
  write_raw(c, h, n, NULL, 0);
}

void sl_http_stream_write(sl_conn_t *c, const char *data, size_t len) {
  if (c->closing || !c->streaming || !len) return;
  if (http10(c)) {
    uv_buf_t buf = uv_buf_init((char *)data, (unsigned)len);
    write_bufs(c, &buf, 1);
    return;
  }
  char h[32];
  size_t n = sl_hex(len, 1, h);
  memcpy(h + n, "\r\n", 3);
  n += 2;
  /* One write per chunk: the size line, the data, the CRLF. */
  uv_buf_t bufs[3] = {uv_buf_init(h, (unsigned)n), uv_buf_init((char *)data, (unsigned)len),
                      uv_buf_init("\r\n", 2)};
  write_bufs(c, bufs, 3);
}

static void end_reading(sl_conn_t *c);
static void start_reading(sl_conn_t *c);

void sl_http_end(sl_conn_t *c) {
  if (!c->in_request) return;
  if (c->streaming && !c->closing && !http10(c)) write_raw(c, "0\r\n\r\n", 5, NULL, 0);
  c->streaming = false;
  c->in_request = false;
  c->abort_cb = NULL;
  c->abort_data = NULL;
  c->drain_cb = NULL;
  req_clear(c);
  if (!c->closing) {
    if (!c->keep_alive || c->srv->shutting_down) {
      end_reading(c);
    } else {
      llhttp_resume(&c->parser);
      c->rstate = RS_IDLE;
      arm_timer(c, c->srv->limits.idle_timeout_ms);
      /* an answer the kernel took whole may still wait there, unread */
      if (answer_leaving(c)) watch_sending(c);
      drive(c);
    }
  }
  conn_release(c); /* the request's reference */
}

void sl_http_set_abort(sl_conn_t *c, sl_http_abort_cb cb, void *data) {
  c->abort_cb = cb;
  c->abort_data = data;
}

bool sl_http_alive(const sl_conn_t *c) { return !c->closing; }

void sl_http_on_drain(sl_conn_t *c, size_t below, sl_http_drain_cb cb, void *data) {
  c->drain_cb = c->closing ? NULL : cb;
  c->drain_data = data;
  c->drain_below = below;
}
size_t sl_http_pending_out(const sl_conn_t *c) { return c->out_pending; }

const char *sl_http_header(const sl_http_req_t *r, const char *lname) {
  for (size_t i = 0; i < r->n_headers; i++)
    if (!strcmp(r->hname[i], lname)) return r->hvalue[i];
  return NULL;
}

const char *sl_http_header_all(const sl_http_req_t *r, const char *lname, char *buf, size_t cap) {
  const char *first = NULL;
  size_t k = 0, count = 0;
  for (size_t i = 0; i < r->n_headers; i++) {
    if (strcmp(r->hname[i], lname)) continue;
    if (!count++) first = r->hvalue[i];
    size_t n = strlen(r->hvalue[i]);
    if (k + n + 3 > cap) return NULL;
    if (k) buf[k++] = ',', buf[k++] = ' ';
    memcpy(buf + k, r->hvalue[i], n);
    k += n;
  }
  if (count < 2) return first ? first : "";
  buf[k] = 0;
  return buf;
}

const char *sl_http_header_lookup(void *req, const char *name, size_t nth) {
  const sl_http_req_t *r = req;
  for (size_t i = 0; i < r->n_headers; i++)
    if (!strcasecmp(r->hname[i], name) && !nth--) return r->hvalue[i];
  return NULL;
}

/* Our side is shut (a lingering close, or a refused request's discarding): a
 * lingering connection closes now, or once the kernel's part of its answer
 * has left (answer_left); a discarding one goes on reading. */
static void on_shutdown(uv_shutdown_t *req, int status) {
  sl_conn_t *c = req->data;
  c->shut = status == 0;
  if (c->lingering && !c->closing) {
    if (!c->shut || !answer_leaving(c)) conn_close(c);
    else look_soon(c);
  }
  conn_release(c);
}

/* Closes c once its answer has left: uv_close alone would cancel queued
 * writes and cut the answer short (a large answer to a client that asked for
 * Connection: close, or that reads slowly), and closing while the kernel holds
 * part of it would leave an orphaned connection holding those bytes beyond any
 * timeout of ours. uv_shutdown waits for the queued writes, then ends our side;
 * the fd stays open until the client has acknowledged everything (the send
 * timer looks), and a client that takes nothing for send_timeout_ms is reset. */
static void close_after_flush(sl_conn_t *c) {
  if (c->closing || c->lingering) return;
  bool shut = c->discarding; /* a refused request's discarding shut our side already */
  c->discarding = false;
  if (!answer_leaving(c)) {
    conn_close(c);
    return;
  }
  c->lingering = true;
  uv_timer_stop(&c->timer);
  if (shut) {
    look_soon(c);
    return;
  }
  c->shutdown.data = c;
  c->refs++;
  if (!uv_shutdown(&c->shutdown, (uv_stream_t *)&c->tcp, on_shutdown)) return;
  c->refs--;
  conn_close(c);
}

/* Reading ends (the answer asked for the close, a protocol error, the client
 * half-closed, a refused request's rest was read, the server shuts down): the
 * connection closes once its answer has left, or now. */
static void end_reading(sl_conn_t *c) {
  uv_read_stop((uv_stream_t *)&c->tcp);
  c->reading = false;
  close_after_flush(c);
}

/* After an early answer to a client that is still sending (413, 431), closing
 * at once would leave its unread bytes in our socket, and the kernel would
 * answer them with a reset that can reach the client before the answer does:
 * SDKs then see a connection error (and retry) instead of the 413. So the
 * answer goes out, our side is shut, and what still comes is read and dropped
 * until the client closes, goes quiet for DISCARD_IDLE_MS, or DISCARD_MAX_MS
 * have passed (nginx's lingering close). */
enum { DISCARD_IDLE_MS = 2000, DISCARD_MAX_MS = 15000 };
/* refused connections (over max_connections): drained at most this long,
 * this many per loop at a time */
enum { REFUSED_DISCARD_MS = 1000, REFUSED_DRAINING_MAX = 32 };
static void discard_rest(sl_conn_t *c, unsigned max_ms) {
  c->discarding = true;
  c->discard_until = uv_now(c->srv->loop) + max_ms;
  sl_buf_reset(&c->pending);
  c->shutdown.data = c;
  c->refs++;
  if (uv_shutdown(&c->shutdown, (uv_stream_t *)&c->tcp, on_shutdown)) {
    c->refs--;
    conn_close(c);
    return;
  }
  arm_timer(c, max_ms < DISCARD_IDLE_MS ? max_ms : DISCARD_IDLE_MS);
  start_reading(c);
}

/* Where the path starts in a request target: after the scheme and authority
 * of the absolute form a proxy's client sends ("http://host/v1/...", RFC 9112,
 * 3.2.2), else at 0; n when the target has no path. */
static size_t origin_form(const char *u, size_t n) {
  size_t skip = n >= 7 && !strncasecmp(u, "http://", 7) ? 7 : n >= 8 && !strncasecmp(u, "https://", 8) ? 8 : 0;
  if (!skip) return 0;
  const char *slash = memchr(u + skip, '/', n - skip);
  return slash ? (size_t)(slash - u) : n;
}

/* An error the server answers itself, then closes (the stream may be out of
 * sync). The gateway, when it asked to, shapes the body and adds headers. */
static void protocol_error(sl_conn_t *c, int status, const char *msg) {
  c->srv->stats.protocol_errors++;
  c->keep_alive = false;
  sl_server_t *s = c->srv;
  char hdr[512] = "";
  sl_buf_t body;
  sl_buf_init(&body, 4096);
  if (s->error_cb) {
    size_t n = c->url.len;
    while (n && c->url.data[n - 1] == '\0') n--;
    char path[256];
    size_t q = 0, from = origin_form(c->url.data, n);
    for (; from + q < n && q + 1 < sizeof path && c->url.data[from + q] != '?'; q++) path[q] = c->url.data[from + q];
    path[q] = '\0';
    s->error_cb(status, msg, path, hdr, sizeof hdr, &body, s->error_data);
  }
  if (!body.len) {
    const char *type = status == 408 ? "timeout" : "invalid_request_error";
    char code[16];
    snprintf(code, sizeof code, "http_%d", status);
    sl_buf_puts(&body, "{\"error\":{\"message\":");
    sl_buf_json_cstr(&body, msg);
    sl_buf_puts(&body, ",\"type\":\"");
    sl_buf_puts(&body, type);
    sl_buf_puts(&body, "\",\"code\":\"");
    sl_buf_puts(&body, code);
    sl_buf_puts(&body, "\"}}");
  }
  sl_http_respond(c, status, "application/json", hdr[0] ? hdr : NULL, body.data ? body.data : "", body.len);
  sl_buf_free(&body);
  sl_buf_reset(&c->pending); /* nothing after the error is parsed */
  if ((status == 413 || status == 431) && !c->closing) {
    discard_rest(c, DISCARD_MAX_MS);
    return;
  }
  end_reading(c);
}

void sl_server_on_error(sl_server_t *s, sl_http_error_cb cb, void *data) {
  s->error_cb = cb;
  s->error_data = data;
}

/* ---- parsing ---- */

static int add_header_bytes(sl_conn_t *c, size_t n) {
  c->header_bytes += n;
  if (c->header_bytes > c->srv->limits.max_header_bytes) {
    c->err_status = 431;
    return -1;
  }
  return 0;
}

/* The head (or trailer section) reaches at+len: its size is every byte from
 * its start, not only the names and values llhttp hands over (a value's
 * leading whitespace, obs-fold and line ends are no less the client's). */
static int head_span(sl_conn_t *c, const char *at, size_t len) {
  if (!c->span_from) c->span_from = at;
  c->header_bytes = c->head_raw + (size_t)(at + len - c->span_from);
  if (c->header_bytes > c->srv->limits.max_header_bytes) {
    c->err_status = 431;
    return -1;
  }
  return 0;
}

static int commit_header(sl_conn_t *c) {
  sl_http_req_t *r = &c->req;
  if (!c->field.len && !c->value.len) return 0;
  if (r->n_headers >= SL_HTTP_MAX_HEADERS) {
    c->err_status = 431;
    return -1;
  }
  /* lower-cased name, then the value without trailing whitespace (llhttp trims
   * the leading part); a NUL inside either ends it, as strndup did */
  const char *f = c->field.data ? c->field.data : "";
  size_t nl = strnlen(f, c->field.len);
  /* a field name is a token (RFC 9110, 5.1): whitespace before the colon gets
   * a 400 (RFC 9112, 5.1), it does not make a header nobody reads */
  for (size_t i = 0; i < nl; i++) {
    unsigned char ch = (unsigned char)f[i];
    if (!((ch >= '0' && ch <= '9') || ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'z') ||
          (ch && strchr("!#$%&'*+-.^_`|~", ch)))) {
      c->err_msg = "a header field name may hold no whitespace or separators";
      return c->err_status = 400, -1;
    }
  }
  const char *v = c->value.data ? c->value.data : "";
  size_t vl = strnlen(v, c->value.len);
  while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t')) vl--;
  size_t at = c->hstore.len;
  if (sl_buf_append(&c->hstore, f, nl) || sl_buf_append(&c->hstore, "", 1) ||
      sl_buf_append(&c->hstore, v, vl) || sl_buf_append(&c->hstore, "", 1)) {
    c->err_status = 431;
    return -1;
  }
  for (char *p = c->hstore.data + at; *p; p++)
    if (*p >= 'A' && *p <= 'Z') *p = (char)(*p + 32);
  c->hname_off[r->n_headers] = (uint32_t)at;
  c->hvalue_off[r->n_headers] = (uint32_t)(at + nl + 1);
  r->n_headers++;
  sl_buf_reset(&c->field);
  sl_buf_reset(&c->value);
  return 0;
}

static int on_message_begin(llhttp_t *p) {
  sl_conn_t *c = p->data;
  c->rstate = RS_HEADERS;
  c->head = false;
  c->err_msg = NULL;
  c->header_bytes = c->head_raw = 0;
  c->span_from = NULL;
  c->in_trailers = false;
  c->trailer_fields = 0;
  c->req.t_start_ns = now_ns();
  arm_timer(c, c->srv->limits.header_timeout_ms);
  return 0;
}

static int on_method(llhttp_t *p, const char *at, size_t len) {
  return head_span(p->data, at, len);
}

static int on_url(llhttp_t *p, const char *at, size_t len) {
  sl_conn_t *c = p->data;
  if (head_span(c, at, len)) {
    /* too long: its start is still kept, for the 431 to come in the shape of
     * the endpoint it names (/v1/messages: Anthropic's) */
    if (c->url.len < 64) sl_buf_append(&c->url, at, len < 64 ? len : 64);
    return c->err_status = 431, -1;
  }
  if (sl_buf_append(&c->url, at, len)) return c->err_status = 431, -1;
  return 0;
}

/* Fields after a chunked body (its trailer section) count toward the header
 * limit and are then discarded, as RFC 9112 (7.1.2) allows: the request's
 * headers, and the pointers into their store, are complete by then. */
static int on_header_field(llhttp_t *p, const char *at, size_t len) {
  sl_conn_t *c = p->data;
  if (c->rstate == RS_BODY) { /* a trailer field: as many as headers may be */
    if (!c->trailer_in_name && ++c->trailer_fields > SL_HTTP_MAX_HEADERS) return c->err_status = 431, -1;
    c->trailer_in_name = true; /* (a name's next piece is no new field) */
    return head_span(c, at, len);
  }
  if (c->last_was_value && commit_header(c)) return -1;
  c->last_was_value = false;
  if (head_span(c, at, len) || sl_buf_append(&c->field, at, len)) return c->err_status = 431, -1;
  return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t len) {
  sl_conn_t *c = p->data;
  if (c->rstate == RS_BODY) {
    c->trailer_in_name = false;
    return head_span(c, at, len);
  }
  c->last_was_value = true;
  if (head_span(c, at, len) || sl_buf_append(&c->value, at, len)) return c->err_status = 431, -1;
  return 0;
}

/* A chunk's extensions (";name=value" after its size) are read and dropped;
 * they count toward the header limit, or a client could send any amount. */
static int on_chunk_extension(llhttp_t *p, const char *at, size_t len) {
  (void)at;
  return add_header_bytes(p->data, len);
}

static int on_headers_complete(llhttp_t *p) {
  sl_conn_t *c = p->data;
  if (commit_header(c)) return -1;
  sl_http_req_t *r = &c->req;
  r->method = llhttp_method_name((llhttp_method_t)p->method);
  const char *u = c->url.data ? c->url.data : "/";
  size_t ul = strlen(u), from = origin_form(u, ul);
  u = from < ul ? u + from : from ? "/" : u;
  const char *q = strchr(u, '?');
  size_t path_at = c->hstore.len, pl = q ? (size_t)(q - u) : strlen(u), query_at = 0;
  if (sl_buf_append(&c->hstore, u, pl) || sl_buf_append(&c->hstore, "", 1))
    return c->err_status = 431, -1;
  if (q) {
    query_at = c->hstore.len;
    if (sl_buf_puts(&c->hstore, q + 1) || sl_buf_append(&c->hstore, "", 1))
      return c->err_status = 431, -1;
  }
  /* the store is complete: point into it */
  r->path = c->hstore.data + path_at;
  r->query = q ? c->hstore.data + query_at : NULL;
  for (size_t i = 0; i < r->n_headers; i++) {
    r->hname[i] = c->hstore.data + c->hname_off[i];
    r->hvalue[i] = c->hstore.data + c->hvalue_off[i];
  }
  if ((p->flags & F_CONTENT_LENGTH) && p->content_length > c->srv->limits.max_body_bytes)
    return c->err_status = 413, -1;
  /* one pass over the headers: a transfer coding other than chunked (gzip,
   * deflate, ...) is not decoded here, and its bytes must not be read as the
   * body (RFC 9112, 6.1: 501); one Host (RFC 9112, 3.2); one of each
   * credential (which of two keys counts would otherwise be the order's
   * accident) */
  int hosts = 0, auths = 0, keys = 0;
  bool coded = false, te = false, compressed = false;
  for (size_t i = 0; i < r->n_headers; i++) {
    const char *h = r->hname[i];
    te |= !strcmp(h, "transfer-encoding");
    coded |= !strcmp(h, "transfer-encoding") && strcasecmp(r->hvalue[i], "chunked");
    compressed |= !strcmp(h, "content-encoding") && *r->hvalue[i] && strcasecmp(r->hvalue[i], "identity");
    hosts += !strcmp(h, "host");
    auths += !strcmp(h, "authorization");
    keys += !strcmp(h, "x-api-key");
  }
  if (coded) {
    c->err_msg = "no transfer coding but chunked is supported";
    return c->err_status = 501, -1;
  }
  /* a compressed body (Content-Encoding: gzip) is not decoded: refused before
   * it is read, not parsed as JSON (RFC 9110, 8.4.1: 415) */
  if (compressed && ((p->flags & F_CHUNKED) || ((p->flags & F_CONTENT_LENGTH) && p->content_length))) {
    c->err_msg = "a compressed request body (Content-Encoding) is not supported: send it uncompressed";
    return c->err_status = 415, -1;
  }
  if (p->http_major != 1) return c->err_status = 505, -1;
  if (p->http_minor == 0 && te) { /* RFC 9112, 6.1: faulty framing, answered and closed */
    c->err_msg = "an HTTP/1.0 request has no Transfer-Encoding";
    return c->err_status = 400, -1;
  }
  if (p->http_minor >= 1 && !hosts) { /* RFC 9112, 3.2 */
    c->err_msg = "an HTTP/1.1 request needs a Host header";
    return c->err_status = 400, -1;
  }
  if (hosts > 1 || auths > 1 || keys > 1) {
    c->err_msg = hosts > 1 ? "a request has one Host header" : "a request carries one credential of each kind";
    return c->err_status = 400, -1;
  }
  c->head = p->method == HTTP_HEAD;
  /* A client that sends "Expect: 100-continue" waits for an interim 100 before
   * its body (curl: up to a second); any other expectation is refused (417).
   * HTTP/1.0 requests' expectations are ignored (RFC 9110, 10.1.1). */
  const char *expect = sl_http_header(r, "expect");
  if (expect && p->http_minor >= 1) { /* major is 1 (checked above) */
    if (strcasecmp(expect, "100-continue")) return c->err_status = 417, -1;
    bool body = (p->flags & F_CHUNKED) || ((p->flags & F_CONTENT_LENGTH) && p->content_length);
    if (body) write_raw(c, "HTTP/1.1 100 Continue\r\n\r\n", 25, NULL, 0);
  }
  /* The body arrives in one piece of memory; what a client merely announces
   * reserves no more than a kept buffer's worth. */
  if ((p->flags & F_CONTENT_LENGTH) && p->content_length &&
      sl_buf_reserve(&c->req.body, p->content_length < KEEP_BODY_BYTES ? p->content_length : KEEP_BODY_BYTES))
    return c->err_status = 500, -1;
  c->rstate = RS_BODY;
  arm_timer(c, c->srv->limits.body_timeout_ms);
  return 0;
}

/* A chunk announced larger than the body may be is refused at its size line,
 * not after its bytes came. */
static int on_chunk_header(llhttp_t *p) {
  sl_conn_t *c = p->data;
  if (p->content_length > c->srv->limits.max_body_bytes ||
      c->req.body.len + p->content_length > c->srv->limits.max_body_bytes)
    return c->err_status = 413, -1;
  if (!p->content_length) { /* the last chunk: the trailer section follows */
    c->in_trailers = true;
    c->trailer_in_name = false;
    c->head_raw = c->header_bytes;
    c->span_from = NULL;
  }
  return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t len) {
  sl_conn_t *c = p->data;
  int rc = sl_buf_append(&c->req.body, at, len);
  if (rc == SL_ETOOBIG) return c->err_status = 413, -1;
  if (rc) return c->err_status = 500, -1;
  return 0;
}

static int on_message_complete(llhttp_t *p) {
  sl_conn_t *c = p->data;
  c->in_trailers = false;
  c->keep_alive = llhttp_should_keep_alive(p);
  return HPE_PAUSED; /* one request at a time: stop here, dispatch after execute */
}

static void dispatch(sl_conn_t *c) {
  sl_server_t *s = c->srv;
  c->in_request = true;
  c->rstate = RS_IDLE;
  c->refs++; /* held until sl_http_end */
  uv_timer_stop(&c->timer);
  /* the head as counted (through its last header value), the CRLF ending that
   * line and the empty line after it, and the body */
  c->req.bytes_in = c->header_bytes + 4 + c->req.body.len;
  if (!c->req.body.data) sl_buf_append(&c->req.body, "", 0);
  /* Reading goes on (unparsed) so that a client going away is noticed at once;
   * on_read stops it if the client pipelines more than a read's worth. */
  s->handler(c, &c->req, s->data);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  sl_conn_t *c = h->data;
  buf->base = c->readbuf;
  buf->len = sizeof c->readbuf;
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf);

static void start_reading(sl_conn_t *c) {
  if (c->reading || c->closing) return;
  if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0) c->reading = true;
}

/* Parses what is pending until a request is dispatched or the bytes run out. */
static void drive(sl_conn_t *c) {
  if (c->driving) {
    c->need_drive = true;
    return;
  }
  c->driving = true;
  do {
    c->need_drive = false;
    while (!c->closing && !c->in_request && !c->discarding && !c->lingering && c->pending.len &&
           !c->out_pending) {
      const char *data = c->pending.data;
      bool in_head = c->rstate == RS_HEADERS || c->in_trailers;
      c->span_from = in_head ? data : NULL; /* the head goes on from here */
      llhttp_errno_t err = llhttp_execute(&c->parser, data, c->pending.len);
      if (err == HPE_OK && (c->rstate == RS_HEADERS || c->in_trailers)) {
        /* all of it taken, the head not over: count it whole (whitespace a
         * callback never sees included) before the next read */
        const char *from = c->span_from ? c->span_from : data;
        c->head_raw += (size_t)(data + c->pending.len - from);
        c->span_from = NULL;
        if (c->head_raw > c->srv->limits.max_header_bytes) {
          sl_buf_reset(&c->pending);
          protocol_error(c, 431, "request header fields too large");
          continue;
        }
      }
      if (err == HPE_OK) {
        sl_buf_reset(&c->pending);
      } else if (err == HPE_PAUSED) {
        const char *pos = llhttp_get_error_pos(&c->parser);
        size_t used = pos ? (size_t)(pos - data) : c->pending.len;
        sl_buf_consume(&c->pending, used);
        dispatch(c);
      } else if (err == HPE_PAUSED_UPGRADE) {
        /* an upgrade asked for (h2c, a WebSocket) and not taken: the request was
         * answered as HTTP/1.1, and the connection goes on as HTTP/1.1 */
        const char *pos = llhttp_get_error_pos(&c->parser);
        size_t used = pos ? (size_t)(pos - data) : c->pending.len;
        sl_buf_consume(&c->pending, used);
        llhttp_resume_after_upgrade(&c->parser);
      } else {
        /* (a version llhttp does not know, "HTTP/3.1", is as unserved as 2.0; a
         * known version followed by something other than CRLF is bad syntax) */
        bool known = c->parser.http_major == 1 && c->parser.http_minor <= 1;
        int st = c->err_status                         ? c->err_status
                 : err == HPE_INVALID_VERSION && !known ? 505
                                                        : 400;
        const char *msg = c->err_msg  ? c->err_msg
                          : err == HPE_PAUSED_H2_UPGRADE
                              ? "an HTTP/2 connection preface: only HTTP/1.0 and HTTP/1.1 are served"
                          : st == 431 ? "request header fields too large"
                          : st == 413 ? "request body too large"
                          : st == 417 ? "only the expectation 100-continue is supported"
                          : st == 505 ? "only HTTP/1.0 and HTTP/1.1 are served"
                          : st == 500 ? "internal error"
                                      : llhttp_errno_name(err);
        char m[200];
        if (st == 400 && !c->err_msg && err != HPE_PAUSED_H2_UPGRADE) {
          /* llhttp's reason ("Expected LF after chunk data") is a fixed string */
          const char *why = llhttp_get_error_reason(&c->parser);
          snprintf(m, sizeof m, "malformed HTTP request: %.120s (%s)", why && *why ? why : "bad syntax",
                   msg);
          msg = m;
        }
        protocol_error(c, st, msg);
      }
    }
  } while (c->need_drive && !c->closing && !c->in_request && !c->discarding && !c->lingering &&
           !c->out_pending);
  c->driving = false;
  if (!c->closing && !c->in_request && !c->lingering && !c->discarding) start_reading(c);
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf) {
  sl_conn_t *c = st->data;
  if (nread < 0) {
    /* EOF in the middle of a request body or headers: nothing to answer. With
     * the request in flight, the client is taken as gone and its answer is
     * cut: a reset says so. A client that half-closes after its answer was
     * made may still be reading it: the close waits for it to leave. */
    if (c->in_request) conn_reset(c);
    else if (nread == UV_EOF && answer_leaving(c)) end_reading(c);
    else conn_close(c);
    return;
  }
  if (nread == 0) return;
  c->srv->stats.bytes_in += (uint64_t)nread;
  if (c->discarding) { /* the rest of a refused request: dropped */
    uint64_t now = uv_now(c->srv->loop);
    uint64_t left = now < c->discard_until ? c->discard_until - now : 0;
    if (!left) end_reading(c);
    else arm_timer(c, (unsigned)(left < DISCARD_IDLE_MS ? left : DISCARD_IDLE_MS));
    return;
  }
  if (c->in_request || c->out_pending) {
    /* Pipelined bytes wait unparsed while a request runs or its answer still
     * waits in our queue (so one connection holds one answer in memory at a
     * time); past one read's worth, stop reading (backpressure) so the
     * buffer stays bounded. */
    if (sl_buf_append(&c->pending, buf->base, (size_t)nread)) { /* cannot happen: see below */
      conn_close(c);
      return;
    }
    if (c->pending.len >= READ_CHUNK) {
      uv_read_stop((uv_stream_t *)&c->tcp);
      c->reading = false;
    }
    return;
  }
  if (c->rstate == RS_IDLE)
    arm_timer(c, c->srv->limits.header_timeout_ms); /* a request has started */
  if (sl_buf_append(&c->pending, buf->base, (size_t)nread)) {
    protocol_error(c, 431, "request header fields too large");
    return;
  }
  drive(c);
}

static void on_timer(uv_timer_t *t) {
  sl_conn_t *c = t->data;
  if (c->in_request || c->closing) return;
  if (c->discarding) { /* the client kept sending a refused request, or went quiet */
    end_reading(c);
    return;
  }
  /* An answer still leaving is the send timer's to watch; this one is armed
   * again once it has left (answer_left). */
  if (answer_leaving(c)) {
    watch_sending(c);
    return;
  }
  if (c->rstate != RS_IDLE || c->pending.len) protocol_error(c, 408, "request timed out");
  else conn_close(c); /* idle keep-alive connection */
}

static void arm_timer(sl_conn_t *c, unsigned ms) {
  if (!c->closing) uv_timer_start(&c->timer, on_timer, ms, 0);
}

/* ---- accepting ---- */

/* Whether a minute passed since *last (0: never); if so, now is the last. */
static bool minute_passed(uint64_t *last) {
  uint64_t now = now_ns();
  if (*last && now - *last <= 60000000000ull) return false;
  *last = now;
  return true;
}

/* A connection the system would not give a descriptor for (EMFILE: the
 * open-file limit), said once a minute at most: the client sees its
 * connection closed, and nothing else would tell why. */
static void accept_failed(sl_server_t *s, int err) {
  if (!minute_passed(&s->accept_logged_ns)) return;
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl)) rl.rlim_cur = 0;
  SL_ERROR("cannot accept connections: %s (open-file limit %llu, limits.max_connections %d): "
           "raise the limit (systemd LimitNOFILE=, ulimit -n) or lower max_connections",
           uv_strerror(err), (unsigned long long)rl.rlim_cur, s->limits.max_connections);
}

static void on_connection(uv_stream_t *ls, int status) {
  sl_server_t *s = ls->data;
  if (status < 0) {
    accept_failed(s, status);
    return;
  }
  sl_conn_t *c = calloc(1, sizeof *c);
  if (!c) return;
  c->srv = s;
  uv_tcp_init(s->loop, &c->tcp);
  uv_timer_init(s->loop, &c->timer);
  uv_timer_init(s->loop, &c->send_timer);
  c->tcp.data = c->timer.data = c->send_timer.data = c;
  c->refs = 3;
  c->keep_alive = true;
  sl_buf_init(&c->url, s->limits.max_header_bytes);
  sl_buf_init(&c->field, s->limits.max_header_bytes);
  sl_buf_init(&c->value, s->limits.max_header_bytes);
  /* headers, path and query: within max_header_bytes, plus two NULs each */
  sl_buf_init(&c->hstore, s->limits.max_header_bytes + 2 * SL_HTTP_MAX_HEADERS + 4);
  /* pipelined bytes: at most one read beyond a request plus a request's headers */
  sl_buf_init(&c->pending, s->limits.max_header_bytes + 2 * READ_CHUNK);
  sl_buf_init(&c->req.body, s->limits.max_body_bytes);
  llhttp_init(&c->parser, HTTP_REQUEST, &s->settings);
  c->parser.data = c;
  c->next = s->conns;
  if (s->conns) s->conns->prev = c;
  s->conns = c;
  s->stats.connections_open++;
  unsigned open_all = atomic_fetch_add_explicit(s->open_all, 1, memory_order_relaxed) + 1;
  s->stats.connections_total++;
  int arc = uv_accept(ls, (uv_stream_t *)&c->tcp);
  if (arc < 0) {
    if (arc != UV_EAGAIN) accept_failed(s, arc);
    conn_close(c);
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  if (open_all > (unsigned)s->limits.max_connections || s->shutting_down) {
    s->stats.rejected_connections++;
    /* at the limit, once a minute at most: the count is in /metrics */
    if (!s->shutting_down && minute_passed(&s->refused_logged_ns)) {
      SL_WARN("limits.max_connections (%d) reached: refusing new connections with 503 "
              "(%llu so far on this loop)", s->limits.max_connections,
              (unsigned long long)s->stats.rejected_connections);
    }
    c->keep_alive = false;
    /* (the request is unread: no id of its own, no dialect known) */
    static const char body[] =
        "{\"error\":{\"message\":\"too many connections\",\"type\":\"server_error\","
        "\"param\":null,\"code\":\"too_many_connections\"}}";
    sl_http_respond(c, 503, "application/json",
                    "Retry-After: 1\r\nx-sluice-request-id: none\r\nx-sluice-backend: none\r\n"
                    "x-sluice-rule: none\r\n",
                    body, sizeof body - 1);
    /* Closing now, with the client's request unread in our socket, would make
     * the kernel answer with a reset that can reach the client before the 503
     * (it then sees a connection error); so, as for a 413, the request's rest
     * is read and dropped for a short while, our side shut. A few per loop at
     * a time, and their slots go back at once: a flood of refused connections
     * costs no more than before, and keeps no client out. */
    if (!s->shutting_down && s->refused_draining < REFUSED_DRAINING_MAX) {
      c->refused = true;
      s->refused_draining++;
      atomic_fetch_sub_explicit(s->open_all, 1, memory_order_relaxed);
      discard_rest(c, REFUSED_DISCARD_MS);
      return;
    }
    conn_close(c);
    return;
  }
  arm_timer(c, s->limits.header_timeout_ms);
  start_reading(c);
}

int sl_server_create(uv_loop_t *loop, const sl_limits_t *limits, sl_http_handler_cb handler,
                     void *data, sl_server_t **out) {
  sl_server_t *s = calloc(1, sizeof *s);
  if (!s) return SL_ENOMEM;
  s->loop = loop;
  s->limits = *limits;
  /* how long an idle connection stays open, said on every keep-alive answer:
   * clients that read it (undici, Node's fetch and the SDKs on it) retire a
   * pooled connection before sluice closes it, instead of racing the close */
  unsigned idle_s = limits->idle_timeout_ms / 1000;
  char secs[24];
  sl_itoa(idle_s ? idle_s : 1, secs);
  sl_cat(s->keep_alive_head, sizeof s->keep_alive_head, "Connection: keep-alive\r\nKeep-Alive: timeout=",
         secs, "\r\n\r\n", (char *)NULL);
  s->handler = handler;
  s->data = data;
  s->open_all = &s->own_open;
  llhttp_settings_init(&s->settings);
  s->settings.on_message_begin = on_message_begin;
  s->settings.on_method = on_method;
  s->settings.on_url = on_url;
  s->settings.on_chunk_extension_name = on_chunk_extension;
  s->settings.on_chunk_extension_value = on_chunk_extension;
  s->settings.on_header_field = on_header_field;
  s->settings.on_header_value = on_header_value;
  s->settings.on_headers_complete = on_headers_complete;
  s->settings.on_body = on_body;
  s->settings.on_chunk_header = on_chunk_header;
  s->settings.on_message_complete = on_message_complete;
  uv_tcp_init(loop, &s->listener);
  uv_timer_init(loop, &s->grace);
  s->listener.data = s->grace.data = s;
  *out = s;
  return 0;
}

/* Binds a plain socket (SO_REUSEADDR only) to sa and lets it go: fails with
 * EADDRINUSE if any socket, shareable or not, holds the address. */
static int address_free(const struct sockaddr *sa, socklen_t salen) {
  int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
  if (fd < 0) return -1;
  int rc = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) || bind(fd, sa, salen);
  int err = errno;
  close(fd);
  errno = err;
  return rc ? -1 : 0;
}

int sl_server_listen(sl_server_t *s, const char *hostport, sl_listen_mode_t mode) {
  char host[256];
  const char *colon = strrchr(hostport, ':');
  if (!colon || (size_t)(colon - hostport) >= sizeof host) return SL_EINVAL;
  memcpy(host, hostport, (size_t)(colon - hostport));
  host[colon - hostport] = '\0';
  int port = atoi(colon + 1);
  struct sockaddr_storage addr;
  int rc;
  if (host[0] == '[') {
    size_t hl = strlen(host);
    if (hl < 2 || host[hl - 1] != ']') return SL_EINVAL;
    host[hl - 1] = '\0';
    rc = uv_ip6_addr(host + 1, port, (struct sockaddr_in6 *)&addr);
  } else {
    rc = uv_ip4_addr(strcmp(host, "localhost") ? host : "127.0.0.1", port, (struct sockaddr_in *)&addr);
  }
  if (rc) return SL_EINVAL;
  /* Our own socket so that SO_REUSEPORT can be set before bind: each event-loop
   * thread listens on the same address and the kernel spreads connections. */
  const struct sockaddr *sa = (const struct sockaddr *)&addr;
  socklen_t salen = sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
  bool share = mode != SL_LISTEN_ALONE;
  if (mode == SL_LISTEN_FIRST && port && address_free(sa, salen)) {
    int err = errno;
    SL_ERROR("listen on %s: %s", hostport, strerror(err));
    return err == EADDRINUSE ? SL_EADDRINUSE : SL_EIO;
  }
  int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) ||
      (share && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one)) ||
      bind(fd, sa, salen)) {
    int err = errno;
    SL_ERROR("listen on %s: %s", hostport, strerror(err));
    if (fd >= 0) close(fd);
    return err == EADDRINUSE ? SL_EADDRINUSE : SL_EIO;
  }
  if ((rc = uv_tcp_open(&s->listener, fd)) ||
      (rc = uv_listen((uv_stream_t *)&s->listener, 1024, on_connection))) {
    SL_ERROR("listen on %s: %s", hostport, uv_strerror(rc));
    return SL_EIO; /* the listener handle owns fd now: closing it closes fd */
  }
  struct sockaddr_storage bound;
  int len = sizeof bound;
  uv_tcp_getsockname(&s->listener, (struct sockaddr *)&bound, &len);
  s->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                              : ((struct sockaddr_in *)&bound)->sin_port);
  s->listening = true;
  return 0;
}

void sl_server_share_limit(sl_server_t *s, atomic_uint *open_all) { s->open_all = open_all; }

int sl_server_port(const sl_server_t *s) { return s->port; }
const sl_server_stats_t *sl_server_stats(const sl_server_t *s) { return &s->stats; }

/* First the handlers of unfinished requests are asked to end them with an error
 * the client can read (a cut stream looks like a network fault to an SDK, which
 * may then retry a request that was answered in part); a moment later whatever is
 * still open is closed. */
static void on_grace(uv_timer_t *t) {
  sl_server_t *s = t->data;
  if (!s->grace_over) {
    s->grace_over = true;
    unsigned told = 0;
    for (sl_conn_t *c = s->conns, *next; c; c = next) {
      next = c->next;
      if (!c->in_request || c->aborted || c->closing || !c->abort_cb) continue;
      told++;
      c->abort_cb(c, SL_ABORT_SHUTDOWN, c->abort_data);
    }
    if (told) SL_WARN("shutdown grace period over: ending this event loop's unfinished requests (%u)", told);
    /* a second more for the ended requests' answers to go out; answers that
     * were finished but are still leaving had the grace period */
    if (told && s->conns) {
      uv_timer_start(&s->grace, on_grace, SL_HTTP_FINAL_MS, 0);
      return;
    }
  }
  if (s->conns) SL_WARN("shutdown: closing the remaining connections");
  /* (with a reset: what is still unsent is dropped, not left to the kernel
   * after the process is gone) */
  while (s->conns) conn_reset(s->conns);
  maybe_shutdown_done(s);
}

void sl_server_shutdown(sl_server_t *s, void (*done)(void *), void *data) {
  if (s->shutting_down) return;
  s->shutting_down = true;
  s->shutdown_cb = done;
  s->shutdown_data = data;
  if (s->listening) {
    uv_close((uv_handle_t *)&s->listener, NULL);
    s->listening = false;
  }
  for (sl_conn_t *c = s->conns, *next; c; c = next) {
    next = c->next;
    if (c->lingering) continue; /* its answer is leaving; it closes itself */
    if (c->in_request) c->keep_alive = false; /* finish, then close */
    else if (answer_leaving(c)) end_reading(c); /* a finished answer still leaving */
    else conn_close(c);
  }
  uv_timer_start(&s->grace, on_grace, s->limits.shutdown_grace_ms, 0);
  maybe_shutdown_done(s);
}

void sl_server_free(sl_server_t *s) {
  if (!s) return;
  /* The handles are embedded: the caller has closed them (uv_walk) and run the
   * loop until they finished closing. */
  free(s);
}
