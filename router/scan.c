/* The one multi-pattern pass: every built-in pattern (PII shapes, context cues,
 * secret prefixes) and the difficulty cue words are compiled into a single
 * Hyperscan block-mode database, scanned once per request. Validators then look
 * only at the hits. Patterns that are alternations of literals (secret prefixes,
 * most cue words, the difficulty cues) are compiled as plain literals, without
 * word boundaries or start-of-match tracking: Hyperscan's literal matchers are
 * far cheaper than its regex engines, and the boundaries and the few fixed
 * suffixes (`basic\s`, `Mr\.?`, `name is`) are checked here in C with the same
 * meaning. The database is immutable after create; scratch space comes from a
 * mutex-guarded pool so concurrent classifications never share one. */
#include "router_int.h"
#include "sl_err.h"

#include <hs/hs.h>
#include <stdio.h>
#if defined(__AVX2__)
#include <immintrin.h>
#endif
#include <stdlib.h>
#include <string.h>

/* How a hit's start is found. Start-of-match tracking (SOM) in Hyperscan is cheap
 * only for literal-led patterns, so shapes built from character-class runs are
 * compiled without it and their start is recovered by walking back over the
 * pattern's byte class (bounded); prefix-led secrets match only their prefix
 * and the C validators measure the body. ST_LIT patterns have no expression of
 * their own: their literals (litsets[] below) stand for them. ST_C patterns are
 * matched in C around the digit runs (num_scan); their regex is in a comment. */
enum { ST_SOM, ST_BACK, ST_FIXED, ST_LIT, ST_C }; /* ST_FIXED: fixed-width patterns, start = end - width */

typedef struct {
  int id;
  unsigned flags;
  const char *re;
  uint8_t start;   /* ST_* */
  const char *cls; /* ST_BACK: byte class, "a-z0-9._" style */
  uint32_t maxw;   /* ST_BACK: longest walk; ST_FIXED: the match width */
} pat_t;

/* Patterns made of num_class bytes only, scanned over digit runs (see num_scan). */
#define NUM_PATS                                                                                    \
  ((1ull << SL_P_PHONE) | (1ull << SL_P_PHONE_INTL) | (1ull << SL_P_DIGITS) |                         \
   (1ull << SL_P_CARD_GROUPED) | (1ull << SL_P_CARD_SLASH) | (1ull << SL_P_CARD_SPACED) |            \
   (1ull << SL_P_SSN) | (1ull << SL_P_IPV4) | (1ull << SL_P_DATE_NUM) | (1ull << SL_P_DATE_ISO))
#define IS_NUM(id) ((NUM_PATS >> (id)) & 1)
/* Scanned over their own windows too: textual dates before four-digit years,
 * IPv6 over runs of hex digits and colons (see num_scan, ip6_scan). */
#define IS_DATE(id) ((id) == SL_P_DATE_TEXT || (id) == SL_P_DATE_TEXT2)
#define IS_IP6(id) ((id) == SL_P_IPV6)

#define CI HS_FLAG_CASELESS
#define DIG "0-9"
static const pat_t pats[] = {
    /* '@' starts both e-mail addresses and user:pass@ URLs; pii.c / secrets.c parse
     * around it (cheaper than two class-run patterns) */
    {SL_P_EMAIL, 0, NULL, ST_LIT, NULL, 0},
    {SL_P_URL_CRED, 0, NULL, ST_LIT, NULL, 0},
    {SL_P_URL, 0, NULL, ST_LIT, NULL, 0},
    /* (an area code in brackets of up to five digits, and the number after it in
     * one group or more: Germany's "(08652) 566720") */
    {SL_P_PHONE, 0, "(?:\\(\\d{1,5}\\)[ .\\-]?\\d{2,8}(?:[ .\\-]\\d{2,8}){0,5}|\\b\\d{2,5}(?:[ .\\-]\\d{2,8}){1,5})\\b",
     ST_BACK,
     "0-9 .()-", 40},
    {SL_P_PHONE_INTL, 0,
     "\\+\\d{1,3}[ .\\-]?(?:\\(\\d{1,4}\\)[ .\\-]?)?\\d{1,5}(?:[ .\\-]?\\d{1,5}){0,5}\\b", ST_BACK,
     "0-9 .()+-", 40},
    {SL_P_DIGITS, 0, "\\b\\d{7,19}\\b", ST_BACK, DIG, 19},
    {SL_P_CARD_GROUPED, 0,
     "\\b\\d{4}(?:[ \\-]\\d{4}){2,3}(?:[ \\-]?\\d{1,3})?\\b|\\b\\d{4}[ \\-]\\d{6}[ \\-]\\d{4,5}\\b|"
     "\\b\\d{4}(?:\\.\\d{4}){3}\\b", /* read out with dots: "4179.9599.7707.9692" */
     ST_BACK, "0-9 .-", 24},
    {SL_P_CARD_SLASH, 0, "\\b\\d{4}(?:/\\d{4}){3}\\b", ST_BACK, "0-9/", 19}, /* "4556/7375/…" */
    /* every digit apart: "4 5 5 6 7 3 7 5 …", "4-5-5-6-…" (a card only after a cue: pii.c) */
    {SL_P_CARD_SPACED, 0, "\\b\\d(?:[ \\-]\\d){12,18}\\b", ST_BACK, "0-9 -", 37},
    {SL_P_SSN, 0, "\\b\\d{3}[ \\-.]\\d{2}[ \\-.]\\d{4}\\b", ST_FIXED, NULL, 11},
    /* the IBAN's head only, \b[A-Z]{2}\d{2}[ ]?[A-Z0-9]{4}; pii.c reads the rest. Its
     * hits are those Hyperscan would report (every end offset, start walked back
     * over [A-Z0-9 ] up to 9 bytes), found from the digit runs in num_scan */
    {SL_P_IBAN, 0, NULL, ST_BACK, "A-Z0-9 ", 9},
    {SL_P_IPV4, 0, "\\b\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}\\b", ST_BACK, "0-9.", 15},
    {SL_P_IPV6, 0, "[0-9A-Fa-f]{0,4}:(?:[0-9A-Fa-f]{0,4}:){1,7}[0-9A-Fa-f]{0,4}", ST_BACK,
     "0-9A-Fa-f:", 39},
    {SL_P_DATE_NUM, 0, "\\b\\d{1,2}[/.\\-]\\d{1,2}[/.\\-](?:\\d{4}|\\d{2})\\b", ST_BACK, "0-9/.-", 10},
    {SL_P_DATE_ISO, 0, "\\b(?:19|20)\\d{2}[\\-/.]\\d{1,2}[\\-/.]\\d{1,2}\\b", ST_BACK, "0-9/.-", 10},
    {SL_P_DATE_TEXT, CI,
     "\\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]{0,6}\\.?\\s{1,3}"
     "\\d{1,2}(?:st|nd|rd|th)?,?\\s{1,3}\\d{4}\\b", ST_SOM, NULL, 0},
    /* day first, in English and in the languages that write it so: "3 March
     * 1990", "3. Mai 1947", "1er janvier 1990", "21 de junio de 1989", "12
     * luglio 1990", "5 maart 1980" (the months' stems; UTF-8 bytes as written) */
    {SL_P_DATE_TEXT2, CI,
     "\\b\\d{1,2}(?:st|nd|rd|th|er|\\.)?\\s{1,3}(?:(?:of|de)\\s{1,3})?"
     "(?:(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]{0,6}|"
     "m\xc3\xa4rz|mai|oktober|dezember|j\xc3\xa4nner|f\xc3\xa9vrier|avril|juin|juillet|ao\xc3\xbbt|"
     "d\xc3\xa9" "cembre|enero|abril|agosto|septiembre|setiembre|diciembre|gennaio|maggio|giugno|"
     "luglio|settembre|ottobre|dicembre|fevereiro|mar\xc3\xa7o|maio|setembro|outubro|dezembro|maart|"
     "mei|okt|dez|juil|d\xc3\xa9" "c|f\xc3\xa9vr|dic|ago)\\.?,?\\s{1,3}(?:de\\s{1,3})?\\d{4}\\b",
     ST_SOM, NULL, 0},
    {SL_P_CUE_DOB, 0, NULL, ST_LIT, NULL, 0},
    {SL_P_CUE_PASSPORT, 0, NULL, ST_LIT, NULL, 0},
    {SL_P_CUE_DL, 0, NULL, ST_LIT, NULL, 0},
    {SL_P_CUE_MEDICAL, 0, NULL, ST_LIT, NULL, 0},
    {SL_P_CUE_BANK, 0, NULL, ST_LIT, NULL, 0},
    {SL_P_CUE_NATID, 0, NULL, ST_LIT, NULL, 0},
    {SL_P_CUE_SSN, 0, NULL, ST_LIT, NULL, 0},
    /* Prefix-led secrets: the literal is the prefix; secrets.c measures the body. */
    {SL_P_AWS_AKID, 0, NULL, ST_LIT, NULL, 0},
    {SL_P_GCP_SA, 0, NULL, ST_LIT, NULL, 0},
    {SL_P_GOOGLE_KEY, 0, NULL, ST_LIT, NULL, 0},
    {SL_P_GOOGLE_OAUTH, 0, NULL, ST_LIT, NULL, 0},
    {SL_P_AZURE_KEY, 0, NULL, ST_LIT, NULL, 0},
    /* [A-Za-z0-9_~.\-]{3}\dQ~[A-Za-z0-9_~.\-]{31,34}: found at its "Q~" literal */
    {SL_P_AZURE_SECRET, 0, NULL, ST_BACK, "A-Za-z0-9_~.-", 40},
    {SL_P_GITHUB, 0, NULL, ST_LIT, NULL, 0},
    {SL_P_GITLAB, 0, NULL, ST_LIT, NULL, 0},
    {SL_P_SLACK, 0, NULL, ST_LIT, NULL, 0},
    {SL_P_SLACK_HOOK, 0, NULL, ST_LIT, NULL, 0},
    {SL_P_STRIPE, 0, NULL, ST_LIT, NULL, 0},
    {SL_P_OPENAI, 0, NULL, ST_LIT, NULL, 0},
    {SL_P_ANTHROPIC, 0, NULL, ST_LIT, NULL, 0},
    {SL_P_VENDOR, 0, NULL, ST_LIT, NULL, 0},
    {SL_P_PRIVKEY, 0, NULL, ST_LIT, NULL, 0},
    {SL_P_PRIVKEY_B64, 0, NULL, ST_LIT, NULL, 0},
    {SL_P_JWT, 0, NULL, ST_LIT, NULL, 0},
    {SL_P_BASIC_AUTH, 0, NULL, ST_LIT, NULL, 0},
    {SL_P_BEARER, 0, NULL, ST_LIT, NULL, 0},
    {SL_P_PWHASH, 0, NULL, ST_LIT, NULL, 0},
    {SL_P_PW_CUE, 0, NULL, ST_LIT, NULL, 0},
    {SL_P_KEY_CUE, 0, NULL, ST_LIT, NULL, 0},
    /* \b(?:bc1[ac-hj-np-z02-9]{25,71}|[13][a-km-zA-HJ-NP-Z1-9]{25,34})\b: a whole word,
     * checked in C where a digit run starts one (num_scan) */
    {SL_P_CRYPTO_BTC, 0, NULL, ST_C, NULL, 0},
    {SL_P_CRYPTO_ETH, 0, NULL, ST_LIT, NULL, 0},
    {SL_P_NETRC, 0, NULL, ST_LIT, NULL, 0},
    {SL_P_CLI_PW, 0, NULL, ST_LIT, NULL, 0},
    {SL_P_CLIENT_KEY, 0, NULL, ST_LIT, NULL, 0},
    {SL_P_PEM_PUBLIC, 0, NULL, ST_LIT, NULL, 0},
    {SL_P_CUE_NAME2, 0, NULL, ST_LIT, NULL, 0},
    {SL_P_CUE_NAME1, 0, NULL, ST_LIT, NULL, 0},
    {SL_P_CUE_ADDR, 0, NULL, ST_LIT, NULL, 0},
    {SL_P_CONNECT, 0, NULL, ST_LIT, NULL, 0},
    {SL_P_LOWER_CUE, 0, NULL, ST_LIT, NULL, 0},
    {SL_P_LOWER_SEND, 0, NULL, ST_LIT, NULL, 0},
    {SL_P_LOWER_VERB, 0, NULL, ST_LIT, NULL, 0},
    {SL_P_OTP_CUE, 0, NULL, ST_LIT, NULL, 0},
};

