/* SentencePiece-style encoding (GGUF tokenizer.ggml.model = "llama"): start from
 * one symbol per UTF-8 character, repeatedly merge the adjacent pair whose
 * concatenation is the highest-scoring token (ties: leftmost), then emit each
 * symbol's token, or its bytes as <0xNN> tokens when the character is not in the
 * vocabulary. This is llama.cpp's llm_tokenizer_spm, with a binary heap so a long
 * input costs O(n log n). The caller has already prepended the space and turned
 * spaces into U+2581. */
#include "tok_int.h"

#include <stdlib.h>

#include "sl_err.h"

typedef struct {
  int32_t prev, next; /* symbol indices, -1 at the ends */
  uint32_t start, n;  /* bytes of text; n = 0 once merged into the left neighbour */
} sym_t;

typedef struct {
  float score;
  int32_t left, right;
  uint32_t size; /* bytes of the pair when queued: stale if the symbols changed */
} bigram_t;

/* Max-heap on score; equal scores pop the leftmost pair first. */
static bool bigram_before(const bigram_t *a, const bigram_t *b) {
  if (a->score != b->score) return a->score > b->score;
  return a->left < b->left;
}

typedef struct {
  bigram_t *v;
  size_t n, cap;
} heap_t;

static int heap_push(heap_t *h, bigram_t b) {
  if (h->n == h->cap) {
    size_t cap = h->cap ? h->cap * 2 : 64;
    bigram_t *p = realloc(h->v, cap * sizeof *p);
    if (!p) return SL_ENOMEM;
    h->v = p;
    h->cap = cap;
  }
  size_t i = h->n++;
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (!bigram_before(&b, &h->v[parent])) break;
    h->v[i] = h->v[parent];
    i = parent;
  }
  h->v[i] = b;
  return 0;
}

static bigram_t heap_pop(heap_t *h) {
  bigram_t top = h->v[0], last = h->v[--h->n];
  size_t i = 0;
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= h->n) break;
    if (c + 1 < h->n && bigram_before(&h->v[c + 1], &h->v[c])) c++;
    if (!bigram_before(&h->v[c], &last)) break;
    h->v[i] = h->v[c];
    i = c;
  }
  if (h->n) h->v[i] = last;
  return top;
}

static int try_add(const sl_tok_t *t, const char *text, sym_t *s, int32_t l, int32_t r,
                   heap_t *h) {
  if (l < 0 || r < 0) return 0;
  uint32_t size = s[l].n + s[r].n;
  int32_t id = sl_tok_find(t, text + s[l].start, size);
  if (id < 0) return 0;
  return heap_push(h, (bigram_t){t->score[id], l, r, size});
}

static int emit_bytes(const sl_tok_t *t, const uint8_t *p, size_t n, sl__ids_t *out) {
  for (size_t i = 0; i < n; i++) {
    int32_t id = t->byte_tok[p[i]];
    if (id < 0) id = t->unk;
    if (id >= 0) {
      int rc = sl__ids_push(out, id);
      if (rc) return rc;
    }
  }
  return 0;
}

int sl__spm_encode(const sl_tok_t *t, const char *text, size_t len, sl__ids_t *out) {
  if (len == 0) return 0;
  if (len > UINT32_MAX / 2) return SL_ETOOBIG;
  sym_t *s = malloc(len * sizeof *s);
  if (!s) return SL_ENOMEM;
  heap_t h = {0};
  int rc = 0;
  int32_t n = 0;
  for (size_t off = 0; off < len; n++) {
    size_t cl = sl__utf8_len((uint8_t)text[off]);
    if (cl > len - off) cl = len - off;
    s[n] = (sym_t){n - 1, -1, (uint32_t)off, (uint32_t)cl};
    if (n > 0) s[n - 1].next = n;
    off += cl;
  }
  for (int32_t i = 1; i < n && !rc; i++) rc = try_add(t, text, s, i - 1, i, &h);
  while (!rc && h.n) {
    bigram_t b = heap_pop(&h);
    sym_t *l = &s[b.left], *r = &s[b.right];
    if (l->n == 0 || r->n == 0 || l->n + r->n != b.size || l->next != b.right) continue;
    l->n += r->n;
    r->n = 0;
    l->next = r->next;
    if (r->next >= 0) s[r->next].prev = b.left;
    rc = try_add(t, text, s, l->prev, b.left, &h);
    if (!rc) rc = try_add(t, text, s, b.left, l->next, &h);
  }
  for (int32_t i = 0; !rc && n > 0 && i >= 0; i = s[i].next) {
    int32_t id = sl_tok_find(t, text + s[i].start, s[i].n);
    /* A merged symbol is always a token; a lone character may not be. */
    if (id >= 0)
      rc = sl__ids_push(out, id);
    else
      rc = emit_bytes(t, (const uint8_t *)text + s[i].start, s[i].n, out);
  }
  free(h.v);
  free(s);
  return rc;
}
