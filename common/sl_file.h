/* Opening input files that must be files: a path that names a FIFO would
 * block the open (and the tool) until a writer came, a directory or a device
 * reads as nothing or forever. */
#ifndef SL_FILE_H
#define SL_FILE_H

#include <stdio.h>

/* Opens path read-only without blocking, and keeps it only if it is a regular
 * file. Returns the descriptor, or -1 with *why the reason ("No such file or
 * directory", "not a regular file (a directory, a pipe or a device)"). */
int sl_open_regular(const char *path, const char **why);
/* The same as a stdio stream ("rb"); NULL with *why. */
FILE *sl_fopen_regular(const char *path, const char **why);

#endif
