/* The chat-template families in C (see chat_template.h). Each family is a small
 * function that writes markup through mark() and message text through body(), so
 * the renderer knows which bytes are markup: those spans are where control tokens
 * may be parsed when the prompt is encoded. Layouts follow each family's reference
 * Jinja template (Meta's Llama 2 and 3 Instruct, Qwen's ChatML, Mistral Instruct
 * v0.2, Gemma, Phi-3), minus the BOS the tokenizer adds itself. */
#include "chat_template.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sl_buf.h"
#include "sl_err.h"

typedef struct {
  sl_buf_t b;
  sl_tok_span_t *spans;
  size_t n, cap;
  int rc; /* first error; later writes are no-ops */
} render_t;

static void mark_n(render_t *r, const char *s, size_t n) {
  if (r->rc || n == 0) return;
  size_t off = r->b.len;
  if ((r->rc = sl_buf_append(&r->b, s, n))) return;
  if (r->n && r->spans[r->n - 1].off + r->spans[r->n - 1].len == off) {
    r->spans[r->n - 1].len += n; /* adjacent markup: one span */
    return;
  }
  if (r->n == r->cap) {
    size_t cap = r->cap ? r->cap * 2 : 16;
    sl_tok_span_t *p = realloc(r->spans, cap * sizeof *p);
    if (!p) {
      r->rc = SL_ENOMEM;
      return;
    }
    r->spans = p;
    r->cap = cap;
  }
  r->spans[r->n++] = (sl_tok_span_t){off, n};
}

static void mark(render_t *r, const char *s) { mark_n(r, s, strlen(s)); }

static void body_n(render_t *r, const char *s, size_t n) {
  if (!r->rc && n) r->rc = sl_buf_append(&r->b, s, n);
}

static void body(render_t *r, const char *s) { body_n(r, s, strlen(s)); }

/* Length of the whitespace character at s (n bytes left), 0 if none: Python's
 * str.isspace() set, which Jinja's |trim and str.strip() use. */
static size_t space_len(const unsigned char *s, size_t n) {
  if (n && ((s[0] >= 0x09 && s[0] <= 0x0D) || s[0] == ' ' || (s[0] >= 0x1C && s[0] <= 0x1F)))
    return 1;
  if (n >= 2 && s[0] == 0xC2 && (s[1] == 0x85 || s[1] == 0xA0)) return 2;
  if (n >= 3) {
    unsigned cp = ((s[0] & 0x0Fu) << 12) | ((s[1] & 0x3Fu) << 6) | (s[2] & 0x3Fu);
    if ((s[0] & 0xF0) == 0xE0 && (s[1] & 0xC0) == 0x80 && (s[2] & 0xC0) == 0x80 &&
        (cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
         cp == 0x202F || cp == 0x205F || cp == 0x3000))
      return 3;
  }
  return 0;
}

/* s without leading (lead) and trailing (trail) whitespace, as [*p, *p + *n). */
static void strip(const char *s, bool lead, bool trail, const char **p, size_t *n) {
  const unsigned char *b = (const unsigned char *)s, *e = b + strlen(s);
  size_t k;
  if (lead)
    while (b < e && (k = space_len(b, (size_t)(e - b)))) b += k;
  if (trail) {
    /* Walk forward, remembering where the last non-space character ends. */
    const unsigned char *q = b, *last = b;
    while (q < e) {
      if ((k = space_len(q, (size_t)(e - q)))) {
        q += k;
      } else {
        q++;
        while (q < e && (*q & 0xC0) == 0x80) q++;
        last = q;
      }
    }
    e = last;
  }
  *p = (const char *)b;
  *n = (size_t)(e - b);
}

static void body_trim(render_t *r, const char *s) {
  const char *p;
  size_t n;
  strip(s, true, true, &p, &n);
  body_n(r, p, n);
}

static bool role_is(const sl_msg_t *m, const char *role) {
  return m->role && !strcmp(m->role, role);
}

/* A role is markup only when it is one we know; anything else a client sent is
 * written as text, so it cannot smuggle control tokens into the header. */
static void role(render_t *r, const sl_msg_t *m, const char *dflt) {
  static const char *known[] = {"system", "user", "assistant", "tool", "ipython", "developer"};
  const char *s = m->role ? m->role : dflt;
  for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
    if (!strcmp(s, known[i])) {
      mark(r, s);
      return;
    }
  body(r, s);
}

