/* Typographic and width variants folded to ASCII before the detectors run, so
 * that a card number typed with full-width digits (a Japanese IME), grouped by
 * no-break spaces, an SSN with en dashes (what word processors turn hyphens
 * into), or an e-mail address with a zero-width space inside is found like its
 * plain form. Folding keeps a map from each folded byte to the original offset
 * of the character it came from, so findings are reported (and redacted) on the
 * original text. Folded:
 *   U+FF01..FF5E full-width ASCII      -> the ASCII character
 *   U+0660..0669, U+06F0..06F9 (Arabic-Indic digits) -> '0'..'9'
 *   U+00A0, U+2000..200A, U+202F, U+205F, U+3000 (spaces) -> ' '
 *   U+2010..2015, U+2212, U+FE58, U+FE63 (hyphens, dashes, minus) -> '-',
 *     between two ASCII letters or digits only ("512–84–3927"; a dash in
 *     prose, " — ", stays what it is: the detectors read it as punctuation)
 *   U+2018, U+2019, U+201A, U+201B -> '\'';  U+201C..201F -> '"'
 *   U+2028, U+2029 (line, paragraph separators) -> '\n'
 *   U+00AD, U+200B..200F, U+202A..202E, U+2060..2064, U+2066..2069, U+FEFF
 *   (soft hyphen, zero-width and direction marks) -> removed
 * Everything else is kept byte for byte; ASCII text is only scanned. */
#include "router_int.h"

#include <string.h>

/* What the character at p (UTF-8, n bytes left) folds to, on its own. */
static int fold_char(const unsigned char *p, size_t n, size_t *used) {
  *used = 1;
  if (p[0] < 0x80 || n < 2) return -1;
  if (p[0] == 0xC2) {
    *used = 2;
    return p[1] == 0xA0 ? ' ' : p[1] == 0xAD ? 0 : -1;
  }
  if (p[0] == 0xD9 || p[0] == 0xDB) {
    *used = 2;
    unsigned first = p[0] == 0xD9 ? 0xA0 : 0xB0; /* U+0660 / U+06F0 */
    return p[1] >= first && p[1] <= first + 9 ? (int)('0' + p[1] - first) : -1;
  }
  if (n < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80) return -1;
  *used = 3;
  unsigned cp = ((unsigned)(p[0] & 0x0F) << 12) | ((unsigned)(p[1] & 0x3F) << 6) | (p[2] & 0x3F);
  if (p[0] == 0xEF) {
    if (cp >= 0xFF01 && cp <= 0xFF5E) return (int)(cp - 0xFF01 + 0x21);
    if (cp == 0xFE58 || cp == 0xFE63) return '-';
    if (cp == 0xFEFF) return 0;
    return -1;
  }
  if (p[0] == 0xE3) return cp == 0x3000 ? ' ' : -1;
  if (p[0] != 0xE2) return -1;
  if (cp >= 0x2000 && cp <= 0x200A) return ' ';
  if (cp >= 0x200B && cp <= 0x200F) return 0;
  if (cp >= 0x2010 && cp <= 0x2015) return '-';
  switch (cp) {
  case 0x2018: case 0x2019: case 0x201A: case 0x201B: return '\'';
  case 0x201C: case 0x201D: case 0x201E: case 0x201F: return '"';
  case 0x2028: case 0x2029: return '\n';
  case 0x202F: case 0x205F: return ' ';
  case 0x2212: return '-';
  default: break;
  }
  if ((cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2060 && cp <= 0x2064) ||
      (cp >= 0x2066 && cp <= 0x2069))
    return 0;
  return -1;
}

static bool alnum_at(const unsigned char *t, size_t n, size_t i) {
  return i < n && ((t[i] >= '0' && t[i] <= '9') || ((t[i] | 0x20) >= 'a' && (t[i] | 0x20) <= 'z'));
}

/* What the character at t[i] (UTF-8, n bytes in all) folds to: its length in
 * *used, and the ASCII byte it becomes, 0 to remove it, or -1 when it stays;
 * a dash only between two ASCII letters or digits. */
static int fold_at(const unsigned char *t, size_t n, size_t i, size_t *used) {
  int c = fold_char(t + i, n - i, used);
  if (c == '-' && !(i > 0 && alnum_at(t, n, i - 1) && alnum_at(t, n, i + *used)))
    return -1;
  return c;
}

/* The lead bytes of every folded character. */
static bool lead(unsigned char c) {
  return c == 0xC2 || c == 0xD9 || c == 0xDB || c == 0xE2 || c == 0xE3 || c == 0xEF;
}

bool sl__fold_needed(const char *text, size_t len) {
  const unsigned char *t = (const unsigned char *)text;
  for (size_t i = 0; i < len;) {
    /* ASCII 8 bytes at a time */
    while (i + 8 <= len) {
      uint64_t w;
      memcpy(&w, t + i, 8);
      if (w & 0x8080808080808080ull) break;
      i += 8;
    }
    if (i >= len) break;
    if (!lead(t[i])) {
      i++;
      continue;
    }
    size_t used;
    if (fold_at(t, len, i, &used) >= 0) return true;
    i += used;
  }
  return false;
}

size_t sl__fold(const char *text, size_t len, char *out, uint32_t *map) {
  const unsigned char *t = (const unsigned char *)text;
  size_t k = 0;
  for (size_t i = 0; i < len;) {
    size_t used = 1;
    int c = lead(t[i]) ? fold_at(t, len, i, &used) : -1;
    if (c < 0) {
      for (size_t j = 0; j < used; j++) {
        out[k] = (char)t[i + j];
        map[k++] = (uint32_t)(i + j);
      }
    } else if (c > 0) {
      out[k] = (char)c;
      map[k++] = (uint32_t)i;
    }
    i += used;
  }
  map[k] = (uint32_t)len;
  return k;
}
