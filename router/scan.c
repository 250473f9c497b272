/* The one multi-pattern pass: every built-in pattern (PII shapes, context cues,
 * secret prefixes) is compiled into a single Hyperscan block-mode database with
 * leftmost start-of-match, scanned once per request. Validators then look only at
 * the hits. The database is immutable after create; scratch space comes from a
 * mutex-guarded pool so concurrent classifications never share one. */
#include "router_int.h"
#include "sl_err.h"

#include <hs/hs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How a hit's start is found. Start-of-match tracking (SOM) in Hyperscan is cheap
 * only for literal-led patterns, so shapes built from character-class runs are
 * compiled without it and their start is recovered by walking back over the
 * pattern's byte class (bounded); prefix-led secrets match only their prefix
 * and the C validators measure the body. */
enum { ST_SOM, ST_BACK, ST_FIXED }; /* ST_FIXED: fixed-width patterns, start = end - width */

typedef struct {
  int id;
  unsigned flags;
  const char *re;
  uint8_t start;   /* ST_* */
  const char *cls; /* ST_BACK: byte class, "a-z0-9._" style */
  uint32_t maxw;   /* ST_BACK: longest walk; ST_FIXED: the match width */
} pat_t;

#define CI HS_FLAG_CASELESS
#define DIG "0-9"
static const pat_t pats[] = {
    /* '@' starts both e-mail addresses and user:pass@ URLs; pii.c / secrets.c parse
     * around it (cheaper than two class-run patterns) */
    {SL_P_EMAIL, 0, "@", ST_FIXED, NULL, 1},
    {SL_P_URL_CRED, 0, "://", ST_FIXED, NULL, 3},
    {SL_P_URL, CI, "://", ST_FIXED, NULL, 3},
    {SL_P_PHONE, 0, "(?:\\(\\d{1,4}\\)[ .\\-]?|\\b)\\d{2,5}(?:[ .\\-]\\d{2,8}){1,5}\\b", ST_BACK,
     "0-9 .()-", 40},
    {SL_P_PHONE_INTL, 0,
     "\\+\\d{1,3}[ .\\-]?(?:\\(\\d{1,4}\\)[ .\\-]?)?\\d{1,5}(?:[ .\\-]?\\d{1,5}){0,5}\\b", ST_BACK,
     "0-9 .()+-", 40},
    {SL_P_DIGITS, 0, "\\b\\d{7,19}\\b", ST_BACK, DIG, 19},
    {SL_P_CARD_GROUPED, 0,
     "\\b\\d{4}(?:[ \\-]\\d{4}){2,3}(?:[ \\-]?\\d{1,3})?\\b|\\b\\d{4}[ \\-]\\d{6}[ \\-]\\d{4,5}\\b", ST_BACK,
     "0-9 -", 24},
    {SL_P_SSN, 0, "\\b\\d{3}[ \\-.]\\d{2}[ \\-.]\\d{4}\\b", ST_FIXED, NULL, 11},
    /* the IBAN's head only; pii.c reads the rest (bounded repeats cost here) */
    {SL_P_IBAN, 0, "\\b[A-Z]{2}\\d{2}[ ]?[A-Z0-9]{4}", ST_BACK, "A-Z0-9 ", 9},
    {SL_P_IPV4, 0, "\\b\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}\\b", ST_BACK, "0-9.", 15},
    {SL_P_IPV6, 0, "[0-9A-Fa-f]{0,4}:(?:[0-9A-Fa-f]{0,4}:){1,7}[0-9A-Fa-f]{0,4}", ST_BACK,
     "0-9A-Fa-f:", 39},
    {SL_P_DATE_NUM, 0, "\\b\\d{1,2}[/.\\-]\\d{1,2}[/.\\-](?:\\d{4}|\\d{2})\\b", ST_BACK, "0-9/.-", 10},
    {SL_P_DATE_ISO, 0, "\\b(?:19|20)\\d{2}[\\-/.]\\d{1,2}[\\-/.]\\d{1,2}\\b", ST_BACK, "0-9/.-", 10},
    {SL_P_DATE_TEXT, CI,
     "\\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]{0,6}\\.?\\s{1,3}"
     "\\d{1,2}(?:st|nd|rd|th)?,?\\s{1,3}\\d{4}\\b", ST_SOM, NULL, 0},
    {SL_P_DATE_TEXT2, CI,
     "\\b\\d{1,2}(?:st|nd|rd|th)?\\s{1,3}(?:of\\s{1,3})?(?:jan|feb|mar|apr|may|jun|jul|aug|sep|"
     "sept|oct|nov|dec)[a-z]{0,6}\\.?,?\\s{1,3}\\d{4}\\b", ST_SOM, NULL, 0},
    {SL_P_CUE_DOB, CI, "\\b(?:born|birth|birthday|birthdate|dob|d\\.o\\.b)\\b", ST_SOM, NULL, 0},
    {SL_P_CUE_PASSPORT, CI, "\\bpassport", ST_FIXED, NULL, 8},
    {SL_P_CUE_DL, 0,
     "(?i:\\b(?:driver'?s?|drivers'|driving)[ \\-]?licen[cs]e|\\blicen[cs]e\\s{0,3}(?:no\\b|"
     "number|#))|\\bDL\\b", ST_SOM, NULL, 0},
    {SL_P_CUE_MEDICAL, CI,
     "\\b(?:medical\\s{1,3}(?:record|file|id|licen[cs]e)|patient\\s{1,3}(?:id|number|no|#|"
     "record)|health\\s{1,3}(?:insurance|plan|card|record)|insurance\\s{1,3}(?:id|number|no|"
     "policy|member|card)|member\\s{1,3}id|policy\\s{1,3}(?:number|no)|medicare|medicaid|mrn|"
     "nhs\\s{1,3}(?:number|no)|npi|dea\\s{1,3}(?:number|no))\\b", ST_SOM, NULL, 0},
    {SL_P_CUE_BANK, CI,
     "\\b(?:(?:bank|checking|savings|deposit|current)\\s{1,3})?(?:account|acct|a/c)\\s{0,3}"
     "(?:number|no\\b|num\\b|#)|\\brouting\\s{1,3}(?:number|no)|\\bsort\\s{1,3}code|\\bbsb\\b|"
     "\\bbank\\s{1,3}account|\\biban\\b|\\bacc(?:t|ount)?[_\\-]?(?:num|no|nr)\\b", ST_SOM, NULL, 0},
    {SL_P_CUE_NATID, 0,
     "(?i:\\b(?:tax\\s{0,3}(?:id|payer\\s{1,3}id|identification)|national\\s{1,3}(?:id|identity|"
     "insurance)|id\\s{1,3}(?:number|no\\b|card)|aadhaa?r|voter\\s{1,3}id|personal\\s{1,3}(?:id|"
     "identification|number)|identity\\s{1,3}(?:card|number|document)|citizen\\s{1,3}id|"
     "social\\s{1,3}insurance))|\\b(?:TIN|EIN|ITIN|PAN|NINO|SIN|CPF|NIF|NIE|DNI|BSN|PESEL|"
     "CURP|RFC)\\b", ST_SOM, NULL, 0},
    {SL_P_CUE_SSN, CI, "\\b(?:ssn|ss#|social\\s{1,3}security)", ST_SOM, NULL, 0},
    /* Prefix-led secrets: the pattern is the prefix; secrets.c measures the body. */
    {SL_P_AWS_AKID, 0, "\\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA|ABIA|ACCA)", ST_FIXED, NULL, 4},
    {SL_P_GCP_SA, 0, "\"type\"\\s{0,3}:\\s{0,3}\"service_account\"|\"private_key_id\"\\s{0,3}:", ST_SOM,
     NULL, 0},
    {SL_P_GOOGLE_KEY, 0, "\\bAIza", ST_FIXED, NULL, 4},
    {SL_P_GOOGLE_OAUTH, 0, "\\bya29\\.|\\bGOCSPX-|\\b1//0", ST_SOM, NULL, 0},
    {SL_P_AZURE_KEY, CI, "(?:AccountKey|SharedAccessKey|sig)=", ST_SOM, NULL, 0},
    {SL_P_AZURE_SECRET, 0, "[A-Za-z0-9_~.\\-]{3}\\dQ~[A-Za-z0-9_~.\\-]{31,34}", ST_BACK,
     "A-Za-z0-9_~.-", 40},
    {SL_P_GITHUB, 0, "\\b(?:gh[pousr]_|github_pat_)", ST_SOM, NULL, 0},
    {SL_P_GITLAB, 0, "\\bgl(?:pat|dt|rt|ptt|cbt|imt|agent|oas|ft|soat|cc)-", ST_SOM, NULL, 0},
    {SL_P_SLACK, 0, "\\bxox[abposre]-", ST_FIXED, NULL, 5},
    {SL_P_SLACK_HOOK, 0, "hooks\\.slack\\.com/(?:services|workflows)/", ST_SOM, NULL, 0},
    {SL_P_STRIPE, 0, "\\b(?:sk|rk)_(?:live|test)_|\\bwhsec_", ST_SOM, NULL, 0},
    {SL_P_OPENAI, 0, "\\bsk-(?:proj-|svcacct-|admin-|None-)?", ST_SOM, NULL, 0},
    {SL_P_ANTHROPIC, 0, "\\bsk-ant-", ST_FIXED, NULL, 7},
    {SL_P_VENDOR, 0,
     "\\b(?:dckr_pat_|npm_|pypi-|hf_|xapp-|shp(?:at|ss|ca|pa)_|sq0(?:csp|atb|idp)-|EAAA|"
     "dp\\.(?:pt|st)\\.|tvly-|SG\\.|rubygems_|sgp_|hv[sbr]\\.|do[opr]_v1_|AGE-SECRET-KEY-|"
     "[pst]k\\.eyJ|ATATT|lin_api_|pscale_(?:tkn|pw|oauth)_|glc_|figd_|ntn_|nfp_|pat-na1-|"
     "ops_|AKCp|xoxe\\.|sntrys_|PMAK-|fo1_|key-|api_|da2-|r8_|gsk_|xai-|pplx-|sk_|rk_|"
     "pk_live_|AC|SK|dapi|re_|lsv2_(?:pt|sk)_|nvapi-|csk-|fw_|aio_|ak_|ai_)", ST_SOM, NULL, 0},
    {SL_P_PRIVKEY, 0, "PRIVATE KEY(?: BLOCK)?-----|PuTTY-User-Key-File-\\d", ST_SOM, NULL, 0},
    {SL_P_PRIVKEY_B64, 0, "LS0tLS1CRUdJTi", ST_FIXED, NULL, 14},
    {SL_P_JWT, 0, "\\beyJ", ST_FIXED, NULL, 3},
    {SL_P_BASIC_AUTH, CI, "\\bbasic\\s", ST_FIXED, NULL, 6},
    {SL_P_BEARER, CI, "\\bbearer\\s", ST_FIXED, NULL, 7},
    {SL_P_PWHASH, 0,
     "\\$(?:1|2[abxy]?|5|6|y|7|apr1|argon2(?:id|i|d)|pbkdf2(?:-sha\\d+)?|scrypt|sha1|md5)\\$|"
     "\\{(?:SSHA|SHA|SMD5|CRYPT|SSHA256|SSHA512)\\}", ST_SOM, NULL, 0},
    {SL_P_PW_CUE, CI, "pass(?:w(?:or)?d|phrase|code)?|pwd|pw\\b|\\bpin\\b|credentials?|\\blog(?:in|on)\\b",
     ST_SOM, NULL, 0},
    {SL_P_KEY_CUE, CI, "api[_\\-. ]?key|secret|token|auth|access[_\\-]?key|\\bkey\\b|_key|key_", ST_SOM,
     NULL, 0},
    {SL_P_CRYPTO_BTC, 0, "\\b(?:bc1[ac-hj-np-z02-9]{25,71}|[13][a-km-zA-HJ-NP-Z1-9]{25,34})\\b", ST_BACK,
     "A-Za-z0-9", 90},
    {SL_P_CRYPTO_ETH, 0, "\\b0x[a-fA-F0-9]{40}\\b", ST_FIXED, NULL, 42},
    {SL_P_NETRC, CI, "\\bmachine\\s", ST_FIXED, NULL, 8},
    {SL_P_CUE_NAME2, 0,
     "(?i:\\b(?:name\\s{0,3}(?:is|:|\\?)|named|called|signed|surname))|\\b(?:Mr|Mrs|Ms|Mx|Dr|"
     "Prof|Miss|Sir|Madam|Dear|MR|MRS|MS|DR|mr|mrs|dr)\\b\\.?", ST_SOM, NULL, 0},
    {SL_P_CUE_NAME1, CI,
     "\\b(?:hi|hello|hey|thanks|thank you|sincerely|regards|i am|i'm|patient|customer|"
     "employee|attn|cc|beneficiary|contact)\\b", ST_SOM, NULL, 0},
};
#undef CI
#undef DIG

