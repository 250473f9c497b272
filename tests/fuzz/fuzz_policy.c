/* Fuzz target for the policy loader: any bytes through the config parser and
 * the policy compiler (rules, chains, detectors), then a decision and its
 * explanation for a few fixed classifications. Must never crash, leak or
 * accept a policy that sends a keep-inside request outside. */
#include "policy/policy.h"
#include "sl_err.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  sl_config_t *cfg = NULL;
  sl_jerr_t err = {{0}};
  if (sl_config_parse((const char *)data, size, NULL, &cfg, &err)) return 0;
  sl_policy_t *p = NULL;
  if (sl_policy_compile(cfg, &p, &err)) return 0;

  sl_chat_req_t req;
  sl_chat_req_init(&req);
  sl_msg_t msg = {.role = "user", .content = "Mail jane.doe@example.com about Project Falcon"};
  req.msgs = &msg;
  req.n_msgs = 1;
  req.model = "openai/gpt-4o";
  sl_entity_t ent = {.type = "EMAIL_ADDRESS", .detector = "fuzz", .start = 5, .end = 25,
                     .level = SL_LEVEL_CONFIDENTIAL};
  for (int lv = 0; lv <= 4; lv++) {
    sl_class_t cls = {.level = lv < 4 ? (sl_level_t)lv : SL_LEVEL_PUBLIC,
                      .entities = &ent, .n_entities = lv >= 2,
                      .difficulty = lv * 0.25, .difficulty_label = "medium", .error = lv == 4};
    sl_req_meta_t meta = {.tenant = lv & 1 ? "team-a" : NULL, .prompt_tokens = 100 * lv,
                          .tenant_rpm = 50 * lv};
    sl_decision_t d;
    int rc = sl_policy_decide(p, &req, &cls, &meta, &d);
    if (d.keep_inside)
      for (size_t i = 0; i < d.n_steps; i++)
        if (d.steps[i].backend->location == SL_LOC_EXTERNAL) abort(); /* fail-closed broken */
    if (rc && !d.block_status) abort();
    free(sl_policy_explain_json(p, &req, &cls, &d, lv & 1));
  }
  sl_policy_unref(p);
  return 0;
}
