/* Typographic and width variants folded to ASCII before the detectors run, so
 * that a card number typed with full-width digits (a Japanese IME), grouped by
 * no-break spaces, an SSN with en dashes (what word processors turn hyphens
 * into), or an e-mail address with a zero-width space inside is found like its
 * plain form. Folding keeps a map from each folded byte to the original offset
 * of the character it came from, so findings are reported (and redacted) on the
 * original text. Folded:
 *   U+FF01..FF5E full-width ASCII      -> the ASCII character
 *   U+0660..0669, U+06F0..06F9 (Arabic-Indic digits) -> '0'..'9'
 *   U+1D7CE..1D7FF (mathematical bold, double-struck, sans-serif and
 *     monospace digits: "𝟓𝟏𝟐-𝟖𝟒-𝟑𝟗𝟐𝟕") -> '0'..'9'
 *   U+00A0, U+2000..200A, U+202F, U+205F, U+3000 (spaces) -> ' '
 *   U+2010..2015, U+2212, U+FE58, U+FE63 (hyphens, dashes, minus) -> '-',
 *     between two ASCII letters or digits only ("512–84–3927"; a dash in
 *     prose, " — ", stays what it is: the detectors read it as punctuation)
 *   U+2018, U+2019, U+201A, U+201B -> '\'';  U+201C..201F -> '"'
 *   U+2028, U+2029 (line, paragraph separators) -> '\n', or ' ' between two
 *     digits; a tab between two digits -> ' ' ("4111<TAB>1111<TAB>…", a
 *     spreadsheet's cells pasted: the groups of one number)
 *   the gap between two groups of a card number or an SSN written loosely
 *     (loose_space: "4556  7375", "512 - 84 - 3927", "512-84-<LF>3927") -> one
 *     space, or its hyphen
 *   U+00AD, U+200B..200F, U+202A..202E, U+2060..2064, U+2066..206F, U+FEFF,
 *   U+061C, U+034F, U+180E, U+115F, U+1160, U+3164, U+FFA0, U+FE00..FE0F,
 *   U+E0000..E007F, U+E0100..E01EF (soft hyphen, zero-width, direction and
 *   deprecated format marks, the grapheme joiner, Hangul fillers, variation
 *   selectors, tags: nothing a reader sees) -> removed
 *   U+0300..036F (combining marks) after a digit, a punctuation mark or a
 *   space (what is left once folded: "5́1́2́") -> removed; after a letter they
 *   stay (an accent written as a separate mark)
 *   %40 %2E %2D %5F %2B (URL encoding), &#64; &#x40; &commat; and the like
 *   (HTML) of @ . - _ + -> the character (what an address in a URL shows)
 *   JSON string escapes \n \r \t \" \/ \uXXXX (a surrogate pair as one
 *   character), after one backslash or more -> the character, then folded as
 *   above: a request's text often
 *   holds JSON text (a tool call's arguments, a tool result written by
 *   json.dumps, a pasted payload), where "SSN:\n512-84-3927" is an SSN on a
 *   line of its own and "Jos\u00e9" is a name. \u0000, a lone surrogate and
 *   \b \f stay as written.
 * A dash folds when the characters on both sides fold to ASCII letters or
 * digits (full-width digits included: "５１２－８４－３９２７").
 * Everything else is kept byte for byte; ASCII text is only scanned. */
#include "router_int.h"

#include "sl_str.h"

#include <ctype.h>
#include <string.h>

/* What the character at p (UTF-8, n bytes left) folds to, on its own. */
#define MARK (-2) /* a combining mark: removed or kept by what it follows (fold_at) */

/* The characters that join the parts of an address or a number, which URL and
 * HTML encoding hide: "maria%40acme.com", "maria&#64;acme.com". */
static bool joiner(int c) { return c == '@' || c == '.' || c == '-' || c == '_' || c == '+'; }