/* The literal patterns: alternatives joined by '|', each compiled as a plain
 * literal. `bnd` asks for a word boundary (Hyperscan's \b: [A-Za-z0-9_] on one
 * side only) before (B_L) and/or after (B_R) the literal; B_LU also takes an
 * underscore before it as the start of a word (a vendor's key prefixed by the
 * name of what holds it: "token_sk-proj-…", "call_AKIA…"); `post` is a fixed
 * suffix checked in C. Each row says which regex it stands for. */
enum { B_L = 1, B_R = 2, B_LU = 4 };
enum {
  P_NONE,
  P_WS,      /* one \s byte follows, part of the match: \bbasic\s */
  P_DOT,     /* an optional '.' follows, part of the match: \bMr\b\.? */
  P_NAME_IS, /* 's, or \s{0,3}(?:is|:|\?) follows (caseless) */
  P_SOCIAL,  /* \s{1,3}security follows (caseless) */
  P_DIGIT,   /* one digit follows: PuTTY-User-Key-File-\d */
  P_SHA,     /* \d+\$ follows: \$pbkdf2-sha\d+\$ */
  P_HEX40,   /* [0-9a-fA-F]{40}\b or {64}\b follows: \b0x[a-fA-F0-9]{40}(?:[a-fA-F0-9]{24})?\b */
  P_TAILS,   /* one of the row's tails follows */
  P_GCP,     /* "type"\s{0,3}:\s{0,3} precedes (the match starts there) */
  P_AZURE,   /* an Azure client secret around "Q~" (azure_at) */
  P_PEM,     /* "-----" or " BLOCK-----" follows (pem_tail): reported at the tail's end */
};
typedef struct {
  uint8_t id, ci, bnd, post;
  const char *alts;
  const char *tails; /* P_TAILS: what may follow, '|'-separated (S1, S0, WB below) */
} litset_t;

/* Tails of the context-cue literals: the rest of the regex after the literal,
 * as alternatives of plain bytes (compared like the literal, caseless or not)
 * and these markers. Every alternative that matches gives a match end. */
#define S1 "\001" /* \s{1,3} */
#define S0 "\002" /* \s{0,3} */
#define WB "\003" /* \b */

