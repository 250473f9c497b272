/* `sluice tokenize`: reads {"text": "..."} lines on stdin and writes one
 * {"ids": [...]} line per input, with the tokenizer of a GGUF model or of a
 * Hugging Face tokenizer.json. Special-token text ("<|im_end|>") is parsed into its
 * id, as llama.cpp's llama-tokenize and the HF/JS tokenizers do; --special also
 * adds BOS/EOS where the vocabulary asks for them. A bad line gets an
 * {"error": "..."} line (so outputs stay aligned with inputs) and exit code 1. */
#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_input.h"
#include "gguf.h"
#include "sl_buf.h"
#include "sl_err.h"
#include "sl_json.h"
#include "tokenizer.h"

/* A line is JSON text: at most 6 bytes per text byte (\uXXXX) plus the wrapper. */
#define LINE_MAX_BYTES (SL_TOK_MAX_TEXT * 6 + 4096)

static void usage(void) {
  fprintf(stderr, "usage: sluice tokenize (--model FILE.gguf | --tokenizer tokenizer.json) "
                  "[--special] [--no-parse-special] [--decode]\n"
                  "  stdin: {\"text\": \"...\"} lines; stdout: {\"ids\": [...]} lines\n"
                  "  --special           add BOS/EOS as the vocabulary asks\n"
                  "  --no-parse-special  tokenize control-token text as plain text\n"
                  "  --decode            also print the decoded text (special tokens shown)\n");
}

/* ---- the "text" member, NULs included ----
 * cJSON hands strings back NUL-terminated, so "\u0000" would cut the text short.
 * The line is validated with cJSON first; this small scanner then finds the
 * top-level "text" member and decodes it into a byte buffer. */

static const char *skip_ws(const char *p, const char *e) {
  while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
  return p;
}

/* Decodes the JSON string starting at the quote *p into out (if non-NULL); returns
 * the position after the closing quote, or NULL. Lone surrogates become U+FFFD,
 * as JavaScript's TextEncoder does. */
static const char *json_string(const char *p, const char *e, sl_buf_t *out) {
  if (p >= e || *p != '"') return NULL;
  for (p++; p < e; p++) {
    char c = *p;
    if (c == '"') return p + 1;
    if (c != '\\') {
      if (out && sl_buf_append(out, p, 1)) return NULL;
      continue;
    }
    if (++p >= e) return NULL;
    char esc = *p, ch = 0;
    switch (esc) {
    case '"': ch = '"'; break;
    case '\\': ch = '\\'; break;
    case '/': ch = '/'; break;
    case 'b': ch = '\b'; break;
    case 'f': ch = '\f'; break;
    case 'n': ch = '\n'; break;
    case 'r': ch = '\r'; break;
    case 't': ch = '\t'; break;
    case 'u': {
      unsigned cp, lo;
      if (!sl_json_hex4(p + 1, e, &cp)) return NULL;
      p += 4;
      if (cp >= 0xD800 && cp <= 0xDBFF && e - p >= 7 && p[1] == '\\' && p[2] == 'u' &&
          sl_json_hex4(p + 3, e, &lo) && lo >= 0xDC00 && lo <= 0xDFFF) {
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        p += 6;
      } else if (cp >= 0xD800 && cp <= 0xDFFF) {
        cp = 0xFFFD;
      }
      char u[4];
      size_t n = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
      if (n == 1) u[0] = (char)cp;
      else if (n == 2) u[0] = (char)(0xC0 | (cp >> 6)), u[1] = (char)(0x80 | (cp & 0x3F));
      else if (n == 3)
        u[0] = (char)(0xE0 | (cp >> 12)), u[1] = (char)(0x80 | ((cp >> 6) & 0x3F)),
        u[2] = (char)(0x80 | (cp & 0x3F));
      else
        u[0] = (char)(0xF0 | (cp >> 18)), u[1] = (char)(0x80 | ((cp >> 12) & 0x3F)),
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F)), u[3] = (char)(0x80 | (cp & 0x3F));
      if (out && sl_buf_append(out, u, n)) return NULL;
      continue;
    }
    default: return NULL;
    }
    if (out && sl_buf_append(out, &ch, 1)) return NULL;
  }
  return NULL;
}