/* %XX, &#NN;, &#xHH; or a named entity of a joiner: the joiner, else -1. */
static int decode_escape(const unsigned char *p, size_t n, size_t *used) {
  if (p[0] == '%') {
    int h = n >= 3 ? sl_hexval((char)p[1]) : -1, l = n >= 3 ? sl_hexval((char)p[2]) : -1;
    if (h < 0 || l < 0 || !joiner(h * 16 + l)) return -1;
    *used = 3;
    return h * 16 + l;
  }
  static const struct {
    const char *name;
    char c;
  } named[] = {{"&commat;", '@'}, {"&period;", '.'}, {"&hyphen;", '-'}, {"&dash;", '-'}, {"&lowbar;", '_'},
               {"&plus;", '+'}};
  for (size_t i = 0; i < sizeof named / sizeof *named; i++) {
    size_t k = strlen(named[i].name);
    if (n >= k && !memcmp(p, named[i].name, k)) return *used = k, named[i].c;
  }
  if (n < 4 || p[1] != '#') return -1;
  bool hex = (p[2] | 0x20) == 'x';
  int v = 0;
  size_t i = hex ? 3 : 2;
  for (size_t start = i; i < n && i < start + 4 && p[i] != ';'; i++) {
    int d = hex ? sl_hexval((char)p[i]) : p[i] >= '0' && p[i] <= '9' ? p[i] - '0' : -1;
    if (d < 0) return -1;
    v = v * (hex ? 16 : 10) + d;
  }
  if (i >= n || p[i] != ';' || i == (hex ? 3u : 2u) || !joiner(v)) return -1;
  *used = i + 1;
  return v;
}

static int fold_char(const unsigned char *p, size_t n, size_t *used) {
  *used = 1;
  if (p[0] == '%' || p[0] == '&') return decode_escape(p, n, used);
  if (p[0] < 0x80 || n < 2) return -1;
  if (p[0] == 0xC2) {
    *used = 2;
    return p[1] == 0xA0 ? ' ' : p[1] == 0xAD ? 0 : -1;
  }
  if (p[0] == 0xCC || p[0] == 0xCD) { /* U+0300..037F */
    *used = 2;
    if (p[0] == 0xCD && p[1] == 0x8F) return 0; /* U+034F grapheme joiner */
    return p[0] == 0xCC || p[1] <= 0xAF ? MARK : -1;
  }
  if (p[0] == 0xD8) {
    *used = 2;
    return p[1] == 0x9C ? 0 : -1; /* U+061C Arabic letter mark */
  }
  if (p[0] == 0xF0) { /* U+1D7CE..1D7FF: F0 9D 9F 8E..BF, five sets of ten */
    if (n < 4 || p[1] != 0x9D || p[2] != 0x9F || p[3] < 0x8E || p[3] > 0xBF) return -1;
    *used = 4;
    return '0' + (p[3] - 0x8E) % 10;
  }
  if (p[0] == 0xF3) { /* U+E0000..E01EF: tags, variation selectors */
    if (n < 4 || p[1] != 0xA0) return -1;
    *used = 4;
    return p[2] == 0x80 || p[2] == 0x81 || (p[2] >= 0x84 && p[2] <= 0x87) ? 0 : -1;
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
    if (cp == 0xFEFF || cp == 0xFFA0 || (cp >= 0xFE00 && cp <= 0xFE0F)) return 0;
    return -1;
  }
  if (p[0] == 0xE3) return cp == 0x3000 ? ' ' : cp == 0x3164 ? 0 : -1;
  if (p[0] == 0xE1) return cp == 0x180E || cp == 0x115F || cp == 0x1160 ? 0 : -1;
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
      (cp >= 0x2066 && cp <= 0x206F))
    return 0;
  return -1;
}