static const litset_t litsets[] = {
    {SL_P_EMAIL, 0, 0, P_NONE, "@", NULL},
    /* written out against harvesters: "m.delacroix [at] univ-lyon2 [dot] fr" */
    {SL_P_EMAIL, 1, 0, P_NONE, "[at]|(at)|{at}", NULL},
    /* and in words: "k dot nowak at outlook dot com", "jane.doe @ gmail . com" */
    {SL_P_EMAIL, 1, 0, P_NONE, " at | @ ", NULL},
    {SL_P_URL_CRED, 0, 0, P_NONE, "://", NULL},
    {SL_P_URL, 0, 0, P_NONE, "://", NULL},
    /* \b(?:medical\s{1,3}(?:record|file|id|licen[cs]e)|patient\s{1,3}(?:id|number|no|#|record)|
     * health\s{1,3}(?:insurance|plan|card|record)|insurance\s{1,3}(?:id|number|no|policy|member|
     * card)|member\s{1,3}id|(?:policyholder|subscriber|insured)\s{1,3}(?:id|number|no)|
     * (?:policy|nhs|dea)\s{1,3}(?:number|no)|(?:policy|nhs|dea)\s{0,3}#|medicare|medicaid|mrn|npi)\b */
    {SL_P_CUE_MEDICAL, 1, B_L, P_TAILS, "medical",
     S1 "record" WB "|" S1 "file" WB "|" S1 "id" WB "|" S1 "licence" WB "|" S1 "license" WB},
    {SL_P_CUE_MEDICAL, 1, B_L, P_TAILS, "patient",
     S1 "id" WB "|" S1 "number" WB "|" S1 "no" WB "|" S1 "#" WB "|" S1 "record" WB},
    {SL_P_CUE_MEDICAL, 1, B_L, P_TAILS, "health",
     S1 "insurance" WB "|" S1 "plan" WB "|" S1 "card" WB "|" S1 "record" WB},
    {SL_P_CUE_MEDICAL, 1, B_L, P_TAILS, "insurance",
     S1 "id" WB "|" S1 "number" WB "|" S1 "no" WB "|" S1 "policy" WB "|" S1 "member" WB "|" S1 "card" WB},
    {SL_P_CUE_MEDICAL, 1, B_L, P_TAILS, "member",
     S1 "id" WB "|" S0 "#|" S1 "number" WB "|" S1 "no" WB},
    /* the insured's own number: "Policyholder ID 7654321", "subscriber no. …" */
    {SL_P_CUE_MEDICAL, 1, B_L, P_TAILS, "policyholder|subscriber|insured",
     S1 "id" WB "|" S1 "number" WB "|" S1 "no" WB},
    {SL_P_CUE_MEDICAL, 1, B_L, P_TAILS, "policy|nhs|dea", S1 "number" WB "|" S1 "no" WB "|" S0 "#"},
    {SL_P_CUE_MEDICAL, 1, B_L | B_R, P_NONE, "medicare|medicaid|mrn|npi", NULL},
    /* hospital number, chart #, and the words in other languages */
    {SL_P_CUE_MEDICAL, 1, B_L, P_TAILS, "hospital|chart", S1 "number" WB "|" S1 "no" WB "|" S0 "#"},
    {SL_P_CUE_MEDICAL, 1, B_L | B_R, P_NONE,
     "dossiernummer|patiëntnummer|patientnummer|patientennummer|fallnummer|"
     "sairauskertomusnumero|cartella clinica|historia clínica|historia clinica|"
     "numéro de dossier|prontuário|prontuario|versichertennummer|krankenversichertennummer|"
     "versicherungsnummer|kvnr|dossier patient|dossier médical|dossier medical|n° de dossier|"
     "numéro de patient|numero de patient|numéro patient|tessera sanitaria|utente sns|número de utente|"
     "numero de utente|nº de utente|n.º de utente|número de processo clínico|numer pacjenta|"
     "numer karty pacjenta|hasta numarası|hasta numarasi|protokol no|protokol numarası|"
     "protokol numarasi|zorgverzekeringsnummer|journalnummer|número de historia|numero de historia", NULL},
    {SL_P_CUE_MEDICAL, 0, 0, P_NONE,
     "住院号|病历号|病案号|门诊号|診察券番号|患者番号|カルテ番号|진료번호|환자번호|병록번호|"
     "رقم المريض|رقم الملف الطبي|मरीज़ संख्या|रोगी संख्या|UHID", NULL},
    /* the same as field names in code and logs: patient_id=7666185, "member_id": */
    {SL_P_CUE_MEDICAL, 1, B_L | B_R, P_NONE,
     "patient_id|patientid|patient_no|patient_number|medical_record_number|member_id|memberid|"
     "insurance_id|policy_number|policy_no|nhs_number|health_card_number", NULL},
    /* \b(?:(?:bank|checking|savings|deposit|current)\s{1,3})?(?:account|acct|a/c)\s{0,3}(?:number|
     * no\b|num\b|#)|\brouting\s{1,3}(?:number|no)|\bsort\s{1,3}code|\bbsb\b|\bbank\s{1,3}account|
     * \biban\b|\bacc(?:t|ount)?[_\-]?(?:num|no|nr)\b */
    {SL_P_CUE_BANK, 1, B_L, P_TAILS, "account|acct|a/c",
     S0 "number|" S0 "no" WB "|" S0 "num" WB "|" S0 "#"},
    {SL_P_CUE_BANK, 1, B_L, P_TAILS, "bank|checking|savings|deposit|current",
     S1 "account" S0 "number|" S1 "account" S0 "no" WB "|" S1 "account" S0 "num" WB "|" S1 "account" S0 "#|"
     S1 "acct" S0 "number|" S1 "acct" S0 "no" WB "|" S1 "acct" S0 "num" WB "|" S1 "acct" S0 "#|"
     S1 "a/c" S0 "number|" S1 "a/c" S0 "no" WB "|" S1 "a/c" S0 "num" WB "|" S1 "a/c" S0 "#"},
    {SL_P_CUE_BANK, 1, B_L, P_TAILS, "bank", S1 "account"},
    {SL_P_CUE_BANK, 1, B_L, P_TAILS, "routing", S1 "number|" S1 "no"},
    {SL_P_CUE_BANK, 1, B_L, P_TAILS, "sort", S1 "code"},
    /* bare "account 004518273645", "routing 021000021": pii.c wants a long digit
     * run right after (and a valid ABA checksum after "routing") */
    {SL_P_CUE_BANK, 1, B_L | B_R, P_NONE, "account|acct|routing", NULL},
    {SL_P_CUE_BANK, 1, B_L | B_R, P_NONE, "bsb|iban", NULL},
    /* the words in other languages */
    {SL_P_CUE_BANK, 1, B_L | B_R, P_NONE,
     "kontonummer|kontonr|numéro de compte|numero de compte|número de cuenta|"
     "numero de cuenta|numero di conto|número da conta|numero da conta|rekeningnummer|"
     "numer konta|kontonumret|tilinumero", NULL},
    {SL_P_CUE_BANK, 0, 0, P_NONE, "口座番号|银行账号|銀行帳號|账号|帳號|계좌번호|رقم الحساب|खाता संख्या|खाता नंबर", NULL},
    {SL_P_CUE_BANK, 1, B_L | B_R, P_NONE,
     "accnum|accno|accnr|acc_num|acc_no|acc_nr|acc-num|acc-no|acc-nr|"
     "acctnum|acctno|acctnr|acct_num|acct_no|acct_nr|acct-num|acct-no|acct-nr|"
     "accountnum|accountno|accountnr|account_num|account_no|account_nr|account-num|account-no|account-nr",
     NULL},
    /* (?i:\b(?:tax\s{0,3}(?:id|payer\s{1,3}id|identification)|national\s{1,3}(?:id|identity|insurance)|
     * id\s{1,3}(?:number|no\b|card)|aadhaa?r|voter\s{1,3}id|personal\s{1,3}(?:id|identification|number)|
     * identity\s{1,3}(?:card|number|document)|identification\s{1,3}(?:number|no\b)|
     * citizen\s{1,3}id|social\s{1,3}insurance))|
     * \b(?:TIN|EIN|ITIN|PAN|NINO|SIN|CPF|NIF|NIE|DNI|BSN|PESEL|CURP|RFC)\b|\bNI\s{1,3}(?:number|no\b) */
    {SL_P_CUE_NATID, 1, B_L, P_TAILS, "tax", S0 "id|" S0 "payer" S1 "id|" S0 "identification"},
    {SL_P_CUE_NATID, 1, B_L, P_TAILS, "national", S1 "id|" S1 "identity|" S1 "insurance"},
    {SL_P_CUE_NATID, 1, B_L, P_TAILS, "id", S1 "number|" S1 "no" WB "|" S1 "card"},
    {SL_P_CUE_NATID, 1, B_L, P_NONE, "aadhaar|aadhar", NULL},
    {SL_P_CUE_NATID, 1, B_L, P_TAILS, "voter|citizen", S1 "id"},
    {SL_P_CUE_NATID, 1, B_L, P_TAILS, "personal", S1 "id|" S1 "identification|" S1 "number"},
    {SL_P_CUE_NATID, 1, B_L, P_TAILS, "identity", S1 "card|" S1 "number|" S1 "document"},
    {SL_P_CUE_NATID, 1, B_L, P_TAILS, "identification", S1 "number|" S1 "no" WB},
    {SL_P_CUE_NATID, 1, B_L, P_TAILS, "social", S1 "insurance"},
    /* Australia's tax file number; residence documents (green card, Emirates ID) */
    {SL_P_CUE_NATID, 1, B_L, P_TAILS, "tax", S1 "file" S1 "number|" S1 "file" S1 "no" WB},
    {SL_P_CUE_NATID, 1, B_L, P_TAILS, "resident|residence|residency",
     S1 "id|" S1 "card|" S1 "permit" S1 "number|" S1 "number"},
    {SL_P_CUE_NATID, 1, B_L, P_TAILS, "green", S1 "card" S1 "number|" S1 "card" S1 "no" WB "|" S1 "card" S0 "#"},
    {SL_P_CUE_NATID, 1, B_L, P_TAILS, "emirates|civil|alien", S1 "id|" S1 "registration"},
    {SL_P_CUE_NATID, 0, B_L | B_R, P_NONE,
     "TIN|EIN|ITIN|PAN|NINO|SIN|CPF|NIF|NIE|DNI|BSN|PESEL|CURP|RFC|TFN|NRIC|CNP|PPSN|TCKN|HETU|"
     "NIR|CPR|CUIL|CUIT|NIP|AMKA|EGN|OIB|JMBG|NIK|CCCD|RUT|AHV|AVS|TAJ|NISS|TC", NULL},
    /* the same as field names, any case ("cpf": "…", tckn=…, codice_fiscale;):
     * the ones that are no word of their own in English */
    {SL_P_CUE_NATID, 1, B_L | B_R, P_NONE,
     "cpf|tckn|pesel|bsn|curp|nino|nric|ppsn|hetu|cuil|cuit|amka|jmbg|cccd|dni|nif|codice_fiscale|"
     "codice fiscale|codicefiscale|steuer_id|steuerid|personnummer|personnr|fodselsnummer|"
     "fødselsnummer|henkilotunnus|henkilötunnus|tc_kimlik|tc kimlik|tc kimlik no|national_id|"
     "nationalid|ssn_number|tax_id|taxid", NULL},
    /* Greek and Cyrillic abbreviations (no ASCII word bounds for these bytes) */
    {SL_P_CUE_NATID, 0, 0, P_NONE, "ΑΜΚΑ|ΑΦΜ|ИНН|СНИЛС|РНОКПП", NULL},
    {SL_P_CUE_NATID, 0, 0, P_NONE,
     "身份证|公民身份号码|マイナンバー|個人番号|주민등록번호|الرقم القومي|رقم الهوية|الهوية الوطنية|"
     "आधार|căn cước", NULL},
    /* the numbers' names in other languages */
    {SL_P_CUE_NATID, 1, B_L | B_R, P_NONE,
     "codice fiscale|steuernummer|steuer-id|steueridentifikationsnummer|sozialversicherungsnummer|"
     "ausweisnummer|personalausweisnummer|sécurité sociale|securite sociale|kimlik|henkilötunnus|"
     "henkilotunnus|personnummer|fødselsnummer|burgerservicenummer|cédula|cedula|"
     "documento de identidad|pps number|pps_number|pps no|rodné číslo|rodne cislo|rodné čísla|"
     "numer pesel|emšo|jmbg|assurance sociale|numéro d'assurance sociale|"
     "numero d'assurance sociale|carte d'identité|carte d'identite|número de identificación|"
     "numero de identificacion|carta d'identità|carta d'identita|teudat zehut|rijksregisternummer|"
     "rijksregister|registre national|numéro national|numero national|isikukood|asmens kodas|"
     "personas kods|dowodu osobistego|dowód osobisty|dowod osobisty|numer dowodu|nr dowodu|"
     "identiteitskaart|identiteitsbewijs|bilhete de identidade|cartão de cidadão|cartao de cidadao|"
     "documento nacional de identidad|nüfus cüzdanı|nufus cuzdani|kimlik kartı|kimlik karti", NULL},
    {SL_P_CUE_NATID, 0, B_L, P_TAILS, "NI", S1 "number|" S1 "no" WB}, /* UK National Insurance */
    {SL_P_CUE_NATID, 1, B_L, P_TAILS, "ni", S1 "number"}, /* as typed in a chat: "my ni number" */
    /* (?i:\b(?:driver'?s?|drivers'|driving)[ \-]?licen[cs]e|\blicen[cs]e\s{0,3}(?:no\b|number|#))|\bDL\b */
    {SL_P_CUE_DL, 1, B_L, P_TAILS, "driver",
     "licence|license| licence| license|-licence|-license|"
     "'licence|'license|' licence|' license|'-licence|'-license|"
     "slicence|slicense|s licence|s license|s-licence|s-license|"
     "'slicence|'slicense|'s licence|'s license|'s-licence|'s-license|"
     "s'licence|s'license|s' licence|s' license|s'-licence|s'-license"},
    {SL_P_CUE_DL, 1, B_L, P_TAILS, "driving", "licence|license| licence| license|-licence|-license"},
    {SL_P_CUE_DL, 1, B_L, P_TAILS, "learner|learner's|driving|driver", S1 "permit"},
    {SL_P_CUE_DL, 1, B_L, P_TAILS, "licence|license", S0 "no" WB "|" S0 "number|" S0 "#"},
    {SL_P_CUE_DL, 0, B_L | B_R, P_NONE, "DL", NULL},
    {SL_P_CUE_DL, 1, B_L, P_TAILS, "dl", S1 "number|" S0 "#"}, /* "my dl number", "dl#" */
    {SL_P_CUE_DL, 1, B_L, P_NONE,
     "führerschein|permis de conduire|licencia de conducir|carnet de conducir|patente di guida|"
     "rijbewijs|carteira de motorista|prawo jazdy|körkort", NULL},
    /* "type"\s{0,3}:\s{0,3}"service_account"|"private_key_id"\s{0,3}: */
    {SL_P_GCP_SA, 0, 0, P_GCP, "\"service_account\"", NULL},
    {SL_P_GCP_SA, 0, 0, P_TAILS, "\"private_key_id\"", S0 ":"},
    {SL_P_AZURE_SECRET, 0, 0, P_AZURE, "Q~", NULL},
    /* \b(?:born|birth|birthday|birthdate|dob|d\.o\.b)\b */
    {SL_P_CUE_DOB, 1, B_L | B_R, P_NONE, "born|birth|birthday|birthdate|dob|d.o.b", NULL},
    /* the same in other languages */
    {SL_P_CUE_DOB, 1, B_L | B_R, P_NONE,
     "geboren|geburtsdatum|geburtstag|née|né le|né(e|date de naissance|nacido|nacida|nacimiento|"
     "nato il|nata il|data di nascita|nascido|nascida|nascimento|urodzony|urodzona|urodzenia|"
     "geboortedatum|född|födelsedatum|fødselsdato|date_of_birth|birth_date|naissance|geb|"
     "doğum tarihi|dogum tarihi|syntymäaika|syntymaaika|"
     /* the verb, first and third person ("nasci em 5 de agosto de 1990") */
     "naci el|nasci|nasceu|sono nato|sono nata|werd geboren|ben geboren|is geboren", NULL},
    /* (ending in a letter past ASCII, which \b does not take for one: no right bound) */
    {SL_P_CUE_DOB, 1, B_L, P_NONE, "nací|nació|urodziłem|urodziłam|urodził się|urodziła się",
     NULL},
    {SL_P_CUE_DOB, 0, 0, P_NONE, "γεννήθηκε|Γεννήθηκε|родился|родилась|народився|народилася", NULL},
    /* inside a field's name: "dateOfBirth", "fecha_nacimiento", "Geburtsdatum" */
    {SL_P_CUE_DOB, 1, 0, P_NONE,
     "dateofbirth|_birth|_dob|_nacimiento|_naissance|_nascita|_nascimento|geburts", NULL},
    /* CJK, Arabic, Hindi, Vietnamese, Indonesian (no ASCII word bounds) */
    {SL_P_CUE_DOB, 0, 0, P_NONE,
     "生年月日|出生日期|出生年月日|생년월일|تاريخ الميلاد|जन्म तिथि|जन्मतिथि|ngày sinh|Ngày sinh|"
     "tanggal lahir|Tanggal lahir", NULL},
    /* Cyrillic and Greek (Hyperscan folds ASCII case only: both forms) */
    {SL_P_CUE_DOB, 0, 0, P_NONE,
     "дата народження|Дата народження|дата рождения|Дата рождения|ημερομηνία γέννησης|"
     "Ημερομηνία γέννησης", NULL},
    {SL_P_CUE_PASSPORT, 1, B_L, P_NONE, "passport", NULL}, /* \bpassport */
    {SL_P_CUE_PASSPORT, 1, B_L, P_NONE,
     "reisepass|passeport|pasaporte|passaporto|passaporte|paszport|paspoort|passnummer|passinumero", NULL},
    {SL_P_CUE_PASSPORT, 0, 0, P_NONE, "护照|護照|旅券|パスポート|여권|جواز السفر|رقم الجواز|hộ chiếu|pasaport", NULL},
    /* \b(?:ssn|ss#|social\s{1,3}security) */
    {SL_P_CUE_SSN, 1, B_L, P_NONE, "ssn|ss#", NULL},
    {SL_P_CUE_SSN, 1, B_L, P_SOCIAL, "social", NULL},
    /* "my social is 356094109": the number's everyday name (the SSN rules still decide) */
    {SL_P_CUE_SSN, 1, B_L, P_TAILS, "my social|his social|her social|your social|their social",
     S1 "is" WB "|" S0 ":|" S1 "number|" S0 "#"},
    {SL_P_AWS_AKID, 0, B_L | B_LU, P_NONE, "AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA|ABIA|ACCA", NULL},
    {SL_P_GOOGLE_KEY, 0, B_L | B_LU, P_NONE, "AIza", NULL},
    {SL_P_GOOGLE_OAUTH, 0, B_L, P_NONE, "ya29.|GOCSPX-|1//0", NULL},
    /* (?:AccountKey|SharedAccessKey|sig)= */
    {SL_P_AZURE_KEY, 1, 0, P_NONE, "accountkey=|sharedaccesskey=|sig=", NULL},
    {SL_P_GITHUB, 0, B_L | B_LU, P_NONE, "ghp_|gho_|ghu_|ghs_|ghr_|github_pat_", NULL},
    {SL_P_GITLAB, 0, B_L | B_LU, P_NONE,
     "glpat-|gldt-|glrt-|glptt-|glcbt-|glimt-|glagent-|gloas-|glft-|glsoat-|glcc-", NULL},
    {SL_P_SLACK, 0, B_L | B_LU, P_NONE, "xoxa-|xoxb-|xoxp-|xoxo-|xoxs-|xoxr-|xoxe-", NULL},
    {SL_P_SLACK_HOOK, 0, 0, P_NONE, "hooks.slack.com/services/|hooks.slack.com/workflows/", NULL},
    {SL_P_STRIPE, 0, B_L | B_LU, P_NONE, "sk_live_|sk_test_|rk_live_|rk_test_|whsec_", NULL},
    {SL_P_OPENAI, 0, B_L | B_LU, P_NONE, "sk-|sk-proj-|sk-svcacct-|sk-admin-|sk-None-", NULL},
    {SL_P_ANTHROPIC, 0, B_L | B_LU, P_NONE, "sk-ant-", NULL},
    {SL_P_VENDOR, 0, B_L, P_NONE,
     "dckr_pat_|npm_|pypi-|hf_|xapp-|shpat_|shpss_|shpca_|shppa_|sq0csp-|sq0atb-|sq0idp-|EAAA|"
     "dp.pt.|dp.st.|tvly-|SG.|rubygems_|sgp_|hvs.|hvb.|hvr.|doo_v1_|dop_v1_|dor_v1_|"
     "AGE-SECRET-KEY-|pk.eyJ|sk.eyJ|tk.eyJ|ATATT|lin_api_|pscale_tkn_|pscale_pw_|pscale_oauth_|"
     "glc_|figd_|ntn_|nfp_|pat-na1-|ops_|AKCp|xoxe.|sntrys_|PMAK-|fo1_|key-|api_|da2-|r8_|gsk_|"
     "xai-|pplx-|sk_|rk_|AC|SK|dapi|re_|lsv2_pt_|lsv2_sk_|nvapi-|csk-|fw_|aio_|ak_|ai_|"
     "access_token$production$|access_token$sandbox$|NRAK-|NRAA-|NRII-|NRJS-|NRRA-|NRSP-|oy2|"
     "akab-|LTAI|pul-|sbp_|waka_|cosmo_|eyJrIjoi", NULL},
    /* PRIVATE KEY(?: BLOCK)?-----: the two literals "PRIVATE KEY-----" and
     * "PRIVATE KEY BLOCK-----" together made Hyperscan build a 0.93 MB database
     * (94 KB without them), so the tail is checked in C (pem_tail) */
    {SL_P_PRIVKEY, 0, 0, P_PEM, "PRIVATE KEY", NULL},
    /* blocks that hold nothing secret: random-looking runs inside them are not keys */
    {SL_P_PEM_PUBLIC, 0, 0, P_NONE,
     "-----BEGIN CERTIFICATE|-----BEGIN PUBLIC KEY|-----BEGIN PGP PUBLIC KEY|-----BEGIN PGP SIGNATURE|"
     "-----BEGIN X509 CRL", NULL},
    {SL_P_PRIVKEY, 0, 0, P_DIGIT, "PuTTY-User-Key-File-", NULL},
    {SL_P_PRIVKEY_B64, 0, 0, P_NONE, "LS0tLS1CRUdJTi", NULL},
    /* a private key's DER in base64 without its PEM lines: PKCS #1 RSA ("MIIEowIBAAKCAQEA…"),
     * PKCS #8 ("MIIEvQIBADANBgkqhkiG9w0BAQEFAASC…"), SEC 1 EC ("MHcCAQEEI…"), Ed25519 */
    {SL_P_PRIVKEY_B64, 0, 0, P_NONE,
     "IBAAKCAQEA|IBAAKCAgEA|IBAAKBgQ|IBAAJBA|IBADANBgkqhkiG9w0BAQEFAAS|MHcCAQEEI|MC4CAQAwBQYDK2VwBCIEI",
     NULL},
    {SL_P_JWT, 0, B_L, P_NONE, "eyJ", NULL},
    {SL_P_BASIC_AUTH, 1, B_L, P_WS, "basic", NULL},
    {SL_P_BEARER, 1, B_L, P_WS, "bearer", NULL},
    {SL_P_NETRC, 1, B_L, P_WS, "machine", NULL},
    /* a quoted password glued to a client's -p flag: mysql -u root -p'S3cr3t' */
    {SL_P_CLI_PW, 0, 0, P_NONE, " -p'| -p\"", NULL},
    /* and a bare one glued to it: mysql -u root -pW1nter-Lake-2024 */
    {SL_P_CLI_PW, 0, 0, P_NONE, " -p", NULL},
    /* curl -u key:secret, and a password piped to --password-stdin */
    {SL_P_CLI_PW, 0, 0, P_NONE, " -u | --user |--password-stdin", NULL},
    /* a password as the last literal of a call that takes a user and a
     * password: requests' auth=("user", "pw"), PHP's new PDO(dsn, user, pw) */
    {SL_P_CLI_PW, 0, 0, P_NONE, "auth=(|auth = (|HTTPBasicAuth(|new PDO(", NULL},
    /* a bare password after -p (docker login -p X, mysql -pX is the quoted form) */
    {SL_P_CLI_PW, 0, 0, P_NONE, " -p | -a ", NULL}, /* redis-cli -a secret */
    /* a .pgpass line: host:5432:database:user:password */
    {SL_P_CLI_PW, 0, 0, P_NONE, ":5432:", NULL},
    /* PowerShell: ConvertTo-SecureString "secret" -AsPlainText */
    {SL_P_CLI_PW, 1, B_L, P_NONE, "convertto-securestring '|convertto-securestring \"|"
     "convertto-securestring -string '|convertto-securestring -string \"", NULL},
    /* SQL: CREATE/ALTER USER ... IDENTIFIED BY 'secret' */
    {SL_P_CLI_PW, 1, B_L, P_NONE, "identified by '|identified by \"", NULL},
    /* a key given to an API client's constructor: LinodeClient("..."), algoliasearch('id', '...') */
    {SL_P_CLIENT_KEY, 0, 0, P_NONE, "Client(\"|Client('|Session(\"|Session('|search('|search(\"", NULL},
    /* \$(?:1|2[abxy]?|5|6|y|7|apr1|argon2(?:id|i|d)|pbkdf2(?:-sha\d+)?|scrypt|sha1|md5)\$|
     * \{(?:SSHA|SHA|SMD5|CRYPT|SSHA256|SSHA512)\} */
    {SL_P_PWHASH, 0, 0, P_NONE,
     "$1$|$2$|$2a$|$2b$|$2x$|$2y$|$5$|$6$|$y$|$7$|$apr1$|$argon2id$|$argon2i$|$argon2d$|"
     "$pbkdf2$|$scrypt$|$sha1$|$md5$|{SSHA}|{SHA}|{SMD5}|{CRYPT}|{SSHA256}|{SSHA512}", NULL},
    /* Windows and Kerberos hashes as cracking tools write them (AS-REP roasting,
     * Kerberoasting, cached domain logons, NetNTLM captures) */
    {SL_P_PWHASH, 0, 0, P_NONE,
     "$krb5asrep$|$krb5tgs$|$krb5pa$|$DCC2$|$NETNTLMv2$|$NETNTLM$|$ml$|$sha512$|$sha256$", NULL},
    {SL_P_PWHASH, 0, 0, P_SHA, "$pbkdf2-sha", NULL},
    /* MySQL's mysql_native_password hash: '*' and 40 hex digits */
    {SL_P_PWHASH, 0, 0, P_HEX40, "*", NULL},
    /* pass(?:w(?:or)?d|phrase|code)?|pwd|pw\b|\bpin\b|credentials?|\blog(?:in|on)\b */
    {SL_P_PW_CUE, 1, 0, P_NONE, "pass|passwd|password|passphrase|passcode|pwd|credential|credentials|psk", NULL},
    /* the word in other languages */
    {SL_P_PW_CUE, 1, 0, P_NONE,
     "passwort|kennwort|mot de passe|mot_de_passe|motdepasse|contraseña|contrasena|senha|"
     "hasło|haslo|wachtwoord|lösenord|losenord|salasana|şifre|sifre|passord|adgangskode|heslo|"
     "jelszó|jelszo|lozinka|пароль", NULL},
    /* Japanese, Korean, Chinese, Arabic, Hindi, Vietnamese, Greek, Hebrew, Thai
     * (no ASCII word bounds for most of these bytes) */
    {SL_P_PW_CUE, 0, 0, P_NONE,
     "パスワード|비밀번호|비번|패스워드|密码|密碼|كلمة المرور|كلمة السر|كلمه المرور|पासवर्ड|"
     "mật khẩu|Mật khẩu|κωδικός|Κωδικός|סיסמה|รหัสผ่าน", NULL},
    /* Turkish's other word (Italian's "word": only whole) */
    {SL_P_PW_CUE, 1, B_L | B_R, P_NONE, "parola", NULL},
    /* "clave" is also a key or a code in Spanish: only as a whole word */
    {SL_P_PW_CUE, 1, B_L | B_R, P_NONE, "clave", NULL},
    {SL_P_PW_CUE, 1, B_R, P_NONE, "pw", NULL},
    {SL_P_PW_CUE, 1, B_L | B_R, P_NONE, "pin|login|logon", NULL},
    /* before a lower-case name in text with capitals (names.c, lower_names):
     * words that point only at people, then words that point at where things
     * go (a gazetteer name only after those: "send it to staging"), then what
     * people do, after a name */
    {SL_P_LOWER_CUE, 1, B_L | B_R, P_NONE,
     "talked to|talking to|spoke to|spoke with|speaking with|speaking to|chatted with|tell|ask|"
     "thank|thanks|remind|ping|cc|cc'ing|ccing|text from|"
     "message from|email from|note from|dm from|call from|invite|notify|inform", NULL},
    {SL_P_LOWER_SEND, 1, B_L | B_R, P_NONE,
     "sent to|send to|send it to|forward to|forward it to|forwarded to|assigned to|assign to|"
     "assign it to|give it to|hand it to|reach out to|talk to|meet with|met with|from|by|"
     "wait for|waiting for|ask for", NULL},
    {SL_P_LOWER_VERB, 1, B_L | B_R, P_NONE,
     "said|says|told|asked|wrote|texted|emailed|replied|mentioned|agreed|thinks|wants|wanted|"
     "messaged|complained|promised|confirmed|approved|suggested|explained|noticed", NULL},
    /* a database connection's call: connect("dsn", "user", "secret") */
    {SL_P_CONNECT, 1, B_L, P_NONE, "connect(|getconnection(|mysqli_connect(", NULL},
    /* api[_\-. ]?key|secret|token|auth|access[_\-]?key|\bkey\b|_key|key_ */
    {SL_P_KEY_CUE, 1, 0, P_NONE,
     "apikey|api_key|api-key|api.key|api key|secret|token|auth|accesskey|access_key|access-key|"
     "_key|key_|postmark|_api", NULL},
    {SL_P_KEY_CUE, 1, B_L | B_R, P_NONE, "key", NULL},
    /* a personal access token's name (ado_pat, GITLAB_PAT); SonarQube's login token */
    {SL_P_KEY_CUE, 1, B_R, P_NONE, "_pat", NULL},
    {SL_P_KEY_CUE, 1, B_L, P_NONE, "sonar", NULL},
    /* one-time-password seeds and recovery codes (secrets.c, otp_cue) */
    {SL_P_OTP_CUE, 1, B_L | B_R, P_NONE,
     "totp|otp secret|2fa secret|mfa secret|totp seed|otp seed|recovery key|recovery code|"
     "recovery codes|backup code|backup codes", NULL},
    /* Jenkins' crumb (its CSRF token: "Jenkins-Crumb:4405619531...") */
    {SL_P_KEY_CUE, 1, B_L, P_NONE, "crumb", NULL},
    /* the word in other languages */
    {SL_P_KEY_CUE, 1, B_L | B_R, P_NONE,
     "clé api|clé d'api|cle api|clef api|chiave api|api-schlüssel|api-schluessel|api-sleutel|"
     "klucz api|clave de api|chave de api|chave api", NULL},
    {SL_P_CRYPTO_ETH, 0, B_L, P_HEX40, "0x", NULL},
    /* (?i:\b(?:name\s{0,3}(?:is|:|\?)|named|called|signed|surname))|
     * \b(?:Mr|Mrs|Ms|Mx|Dr|Prof|Miss|Sir|Madam|Dear|MR|MRS|MS|DR|mr|mrs|dr)\b\.? */
    {SL_P_CUE_NAME2, 1, B_L, P_NAME_IS, "name", NULL},
    /* the label in other languages: "Nome: Pietra Ferreira", "Vorname: Jan" */
    {SL_P_CUE_NAME2, 1, B_L | B_R, P_NAME_IS,
     "nome|nom|nombre|prénom|vorname|nachname|apellido|apellidos|forename|forenames|"
     "navn|namn|imię|nazwisko|naam", NULL},
    {SL_P_CUE_NAME2, 1, B_L | B_R, P_NONE, "a nome|a nombre de|au nom de|im namen von", NULL},
    {SL_P_CUE_NAME2, 1, B_L, P_NONE, "named|called|signed|surname", NULL},
    {SL_P_CUE_NAME2, 1, B_L | B_R, P_NONE, "call me|call him|call her", NULL},
    /* a JSON or Python dict key: "name": "John Smith", 'full_name': ... */
    {SL_P_CUE_NAME2, 1, B_L, P_NONE,
     "name\":|name':|first_name\":|last_name\":|full_name\":|firstname\":|lastname\":|"
     "fullname\":|given_name\":|family_name\":|middle_name\":|surname\":|patient_name\":|"
     "customer_name\":|contact_name\":|employee_name\":|applicant_name\":|holder_name\":|"
     "cardholder_name\":|full_name':|first_name':|last_name':", NULL},
    /* the same keys as keyword arguments with a literal: given_name="Ngozi"
     * (not "first_name: str", a type, nor last_name=form["last_name"]) */
    {SL_P_CUE_NAME2, 1, B_L, P_NONE,
     "first_name=\"|last_name=\"|full_name=\"|given_name=\"|family_name=\"|firstname=\"|lastname=\"|"
     "first_name='|last_name='|full_name='|given_name='|family_name='|firstname='|lastname='", NULL},
    {SL_P_CUE_NAME2, 0, B_L | B_R, P_DOT,
     "Mr|Mrs|Ms|Mx|Dr|Prof|Miss|Sir|Madam|Dear|MR|MRS|MS|DR|MSTR|MISS|mr|mrs|dr", NULL},
    /* the same in other languages: "Herr Schubert", "Mme Girard", "Sra. García",
     * "Sig.ra Lombardi", "Dhr. de Vries" */
    {SL_P_CUE_NAME2, 0, B_L | B_R, P_DOT,
     "Herr|Frau|Mme|Mlle|Madame|Monsieur|Sr|Sra|Srta|Señor|Señora|Señorita|Signor|"
     "Signora|Sig.ra|Dott|Dott.ssa|Dhr|Mevr|Mevrouw", NULL},
    /* \b(?:hi|hello|...|contact)\b */
    {SL_P_CUE_NAME1, 1, B_L | B_R, P_NONE,
     "hi|hello|hey|thanks|thank you|sincerely|regards|i am|i'm|patient|customer|employee|attn|cc|"
     "beneficiary|contact|cheers|best wishes|bises|bisous|cordialement|saludos|abrazos|grüße|"
     "gruesse|groetjes|saluti|ciao|hola|bonjour|hallo|it's|it is|this is|here's|"
     /* form labels of a person */
     "cardholder|card holder|account holder|holder|inhaber|inhaberin|recipient|addressee|guest|"
     "traveler|traveller|passenger|tenant|applicant|candidate|insured|policyholder|signed by|"
     "emergency contact|destinataire|empfänger|destinatario|bill to|ship to|sold to|deliver to|"
     "c/o|care of|soy|je suis|ich bin|me llamo|je m'appelle|mi chiamo|member", NULL},
    /* family and people close by, a strong cue: "my kid Tadzio", "my colleague Aroha" */
    {SL_P_CUE_NAME2, 1, B_L | B_R, P_NONE,
     "my kid|my son|my daughter|my wife|my husband|my brother|my sister|my mom|my dad|"
     "my mother|my father|my boss|my friend|my colleague|my cousin|my nephew|my niece|"
     "my uncle|my aunt|my grandson|my granddaughter|my neighbor|my neighbour|my partner|"
     "my tutor|my teacher|my coach|my mentor|my manager|my supervisor|my coworker|my co-worker|"
     "my classmate|my roommate|my flatmate|my housemate|my landlord|my landlady|my girlfriend|"
     "my boyfriend|my fiancé|my fiancée|my grandma|my grandpa|my grandmother|my grandfather|"
     "my stepson|my stepdaughter|my therapist|my nanny|my babysitter|"
     "our guide|our driver|our host|our nanny|our landlord|our neighbour|our neighbor|our tutor",
     NULL},
    /* an address label ("Address:", "\"address\": ", "Adresse actuelle :") or
     * where someone lives ("wohnhaft", "lives at"): the address follows */
    {SL_P_CUE_ADDR, 1, B_L, P_NONE,
     "address:|address :|address\":|address':|adresse:|adresse :|anschrift:|dirección:|"
     "direccion:|indirizzo:|endereço:|endereco:|adres:|osoite:|adress:|adresa:|domicilio:|"
     "wohnhaft|residing at|resides at|lives at|living at|domicilié|domiciliée|demeurant", NULL},
    {SL_P_CUE_ADDR, 1, B_L, P_TAILS, "adresse|address|dirección|direccion|indirizzo|endereço",
     S1 "actuelle" S0 ":|" S1 "actual" S0 ":|" S1 "attuale" S0 ":|" S1 "atual" S0 ":|"
     S1 "postale" S0 ":|" S1 "postal" S0 ":|" S1 "line 1" S0 ":|" S1 "1" S0 ":"},
};
#undef CI
#undef DIG

