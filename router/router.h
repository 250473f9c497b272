/* The classifier: what the gateway may call. Scans a request's user-visible text
 * for sensitive data (one multi-pattern pass plus validators) and scores its
 * difficulty. A compiled sl_router_t is immutable and shared by all threads; a
 * classification result belongs to one request. */
#ifndef SL_ROUTER_H
#define SL_ROUTER_H

#include "sl_chat.h"
#include "sl_jerr.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
  SL_LEVEL_PUBLIC = 0,
  SL_LEVEL_INTERNAL,
  SL_LEVEL_CONFIDENTIAL,
  SL_LEVEL_RESTRICTED
} sl_level_t;

/* "public" ... "restricted"; sl_level_parse returns 0 or SL_EINVAL. */
const char *sl_level_name(sl_level_t l);
int sl_level_parse(const char *s, sl_level_t *out);

typedef struct {
  char type[40];        /* EMAIL_ADDRESS, US_SSN, API_KEY, ... or a custom type name */
  const char *detector; /* static name of the detector that found it */
  uint32_t start, end;  /* byte offsets into the classified text */
  sl_level_t level;
} sl_entity_t;

typedef struct {
  sl_level_t level;           /* max over entities and the declared class */
  sl_entity_t *entities;      /* sorted by start */
  size_t n_entities;
  double difficulty;          /* 0..1 */
  const char *difficulty_label; /* "easy", "medium", "hard" */
  int error;                  /* non-zero: classification failed; level forced restricted */
} sl_class_t;

/* One custom detector from the policy file's detectors.custom[]. */
typedef struct {
  const char *type;
  const char *pattern;  /* PCRE2 syntax */
  sl_level_t level;
} sl_custom_detector_t;

typedef struct {
  const sl_custom_detector_t *custom;
  size_t n_custom;
  const char *const *level_types;  /* detectors.levels: entity type -> level override */
  const sl_level_t *level_values;
  size_t n_levels;
  const char *difficulty_weights;  /* path to a weights JSON file, or NULL for built-in */
} sl_router_opts_t;

typedef struct sl_router sl_router_t;

/* Compiles detectors and loads the difficulty model. NULL on error, with the
 * reason (naming the JSON path where it comes from the policy) in err. */
sl_router_t *sl_router_create(const sl_router_opts_t *opts, sl_jerr_t *err);
void sl_router_free(sl_router_t *r);

/* Classifies a chat request (text = sl_chat_text()). `declared` is the caller's
 * x-sluice-data-class header value (NULL: not sent): it can raise the level,
 * never lower it; a value naming no level, an empty one too, is restricted. Fails closed: on any internal error the result has level restricted
 * and error set. Release with sl_class_free(). Thread-safe. */
int sl_router_classify(const sl_router_t *r, const sl_chat_req_t *req, const char *declared,
                       sl_class_t *out);
/* Same, for plain text (the `{"text": ...}` input of `sluice classify`). */
int sl_router_classify_text(const sl_router_t *r, const char *text, size_t len,
                            const char *declared, sl_class_t *out);
void sl_class_free(sl_class_t *c);

/* Difficulty features of a request (for `sluice train-router` and explain):
 * writes at most `cap` values into f and returns how many there are. Feature 0
 * is the constant bias term. */
size_t sl_router_difficulty_features(const sl_chat_req_t *req, double *f, size_t cap);
/* The name of feature i (as used in the weights JSON), or NULL past the end. */
const char *sl_router_difficulty_feature_name(size_t i);
/* The terms of r's difficulty score for a request, for explain: term i is
 * feature i's value times its weight, and the score is the logistic function
 * of their sum (clamped to [-40, 40]). Writes at most `cap` and returns how
 * many there are; 0 without a router or a request. */
size_t sl_router_difficulty_terms(const sl_router_t *r, const sl_chat_req_t *req, double *terms,
                                  size_t cap);

/* Entity type names the built-in detectors report (NULL-terminated), and the
 * default level of one (SL_EINVAL for an unknown name). */
const char *const *sl_router_entity_types(void);
int sl_router_default_level(const char *type, sl_level_t *out);
/* The level an entity of `type` gets from this router: detectors.levels, a
 * custom detector's, else the default. SL_EINVAL for a type no detector of
 * the router reports. */
int sl_router_type_level(const sl_router_t *r, const char *type, sl_level_t *out);
/* Whether w[0..n) ([A-Za-z], any case) is an English word (Debian wamerican's
 * lower-case words): "Brown" is, "Hansen" is not. */
bool sl_router_english_word(const char *w, size_t n);

#endif