/* Skips one JSON value (already validated by cJSON, so only nesting matters). */
static const char *skip_value(const char *p, const char *e) {
  int depth = 0;
  while (p < e) {
    char c = *p;
    if (c == '"') {
      if (!(p = json_string(p, e, NULL))) return NULL;
    } else {
      if (c == '{' || c == '[') depth++;
      if (c == '}' || c == ']') {
        if (depth == 0) return p;
        depth--;
      }
      if (c == ',' && depth == 0) return p;
      p++;
    }
    if (depth == 0 && p < e && (*p == ',' || *p == '}')) return p;
  }
  return p;
}

/* The top-level "text" string of a validated object line, into out. */
static int text_member(const char *line, size_t n, sl_buf_t *out) {
  const char *p = skip_ws(line, line + n), *e = line + n;
  if (p >= e || *p++ != '{') return SL_EPARSE;
  for (;;) {
    p = skip_ws(p, e);
    sl_buf_t key;
    sl_buf_init(&key, 64);
    const char *q = json_string(p, e, &key);
    bool is_text = key.len == 4 && !memcmp(key.data, "text", 4);
    sl_buf_free(&key);
    if (!q) return SL_EPARSE;
    p = skip_ws(q, e);
    if (p >= e || *p++ != ':') return SL_EPARSE;
    p = skip_ws(p, e);
    if (is_text) {
      sl_buf_reset(out);
      if (sl_buf_append(out, "", 0) || !json_string(p, e, out)) return SL_EPARSE;
      return 0;
    }
    if (!(p = skip_value(p, e))) return SL_EPARSE;
    p = skip_ws(p, e);
    if (p >= e || *p != ',') return SL_ENOTFOUND;
    p++;
  }
}

/* JSON string of n bytes (NULs included); UTF-8 passes through. */
static int put_json_string(sl_buf_t *b, const char *s, size_t n) {
  int rc = sl_buf_append(b, "\"", 1);
  size_t from = 0;
  for (size_t i = 0; !rc && i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    rc = sl_buf_append(b, s + from, i - from);
    if (!rc) rc = sl_buf_printf(b, c == '"' ? "\\\"" : c == '\\' ? "\\\\" : c == '\n' ? "\\n" : "\\u%04x", c);
    from = i + 1;
  }
  if (!rc) rc = sl_buf_append(b, s + from, n - from);
  if (!rc) rc = sl_buf_append(b, "\"", 1);
  return rc;
}

static void print_error(const char *msg) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "error", msg);
  char *s = cJSON_PrintUnformatted(o);
  if (s) puts(s);
  free(s);
  cJSON_Delete(o);
}