/* Hyperscan ids: pattern ids below SL_P__COUNT, then the literals, then the
 * difficulty cue words (also plain literals; `\b` before a word checked in C). */
#define LIT_BASE 256u
#define MAX_LITS 2048u
#define CUE_BASE (LIT_BASE + MAX_LITS)
#define MAX_CUES 512u

typedef struct {
  uint16_t len;
  uint8_t id, bnd, post, ci;
  const char *tails;
} lit_t;

struct sl__scan {
  uint8_t cls[SL_P__COUNT][32]; /* ST_BACK byte classes as bitmaps */
  lit_t lit[MAX_LITS + MAX_CUES]; /* by Hyperscan id - LIT_BASE; cues: id = group */
  hs_database_t *db;     /* everything but the numeric shapes, over the whole text */
  hs_database_t *db_num; /* the numeric shapes, over the digit runs only */
  hs_database_t *db_intl; /* +CC phone numbers, over the digit runs holding a '+' only */
  hs_database_t *db_date; /* textual dates, before four-digit years only */
  hs_database_t *db_ip6;  /* IPv6, over runs of hex digits and colons only */
  hs_scratch_t *proto;   /* allocated for both; every pooled scratch is a clone */
  pthread_mutex_t mu;
  hs_scratch_t *pool[64];
  int n_pool;
};