struct sl__scan {
  uint8_t cls[SL_P__COUNT][32]; /* ST_BACK byte classes as bitmaps */
  hs_database_t *db;
  hs_scratch_t *proto; /* allocated for db; every pooled scratch is a clone */
  pthread_mutex_t mu;
  hs_scratch_t *pool[64];
  int n_pool;
};

sl__scan_t *sl__scan_create(char *err, size_t errlen) {
  enum { N = sizeof pats / sizeof pats[0], MAXN = N + 512 };
  _Static_assert((int)N == (int)SL_P__COUNT, "one pattern per SL_P_ id");
  _Static_assert(SL_P__COUNT <= 128, "hits.last_idx holds 128 patterns");
  const char *exprs[MAXN];
  unsigned flags[MAXN], ids[MAXN];
  for (int i = 0; i < N; i++) {
    exprs[i] = pats[i].re;
    /* SOM_LEFTMOST gives spans; the TOKEN run detector only needs the longest run
     * too, which the hit merger reconstructs. */
    flags[i] = pats[i].flags | (pats[i].start == ST_SOM ? HS_FLAG_SOM_LEFTMOST : 0);
    ids[i] = (unsigned)pats[i].id;
  }
  sl__scan_t *s = calloc(1, sizeof *s);
  if (!s) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  for (int i = 0; i < N; i++) {
    const char *c = pats[i].cls;
    if (pats[i].id != i) {
      snprintf(err, errlen, "pattern table out of order at %d", i);
      free(s);
      return NULL;
    }
    for (size_t k = 0; c && c[k]; k++) {
      unsigned lo = (unsigned char)c[k], hi = lo;
      if (c[k + 1] == '-' && c[k + 2]) hi = (unsigned char)c[k + 2], k += 2;
      for (unsigned b = lo; b <= hi; b++) s->cls[i][b >> 3] |= (uint8_t)(1u << (b & 7));
    }
  }
  /* The difficulty cue words ride along in the same pass, counted per group. */
  size_t total = N, nc = sl__diff_cue_count();
  for (size_t i = 0; i < nc && total < MAXN; i++, total++) {
    exprs[total] = sl__diff_cue_expr(i);
    flags[total] = HS_FLAG_CASELESS;
    ids[total] = (unsigned)(N + i);
  }
  hs_compile_error_t *ce = NULL;
  if (hs_compile_multi(exprs, flags, ids, (unsigned)total, HS_MODE_BLOCK, NULL,
                       &s->db, &ce) != HS_SUCCESS) {
    snprintf(err, errlen, "hyperscan: pattern %d: %s", ce ? ce->expression : -1,
             ce ? ce->message : "?");
    hs_free_compile_error(ce);
    free(s);
    return NULL;
  }
  if (hs_alloc_scratch(s->db, &s->proto) != HS_SUCCESS) {
    snprintf(err, errlen, "hyperscan: cannot allocate scratch");
    hs_free_database(s->db);
    free(s);
    return NULL;
  }
  pthread_mutex_init(&s->mu, NULL);
  return s;
}

