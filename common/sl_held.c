#include "sl_held.h"

#include <stdatomic.h>

static _Atomic size_t total, limit = 256u << 20;

void sl_held_set_max(size_t max) { atomic_store(&limit, max); }

bool sl_held_take(size_t n) {
  if (atomic_fetch_add(&total, n) + n <= atomic_load(&limit)) return true;
  atomic_fetch_sub(&total, n);
  return false;
}

void sl_held_add(size_t n) { atomic_fetch_add(&total, n); }
void sl_held_give(size_t n) { atomic_fetch_sub(&total, n); }
size_t sl_held_now(void) { return atomic_load(&total); }
bool sl_held_over(void) { return atomic_load(&total) > atomic_load(&limit); }