/* Appends `w` (n bytes) to buf as a Hyperscan expression matching it literally. */
static const char *lit_expr(char **buf, const char *end, const char *w, size_t n) {
  char *o = *buf, *start = o;
  for (size_t k = 0; k < n && o + 3 < end; k++) {
    if (!((w[k] >= 'a' && w[k] <= 'z') || (w[k] >= 'A' && w[k] <= 'Z') || (w[k] >= '0' && w[k] <= '9') ||
          w[k] == ' '))
      *o++ = '\\';
    *o++ = w[k];
  }
  *o++ = 0;
  *buf = o;
  return start;
}

sl__scan_t *sl__scan_create(char *err, size_t errlen) {
  enum { N = sizeof pats / sizeof pats[0], MAXN = N + MAX_LITS + MAX_CUES };
  _Static_assert((int)N == (int)SL_P__COUNT, "one pattern per SL_P_ id");
  _Static_assert(SL_P__COUNT <= 128 && SL_P__COUNT <= LIT_BASE, "hits.last_idx holds 128 patterns");
  _Static_assert(SL_P__COUNT <= 64, "NUM_PATS is a 64-bit mask");
  const char *exprs[MAXN];
  unsigned flags[MAXN], ids[MAXN], total = 0;
  sl__scan_t *s = calloc(1, sizeof *s);
  char *buf = malloc(16384), *bp = buf, *bend = buf + 16384;
  if (!s || !buf) {
    snprintf(err, errlen, "out of memory");
    free(s);
    free(buf);
    return NULL;
  }
  for (int i = 0; i < N; i++) {
    const char *c = pats[i].cls;
    if (pats[i].id != i) {
      snprintf(err, errlen, "pattern table out of order at %d", i);
      goto fail;
    }
    for (size_t k = 0; c && c[k]; k++) {
      unsigned lo = (unsigned char)c[k], hi = lo;
      if (c[k + 1] == '-' && c[k + 2]) hi = (unsigned char)c[k + 2], k += 2;
      for (unsigned b = lo; b <= hi; b++) s->cls[i][b >> 3] |= (uint8_t)(1u << (b & 7));
    }
    if (!pats[i].re || IS_NUM(i) || IS_DATE(i) || IS_IP6(i)) continue;
    /* a regex with no window rule of its own runs over the whole text (none
     * today: every built-in one has a window or a literal standing for it) */
    exprs[total] = pats[i].re;
    flags[total] = pats[i].flags | (pats[i].start == ST_SOM ? HS_FLAG_SOM_LEFTMOST : 0);
    ids[total++] = (unsigned)pats[i].id;
  }
  unsigned nl = 0;
  for (size_t i = 0; i < sizeof litsets / sizeof litsets[0]; i++) {
    const litset_t *ls = &litsets[i];
    for (const char *a = ls->alts; *a;) {
      size_t n = strcspn(a, "|");
      if (nl == MAX_LITS || n > UINT16_MAX) {
        snprintf(err, errlen, "too many literal patterns");
        goto fail;
      }
      s->lit[nl] = (lit_t){(uint16_t)n, ls->id, ls->bnd, ls->post, ls->ci, ls->tails};
      exprs[total] = lit_expr(&bp, bend, a, n);
      flags[total] = ls->ci ? HS_FLAG_CASELESS : 0;
      ids[total++] = LIT_BASE + nl++;
      a += n + (a[n] == '|');
    }
  }
  /* The difficulty cue words ride along in the same pass, counted per group:
   * plain literals too, with the word-start boundary checked on a match. */
  size_t nc = sl__diff_cue_count();
  for (size_t i = 0; i < nc && i < MAX_CUES; i++) {
    if (!sl__diff_cue_main_pass(i)) continue;
    const char *e = sl__diff_cue_expr(i);
    uint8_t bnd = 0;
    if (!strncmp(e, "\\b", 2)) e += 2, bnd = B_L;
    char w[64];
    size_t n = 0;
    for (; *e && n < sizeof w; e++)
      if (*e != '\\' || !e[1]) w[n++] = *e;
      else
        w[n++] = *++e;
    s->lit[MAX_LITS + i] = (lit_t){(uint16_t)n, (uint8_t)sl__diff_cue_group(i), bnd, P_NONE, 1, NULL};
    exprs[total] = lit_expr(&bp, bend, w, n);
    flags[total] = HS_FLAG_CASELESS;
    ids[total++] = CUE_BASE + (unsigned)i;
  }
  if (bp >= bend - 4) {
    snprintf(err, errlen, "literal table too long");
    goto fail;
  }
  hs_compile_error_t *ce = NULL;
  if (hs_compile_multi(exprs, flags, ids, total, HS_MODE_BLOCK, NULL, &s->db, &ce) != HS_SUCCESS) {
    snprintf(err, errlen, "hyperscan: pattern %d: %s", ce ? ce->expression : -1,
             ce ? ce->message : "?");
    hs_free_compile_error(ce);
    goto fail;
  }
  free(buf);
  buf = NULL;
  /* the windowed databases: numeric shapes, textual dates, IPv6, and +CC phone
   * numbers on their own: with them the numeric database was 210 KB, without
   * them 56 KB, and few digit runs hold a '+' */
  hs_database_t **dbs[4] = {&s->db_num, &s->db_date, &s->db_ip6, &s->db_intl};
  for (int d = 0; d < 4; d++) {
    total = 0;
    for (int i = 0; i < N; i++) {
      bool in = d == 0 ? IS_NUM(i) && i != SL_P_PHONE_INTL : d == 1 ? IS_DATE(i) : d == 2 ? IS_IP6(i)
                                                                                      : i == SL_P_PHONE_INTL;
      if (!pats[i].re || !in) continue;
      exprs[total] = pats[i].re;
      flags[total] = pats[i].flags | (pats[i].start == ST_SOM ? HS_FLAG_SOM_LEFTMOST : 0);
      ids[total++] = (unsigned)pats[i].id;
    }
    if (hs_compile_multi(exprs, flags, ids, total, HS_MODE_BLOCK, NULL, dbs[d], &ce) != HS_SUCCESS) {
      snprintf(err, errlen, "hyperscan: pattern %d: %s", ce ? ce->expression : -1, ce ? ce->message : "?");
      hs_free_compile_error(ce);
      goto fail_db;
    }
  }
  if (hs_alloc_scratch(s->db, &s->proto) != HS_SUCCESS || hs_alloc_scratch(s->db_num, &s->proto) != HS_SUCCESS ||
      hs_alloc_scratch(s->db_date, &s->proto) != HS_SUCCESS || hs_alloc_scratch(s->db_ip6, &s->proto) != HS_SUCCESS ||
      hs_alloc_scratch(s->db_intl, &s->proto) != HS_SUCCESS) {
    snprintf(err, errlen, "hyperscan: cannot allocate scratch");
    goto fail_db;
  }
  pthread_mutex_init(&s->mu, NULL);
  return s;
fail_db:
  hs_free_scratch(s->proto);
  hs_free_database(s->db);
  hs_free_database(s->db_num);
  hs_free_database(s->db_intl);
  hs_free_database(s->db_date);
  hs_free_database(s->db_ip6);
fail:
  free(buf);
  free(s);
  return NULL;
}

