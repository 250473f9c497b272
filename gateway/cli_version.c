/* sluice --version: sluice's version and the versions of the libraries it runs
 * on, as loaded (what a bug report needs). */
#include "cli.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <hs/hs.h>
#include <llhttp.h>
#include <oneapi/dnnl/dnnl.h>
#include <openssl/crypto.h>
#include <sqlite3.h>
#include <stdio.h>
#include <uv.h>

int sl_cli_version(const char *version) {
  const dnnl_version_t *d = dnnl_version();
  printf("sluice %s\n", version);
  printf("  libuv %s, llhttp %d.%d.%d, %s\n", uv_version_string(), LLHTTP_VERSION_MAJOR,
         LLHTTP_VERSION_MINOR, LLHTTP_VERSION_PATCH, curl_version());
  printf("  SQLite %s, %s, cJSON %s\n", sqlite3_libversion(), OpenSSL_version(OPENSSL_VERSION),
         cJSON_Version());
  printf("  oneDNN %d.%d.%d (%s), Hyperscan %s\n", d->major, d->minor, d->patch, d->cpu_runtime ==
         DNNL_RUNTIME_OMP ? "OpenMP" : "threads", hs_version());
  return 0;
}
