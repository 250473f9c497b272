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
#include "gguf.h"
#include "sl_buf.h"
#include "sl_err.h"
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
    } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
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
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  sl_buf_t out;
  sl_buf_init(&out, (size_t)1 << 30);
  while ((n = getline(&line, &cap, stdin)) >= 0) {
    if ((size_t)n > LINE_MAX_BYTES) {
      print_error("line exceeds its limit");
      status = 1;
      continue;
    }
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = '\0';
    if (n == 0) continue;
    cJSON *in = cJSON_ParseWithLength(line, (size_t)n);
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(in, "text");
    if (!cJSON_IsString(text)) {
      print_error("expected {\"text\": \"...\"}");
      cJSON_Delete(in);
      status = 1;
      continue;
    }
    /* cJSON strings stop at an embedded NUL ("\u0000"); such text is cut there. */
    int32_t *ids = NULL;
    size_t n_ids = 0;
    int rc = sl_tok_encode(tok, text->valuestring, strlen(text->valuestring), special,
                           parse_special, &ids, &n_ids);
    cJSON_Delete(in);
    if (rc) {
      print_error(sl_strerror(rc));
      status = 1;
      continue;
    }
    sl_buf_reset(&out);
    rc = sl_buf_puts(&out, "{\"ids\":[");
    for (size_t i = 0; !rc && i < n_ids; i++)
      rc = sl_buf_printf(&out, i ? ",%d" : "%d", ids[i]);
    if (!rc) rc = sl_buf_puts(&out, "]");
    if (!rc && decode) {
      char *txt = NULL;
      rc = sl_tok_decode(tok, ids, n_ids, true, true, &txt, NULL);
      if (!rc) {
        cJSON *s = cJSON_CreateString(txt);
        char *js = s ? cJSON_PrintUnformatted(s) : NULL;
        rc = js ? sl_buf_printf(&out, ",\"text\":%s", js) : SL_ENOMEM;
        free(js);
        cJSON_Delete(s);
      }
      free(txt);
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
  free(line);
  sl_buf_free(&out);
  sl_tok_free(tok);
  return status;
}