static bool ascii_alnum(int c) { return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z'); }


/* The character at t[i] as folded on its own: the ASCII byte, -1 for one that
 * stays (or none: i past the end), 0 or MARK for one removed or a mark. */
static int folded_at(const unsigned char *t, size_t n, size_t i, size_t *used) {
  *used = 1;
  if (i >= n) return -1;
  int c = fold_char(t + i, n - i, used);
  return c == -1 && t[i] < 0x80 ? t[i] : c; /* ASCII that does not fold is itself */
}

/* The character before t[i], passing over removed characters and combining
 * marks (what they are attached to is what counts), as folded_at says; -1 at
 * the start. */
static int folded_before(const unsigned char *t, size_t n, size_t i) {
  while (i > 0) {
    size_t s = i - 1, used;
    while (s > 0 && i - s < 4 && (t[s] & 0xC0) == 0x80) s--;
    int c = folded_at(t, n, s, &used);
    if (c != 0 && c != MARK) return c;
    i = s;
  }
  return -1;
}

/* What the character at t[i] (UTF-8, n bytes in all) folds to: its length in
 * *used, and the ASCII byte it becomes, 0 to remove it, or -1 when it stays;
 * a dash only between two characters that fold to ASCII letters or digits, a
 * combining mark removed unless it follows a letter. */
/* Whether the space at t[i] is one too many in the gap between two groups of
 * a card number or an SSN written loosely: two or three spaces ("4556  7375",
 * text taken from a PDF or a form), or spaces around a hyphen ("512 - 84 -
 * 3927"), or a line break beside its hyphen ("512-84-<LF>3927": a number
 * wrapped, or split between two parts of a message, which are joined by a
 * line break). The gap folds to one space, or to its hyphen. Only between
 * groups of those numbers' lengths (4 and 4; 3, 2 and 4; American Express's
 * 4, 6 and 5): a table's aligned columns ("133   171   204") stay apart. */
static bool gap_byte(unsigned char c) { return c == ' ' || c == '-' || c == '\n'; }
static bool loose_space(const unsigned char *t, size_t n, size_t i) {
  size_t a = i, b = i + 1;
  while (a > 0 && i - a < 3 && gap_byte(t[a - 1])) a--;
  while (b < n && b - i < 3 && gap_byte(t[b])) b++;
  if (a == 0 || b >= n || b - a < 2 || b - a > 3 || !isdigit(t[a - 1]) || !isdigit(t[b]))
    return false;
  size_t l = 0, r = 0;
  while (l < 7 && l < a && isdigit(t[a - 1 - l])) l++;
  while (r < 7 && b + r < n && isdigit(t[b + r])) r++;
  if (l == 7 || r == 7 || (a > l && isalnum(t[a - 1 - l])) || (b + r < n && isalnum(t[b + r])))
    return false;
  static const unsigned char groups[][2] = {{4, 4}, {3, 2}, {2, 4}, {4, 6}, {6, 5}};
  bool group = false;
  for (size_t k = 0; k < sizeof groups / sizeof *groups; k++)
    group |= l == groups[k][0] && r == groups[k][1];
  if (!group) return false;
  int hyphens = 0, breaks = 0;
  for (size_t k = a; k < b; k++) hyphens += t[k] == '-', breaks += t[k] == '\n';
  if (breaks && ((l == 3 && r == 2) || (l == 2 && r == 4))) {
    /* an SSN's gap only in a whole 3-2-4 ("2023-12-<LF>2024" is no SSN): the
     * group beyond, past one hyphen, has the third length */
    bool left = l == 2;
    size_t g = left ? a - l : b + r, want = left ? 3 : 4, d = 0;
    if (left ? !(g > 0 && t[g - 1] == '-') : !(g < n && t[g] == '-')) return false;
    if (left)
      while (d < 5 && g - 1 > d && isdigit(t[g - 2 - d])) d++;
    else
      while (d < 5 && g + 1 + d < n && isdigit(t[g + 1 + d])) d++;
    size_t edge = left ? g - 1 - d : g + 1 + d; /* the byte past that group */
    if (d != want || (left ? edge > 0 && isalnum(t[edge - 1]) : edge < n && isalnum(t[edge]))) return false;
  }
  return hyphens == 1 || (hyphens == 0 && breaks == 0 && i > a);
}

static int fold_at(const unsigned char *t, size_t n, size_t i, size_t *used) {
  *used = 1;
  if (t[i] == ' ' || t[i] == '\n') return loose_space(t, n, i) ? 0 : -1;
  int c = t[i] == '\t' ? '\t' : fold_char(t + i, n - i, used);
  if (c == '\t' || c == '\n') { /* a tab, a line or paragraph separator */
    size_t u;
    int b = folded_before(t, n, i), a = folded_at(t, n, i + *used, &u);
    if (b >= '0' && b <= '9' && a >= '0' && a <= '9') return ' ';
    return c == '\t' ? -1 : c;
  }
  if (c == '-') {
    size_t u;
    if (!(ascii_alnum(folded_before(t, n, i)) && ascii_alnum(folded_at(t, n, i + *used, &u)))) return -1;
  } else if (c == MARK) {
    int b = folded_before(t, n, i);
    return b >= 0 && b < 0x80 && !((b | 0x20) >= 'a' && (b | 0x20) <= 'z') ? 0 : -1;
  }
  return c;
}

/* The lead bytes of every folded character, but for a space in a loose gap
 * (gap_side). */
static const bool lead_byte[256] = {[0xC2] = 1, [0xCC] = 1, [0xCD] = 1, [0xD8] = 1, [0xD9] = 1,
                                    [0xDB] = 1, [0xE1] = 1, [0xE2] = 1, [0xE3] = 1, [0xEF] = 1,
                                    [0xF0] = 1, [0xF3] = 1, ['%'] = 1,  ['&'] = 1, ['\t'] = 1, ['\\'] = 1};
static bool lead(unsigned char c) { return lead_byte[c]; }

/* Whether a space or a line break at t[i] may be part of a loose gap
 * (loose_space): it has a space or a hyphen beside it. */
static bool gap_side(const unsigned char *t, size_t n, size_t i) {
  return (i > 0 && (t[i - 1] == ' ' || t[i - 1] == '-')) ||
         (i + 1 < n && (t[i + 1] == ' ' || t[i + 1] == '-'));
}

/* Whether one of the bytes c in t starts something that folds (an escape of a
 * joiner, a tab between digits). */
static bool escape_in(const unsigned char *t, size_t len, int c) {
  for (const unsigned char *p = memchr(t, c, len); p; p = memchr(p + 1, c, len - (size_t)(p + 1 - t))) {
    size_t used;
    if (fold_at(t, len, (size_t)(p - t), &used) >= 0) return true;
  }
  return false;
}

/* Whether t holds a JSON string escape. */
static bool json_escape_in(const unsigned char *t, size_t len) {
  for (const unsigned char *p = memchr(t, '\\', len); p;) {
    unsigned char out[4];
    size_t used;
    if (sl_json_escape_at(t, len, (size_t)(p - t), out, &used)) return true;
    p += used;
    p = p < t + len ? memchr(p, '\\', len - (size_t)(p - t)) : NULL;
  }
  return false;
}

/* Whether the pair of bytes at t[k] ("  ", " -", "- ", "-<LF>" or "<LF>-")
 * holds a space or line break that loose_space() removes. */
static bool loose_pair(const unsigned char *t, size_t len, size_t k) {
  size_t i = k + (t[k] == '-'); /* the pair's space or line break */
  return loose_space(t, len, i) || (i + 1 < len && t[i + 1] == ' ' && loose_space(t, len, i + 1));
}

/* Whether t holds a space that loose_space() removes: the pairs found 32
 * bytes at a time (prose has a space every few bytes, such pairs are rare). */
static bool loose_gap_in(const unsigned char *t, size_t len) {
  size_t k = 0;
  for (; k + 33 <= len; k += 32) {
    u8x32 a = *(const u8x32 *)(t + k), b = *(const u8x32 *)(t + k + 1);
    s8x32 sa = (s8x32)(a == ' '), sb = (s8x32)(b == ' ');
    s8x32 ha = (s8x32)(a == '-'), hb = (s8x32)(b == '-');
    uint32_t m = sl__movemask32((sa & (sb | hb)) | (ha & (sb | (s8x32)(b == '\n'))) | ((s8x32)(a == '\n') & hb));
    for (; m; m &= m - 1)
      if (loose_pair(t, len, k + (size_t)__builtin_ctz(m))) return true;
  }
  for (; k + 1 < len; k++)
    if (((t[k] == ' ' && (t[k + 1] == ' ' || t[k + 1] == '-')) ||
         (t[k] == '-' && (t[k + 1] == ' ' || t[k + 1] == '\n')) || (t[k] == '\n' && t[k + 1] == '-')) &&
        loose_pair(t, len, k))
      return true;
  return false;
}

bool sl__fold_needed(const char *text, size_t len) {
  const unsigned char *t = (const unsigned char *)text;
  if (len && (escape_in(t, len, '%') || escape_in(t, len, '&') || escape_in(t, len, '\t') ||
              json_escape_in(t, len) || loose_gap_in(t, len)))
    return true;
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

/* What a JSON escape (t[i], decoded to dec[0..nd), used bytes) folds to, as
 * fold_at says of the character itself, written at out[k]; the new k. Its
 * neighbours: the byte already folded before it, the character after it. */
static size_t fold_escape(const unsigned char *t, size_t len, size_t i, size_t used,
                          const unsigned char *dec, size_t nd, char *out, uint32_t *map, size_t k) {
  size_t u;
  int c = nd == 1 ? dec[0] : fold_char(dec, nd, &u);
  if (c == '\t' || (c == '\n' && nd > 1)) { /* a tab or U+2028 between two digits */
    int a = folded_at(t, len, i + used, &u);
    if (k && out[k - 1] >= '0' && out[k - 1] <= '9' && a >= '0' && a <= '9') c = ' ';
  } else if ((c == '-' && nd > 1 && !(k && ascii_alnum(out[k - 1]))) || c == MARK) {
    c = -1;
  }
  if (c > 0) {
    out[k] = (char)c;
    map[k++] = (uint32_t)i;
  }
  for (size_t j = 0; c < 0 && j < nd; j++) {
    out[k] = (char)dec[j];
    map[k++] = (uint32_t)i;
  }
  return k;
}

/* A digit within 3 bytes before i and within 3 after it: what a loose gap
 * needs around it (loose_space), looked at first. */
static bool digits_around(const unsigned char *t, size_t n, size_t i) {
  bool before = false, after = false;
  for (size_t k = i > 3 ? i - 3 : 0; k < i && !before; k++) before = isdigit(t[k]);
  for (size_t k = i + 1; k < n && k <= i + 3 && !after; k++) after = isdigit(t[k]);
  return before && after;
}

static bool folds(const unsigned char *t, size_t n, size_t i) {
  return lead(t[i]) || ((t[i] == ' ' || t[i] == '\n') && gap_side(t, n, i) && digits_around(t, n, i));
}

/* Where the bytes from i that fold to nothing else end: 32 at a time, a
 * vector compare keeping the bytes that may fold (a superset: every byte
 * from 0xC2, and a space or line break beside a space or hyphen). */
static size_t plain_run(const unsigned char *t, size_t n, size_t i) {
  if (i == 0 && i < n) { /* (the vector reads a byte before) */
    if (folds(t, n, 0)) return 0;
    i = 1;
  }
  for (; i + 33 <= n; i += 32) {
    u8x32 v, b, a; /* the bytes, the bytes before, the bytes after */
    memcpy(&v, t + i, 32);
    memcpy(&b, t + i - 1, 32);
    memcpy(&a, t + i + 1, 32);
    s8x32 side = (s8x32)((b == ' ') | (b == '-') | (a == ' ') | (a == '-'));
    s8x32 m = (s8x32)((v >= 0xC2) | (v == '%') | (v == '&') | (v == '\t') | (v == '\\')) |
              ((s8x32)((v == ' ') | (v == '\n')) & side);
    for (uint32_t bits = sl__movemask32(m); bits; bits &= bits - 1)
      if (folds(t, n, i + (unsigned)__builtin_ctz(bits))) return i + (unsigned)__builtin_ctz(bits);
  }
  while (i < n && !folds(t, n, i)) i++;
  return i;
}

size_t sl__fold(const char *text, size_t len, char *out, uint32_t *map) {
  const unsigned char *t = (const unsigned char *)text;
  size_t k = 0;
  for (size_t i = 0; i < len;) {
    size_t run = plain_run(t, len, i); /* bytes that fold to nothing else, copied as they are */
    memcpy(out + k, t + i, run - i);
    for (; i < run; i++) map[k++] = (uint32_t)i;
    if (i == len) break;
    size_t used = 1;
    unsigned char dec[4];
    size_t nd = t[i] == '\\' ? sl_json_escape_at(t, len, i, dec, &used) : 0;
    /* (a run of backslashes that escapes nothing is copied as it is) */
    int c = nd || t[i] == '\\' ? -1 : fold_at(t, len, i, &used);
    if (nd) {
      k = fold_escape(t, len, i, used, dec, nd, out, map, k);
    } else if (c < 0) {
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