void sl__scan_free(sl__scan_t *s) {
  if (!s) return;
  for (int i = 0; i < s->n_pool; i++) hs_free_scratch(s->pool[i]);
  hs_free_scratch(s->proto);
  hs_free_database(s->db);
  hs_free_database(s->db_num);
  hs_free_database(s->db_intl);
  hs_free_database(s->db_date);
  hs_free_database(s->db_ip6);
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

/* num_scan batches the digit runs' windows into one buffer of NUM_BUF bytes. */
#define NUM_WINS 64
#define NUM_BUF 4096

typedef struct {
  sl__hits_t *h;
  const sl__scan_t *s;
  const unsigned char *text;
  size_t len;
  /* num_scan: windows copied into one buffer; their offsets in it and in text */
  uint32_t n_win, win_buf[NUM_WINS], win_text[NUM_WINS];
  /* a P_PEM hit held back until a match ending after its literal (pem_tail) */
  bool pend;
  uint32_t pend_lit, pend_from, pend_to;
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

/* Hyperscan's \b: a word byte ([A-Za-z0-9_]) on exactly one side of `pos`. */
static inline bool word_byte(unsigned char ch) {
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_';
}
static inline bool boundary(const scan_ctx_t *x, size_t pos) {
  bool a = pos > 0 && word_byte(x->text[pos - 1]), b = pos < x->len && word_byte(x->text[pos]);
  return a != b;
}
static inline bool space_byte(unsigned char ch) { /* \s */
  return ch == ' ' || (ch >= '\t' && ch <= '\r');
}
static inline unsigned char lower(unsigned char ch) {
  return ch >= 'A' && ch <= 'Z' ? ch + 32 : ch;
}

/* "name on the account?", "name for the booking?", "name under the lease?": a
 * question for a holder's name, at most 40 bytes of words to its '?'. Returns
 * the end of the '?' or 0. */
static size_t holder_question(const unsigned char *t, size_t n, size_t e) {
  static const char *const preps[] = {"on ", "for ", "under ", NULL};
  const char *const *p = preps;
  while (*p && !(n - e > strlen(*p) && !strncasecmp((const char *)t + e, *p, strlen(*p)))) p++;
  if (!*p) return 0;
  for (size_t k = e + strlen(*p); k < n && k - e < 40; k++) {
    if (t[k] == '?') return k + 1;
    if (!(lower(t[k]) >= 'a' && lower(t[k]) <= 'z') && t[k] != ' ' && t[k] != '\'') return 0;
  }
  return 0;
}

/* "name" at [s, to) owned by someone else and a capitalised word right after
 * it: "my partner's name Bodnár Martin", "under his name Kovács" (not "your
 * name", which forms ask for: "Type your name Below"). Returns to or 0. */
static size_t owned_name(const unsigned char *t, size_t n, size_t s, size_t to) {
  static const char *const pronouns[] = {" his ", " her ", " their ", NULL};
  static const char *const people[] = {"partner", "wife", "husband", "son", "daughter", "mother",
                                       "father", "friend", "colleague", "client", "customer",
                                       "patient", "tenant", "employee", "spouse", "child", "mom",
                                       "dad", "brother", "sister", "boss", "manager", NULL};
  if (to + 1 >= n || t[to] != ' ' || !((t[to + 1] >= 'A' && t[to + 1] <= 'Z') || t[to + 1] >= 0xC3))
    return 0;
  for (const char *const *o = pronouns; *o; o++) {
    size_t m = strlen(*o);
    if (s >= m && !strncasecmp((const char *)t + s - m, *o, m)) return to;
  }
  /* "<person>'s name" (the apostrophe straight or typographic) */
  size_t q = s >= 3 && !strncmp((const char *)t + s - 3, "'s ", 3) ? s - 3
             : s >= 5 && !memcmp(t + s - 5, "\xe2\x80\x99s ", 5) ? s - 5 : SIZE_MAX;
  if (q == SIZE_MAX) return 0;
  size_t w = q;
  while (w > 0 && lower(t[w - 1]) >= 'a' && lower(t[w - 1]) <= 'z') w--;
  for (const char *const *p = people; *p; p++)
    if (q - w == strlen(*p) && !strncasecmp((const char *)t + w, *p, q - w)) return to;
  return 0;
}

/* The rest of a literal pattern's match after the literal ends at `to`: returns
 * the match end, or 0 when the pattern does not match here. */
static size_t lit_tail(const scan_ctx_t *x, const lit_t *l, size_t to) {
  const unsigned char *t = x->text;
  size_t n = x->len, e = to;
  switch (l->post) {
    case P_WS: return to < n && space_byte(t[to]) ? to + 1 : 0;
    case P_DOT: return to < n && t[to] == '.' ? to + 1 : to;
    case P_DIGIT: return to < n && t[to] >= '0' && t[to] <= '9' ? to + 1 : 0;
    case P_NAME_IS:
      if (n - e >= 3 && !memcmp(t + e, "(s)", 3)) e += 3; /* "Forename(s):" */
      else if (n - e >= 2 && lower(t[e]) == 's' && t[e + 1] == ':') e++; /* "Given names:" */
      /* "name's", "name’s" */
      if (e + 1 < n && t[e] == '\'' && lower(t[e + 1]) == 's') return e + 2;
      if (e + 3 < n && t[e] == 0xE2 && t[e + 1] == 0x80 && t[e + 2] == 0x99 && lower(t[e + 3]) == 's')
        return e + 4;
      while (e < n && e - to < 3 && space_byte(t[e])) e++;
      for (size_t s0 = e;;) { /* \s{0,3} backtracks: any of the spaces read may end it */
        if (e < n && (t[e] == ':' || t[e] == '?')) return e + 1;
        if (e + 1 < n && lower(t[e]) == 'i' && lower(t[e + 1]) == 's') return e + 2;
        if (e == to || !space_byte(t[e - 1])) {
          size_t hq = holder_question(t, n, s0);
          return hq ? hq : owned_name(t, n, to - l->len, to);
        }
        e--;
      }
    case P_SOCIAL:
      while (e < n && e - to < 3 && space_byte(t[e])) e++;
      if (e == to || n - e < 8) return 0;
      for (size_t k = 0; k < 8; k++)
        if (lower(t[e + k]) != (unsigned char)"security"[k]) return 0;
      return e + 8;
    case P_SHA:
      while (e < n && t[e] >= '0' && t[e] <= '9') e++;
      return e > to && e < n && t[e] == '$' ? e + 1 : 0;
    case P_HEX40: /* 40 hex digits (an address) or 64 (a key or a hash) */
      for (e = to; e < n && e < to + 65 && ((t[e] >= '0' && t[e] <= '9') ||
                                          (lower(t[e]) >= 'a' && lower(t[e]) <= 'f'));)
        e++;
      return (e - to == 40 || e - to == 64) && boundary(x, e) ? e : 0;
    default: return to;
  }
}

static int add_hit(scan_ctx_t *x, unsigned id, unsigned long long from, unsigned long long to);
static int azure_at(scan_ctx_t *x, size_t q);

/* "PRIVATE KEY" ending at `to`: a hit up to the end of a "-----" or " BLOCK-----"
 * tail. Hyperscan reported the full literals at the tail's end, after every match
 * ending at or before it; no other literal can end inside the tail (none ends in
 * "KEY-", "--", "KEY " or a prefix of "BLOCK"), so the hit is held back until the
 * next match ending after `to` (pem_flush), or the end of the pass, to keep the
 * hits in the same order. */
static int pem_flush(scan_ctx_t *x) {
  x->pend = false;
  return add_hit(x, SL_P_PRIVKEY, x->pend_from, x->pend_to);
}

static int pem_tail(scan_ctx_t *x, unsigned id, size_t from, size_t to) {
  const unsigned char *t = x->text;
  size_t n = x->len, e;
  (void)id;
  if (n - to >= 5 && !memcmp(t + to, "-----", 5)) e = to + 5;
  else if (n - to >= 11 && !memcmp(t + to, " BLOCK-----", 11))
    e = to + 11;
  else
    return 0;
  x->pend = true;
  x->pend_lit = (uint32_t)to;
  x->pend_from = (uint32_t)from;
  x->pend_to = (uint32_t)e;
  return 0;
}
static size_t gcp_type_start(const scan_ctx_t *x, size_t from);

/* The ends of a literal's tails (P_TAILS) that match after `to`, as hits from
 * `from`, shortest first (the order Hyperscan reports the ends in). */
static int tails(scan_ctx_t *x, const lit_t *l, size_t from, size_t to) {
  const unsigned char *t = x->text;
  size_t n = x->len, ends[16], ne = 0;
  for (const char *a = l->tails; *a && ne < 16;) {
    size_t p = to;
    bool ok = true;
    for (; *a && *a != '|'; a++) {
      if (!ok) continue;
      unsigned char c = (unsigned char)*a;
      if (c == 1 || c == 2) { /* \s{1,3} / \s{0,3}: greedy; a literal byte follows */
        size_t q = p;
        while (q < n && q - p < 3 && space_byte(t[q])) q++;
        ok = q > p || c == 2;
        p = q;
      } else if (c == 3) {
        ok = boundary(x, p);
      } else {
        ok = p < n && (l->ci ? lower(t[p]) == c : t[p] == c);
        p++;
      }
    }
    if (*a == '|') a++;
    if (!ok) continue;
    size_t k = ne++;
    while (k > 0 && ends[k - 1] > p) ends[k] = ends[k - 1], k--;
    ends[k] = p;
  }
  for (size_t k = 0; k < ne; k++)
    if ((!k || ends[k] != ends[k - 1]) && add_hit(x, l->id, from, ends[k])) return 1;
  return 0;
}

/* Hyperscan reports every end offset; keep one hit per overlapping (or, for
 * class runs, contiguous) stretch of the same pattern. */
static int on_match(unsigned id, unsigned long long from, unsigned long long to, unsigned fl,
                    void *vctx) {
  (void)fl;
  scan_ctx_t *x = vctx;
  sl__hits_t *h = x->h;
  if (x->pend && to > x->pend_lit && pem_flush(x)) return 1;
  if (id >= CUE_BASE) {
    /* the same prefix the difficulty features read (see sl__diff_features) */
    const lit_t *l = &x->s->lit[MAX_LITS + id - CUE_BASE];
    if (to <= SL_DIFF_SCAN && (!(l->bnd & B_L) || boundary(x, to - l->len)))
      h->cue_cnt[l->id % SL_DIFF_GROUPS]++;
    return 0;
  }
  if (id >= LIT_BASE) {
    const lit_t *l = &x->s->lit[id - LIT_BASE];
    from = to - l->len;
    if ((l->bnd & B_L) && !boundary(x, from) && !((l->bnd & B_LU) && from > 0 && x->text[from - 1] == '_'))
      return 0;
    if ((l->bnd & B_R) && !boundary(x, to)) return 0;
    if (l->post == P_TAILS) return tails(x, l, from, to);
    if (l->post == P_AZURE) return azure_at(x, from);
    if (l->post == P_PEM) return pem_tail(x, l->id, from, to);
    if (l->post == P_GCP && (from = gcp_type_start(x, from)) == SIZE_MAX) return 0;
    if (!(to = lit_tail(x, l, to))) return 0;
    id = l->id;
  }
  return add_hit(x, id, from, to);
}

/* One match of pattern `id` ending at `to` (text offsets; `from` only where the
 * pattern gives it): its start, merged into the pattern's last hit when they
 * overlap or touch. */
static int add_hit(scan_ctx_t *x, unsigned id, unsigned long long from, unsigned long long to) {
  sl__hits_t *h = x->h;
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

/* Bytes the numeric shapes are made of ([0-9 .()+/-]): every match of a `num`
 * pattern lies inside one run of them. */
static inline bool num_class(unsigned char ch) {
  /* ' ' ( ) + - . / and 0-9 all lie in 0x20..0x39: one bit each */
  return ch >= 0x20 && ch <= 0x39 && ((0x3ffeb01ull >> (ch - 0x20)) & 1);
}

/* Bitcoin addresses: the word starting at p, if it is one (see pats[]). */
static void btc_at(scan_ctx_t *x, size_t p) {
  const unsigned char *t = x->text;
  size_t n = x->len, q = p;
  if (p > 0 && word_byte(t[p - 1])) return;
  while (q < n && word_byte(t[q]) && q - p <= 74) q++;
  if (q < n && word_byte(t[q])) return;
  bool bech = q - p >= 3 && t[p] == 'b' && t[p + 1] == 'c' && t[p + 2] == '1';
  if (bech ? q - p < 28 || q - p > 74 : (t[p] != '1' && t[p] != '3') || q - p < 26 || q - p > 35) return;
  for (size_t k = p + (bech ? 3 : 1); k < q; k++) {
    unsigned char ch = t[k];
    bool ok = bech ? (ch >= 'a' && ch <= 'z' && ch != 'b' && ch != 'i' && ch != 'o') ||
                         (ch >= '0' && ch <= '9' && ch != '1')
                   : (ch >= 'a' && ch <= 'z' && ch != 'l') || (ch >= 'A' && ch <= 'Z' && ch != 'I' && ch != 'O') ||
                         (ch >= '1' && ch <= '9');
    if (!ok) return;
  }
  add_hit(x, SL_P_CRYPTO_BTC, p, q);
}

static inline bool upper_byte(unsigned char ch) { return ch >= 'A' && ch <= 'Z'; }
static inline bool digit_byte(unsigned char ch) { return ch >= '0' && ch <= '9'; }

/* IBAN heads \b[A-Z]{2}\d{2}[ ]?[A-Z0-9]{4} whose digits start the run at a: the
 * match ends Hyperscan would report, in order. */
static void iban_at(scan_ctx_t *x, size_t a) {
  const unsigned char *t = x->text;
  size_t n = x->len, s = a - 2;
  if (a < 2 || a + 1 >= n || !upper_byte(t[s]) || !upper_byte(t[s + 1]) || !digit_byte(t[a]) ||
      !digit_byte(t[a + 1]))
    return;
  if (s > 0 && word_byte(t[s - 1])) return;
  for (int sp = 0; sp < 2; sp++) {
    size_t g = a + 2 + (size_t)sp; /* the four [A-Z0-9] */
    if (g + 4 > n || (sp && t[a + 2] != ' ')) break;
    bool ok = true;
    for (size_t k = g; k < g + 4; k++) ok &= upper_byte(t[k]) || digit_byte(t[k]);
    if (ok) add_hit(x, SL_P_IBAN, 0, g + 4);
  }
}

/* Windows of the text scanned by one of the small databases: text ranges
 * (merged when they touch), copied into one buffer per hs_scan call, a NUL
 * byte between two. */
typedef struct {
  const hs_database_t *db;
  bool under; /* an underscore in a window ends a number as a space does (below) */
  uint32_t n, start[NUM_WINS], end[NUM_WINS];
} batch_t;

/* Matches in a batch buffer, as text offsets: the window holding the match's last
 * byte (a match never spans two windows). */
static int on_win_match(unsigned id, unsigned long long from, unsigned long long to, unsigned fl,
                        void *vctx) {
  (void)fl;
  scan_ctx_t *x = vctx;
  uint32_t k = 0;
  while (k + 1 < x->n_win && x->win_buf[k + 1] < to) k++;
  unsigned long long d = x->win_text[k] - (unsigned long long)x->win_buf[k];
  return add_hit(x, id, from + d, to + d);
}

static hs_error_t batch_flush(hs_scratch_t *sc, scan_ctx_t *x, batch_t *bt) {
  char buf[NUM_BUF];
  size_t used = 0;
  hs_error_t rc = HS_SUCCESS;
  x->n_win = 0;
  for (uint32_t i = 0; i <= bt->n && rc == HS_SUCCESS; i++) {
    size_t wl = i < bt->n ? bt->end[i] - bt->start[i] : 0;
    if (x->n_win && (i == bt->n || used + 1 + wl > sizeof buf)) {
      rc = hs_scan(bt->db, buf, (unsigned)used, 0, sc, on_win_match, x);
      x->n_win = 0, used = 0;
    }
    if (i == bt->n || rc != HS_SUCCESS) break;
    x->win_buf[x->n_win] = (uint32_t)used;
    x->win_text[x->n_win] = bt->start[i];
    if (wl > sizeof buf / 4) { /* a long window: scanned in place */
      x->win_buf[0] = 0, x->n_win = 1;
      rc = hs_scan(bt->db, (const char *)x->text + bt->start[i], (unsigned)wl, 0, sc, on_win_match, x);
      x->n_win = 0;
      continue;
    }
    /* a NUL between windows, which no window's pattern takes in: a match cannot
     * run from one window into the next ("…7:8:9" + "6506…" is no address) */
    if (x->n_win) buf[used++] = 0;
    x->win_buf[x->n_win] = (uint32_t)used;
    memcpy(buf + used, x->text + bt->start[i], wl);
    /* an underscore around a number ends it as a space does: identifiers, file
     * names and keys carry numbers so ("statement_4111111111111111.pdf",
     * "ssn_078-05-1120"), and \b alone would see one word there. (A window's
     * only bytes outside the numbers' class are the ones around its runs; a
     * window too long to copy is scanned as it is.) */
    if (bt->under)
      for (char *u = memchr(buf + used, '_', wl); u; u = memchr(u + 1, '_', (size_t)(buf + used + wl - u - 1)))
        *u = ' ';
    used += wl;
    x->n_win++;
  }
  bt->n = 0;
  return rc;
}

static hs_error_t batch_add(hs_scratch_t *sc, scan_ctx_t *x, batch_t *bt, size_t ws, size_t we) {
  if (bt->n && ws <= bt->end[bt->n - 1]) {
    if (we > bt->end[bt->n - 1]) bt->end[bt->n - 1] = (uint32_t)we;
    return HS_SUCCESS;
  }
  hs_error_t rc = bt->n == NUM_WINS ? batch_flush(sc, x, bt) : HS_SUCCESS;
  bt->start[bt->n] = (uint32_t)ws;
  bt->end[bt->n++] = (uint32_t)we;
  return rc;
}

/* Azure client secrets [A-Za-z0-9_~.-]{3}\dQ~[A-Za-z0-9_~.-]{31,34} around the "Q~"
 * at q: every end Hyperscan would report, in order (start walked back in add_hit). */
static int azure_at(scan_ctx_t *x, size_t q) {
  const unsigned char *t = x->text;
  const uint8_t *cls = x->s->cls[SL_P_AZURE_SECRET];
#define AZ(ch) (cls[(ch) >> 3] & (1u << ((ch) & 7)))
  if (q < 4 || !digit_byte(t[q - 1]) || !AZ(t[q - 2]) || !AZ(t[q - 3]) || !AZ(t[q - 4])) return 0;
  size_t e = q + 2;
  while (e < x->len && e - (q + 2) < 34 && AZ(t[e])) {
    e++;
    if (e - (q + 2) >= 31 && add_hit(x, SL_P_AZURE_SECRET, 0, e)) return 1;
  }
#undef AZ
  return 0;
}

/* "type": "service_account" ends at the literal ending at `from`: where the
 * match starts ("type"), or SIZE_MAX. */
static size_t gcp_type_start(const scan_ctx_t *x, size_t from) {
  const unsigned char *t = x->text;
  size_t q = from;
  while (q > 0 && from - q < 3 && space_byte(t[q - 1])) q--;
  if (q == 0 || t[q - 1] != ':') return SIZE_MAX;
  size_t r = --q;
  while (q > 0 && r - q < 3 && space_byte(t[q - 1])) q--;
  return q >= 6 && !memcmp(t + q - 6, "\"type\"", 6) ? q - 6 : SIZE_MAX;
}

/* The numeric shapes (phone, card, SSN, IPv4, numeric dates, digit runs) need at
 * least four digits and consist of num_class bytes only, so they are looked for
 * only in runs of those bytes holding four or more digits, each scanned with one
 * byte of context on either side so that \b reads the real neighbours: the
 * same matches as a scan of the whole text, at a fraction of the cost on prose.
 * Textual dates end in a four-digit year after a space: they are scanned in the
 * 32 bytes before such a year (longer than any match). IBAN heads and Bitcoin
 * addresses are matched here in C, at the digit runs they contain. */
/* Digits and num_class bytes of the 64 bytes at p (bytes past the end: n < 64
 * of them are read, the rest count as neither). */
static inline void num_masks(const unsigned char *p, size_t n, uint64_t *dig, uint64_t *num) {
#if defined(__AVX512BW__)
  __m512i v = n >= 64 ? _mm512_loadu_si512(p) : _mm512_maskz_loadu_epi8((1ull << n) - 1, p);
  uint64_t d = _mm512_cmple_epu8_mask(_mm512_sub_epi8(v, _mm512_set1_epi8('0')), _mm512_set1_epi8(9));
  /* ' ' ( ) + - . / : 0x20, 0x28, 0x29, 0x2b, 0x2d, 0x2e, 0x2f */
  uint64_t o = _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8(' ')) |
               _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8('(')) |
               _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8(')')) |
               _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8('+')) |
               _mm512_cmple_epu8_mask(_mm512_sub_epi8(v, _mm512_set1_epi8('-')), _mm512_set1_epi8(2));
  *dig = d;
  *num = d | o;
