/* Input files that must be regular files: see sl_file.h. */
#include "sl_file.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char not_regular[] = "not a regular file (a directory, a pipe or a device)";

int sl_open_regular(const char *path, const char **why) {
  /* O_NONBLOCK: opening a FIFO for reading would wait for a writer */
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    *why = errno == EISDIR ? not_regular : strerror(errno);
    return -1;
  }
  struct stat st;
  if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
    *why = not_regular;
    close(fd);
    return -1;
  }
  int fl = fcntl(fd, F_GETFL);
  if (fl >= 0) fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
  return fd;
}

FILE *sl_fopen_regular(const char *path, const char **why) {
  int fd = sl_open_regular(path, why);
  if (fd < 0) return NULL;
  FILE *f = fdopen(fd, "rb");
  if (!f) {
    *why = strerror(errno);
    close(fd);
  }
  return f;
}