int sl_cli_tokenize(int argc, char **argv) {
  const char *model = NULL, *json = NULL;
  bool special = false, parse_special = true, decode = false;
  for (int i = 0; i < argc; i++) {
    if (!strcmp(argv[i], "--model") && i + 1 < argc) {
      model = argv[++i];
    } else if (!strcmp(argv[i], "--tokenizer") && i + 1 < argc) {
      json = argv[++i];
    } else if (!strcmp(argv[i], "--special")) {
      special = true;
    } else if (!strcmp(argv[i], "--no-parse-special")) {
      parse_special = false;
    } else if (!strcmp(argv[i], "--decode")) {
      decode = true;
    } else if (sl_cli_is_help(argv[i])) {
      usage();
      return 0;
    } else {
      fprintf(stderr, "sluice tokenize: unknown argument '%s'\n", argv[i]);
      usage();
      return 2;
    }
  }
  if (!model == !json) {
    usage();
    return 2;
  }

  char err[512] = "";
  sl_tok_t *tok = NULL;
  if (model) {
    sl_gguf_t *g = sl_gguf_open(model, err, sizeof err);
    if (g) {
      tok = sl_tok_from_gguf(g, err, sizeof err);
      sl_gguf_close(g);
    }
  } else {
    tok = sl_tok_from_json(json, err, sizeof err);
  }
  if (!tok) {
    fprintf(stderr, "sluice tokenize: %s: %s\n", model ? model : json, err);
    return 1;
  }

  int status = 0;
  sl_buf_t out, txt;
  sl_buf_init(&out, (size_t)1 << 30);
  sl_buf_init(&txt, SL_TOK_MAX_TEXT);
  char *line = NULL;
  size_t cap = 0;
  ssize_t got;
  bool too_long;
  while ((got = sl_cli_read_line(stdin, &line, &cap, LINE_MAX_BYTES, &too_long)) >= 0) {
    if (too_long) {
      print_error("line exceeds its limit");
      status = 1;
      continue;
    }
    size_t n = (size_t)got;
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = '\0';
    if (n == 0) continue;
    /* one value and nothing after it, no member twice (readers disagree on
     * which counts); "\u0000" stays allowed (text_member keeps it) */
    cJSON *in = sl_json_parse_whole(line, n, false);
    if (!in && memmem(line, n, "\\u", 2)) {
      sl_json_mend_surrogates(line, n); /* (U+FFFD, as json_string() reads them) */
      in = sl_json_parse_whole(line, n, false);
    }
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(in, "text");
    const char *dup = in ? sl_json_dup_key(in, NULL, 0) : NULL;
    if (dup) {
      char m[160];
      snprintf(m, sizeof m, "member \"%.100s\" appears twice in one object", dup);
      print_error(m);
      cJSON_Delete(in);
      status = 1;
      continue;
    }
    if (!cJSON_IsString(text)) {
      print_error(in ? "expected {\"text\": \"...\"}" : "not valid JSON: expected {\"text\": \"...\"}");
      cJSON_Delete(in);
      status = 1;
      continue;
    }
    cJSON_Delete(in);
    int32_t *ids = NULL;
    size_t n_ids = 0;
    int rc = text_member(line, n, &txt);
    if (!rc)
      rc = sl_tok_encode(tok, txt.data, txt.len, special, parse_special, &ids, &n_ids);
    if (rc) {
      /* (the text buffer stops taking bytes at its limit) */
      print_error(txt.len + 4 >= SL_TOK_MAX_TEXT ? "the text is longer than 64 MiB, the limit of one line"
                                                 : sl_strerror(rc));
      status = 1;
      continue;
    }
    sl_buf_reset(&out);
    rc = sl_buf_puts(&out, "{\"ids\":[");
    for (size_t i = 0; !rc && i < n_ids; i++)
      rc = sl_buf_printf(&out, i ? ",%d" : "%d", ids[i]);
    if (!rc) rc = sl_buf_puts(&out, "]");
    if (!rc && decode) {
      char *dec = NULL;
      size_t dec_len = 0;
      rc = sl_tok_decode(tok, ids, n_ids, true, true, &dec, &dec_len);
      if (!rc) rc = sl_buf_puts(&out, ",\"text\":");
      if (!rc) rc = put_json_string(&out, dec, dec_len);
      free(dec);
    }
    if (!rc) rc = sl_buf_puts(&out, "}");
    free(ids);
    if (rc) {
      print_error(sl_strerror(rc));
      status = 1;
      continue;
    }
    fwrite(out.data, 1, out.len, stdout);
    fputc('\n', stdout);
  }
  if (got == -2) { /* input that cannot be read is no end of input */
    print_error(sl_strerror(SL_EIO));
    status = 1;
  }
  free(line);
  sl_buf_free(&out);
  sl_buf_free(&txt);
  sl_tok_free(tok);
  return status;
}