/* ---- families ---- */

static void llama3(render_t *r, const sl_chat_req_t *q, bool gen) {
  for (size_t i = 0; i < q->n_msgs; i++) {
    const sl_msg_t *m = &q->msgs[i];
    mark(r, "<|start_header_id|>");
    /* Llama 3.1 names tool results "ipython". */
    if (role_is(m, "tool"))
      mark(r, "ipython");
    else
      role(r, m, "user");
    mark(r, "<|end_header_id|>\n\n");
    body_trim(r, m->content);
    mark(r, "<|eot_id|>");
  }
  if (gen) mark(r, "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

/* Qwen's ChatML, including its tool-call and tool-response layout. */
static void chatml(render_t *r, const sl_chat_req_t *q, bool gen) {
  for (size_t i = 0; i < q->n_msgs; i++) {
    const sl_msg_t *m = &q->msgs[i];
    if (role_is(m, "tool")) {
      bool first = i == 0 || !role_is(&q->msgs[i - 1], "tool");
      bool last = i + 1 == q->n_msgs || !role_is(&q->msgs[i + 1], "tool");
      if (first) mark(r, "<|im_start|>user");
      mark(r, "\n<tool_response>\n");
      body(r, m->content);
      mark(r, "\n</tool_response>");
      if (last) mark(r, "<|im_end|>\n");
      continue;
    }
    mark(r, "<|im_start|>");
    role(r, m, "user");
    mark(r, "\n");
    body(r, m->content);
    if (role_is(m, "assistant") && m->tool_calls) {
      cJSON *calls = cJSON_Parse(m->tool_calls);
      const cJSON *c, *list = cJSON_IsArray(calls) ? calls : NULL;
      bool first = true;
      cJSON_ArrayForEach(c, list) {
        const cJSON *fn = cJSON_GetObjectItemCaseSensitive(c, "function");
        if (!fn) fn = c;
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(fn, "name");
        const cJSON *args = cJSON_GetObjectItemCaseSensitive(fn, "arguments");
        if ((first && m->content[0]) || !first) mark(r, "\n");
        first = false;
        mark(r, "<tool_call>\n{\"name\": \"");
        body(r, cJSON_IsString(name) ? name->valuestring : "");
        mark(r, "\", \"arguments\": ");
        if (cJSON_IsString(args)) {
          body(r, args->valuestring);
        } else {
          char *js = args ? cJSON_PrintUnformatted(args) : NULL;
          body(r, js ? js : "{}");
          free(js);
        }
        mark(r, "}\n</tool_call>");
      }
      cJSON_Delete(calls);
    }
    mark(r, "<|im_end|>\n");
  }
  if (gen) mark(r, "<|im_start|>assistant\n");
}

/* Meta's Llama 2 chat: the system prompt goes inside the first [INST] block. */
static void llama2(render_t *r, const sl_chat_req_t *q, bool gen) {
  (void)gen; /* the prompt ends with [/INST] either way */
  size_t i = 0;
  const char *sys = NULL;
  if (q->n_msgs && role_is(&q->msgs[0], "system")) sys = q->msgs[i++].content;
  bool first = true;
  for (; i < q->n_msgs; i++) {
    const sl_msg_t *m = &q->msgs[i];
    if (role_is(m, "assistant")) {
      mark(r, " ");
      body_trim(r, m->content);
      mark(r, " </s>");
      continue;
    }
    mark(r, first ? "[INST] " : "<s>[INST] ");
    if (first && sys) {
      /* Meta's template strips "<<SYS>>\n" + system + "\n<</SYS>>\n\n" + user as
       * one string: the system text keeps its spaces, the user text loses trailing
       * ones, and an all-blank user text eats the blank lines after <</SYS>>. */
      const char *p;
      size_t n;
      strip(m->content, false, true, &p, &n);
      mark(r, "<<SYS>>\n");
      body(r, sys);
      mark(r, n ? "\n<</SYS>>\n\n" : "\n<</SYS>>");
      body_n(r, p, n);
    } else {
      body_trim(r, m->content);
    }
    mark(r, " [/INST]");
    first = false;
  }
}

/* Mistral Instruct v0.2: no system role; a system prompt leads the first user turn. */
static void mistral(render_t *r, const sl_chat_req_t *q, bool gen) {
  (void)gen;
  size_t i = 0;
  const char *sys = NULL;
  if (q->n_msgs && role_is(&q->msgs[0], "system")) sys = q->msgs[i++].content;
  for (; i < q->n_msgs; i++) {
    const sl_msg_t *m = &q->msgs[i];
    if (role_is(m, "assistant")) {
      body(r, m->content);
      mark(r, "</s>");
      continue;
    }
    mark(r, "[INST] ");
    if (sys) {
      body(r, sys);
      mark(r, "\n\n");
      sys = NULL;
    }
    body(r, m->content);
    mark(r, " [/INST]");
  }
}

/* Gemma: roles user and model; a system prompt leads the first user turn. */
static void gemma(render_t *r, const sl_chat_req_t *q, bool gen) {
  size_t i = 0;
  const char *sys = NULL;
  if (q->n_msgs && role_is(&q->msgs[0], "system")) sys = q->msgs[i++].content;
  for (; i < q->n_msgs; i++) {
    const sl_msg_t *m = &q->msgs[i];
    mark(r, role_is(m, "assistant") ? "<start_of_turn>model\n" : "<start_of_turn>user\n");
    if (sys && !role_is(m, "assistant")) {
      body_trim(r, sys);
      mark(r, "\n\n");
      sys = NULL;
    }
    body_trim(r, m->content);
    mark(r, "<end_of_turn>\n");
  }
  if (gen) mark(r, "<start_of_turn>model\n");
}

static void phi3(render_t *r, const sl_chat_req_t *q, bool gen) {
  for (size_t i = 0; i < q->n_msgs; i++) {
    const sl_msg_t *m = &q->msgs[i];
    const char *role = role_is(m, "system") ? "system" : role_is(m, "assistant") ? "assistant" : "user";
    mark(r, "<|");
    mark(r, role);
    mark(r, "|>\n");
    body(r, m->content);
    mark(r, "<|end|>\n");
  }
  /* Phi-3's template ends a finished conversation with the EOS text instead. */
  mark(r, gen ? "<|assistant|>\n" : "<|endoftext|>");
}

/* Zephyr / TinyLlama-Chat: every turn ends with the EOS text (</s> in both). */
static void zephyr(render_t *r, const sl_chat_req_t *q, bool gen) {
  for (size_t i = 0; i < q->n_msgs; i++) {
    const sl_msg_t *m = &q->msgs[i];
    const char *role = role_is(m, "system") ? "system" : role_is(m, "assistant") ? "assistant" : "user";
    mark(r, "<|");
    mark(r, role);
    mark(r, "|>\n");
    body(r, m->content);
    mark(r, "</s>\n");
  }
  if (gen) mark(r, "<|assistant|>\n");
}

/* ---- detection ---- */

static const struct {
  const char *name;
  sl_chat_family_t family;
} names[] = {
    {"llama2", SL_CHAT_FAMILY_LLAMA2}, {"llama-2", SL_CHAT_FAMILY_LLAMA2},
    {"llama3", SL_CHAT_FAMILY_LLAMA3}, {"llama-3", SL_CHAT_FAMILY_LLAMA3},
    {"chatml", SL_CHAT_FAMILY_CHATML}, {"qwen", SL_CHAT_FAMILY_CHATML},
    {"qwen2", SL_CHAT_FAMILY_CHATML},  {"qwen3", SL_CHAT_FAMILY_CHATML},
    {"mistral", SL_CHAT_FAMILY_MISTRAL}, {"gemma", SL_CHAT_FAMILY_GEMMA},
    {"phi3", SL_CHAT_FAMILY_PHI3},     {"phi-3", SL_CHAT_FAMILY_PHI3},
    {"zephyr", SL_CHAT_FAMILY_ZEPHYR}, {"tinyllama", SL_CHAT_FAMILY_ZEPHYR},
};

sl_chat_family_t sl_chat_family_detect(const char *s) {
  if (!s) return SL_CHAT_FAMILY_UNKNOWN;
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (!strcasecmp(s, names[i].name)) return names[i].family;
  /* Markers, most specific first: a Llama 3 template mentions no [INST], a
   * Mistral one no <<SYS>>. */
  if (strstr(s, "<|start_header_id|>")) return SL_CHAT_FAMILY_LLAMA3;
  if (strstr(s, "<|im_start|>")) return SL_CHAT_FAMILY_CHATML;
  if (strstr(s, "<start_of_turn>")) return SL_CHAT_FAMILY_GEMMA;
  if (strstr(s, "<|assistant|>"))
    return strstr(s, "<|end|>") ? SL_CHAT_FAMILY_PHI3 : SL_CHAT_FAMILY_ZEPHYR;
  if (strstr(s, "[INST]")) return strstr(s, "<<SYS>>") ? SL_CHAT_FAMILY_LLAMA2 : SL_CHAT_FAMILY_MISTRAL;
  return SL_CHAT_FAMILY_UNKNOWN;
}

const char *sl_chat_family_name(sl_chat_family_t f) {
  switch (f) {
  case SL_CHAT_FAMILY_LLAMA2: return "llama2";
  case SL_CHAT_FAMILY_LLAMA3: return "llama3";
  case SL_CHAT_FAMILY_CHATML: return "chatml";
  case SL_CHAT_FAMILY_MISTRAL: return "mistral";
  case SL_CHAT_FAMILY_GEMMA: return "gemma";
  case SL_CHAT_FAMILY_PHI3: return "phi3";
  case SL_CHAT_FAMILY_ZEPHYR: return "zephyr";
  default: return "unknown";
  }
}

int sl_chat_template_render(const char *template_or_family, const sl_chat_req_t *req,
                            bool add_generation_prompt, char **out, size_t *out_len,
                            sl_tok_span_t **spans, size_t *n_spans) {
  if (!req || !out || (req->n_msgs && !req->msgs)) return SL_EINVAL;
  *out = NULL;
  if (spans) *spans = NULL;
  if (n_spans) *n_spans = 0;
  for (size_t i = 0; i < req->n_msgs; i++)
    if (!req->msgs[i].content) return SL_EINVAL;
  sl_chat_family_t f = sl_chat_family_detect(template_or_family);
  if (f == SL_CHAT_FAMILY_UNKNOWN) return SL_EUNSUPPORTED;
  render_t r = {0};
  sl_buf_init(&r.b, SL_TOK_MAX_TEXT);
  r.rc = sl_buf_append(&r.b, "", 0);
  /* Anthropic's prefill: a final assistant turn is the start of the answer, which
   * the model continues (the Messages API's contract; an OpenAI client's final
   * assistant turn is a closed turn, as vLLM reads it) */
  const sl_msg_t *last = req->n_msgs ? &req->msgs[req->n_msgs - 1] : NULL;
  bool prefill = add_generation_prompt && req->dialect == SL_DIALECT_ANTHROPIC && last &&
                 role_is(last, "assistant") && !last->tool_calls;
  sl_chat_req_t head = *req;
  if (prefill) head.n_msgs--;
  switch (f) {
  case SL_CHAT_FAMILY_LLAMA2: llama2(&r, &head, add_generation_prompt); break;
  case SL_CHAT_FAMILY_LLAMA3: llama3(&r, &head, add_generation_prompt); break;
  case SL_CHAT_FAMILY_CHATML: chatml(&r, &head, add_generation_prompt); break;
  case SL_CHAT_FAMILY_MISTRAL: mistral(&r, &head, add_generation_prompt); break;
  case SL_CHAT_FAMILY_GEMMA: gemma(&r, &head, add_generation_prompt); break;
  case SL_CHAT_FAMILY_PHI3: phi3(&r, &head, add_generation_prompt); break;
  case SL_CHAT_FAMILY_ZEPHYR: zephyr(&r, &head, add_generation_prompt); break;
  default: break;
  }
  if (prefill) {
    if (f == SL_CHAT_FAMILY_LLAMA2) mark(&r, " "); /* its answers follow [/INST] and a space */
    body(&r, last->content);
  }
  if (r.rc) {
    sl_buf_free(&r.b);
    free(r.spans);
    return r.rc;
  }
  size_t len;
  *out = sl_buf_steal(&r.b, &len);
  if (out_len) *out_len = len;
  if (spans) {
    *spans = r.spans;
    *n_spans = r.n;
  } else {
    free(r.spans);
  }
  return 0;
}

int sl_chat_template_apply(const char *template_or_family, const sl_chat_req_t *req,
                           bool add_generation_prompt, char **out) {
  return sl_chat_template_render(template_or_family, req, add_generation_prompt, out, NULL,
                                 NULL, NULL);
}
