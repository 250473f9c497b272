/* Fuzz target: raw bytes from a client into the HTTP server, on a real loop and
 * a real loopback socket. The server must answer or close, and never crash,
 * leak or hang; the handler answers every request it gets. */
#include "gateway/server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static uv_loop_t loop;
static sl_server_t *srv;
static int port;

static void handler(sl_conn_t *c, sl_http_req_t *r, void *d) {
  /* read every header and the path as a gateway would: a pointer the parser
   * left dangling (trailer fields once moved the store) shows up here */
  size_t n = strlen(r->path) + (r->query ? strlen(r->query) : 0);
  for (size_t i = 0; i < r->n_headers; i++) n += strlen(r->hname[i]) + strlen(r->hvalue[i]);
  n += sl_http_header(r, "content-type") != NULL;
  if (n == (size_t)-1) __builtin_trap();
  sl_http_respond(c, 200, "text/plain", NULL, "ok", 2);
  sl_http_end(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!srv) {
    uv_loop_init(&loop);
    sl_limits_t l = {.max_header_bytes = 4096, .max_body_bytes = 8192, .max_connections = 16,
                     .header_timeout_ms = 200, .body_timeout_ms = 200, .idle_timeout_ms = 200,
                     .shutdown_grace_ms = 100};
    if (sl_server_create(&loop, &l, handler, NULL, &srv) || sl_server_listen(srv, "127.0.0.1:0", false))
      __builtin_trap();
    port = sl_server_port(srv);
  }
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  fcntl(fd, F_SETFL, O_NONBLOCK);
  connect(fd, (struct sockaddr *)&a, sizeof a);
  size_t off = 0;
  char buf[4096];
  /* pump the loop while writing; then half-close and wait for the server to close */
  for (int i = 0; i < 4000; i++) {
    uv_run(&loop, UV_RUN_NOWAIT);
    if (off < size) {
      ssize_t w = write(fd, data + off, size - off);
      if (w > 0) off += (size_t)w;
      if (off == size) shutdown(fd, SHUT_WR);
    } else if (off == size && size == 0) {
      shutdown(fd, SHUT_WR);
      off = 1;
    }
    ssize_t r = read(fd, buf, sizeof buf);
    if (r == 0) break;
    if (r < 0 && i > 200 && off >= size) usleep(1000);
  }
  close(fd);
  for (int i = 0; i < 20; i++) uv_run(&loop, UV_RUN_NOWAIT);
  return 0;
}
