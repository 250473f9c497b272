/* The English lexicon: is a word an English word? A Bloom filter of Debian
 * wamerican's lower-case words (router/lexicon_data.c, made by
 * router/tools/gen_lexicon.js), decoded once. It lets the name rules tell a
 * capitalised English word ("Support", "Kindly", "Logged") from an unknown one
 * that may be a name ("Papadakis", "Aroha"); the gazetteer holds names, not the
 * language. About 0.1 % of the words it has not seen read as English (a name
 * missed, never one invented). Only the rarer name rules ask it. */
#include "router_int.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>

#define LEX_BITS (1u << 20)
#define LEX_PROBES 7

extern const char sl__lexicon_b64[];

static uint8_t lex[LEX_BITS / 8];
static pthread_once_t lex_once = PTHREAD_ONCE_INIT;

static int b64v(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  return c == '+' ? 62 : c == '/' ? 63 : -1;
}

static void lex_init(void) {
  const unsigned char *s = (const unsigned char *)sl__lexicon_b64;
  size_t o = 0;
  uint32_t acc = 0;
  int nb = 0;
  for (; *s && o < sizeof lex; s++) {
    int v = b64v(*s);
    if (v < 0) continue; /* '=' padding */
    acc = (acc << 6) | (uint32_t)v;
    nb += 6;
    if (nb >= 8) {
      nb -= 8;
      lex[o++] = (uint8_t)(acc >> nb);
    }
  }
}

void sl__lexicon_init(void) { pthread_once(&lex_once, lex_init); }

bool sl__lexicon_has(const char *w, size_t n) {
  if (n < 1 || n > 40) return false;
  pthread_once(&lex_once, lex_init);
  uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a 64 of the lower-cased word */
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)w[i];
    if (c >= 'A' && c <= 'Z') c += 32;
    else if (c < 'a' || c > 'z')
      return false; /* the lexicon has only [a-z] words */
    h = (h ^ c) * 0x100000001b3ull;
  }
  uint32_t h1 = (uint32_t)h, h2 = (uint32_t)(h >> 32) | 1;
  for (uint32_t i = 0; i < LEX_PROBES; i++) {
    uint32_t b = (uint32_t)(((uint64_t)h1 + (uint64_t)i * h2) % LEX_BITS);
    if (!(lex[b >> 3] >> (b & 7) & 1)) return false;
  }
  return true;
}

bool sl_router_english_word(const char *w, size_t n) { return sl__lexicon_has(w, n); }
