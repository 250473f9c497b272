/* Per-tenant request rate over a sliding 60-second window, for the policy's
 * `tenant_rpm_at_least`. Thread-safe; memory is fixed at creation: at most
 * `max_tenants` tenants are tracked, the least recently seen is forgotten first
 * (its count restarts at zero, so keep the cap above the number of active
 * tenants). Resolution is one second: the window is the current second plus
 * the 59 before it. */
#ifndef SL_RATE_H
#define SL_RATE_H

#include <stddef.h>
#include <stdint.h>

typedef struct sl_rate sl_rate_t;

/* NULL on allocation failure. max_tenants is clamped to 1..1,000,000. */
sl_rate_t *sl_rate_create(size_t max_tenants);
void sl_rate_free(sl_rate_t *r);

/* Counts one request by `tenant` at `now_ms` (sl_rate_now_ms(), or any
 * monotonic clock in ms) and returns the tenant's requests in the window,
 * this one included. A NULL tenant counts as "" (unauthenticated traffic). */
int sl_rate_hit(sl_rate_t *r, const char *tenant, uint64_t now_ms);
/* The count without recording a request. */
int sl_rate_count(sl_rate_t *r, const char *tenant, uint64_t now_ms);
/* Tenants currently tracked (for metrics and tests). */
size_t sl_rate_tenants(sl_rate_t *r);

/* CLOCK_MONOTONIC in milliseconds. */
uint64_t sl_rate_now_ms(void);

#endif