void sl__scan_free(sl__scan_t *s) {
  if (!s) return;
  for (int i = 0; i < s->n_pool; i++) hs_free_scratch(s->pool[i]);
  hs_free_scratch(s->proto);
  hs_free_database(s->db);
  pthread_mutex_destroy(&s->mu);
  free(s);
}

static hs_scratch_t *scratch_get(sl__scan_t *s) {
  hs_scratch_t *sc = NULL;
  pthread_mutex_lock(&s->mu);
  if (s->n_pool) sc = s->pool[--s->n_pool];
  pthread_mutex_unlock(&s->mu);
  if (!sc && hs_clone_scratch(s->proto, &sc) != HS_SUCCESS) return NULL;
  return sc;
}

static void scratch_put(sl__scan_t *s, hs_scratch_t *sc) {
  pthread_mutex_lock(&s->mu);
  if (s->n_pool < (int)(sizeof s->pool / sizeof s->pool[0])) {
    s->pool[s->n_pool++] = sc;
    sc = NULL;
  }
  pthread_mutex_unlock(&s->mu);
  if (sc) hs_free_scratch(sc);
}

typedef struct {
  sl__hits_t *h;
  const sl__scan_t *s;
  const unsigned char *text;
} scan_ctx_t;

static int push(sl__hits_t *h, unsigned id, uint32_t from, uint32_t to) {
  if (h->n == h->cap) {
    size_t nc = h->cap ? h->cap * 2 : 256;
    if (nc > SL_ROUTER_MAX_CANDS) {
      h->err = SL_ETOOBIG;
      return 1; /* stop scanning: the caller fails closed */
    }
    sl__hit_t *nv = realloc(h->v, nc * sizeof *nv);
    if (!nv) {
      h->err = SL_ENOMEM;
      return 1;
    }
    h->v = nv;
    h->cap = nc;
  }
  h->v[h->n] = (sl__hit_t){from, to, (uint16_t)id};
  h->last_idx[id] = (uint32_t)++h->n;
  return 0;
}