#else
  unsigned char pad[64];
  if (n < 64) {
    memset(pad, 0, sizeof pad);
    memcpy(pad, p, n);
    p = pad;
  }
  uint64_t d = 0, o = 0;
  for (int h = 0; h < 2; h++) {
    u8x32 v;
    memcpy(&v, p + 32 * h, 32);
    d |= (uint64_t)sl__movemask32((s8x32)((v >= '0') & (v <= '9'))) << (32 * h);
    o |= (uint64_t)sl__movemask32((s8x32)((v == ' ') | (v == '(') | (v == ')') | (v == '+') |
                                  ((v >= '-') & (v <= '/'))))
         << (32 * h);
  }
  *dig = d;
  *num = d | o;
#endif
}

static inline uint64_t bits_below(unsigned k) { return k >= 64 ? ~0ull : (1ull << k) - 1; }

/* One maximal run [a, b) of num_class bytes holding a digit: the shapes made of
 * words around digits (IBAN heads, Bitcoin addresses), the four-digit years of
 * textual dates, and the run itself for the numeric database when it holds
 * four digits or more. When the run lies in one block (starts_ok), `starts` has
 * a bit per digit run in it (bit 0 = byte a) and `nd` is its digit count;
 * otherwise both are found here byte by byte. */
/* Can a pattern of the numeric database match in run [a, b)? Each needs two
 * groups of digits with a separator between them (phone, card, SSN, IPv4,
 * numeric dates) or seven digits in a row (digit runs): a lone short number
 * ("2020", "12345"), nearly half the runs with four digits or more, matches
 * none and is not scanned. (+CC phone numbers, which can, have their own
 * database.) */