/* Hyperscan reports every end offset; keep one hit per overlapping (or, for
 * class runs, contiguous) stretch of the same pattern. */
static int on_match(unsigned id, unsigned long long from, unsigned long long to, unsigned fl,
                    void *vctx) {
  (void)fl;
  scan_ctx_t *x = vctx;
  sl__hits_t *h = x->h;
  if (id >= SL_P__COUNT) {
    /* the same prefix the difficulty features read (see sl__diff_features) */
    if (to <= SL_DIFF_SCAN) h->cue_cnt[sl__diff_cue_group(id - SL_P__COUNT) % SL_DIFF_GROUPS]++;
    return 0;
  }
  uint32_t li = h->last_idx[id];
  sl__hit_t *last = li ? &h->v[li - 1] : NULL;
  const pat_t *p = &pats[id];
  if (p->start == ST_FIXED) {
    from = to >= p->maxw ? to - p->maxw : 0;
  } else if (p->start == ST_BACK) {
    const uint8_t *cls = x->s->cls[id];
    uint32_t lim = to > p->maxw ? (uint32_t)to - p->maxw : 0, st = (uint32_t)to;
    while (st > lim && (cls[x->text[st - 1] >> 3] & (1u << (x->text[st - 1] & 7)))) {
      st--;
      if (last && st <= last->end) { /* contiguous with the previous run: extend it */
        if (to > last->end) last->end = (uint32_t)to;
        return 0;
      }
    }
    from = st;
  }
  if (last && from <= last->end) {
    if (from < last->start) last->start = (uint32_t)from;
    if (to > last->end) last->end = (uint32_t)to;
    return 0;
  }
  return push(h, id, (uint32_t)from, (uint32_t)to);
}

int sl__scan_run(const sl__scan_t *cs, const char *text, size_t len, sl__hits_t *hits) {
  sl__scan_t *s = (sl__scan_t *)cs; /* only the pool (under its mutex) changes */
  if (len > SL_ROUTER_MAX_TEXT) return SL_ETOOBIG;
  hs_scratch_t *sc = scratch_get(s);
  if (!sc) return SL_ENOMEM;
  memset(hits->last_idx, 0, sizeof hits->last_idx);
  memset(hits->cue_cnt, 0, sizeof hits->cue_cnt);
  scan_ctx_t x = {hits, s, (const unsigned char *)text};
  hs_error_t rc = hs_scan(s->db, text, (unsigned)len, 0, sc, on_match, &x);
  scratch_put(s, sc);
  if (hits->err) return hits->err;
  if (rc != HS_SUCCESS) return SL_EINTERNAL;
  return 0;
}