static bool num_shape_possible(const unsigned char *t, size_t a, size_t b) {
  size_t groups = 0, cur = 0;
  for (size_t q = a; q < b; q++) {
    if (digit_byte(t[q])) {
      groups += !cur;
      if (++cur >= 7) return true;
    } else {
      cur = 0;
    }
  }
  return groups >= 2;
}

/* Can a textual date end at the year at k? Both date patterns hold a month's
 * name as a word of its own, so one lies in the window before the year: an
 * English month or its stem with any ending ("Sept", "March", "Januar",
 * "marzo"), or one of the other languages' months SL_P_DATE_TEXT2 knows. Most
 * years ("in 2020") have none and are not scanned. */
static bool month_word(const unsigned char *w, size_t n) {
  static const char stems[] = "janfebmaraprmayjunjulaugsepoctnovdec";
  static const char *const other[] = {
      "m\xc3\xa4rz", "mai", "oktober", "dezember", "j\xc3\xa4nner", "f\xc3\xa9vrier", "avril", "juin",
      "juillet", "ao\xc3\xbbt", "d\xc3\xa9" "cembre", "enero", "abril", "agosto", "septiembre",
      "setiembre", "diciembre", "gennaio", "maggio", "giugno", "luglio", "settembre", "ottobre",
      "dicembre", "fevereiro", "mar\xc3\xa7o", "maio", "setembro", "outubro", "dezembro", "maart",
      "mei", "okt", "dez", "juil", "d\xc3\xa9" "c", "f\xc3\xa9vr", "dic", "ago", NULL};
  if (n < 3 || n > 12) return false;
  unsigned char low[12];
  for (size_t i = 0; i < n; i++) low[i] = w[i] >= 'A' && w[i] <= 'Z' ? w[i] | 32 : w[i];
  if (n <= 9)
    for (size_t m = 0; m < sizeof stems - 1; m += 3)
      if (low[0] == stems[m] && low[1] == stems[m + 1] && low[2] == stems[m + 2]) return true;
  for (const char *const *o = other; *o; o++)
    if (strlen(*o) == n && !memcmp(low, *o, n)) return true;
  return false;
}

static bool ascii_letter(unsigned char c) { return (c | 32) >= 'a' && (c | 32) <= 'z'; }

/* (A month starts at an ASCII letter after a byte that is none, as the
 * patterns' \b reads it: after a digit or a UTF-8 byte too, which no word
 * boundary of a language would be, so that nothing a pattern matches is
 * missed; the word runs on over letters and UTF-8 bytes: "märz".) */
static bool month_before(const unsigned char *t, size_t ws, size_t k) {
  for (size_t q = ws; q < k; q++) {
    if (!ascii_letter(t[q]) || (q > 0 && ascii_letter(t[q - 1]))) continue;
    size_t e = q;
    while (e < k && (ascii_letter(t[e]) || t[e] >= 0x80)) e++;
    if (month_word(t + q, e - q)) return true;
  }
  return false;
}

static hs_error_t num_run(hs_scratch_t *sc, scan_ctx_t *x, batch_t *num, batch_t *intl, batch_t *date,
                          size_t a, size_t b, uint64_t starts, bool starts_ok, size_t nd) {
  const unsigned char *t = x->text;
  size_t n = x->len;
  hs_error_t rc = HS_SUCCESS;
  /* the shapes that are words around digits: an IBAN's head ends in letters
   * just before a run, a Bitcoin address starts with 1 or 3 (or bc1) */
  if (a >= 2 && upper_byte(t[a - 1])) iban_at(x, a);
  if (a >= 2 && t[a] == '1' && t[a - 1] == 'c' && t[a - 2] == 'b') btc_at(x, a - 2);
  if (!starts_ok) { /* a run across blocks: one byte at a time */
    starts = 0;
    nd = 0;
  }
  for (size_t k = a; rc == HS_SUCCESS;) {
    if (starts_ok) {
      if (!starts) break;
      k = a + (unsigned)__builtin_ctzll(starts);
      starts &= starts - 1;
    } else {
      if (k >= b) break;
      bool d = digit_byte(t[k]);
      nd += d;
      if (!d || (k > a && digit_byte(t[k - 1]))) {
        k++;
        continue;
      }
    }
    /* k starts a run of digits */
    if ((t[k] == '1' || t[k] == '3') && (k == 0 || !word_byte(t[k - 1]))) btc_at(x, k);
    /* a year: exactly four digits after a \s byte, a non-word byte after */
    if (k > 0 && space_byte(t[k - 1]) && k + 4 <= n && digit_byte(t[k + 1]) && digit_byte(t[k + 2]) &&
        digit_byte(t[k + 3]) && (k + 4 == n || !word_byte(t[k + 4])) && month_before(t, k > 32 ? k - 32 : 0, k))
      rc = batch_add(sc, x, date, k > 32 ? k - 32 : 0, k + 5 < n ? k + 5 : n);
    if (!starts_ok) k++;
  }
  if (nd < 4 || rc != HS_SUCCESS) return rc;
  if (num_shape_possible(t, a, b)) rc = batch_add(sc, x, num, a ? a - 1 : 0, b < n ? b + 1 : n);
  if (rc == HS_SUCCESS && memchr(t + a, '+', b - a)) rc = batch_add(sc, x, intl, a ? a - 1 : 0, b < n ? b + 1 : n);
  return rc;
}

static hs_error_t num_scan(const sl__scan_t *s, hs_scratch_t *sc, scan_ctx_t *x) {
  const unsigned char *t = x->text;
  size_t n = x->len, i = 0; /* i: where the next digit is looked for */
  batch_t num = {.db = s->db_num, .under = true}, intl = {.db = s->db_intl, .under = true},
          date = {.db = s->db_date};
  hs_error_t rc = HS_SUCCESS;
  /* 64 bytes at a time: most of the text has no digit; a run's ends are found
   * in the block's masks (a run reaching into the next block: byte by byte) */
  for (size_t base = 0; base < n && rc == HS_SUCCESS; base += 64) {
    if (i >= base + 64) continue;
    uint64_t dig, nm;
    num_masks(t + base, n - base, &dig, &nm);
    uint64_t todo = dig & ~bits_below(i > base ? (unsigned)(i - base) : 0);
    while (todo && rc == HS_SUCCESS) {
      unsigned k0 = (unsigned)__builtin_ctzll(todo);
      uint64_t before = ~nm & bits_below(k0), after = ~nm & ~bits_below(k0);
      size_t a = before ? base + 64 - (unsigned)__builtin_clzll(before) : base, b;
      bool one_block = before != 0 || base == 0;
      if (!before)
        while (a > 0 && num_class(t[a - 1])) a--;
      if (after) {
        b = base + (unsigned)__builtin_ctzll(after);
      } else {
        b = base + 64;
        while (b < n && num_class(t[b])) b++;
        one_block = false;
      }
      uint64_t run = bits_below((unsigned)(b - base)) & ~bits_below((unsigned)(a - base));
      uint64_t d = dig & run, starts = 0;
      if (one_block) starts = (d & ~(d << 1)) >> (a - base);
      rc = num_run(sc, x, &num, &intl, &date, a, b, starts, one_block, (size_t)__builtin_popcountll(d));
      i = b;
      if (b >= base + 64) break;
      todo &= ~bits_below((unsigned)(b - base));
    }
  }
  if (rc == HS_SUCCESS) rc = batch_flush(sc, x, &num);
  if (rc == HS_SUCCESS) rc = batch_flush(sc, x, &intl);
  if (rc == HS_SUCCESS) rc = batch_flush(sc, x, &date);
  return rc;
}

/* IPv6 addresses are runs of [0-9A-Fa-f:] with two colons or more: only those
 * runs are scanned (the pattern has no \b, so no context is needed). */
static hs_error_t ip6_scan(const sl__scan_t *s, hs_scratch_t *sc, scan_ctx_t *x) {
  const unsigned char *t = x->text;
  size_t n = x->len;
  const uint8_t *cls = s->cls[SL_P_IPV6];
#define HX(ch) (cls[(ch) >> 3] & (1u << ((ch) & 7)))
  batch_t ip = {.db = s->db_ip6};
  hs_error_t rc = HS_SUCCESS;
  for (const unsigned char *c = memchr(t, ':', n); c && rc == HS_SUCCESS;) {
    size_t a = (size_t)(c - t), b = a + 1, colons = 1;
    while (a > 0 && HX(t[a - 1])) colons += t[--a] == ':';
    while (b < n && HX(t[b])) colons += t[b++] == ':';
    if (colons >= 2) rc = batch_add(sc, x, &ip, a, b);
    c = b < n ? memchr(t + b, ':', n - b) : NULL;
  }
#undef HX
  if (rc == HS_SUCCESS) rc = batch_flush(sc, x, &ip);
  return rc;
}

int sl__scan_run(const sl__scan_t *cs, const char *text, size_t len, sl__hits_t *hits) {
  sl__scan_t *s = (sl__scan_t *)cs; /* only the pool (under its mutex) changes */
  if (len > SL_ROUTER_MAX_TEXT) return SL_ETOOBIG;
  hs_scratch_t *sc = scratch_get(s);
  if (!sc) return SL_ENOMEM;
  memset(hits->last_idx, 0, sizeof hits->last_idx);
  memset(hits->cue_cnt, 0, sizeof hits->cue_cnt);
  scan_ctx_t x = {.h = hits, .s = s, .text = (const unsigned char *)text, .len = len};
  hs_error_t rc = hs_scan(s->db, text, (unsigned)len, 0, sc, on_match, &x);
  if (rc == HS_SUCCESS && x.pend && pem_flush(&x)) rc = HS_SCAN_TERMINATED;
  if (rc == HS_SUCCESS) rc = num_scan(s, sc, &x);
  if (rc == HS_SUCCESS) rc = ip6_scan(s, sc, &x);
  scratch_put(s, sc);
  if (hits->err) return hits->err;
  if (rc != HS_SUCCESS) return SL_EINTERNAL;
  return 0;
}
