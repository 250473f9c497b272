/* The multi-pattern pass against its specification: the patterns that scan.c
 * matches as plain literals (with boundaries checked in C), in C around digit
 * runs (IBAN heads, Bitcoin addresses) or over digit runs only (the numeric
 * shapes) must give the same hits as their regexes scanned by Hyperscan over the
 * whole text, and the difficulty cue counts must equal those of the cue-word
 * regexes (`\bword`). Inputs are generated from fragments that hit every
 * literal, boundary and shape edge case, plus random bytes. */
#include "router_test_util.h"

#include <hs/hs.h>

enum { R_SOM, R_BACK, R_FIXED };
typedef struct {
  int id;
  unsigned flags;
  const char *re;
  int start;
  const char *cls; /* R_BACK */
  unsigned maxw;   /* R_BACK: longest walk back; R_FIXED: width */
} ref_t;

#define CI HS_FLAG_CASELESS
/* The regexes scan.c's literal tables and C matchers stand for. */
static const ref_t refs[] = {
    {SL_P_EMAIL, 0, "@|(?i:\\[at\\]|\\(at\\)|\\{at\\})", R_SOM, NULL, 0},
    {SL_P_URL, CI, "://", R_FIXED, NULL, 3},
    {SL_P_PHONE, 0, "(?:\\(\\d{1,5}\\)[ .\\-]?\\d{2,8}(?:[ .\\-]\\d{2,8}){0,5}|\\b\\d{2,5}(?:[ .\\-]\\d{2,8}){1,5})\\b",
     R_BACK,
     "0-9 .()-", 40},
    {SL_P_PHONE_INTL, 0,
     "\\+\\d{1,3}[ .\\-]?(?:\\(\\d{1,4}\\)[ .\\-]?)?\\d{1,5}(?:[ .\\-]?\\d{1,5}){0,5}\\b", R_BACK,
     "0-9 .()+-", 40},
    {SL_P_DIGITS, 0, "\\b\\d{7,19}\\b", R_BACK, "0-9", 19},
    {SL_P_CARD_GROUPED, 0,
     "\\b\\d{4}(?:[ \\-]\\d{4}){2,3}(?:[ \\-]?\\d{1,3})?\\b|\\b\\d{4}[ \\-]\\d{6}[ \\-]\\d{4,5}\\b|"
     "\\b\\d{4}(?:\\.\\d{4}){3}\\b", R_BACK,
     "0-9 .-", 24},
    {SL_P_CARD_SLASH, 0, "\\b\\d{4}(?:/\\d{4}){3}\\b", R_BACK, "0-9/", 19},
    {SL_P_CARD_SPACED, 0, "\\b\\d(?: \\d){12,18}\\b", R_BACK, "0-9 ", 37},
    {SL_P_SSN, 0, "\\b\\d{3}[ \\-.]\\d{2}[ \\-.]\\d{4}\\b", R_FIXED, NULL, 11},
    {SL_P_IBAN, 0, "\\b[A-Z]{2}\\d{2}[ ]?[A-Z0-9]{4}", R_BACK, "A-Z0-9 ", 9},
    {SL_P_IPV6, 0, "[0-9A-Fa-f]{0,4}:(?:[0-9A-Fa-f]{0,4}:){1,7}[0-9A-Fa-f]{0,4}", R_BACK, "0-9A-Fa-f:", 39},
    {SL_P_DATE_TEXT, CI,
     "\\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]{0,6}\\.?\\s{1,3}"
     "\\d{1,2}(?:st|nd|rd|th)?,?\\s{1,3}\\d{4}\\b", R_SOM, NULL, 0},
    {SL_P_DATE_TEXT2, CI,
     "\\b\\d{1,2}(?:st|nd|rd|th|er|\\.)?\\s{1,3}(?:(?:of|de)\\s{1,3})?"
     "(?:(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]{0,6}|"
     "märz|mai|oktober|dezember|jänner|février|avril|juin|juillet|août|décembre|enero|abril|agosto|"
     "septiembre|setiembre|diciembre|gennaio|maggio|giugno|luglio|settembre|ottobre|dicembre|"
     "fevereiro|março|maio|setembro|outubro|dezembro|maart|mei|okt|dez|juil|déc|févr|dic|ago)"
     "\\.?,?\\s{1,3}(?:de\\s{1,3})?\\d{4}\\b", R_SOM, NULL, 0},
    {SL_P_GCP_SA, 0, "\"type\"\\s{0,3}:\\s{0,3}\"service_account\"|\"private_key_id\"\\s{0,3}:", R_SOM,
     NULL, 0},
    {SL_P_AZURE_SECRET, 0, "[A-Za-z0-9_~.\\-]{3}\\dQ~[A-Za-z0-9_~.\\-]{31,34}", R_BACK,
     "A-Za-z0-9_~.-", 40},
    {SL_P_IPV4, 0, "\\b\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}\\b", R_BACK, "0-9.", 15},
    {SL_P_DATE_NUM, 0, "\\b\\d{1,2}[/.\\-]\\d{1,2}[/.\\-](?:\\d{4}|\\d{2})\\b", R_BACK, "0-9/.-", 10},
    {SL_P_DATE_ISO, 0, "\\b(?:19|20)\\d{2}[\\-/.]\\d{1,2}[\\-/.]\\d{1,2}\\b", R_BACK, "0-9/.-", 10},
    {SL_P_CUE_DOB, CI,
     "\\b(?:born|birth|birthday|birthdate|dob|d\\.o\\.b|geboren|geburtsdatum|geburtstag|née|"
     "né le|né\\(e|date de naissance|nacido|nacida|nacimiento|nato il|nata il|"
     "data di nascita|nascido|nascida|nascimento|urodzony|urodzona|urodzenia|geboortedatum|"
     "född|födelsedatum|fødselsdato|date_of_birth|birth_date|naissance|geb|doğum tarihi|dogum tarihi|"
     "syntymäaika|syntymaaika)\\b|(?i:dateofbirth|_birth|_dob|_nacimiento|_naissance|_nascita|"
     "_nascimento|geburts)|дата народження|Дата народження|дата рождения|Дата рождения|"
     "ημερομηνία γέννησης|Ημερομηνία γέννησης|γεννήθηκε|Γεννήθηκε|родился|родилась|народився|"
     "народилася|生年月日|出生日期|出生年月日|생년월일|تاريخ الميلاد|जन्म तिथि|जन्मतिथि|"
     "ngày sinh|Ngày sinh|tanggal lahir|Tanggal lahir", R_SOM, NULL, 0},
    {SL_P_CUE_PASSPORT, CI,
     "\\b(?:passport|reisepass|passeport|pasaporte|passaporto|paszport|paspoort|passnummer)|"
     "护照|護照|旅券|パスポート|여권|جواز السفر|رقم الجواز|hộ chiếu|pasaport", R_SOM,
     NULL, 0},
    {SL_P_CUE_SSN, CI,
     "\\b(?:ssn|ss#|social\\s{1,3}security)|\\b(?:my|his|her|your|their) social(?:\\s{1,3}is\\b|"
     "\\s{0,3}:|\\s{1,3}number|\\s{0,3}#)", R_SOM, NULL, 0},
    {SL_P_CUE_DL, 0,
     "(?i:\\b(?:driver'?s?|drivers'|driving)[ \\-]?licen[cs]e|\\blicen[cs]e\\s{0,3}(?:no\\b|"
     "number|#)|\\b(?:führerschein|permis de conduire|licencia de conducir|carnet de conducir|"
     "patente di guida|rijbewijs|carteira de motorista|prawo jazdy|körkort)|\\b(?:learner|learner's|"
     "driving|driver)\\s{1,3}permit|\\bdl(?:\\s{1,3}number|\\s{0,3}#))|\\bDL\\b", R_SOM, NULL, 0},
    {SL_P_CUE_MEDICAL, CI,
     "\\b(?:medical\\s{1,3}(?:record|file|id|licen[cs]e)|patient\\s{1,3}(?:id|number|no|#|"
     "record)|health\\s{1,3}(?:insurance|plan|card|record)|insurance\\s{1,3}(?:id|number|no|"
     "policy|member|card)|member\\s{1,3}id|policy\\s{1,3}(?:number|no)|medicare|medicaid|mrn|"
     "nhs\\s{1,3}(?:number|no)|npi|dea\\s{1,3}(?:number|no)|(?:hospital|chart)\\s{1,3}(?:number|no)|"
     "dossiernummer|patiëntnummer|patientnummer|patientennummer|fallnummer|sairauskertomusnumero|"
     "cartella clinica|historia clínica|historia clinica|numéro de dossier|prontuário|prontuario|"
     "versichertennummer|krankenversichertennummer|versicherungsnummer|kvnr|patient_id|patientid|"
     "patient_no|patient_number|medical_record_number|member_id|memberid|insurance_id|policy_number|"
     "policy_no|nhs_number|health_card_number)\\b|"
     "\\b(?:hospital|chart)\\s{0,3}#", R_SOM, NULL, 0},
    {SL_P_CUE_BANK, CI,
     "\\b(?:(?:bank|checking|savings|deposit|current)\\s{1,3})?(?:account|acct|a/c)\\s{0,3}"
     "(?:number|no\\b|num\\b|#)|\\brouting\\s{1,3}(?:number|no)|\\bsort\\s{1,3}code|\\bbsb\\b|"
     "\\bbank\\s{1,3}account|\\biban\\b|\\bacc(?:t|ount)?[_\\-]?(?:num|no|nr)\\b|"
     "\\b(?:account|acct|routing)\\b", R_SOM, NULL, 0},
    {SL_P_CUE_NATID, 0,
     "(?i:\\b(?:tax\\s{0,3}(?:id|payer\\s{1,3}id|identification)|national\\s{1,3}(?:id|identity|"
     "insurance)|id\\s{1,3}(?:number|no\\b|card)|aadhaa?r|voter\\s{1,3}id|personal\\s{1,3}(?:id|"
     "identification|number)|identity\\s{1,3}(?:card|number|document)|citizen\\s{1,3}id|"
     "social\\s{1,3}insurance))|\\b(?:TIN|EIN|ITIN|PAN|NINO|SIN|CPF|NIF|NIE|DNI|BSN|PESEL|"
     "CURP|RFC|TFN|NRIC|CNP|PPSN|TCKN|HETU|NIR|CPR|CUIL|CUIT|NIP|AMKA|EGN|OIB|JMBG|NIK|CCCD|RUT|"
     "AHV|AVS|TAJ|NISS)\\b|"
     "ΑΜΚΑ|ΑΦΜ|ИНН|СНИЛС|РНОКПП|身份证|公民身份号码|マイナンバー|個人番号|주민등록번호|"
     "الرقم القومي|رقم الهوية|الهوية الوطنية|आधार|căn cước|"
     "\\bNI\\s{1,3}(?:number|no\\b)|(?i:\\bni\\s{1,3}number)|(?i:\\b(?:codice fiscale|steuernummer|steuer-id|"
     "steueridentifikationsnummer|sozialversicherungsnummer|ausweisnummer|personalausweisnummer|"
     "sécurité sociale|securite sociale|kimlik|henkilötunnus|henkilotunnus|personnummer|"
     "fødselsnummer|burgerservicenummer|cédula|cedula|documento de identidad|pps number|pps_number|"
     "pps no|teudat zehut|rijksregisternummer|rijksregister|registre national|numéro national|"
     "numero national|isikukood|asmens kodas|personas kods)\\b)", R_SOM, NULL, 0},
    {SL_P_AWS_AKID, 0, "\\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA|ABIA|ACCA)", R_FIXED, NULL, 4},
    {SL_P_GOOGLE_KEY, 0, "\\bAIza", R_FIXED, NULL, 4},
    {SL_P_GOOGLE_OAUTH, 0, "\\bya29\\.|\\bGOCSPX-|\\b1//0", R_SOM, NULL, 0},
    {SL_P_AZURE_KEY, CI, "(?:AccountKey|SharedAccessKey|sig)=", R_SOM, NULL, 0},
    {SL_P_GITHUB, 0, "\\b(?:gh[pousr]_|github_pat_)", R_SOM, NULL, 0},
    {SL_P_GITLAB, 0, "\\bgl(?:pat|dt|rt|ptt|cbt|imt|agent|oas|ft|soat|cc)-", R_SOM, NULL, 0},
    {SL_P_SLACK, 0, "\\bxox[abposre]-", R_FIXED, NULL, 5},
    {SL_P_SLACK_HOOK, 0, "hooks\\.slack\\.com/(?:services|workflows)/", R_SOM, NULL, 0},
    {SL_P_STRIPE, 0, "\\b(?:sk|rk)_(?:live|test)_|\\bwhsec_", R_SOM, NULL, 0},
    {SL_P_OPENAI, 0, "\\bsk-(?:proj-|svcacct-|admin-|None-)?", R_SOM, NULL, 0},
    {SL_P_ANTHROPIC, 0, "\\bsk-ant-", R_FIXED, NULL, 7},
    {SL_P_VENDOR, 0,
     "\\b(?:dckr_pat_|npm_|pypi-|hf_|xapp-|shp(?:at|ss|ca|pa)_|sq0(?:csp|atb|idp)-|EAAA|"
     "dp\\.(?:pt|st)\\.|tvly-|SG\\.|rubygems_|sgp_|hv[sbr]\\.|do[opr]_v1_|AGE-SECRET-KEY-|"
     "[pst]k\\.eyJ|ATATT|lin_api_|pscale_(?:tkn|pw|oauth)_|glc_|figd_|ntn_|nfp_|pat-na1-|"
     "ops_|AKCp|xoxe\\.|sntrys_|PMAK-|fo1_|key-|api_|da2-|r8_|gsk_|xai-|pplx-|sk_|rk_|"
     "AC|SK|dapi|re_|lsv2_(?:pt|sk)_|nvapi-|csk-|fw_|aio_|ak_|ai_|"
     "access_token\\$(?:production|sandbox)\\$|NR(?:AK|AA|II|JS|RA|SP)-|oy2|akab-|LTAI)", R_SOM, NULL, 0},
    {SL_P_PRIVKEY, 0, "PRIVATE KEY(?: BLOCK)?-----|PuTTY-User-Key-File-\\d", R_SOM, NULL, 0},
    {SL_P_PRIVKEY_B64, 0, "LS0tLS1CRUdJTi", R_FIXED, NULL, 14},
    {SL_P_JWT, 0, "\\beyJ", R_FIXED, NULL, 3},
    {SL_P_BASIC_AUTH, CI, "\\bbasic\\s", R_FIXED, NULL, 6},
    {SL_P_BEARER, CI, "\\bbearer\\s", R_FIXED, NULL, 7},
    {SL_P_PWHASH, 0,
     "\\$(?:1|2[abxy]?|5|6|y|7|apr1|argon2(?:id|i|d)|pbkdf2(?:-sha\\d+)?|scrypt|sha1|md5)\\$|"
     "\\{(?:SSHA|SHA|SMD5|CRYPT|SSHA256|SSHA512)\\}", R_SOM, NULL, 0},
    {SL_P_PW_CUE, CI,
     "pass(?:w(?:or)?d|phrase|code)?|pwd|psk|pw\\b|\\bpin\\b|credentials?|\\blog(?:in|on)\\b|passwort|"
     "kennwort|mot de passe|mot_de_passe|motdepasse|contraseña|contrasena|senha|hasło|haslo|"
     "wachtwoord|lösenord|losenord|salasana|şifre|sifre|passord|adgangskode|heslo|jelszó|jelszo|"
     "lozinka|пароль|\\bclave\\b|パスワード|비밀번호|비번|패스워드|密码|密碼", R_SOM, NULL, 0},
    {SL_P_KEY_CUE, CI,
     "api[_\\-. ]?key|secret|token|auth|access[_\\-]?key|\\bkey\\b|_key|key_|postmark|_api|\\b(?:clé api|clé d'api|"
     "cle api|clef api|chiave api|api-schlüssel|api-schluessel|api-sleutel|klucz api|clave de api|"
     "chave de api|chave api)\\b", R_SOM, NULL, 0},
    {SL_P_CRYPTO_BTC, 0, "\\b(?:bc1[ac-hj-np-z02-9]{25,71}|[13][a-km-zA-HJ-NP-Z1-9]{25,34})\\b", R_BACK,
     "A-Za-z0-9", 90},
    {SL_P_CRYPTO_ETH, 0, "\\b0x(?:[a-fA-F0-9]{64}|[a-fA-F0-9]{40})\\b", R_SOM, NULL, 0},
    {SL_P_NETRC, CI, "\\bmachine\\s", R_FIXED, NULL, 8},
    {SL_P_CLI_PW, 0, " -p'| -p\"| -u | --user |--password-stdin|:5432:|auth=\\(|auth = \\(|HTTPBasicAuth\\(|new PDO\\(| -p | -a |(?i:\\bidentified by ['\"]|\\bconvertto-securestring (?:-string )?['\"])", R_SOM,
     NULL, 0},
    {SL_P_CLIENT_KEY, 0, "(?:Client|Session|search)\\(['\"]", R_SOM, NULL, 0},
    {SL_P_PEM_PUBLIC, 0, "-----BEGIN (?:CERTIFICATE|PUBLIC KEY|PGP PUBLIC KEY|PGP SIGNATURE|X509 CRL)",
     R_SOM, NULL, 0},
    {SL_P_CUE_NAME2, 0,
     "(?i:\\bname(?:(?:\\(s\\))?(?:'s|’s|\\s{0,3}(?:is|:|\\?))|s:)|\\b(?:nome|nom|nombre|prénom|"
     "vorname|nachname|apellido|apellidos|forename|forenames|navn|namn|imię|nazwisko|naam)\\b"
     "(?:(?:\\(s\\))?(?:'s|’s|\\s{0,3}(?:is|:|\\?))|s:)|\\b(?:named|called|signed|surname)|\\b(?:a nome|a nombre de|"
     "au nom de|im namen von)\\b)|\\b(?:Mr|Mrs|Ms|Mx|Dr|Prof|Miss|Sir|Madam|Dear|MR|MRS|MS|DR|MSTR|MISS|mr|mrs|dr)"
     "\\b\\.?|(?i:\\b(?:name|first_name|last_name|full_name|firstname|lastname|fullname|"
     "given_name|family_name|middle_name|surname|patient_name|customer_name|contact_name|"
     "employee_name|applicant_name|holder_name|cardholder_name)\":|\\b(?:name|full_name|"
     "first_name|last_name)':)", R_SOM, NULL, 0},
    {SL_P_CUE_NAME1, CI,
     "\\b(?:hi|hello|hey|thanks|thank you|sincerely|regards|i am|i'm|patient|customer|"
     "employee|attn|cc|beneficiary|contact|cheers|best wishes|bises|bisous|cordialement|saludos|"
     "abrazos|grüße|gruesse|groetjes|saluti|ciao|hola|bonjour|hallo|it's|it is|this is|here's|"
     "cardholder|card holder|account holder|holder|inhaber|inhaberin|recipient|addressee|guest|"
     "traveler|traveller|passenger|tenant|applicant|candidate|insured|policyholder|signed by|"
     "emergency contact|destinataire|empfänger|destinatario|bill to|ship to|sold to|deliver to|"
     "c/o|care of|soy|je suis|ich bin|me llamo|je m'appelle|mi chiamo|member)\\b", R_SOM, NULL, 0},
    {SL_P_CONNECT, CI, "\\b(?:connect|getconnection|mysqli_connect)\\(", R_SOM, NULL, 0},
    {SL_P_CUE_ADDR, CI,
     "\\b(?:address:|address :|address\":|address':|adresse:|adresse :|anschrift:|dirección:|"
     "direccion:|indirizzo:|endereço:|endereco:|adres:|osoite:|adress:|adresa:|domicilio:|"
     "wohnhaft|residing at|resides at|lives at|living at|domicilié|domiciliée|demeurant)|"
     "\\b(?:adresse|address|dirección|direccion|indirizzo|endereço)\\s{1,3}(?:actuelle|actual|"
     "attuale|atual|postale|postal|line 1|1)\\s{0,3}:", R_SOM, NULL, 0},
};
#undef CI
#define NREF (sizeof refs / sizeof refs[0])

typedef struct {
  sl__hits_t h;
  const unsigned char *text;
  uint8_t cls[NREF][32];
} ref_ctx_t;

static void hit_push(sl__hits_t *h, unsigned id, uint32_t s, uint32_t e) {
  if (h->n == h->cap) {
    h->cap = h->cap ? h->cap * 2 : 64;
    h->v = realloc(h->v, h->cap * sizeof *h->v);
    assert_non_null(h->v);
  }
  h->v[h->n] = (sl__hit_t){s, e, (uint16_t)id};
  h->last_idx[id] = (uint32_t)++h->n;
}

/* The merge rule the scan documents: one hit per overlapping or touching
 * stretch of matches of one pattern; class-run starts walked back. */
static int ref_match(unsigned k, unsigned long long from, unsigned long long to, unsigned fl, void *vx) {
  (void)fl;
  ref_ctx_t *x = vx;
  const ref_t *r = &refs[k];
  unsigned id = (unsigned)r->id;
  uint32_t li = x->h.last_idx[id];
  sl__hit_t *last = li ? &x->h.v[li - 1] : NULL;
  if (r->start == R_FIXED) {
    from = to >= r->maxw ? to - r->maxw : 0;
  } else if (r->start == R_BACK) {
    uint32_t lim = to > r->maxw ? (uint32_t)to - r->maxw : 0, st = (uint32_t)to;
    while (st > lim && (x->cls[k][x->text[st - 1] >> 3] & (1u << (x->text[st - 1] & 7)))) {
      st--;
      if (last && st <= last->end) {
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
  hit_push(&x->h, id, (uint32_t)from, (uint32_t)to);
  return 0;
}

static bool is_ref_id(unsigned id) {
  for (size_t k = 0; k < NREF; k++)
    if ((unsigned)refs[k].id == id) return true;
  return false;
}

/* PHONE_INTL can match with fewer than four digits ("+1 2"); the scan does not
 * look at digit runs that short, and the phone validator needs seven or more. */
static bool exempt(const sl__hit_t *h, const char *t) {
  return h->id == SL_P_PHONE_INTL && sl__count_digits(t + h->start, h->end - h->start) < 4;
}

/* A vendor's key prefix right after an underscore ("token_sk-proj-…"): scan.c
 * takes it as the start of a word (B_LU), which \b in the references does not. */
static bool after_underscore(const sl__hit_t *h, const char *t) {
  static const unsigned ids[] = {SL_P_AWS_AKID, SL_P_GOOGLE_KEY, SL_P_GITHUB, SL_P_GITLAB,
                                 SL_P_SLACK,    SL_P_STRIPE,     SL_P_OPENAI, SL_P_ANTHROPIC};
  for (size_t i = 0; i < sizeof ids / sizeof *ids; i++)
    if (h->id == ids[i]) return h->start > 0 && t[h->start - 1] == '_';
  return false;
}

static bool has_hit(const sl__hits_t *h, const sl__hit_t *x) {
  for (size_t i = 0; i < h->n; i++)
    if (h->v[i].id == x->id && h->v[i].start == x->start && h->v[i].end == x->end) return true;
  return false;
}

/* The patterns scanned over runs of the numbers' bytes, and those bytes
 * (scan.c's num_class: ' ' ( ) + - . / and digits). */
static bool num_id(unsigned id) {
  return id == SL_P_PHONE || id == SL_P_PHONE_INTL || id == SL_P_DIGITS || id == SL_P_CARD_GROUPED ||
         id == SL_P_CARD_SLASH || id == SL_P_CARD_SPACED ||
         id == SL_P_SSN || id == SL_P_IPV4 || id == SL_P_DATE_NUM || id == SL_P_DATE_ISO;
}
static bool num_byte(char c) { return (c >= '0' && c <= '9') || (c && strchr(" ()+-./", c)); }

static const char *const frags[] = {
    "@", "://", "born", "Birthday", "d.o.b", "passport", "SSN", "ss#", "social  security", "social\tsecurity",
    "AKIA", "AIza", "ya29.", "1//0", "AccountKey=", "SIG=", "ghp_", "github_pat_", "glsoat-", "xoxe-", "xoxe.",
    "hooks.slack.com/services/", "sk_live_", "whsec_", "sk-", "sk-proj-", "sk-ant-", "dckr_pat_", "SG.",
    "pk.eyJ", "AC", "SK", "re_", "aio_", "ai_", "PRIVATE KEY-----", "PRIVATE KEY BLOCK-----",
    "PuTTY-User-Key-File-2", "PuTTY-User-Key-File-", "LS0tLS1CRUdJTi", "eyJ", "basic ", "Bearer\n",
    "machine\t", "$2y$", "$2$", "$pbkdf2-sha256$", "$pbkdf2-sha$", "{SSHA512}", "pass", "Password", "pwd",
    "PW", "pin", "login", "credentials", "api key", "API_KEY", "access-key", "_key", "key_", "key", "token",
    "0x52908400098527886E0F7030069857D2E4169EE7", "name is", "Name:", "name   ?", "name    is", "surname",
    "Mr", "Mr.", "MRS", "dr", "Sir", "hi", "Thank you", "i'm", "cc", "contact", "step by step", "c++",
    "=>", "();", "$", "->", "){", ") {", "$$", "=>>", "\\frac", "what is", "json schema", "Prove", "must", "how many",
    "+44 20 7946 0958", "(415) 555-0100", "555.123.4567", "078-05-1120", "4111 1111 1111 1111",
    "378282246310005", "5555-5555-5555-4444", "192.168.10.255", "300.1.2.3", "12/31/1999", "2024-02-30",
    "+1 2", "+49(30)1234567", "1234567", "12345678901234567890", "3.14159", "2019 2020 2021",
    "GB82 WEST 1234 5698 7654 32", "DE89370400440532013000", "XK05 1212 0123 4567 8906", "AB12CD34",
    "1BoatSLRHtKNngkdXEeobR76b53LETtpyT", "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy",
    "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", "1BoatSLRHtKNngkdXEeobR76b53LETtpyTl", "1short",
    "driver's license", "Drivers' licence", "driving-licence", "driverlicense", "license no", "LICENCE #",
    "licence  number", "DL", "DLL", "medical record", "Patient #", "patient  no", "health insurance",
    "insurance policy number", "member id", "policy no", "Medicare", "MRN", "nhs number", "dea no", "npi",
    "bank account", "checking acct no", "savings a/c #", "account number", "accountno", "Acct_Num",
    "account-nr", "routing number", "sort code", "BSB", "IBAN", "current   account", "tax id", "taxpayer id",
    "tax identification", "national insurance", "national identity", "ID number", "id no", "id card",
    "aadhaar", "Aadhar", "voter id", "personal number", "identity document", "citizen id",
    "social insurance", "TIN", "PESEL", "CURP", "Pan", "record", "number", "no", "#", "id",
    "fe80::1", "2001:db8:85a3::8a2e:370:7334", "::1", "a::b", "dead:beef:cafe::", "10:30:45", "Note: x",
    "::::", "1:2:3:4:5:6:7:8:9", "abcd:", ":ef01", "Jan 5, 2020", "September 12th,  2024", "sept. 3 1999",
    "12th of March 2021", "1 May 2023", "3rd   of   december, 1988", "Dec 2024", "May 32 20245", "born 4 July 1976",
    "3. Mai 1947", "1er d\xc3\xa9" "cembre 1980", "21 de junio de 1989", "5 de mar\xc3\xa7o de 1970", "12 luglio 1990",
    "4 ao\xc3\xbbt 1985", "5 maart 1980", "7. Okt. 1961", "5 main 2020", "3 M\xc3\xa4rz 1947", "geb.", "dateOfBirth",
    "fecha_nacimiento", "Geburtsort", "mai", "juillet", "de ", "Teudat zehut", "Rijksregisternummer:",
    "RUT ", "AHV-Nummer", "TAJ", "Rutger", "(08652) 566720", "(0221) 1234567",
    "\"type\": \"service_account\"", "\"type\"   :\"service_account\"", "\"type\"    : \"service_account\"",
    "\"private_key_id\" :", "\"private_key_id\"x", "\"service_account\"",
    /* labels in other scripts, and the eighth session's literals */
    "生年月日：", "생년월일", "تاريخ الميلاد", "身份证号码", "الرقم القومي", "护照号码", "NIK", "CCCD",
    "psk=", "wpa_psk", "connect(", "reconnect(", "getConnection(", "new PDO(", "비번:", "패스워드", "id/pw", "akab-", "LTAI", "MAILCHIMP_API=", "use_api", "postmark:", "NRAK-", "NRAA-", "oy2", "boy2",
    "abc8Q~ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", "x1Q~abcdefghijklmnopqrstuvwxyz01234", "Q~", "ab9Q~",
    " ", "  ", "\n", "\t", "_", "-", ".", ",", ":", "'", "\"", "(", ")", "/", "#", "x", "Z", "9", "\xc3\xa9",
    /* the cue words added for other languages and forms */
    "it's", "this is", "Cardholder", "holder", "placeholder", "nom", "nominal", "Nome:", "Forename(s):",
    "name's", "name’s", "names:", "Given names: ", "a nome", "soy", "Bises", "ciao", "c/o", "geboren", "né(e)", "née", "né le",
    "Reisepass", "Führerschein", "permis de conduire", "TFN", "NRIC", "mot_de_passe", "Passwort",
    "contraseña", " -p'", " -p\"", " -u ", " --user ", "--password-stdin", "[at]", "(AT)", "{at}",
    "access_token$production$", "Client(\"", "Session('", "search('", "client(",
    "4179.9599.7707.9692", "1234.5678.9012", "1.2345.6789.0123.4567", "my social is", "Her social:",
    "their social  #", "my socials", "dl number", "DL #", "dl#", "ni number", "Versichertennummer",
    "patient_id=", "member_id", "policy_no",
    "-----BEGIN CERTIFICATE-----", "-----BEGIN PUBLIC KEY", "-----BEGIN PGP SIGNATURE", "-----BEGIN ", "0x65067e1242de3e04710b65723cb5dd721028f24cd1de36a31d620b67a639bb50",
};
#define NFRAG (sizeof frags / sizeof frags[0])

static void equivalence(void **state) {
  (void)state;
  const char *ex[NREF];
  unsigned fl[NREF], ids[NREF];
  ref_ctx_t x;
  memset(&x, 0, sizeof x);
  for (size_t k = 0; k < NREF; k++) {
    ex[k] = refs[k].re;
    fl[k] = refs[k].flags | (refs[k].start == R_SOM ? HS_FLAG_SOM_LEFTMOST : 0);
    ids[k] = (unsigned)k;
    for (const char *c = refs[k].cls; c && *c; c++) {
      unsigned lo = (unsigned char)*c, hi = lo;
      if (c[1] == '-' && c[2]) hi = (unsigned char)c[2], c += 2;
      for (unsigned b = lo; b <= hi; b++) x.cls[k][b >> 3] |= (uint8_t)(1u << (b & 7));
    }
  }
  hs_database_t *db = NULL;
  hs_compile_error_t *ce = NULL;
  assert_int_equal(hs_compile_multi(ex, fl, ids, (unsigned)NREF, HS_MODE_BLOCK, NULL, &db, &ce), HS_SUCCESS);
  hs_scratch_t *sc = NULL;
  assert_int_equal(hs_alloc_scratch(db, &sc), HS_SUCCESS);
  sl__hits_t got = {0};
  unsigned seed = 20261124u, mismatches = 0;
  char text[512];
  for (int it = 0; it < 4000; it++) {
    size_t n = 0;
    int parts = 1 + it % 9;
    /* every other text is shifted by filler, so that runs of digits and of the
     * bytes around them ([ .()+/-]) start and end on every side of the 64-byte
     * blocks the digit search works in */
    if (it & 1) {
      seed = seed * 1103515245u + 12345u;
      for (unsigned r = (seed >> 8) % 70; r; r--) text[n++] = " x( -.+"[(r * 7 + it) % 7];
    }
    for (int p = 0; p < parts; p++) {
      seed = seed * 1103515245u + 12345u;
      const char *f = frags[(seed >> 8) % NFRAG];
      size_t m = strlen(f);
      if (n + m + 8 >= sizeof text) break;
      memcpy(text + n, f, m);
      n += m;
      seed = seed * 1103515245u + 12345u;
      if ((seed >> 16) % 3 == 0) { /* random bytes between fragments */
        for (unsigned r = (seed >> 20) % 4; r; r--) {
          seed = seed * 1103515245u + 12345u;
          text[n++] = (char)(seed >> 16);
        }
      }
    }
    text[n] = 0;
    x.text = (const unsigned char *)text;
    x.h.n = 0;
    memset(x.h.last_idx, 0, sizeof x.h.last_idx);
    assert_int_equal(hs_scan(db, text, (unsigned)n, 0, sc, ref_match, &x), HS_SUCCESS);
    /* the numeric shapes see an underscore beside the numbers' bytes as a
     * space ("statement_4111…"): their hits come from a copy that says so */
    char text2[sizeof text];
    memcpy(text2, text, n + 1);
    for (size_t i = 0; i < n; i++)
      if (text2[i] == '_' && ((i > 0 && num_byte(text[i - 1])) || (i + 1 < n && num_byte(text[i + 1]))))
        text2[i] = ' ';
    size_t kept = 0;
    for (size_t i = 0; i < x.h.n; i++)
      if (!num_id(x.h.v[i].id)) x.h.v[kept++] = x.h.v[i];
    sl__hits_t h1 = x.h;
    h1.n = kept;
    x.h = (sl__hits_t){0}; /* (starts are walked back over the text itself) */
    assert_int_equal(hs_scan(db, text2, (unsigned)n, 0, sc, ref_match, &x), HS_SUCCESS);
    for (size_t i = 0; i < x.h.n; i++)
      if (num_id(x.h.v[i].id)) hit_push(&h1, x.h.v[i].id, x.h.v[i].start, x.h.v[i].end);
    free(x.h.v);
    x.h = h1;
    got.n = 0;
    assert_int_equal(sl__scan_run(g_router->scan, text, n, &got), 0);
    for (size_t i = 0; i < x.h.n; i++)
      if (!exempt(&x.h.v[i], text) && !has_hit(&got, &x.h.v[i]) && mismatches++ < 5)
        fprintf(stderr, "missing hit %u@%u-%u in \"%s\"\n", x.h.v[i].id, x.h.v[i].start, x.h.v[i].end, text);
    for (size_t i = 0; i < got.n; i++)
      if (is_ref_id(got.v[i].id) && !has_hit(&x.h, &got.v[i]) && !after_underscore(&got.v[i], text) &&
          mismatches++ < 5)
        fprintf(stderr, "extra hit %u@%u-%u in \"%s\"\n", got.v[i].id, got.v[i].start, got.v[i].end, text);
    /* the difficulty cue counts: the same features as the cue-word regexes give */
    double fa[SL_DF__COUNT], fb[SL_DF__COUNT];
    sl__diff_features(NULL, text, n, got.cue_cnt, NULL, fa);
    sl__diff_features(NULL, text, n, NULL, NULL, fb);
    if (memcmp(fa, fb, sizeof fa) && mismatches++ < 5) fprintf(stderr, "cue counts differ in \"%s\"\n", text);
  }
  assert_int_equal(mismatches, 0);
  free(got.v);
  free(x.h.v);
  hs_free_scratch(sc);
  hs_free_database(db);
}

/* Long digit runs (scanned in place, not copied) and many short ones (the copy
 * buffer fills and is flushed) give the same hits as short texts do. */
static void long_runs(void **state) {
  (void)state;
  size_t n = 0, cap = 64 << 10;
  char *t = malloc(cap);
  assert_non_null(t);
  while (n + 64 < cap / 2) n += (size_t)sprintf(t + n, "call +44 20 7946 0958 or 078-05-1120; ");
  while (n + 64 < cap - 8192) {
    t[n] = (char)('0' + n % 10);
    t[n + 1] = ' ';
    n += 2;
  }
  n += (size_t)sprintf(t + n, " 4111 1111 1111 1111 GB82 WEST 1234 5698 7654 32");
  sl__hits_t got = {0};
  assert_int_equal(sl__scan_run(g_router->scan, t, n, &got), 0);
  size_t phones = 0, ssn = 0, card_tail = 0, iban = 0;
  for (size_t i = 0; i < got.n; i++) {
    phones += got.v[i].id == SL_P_PHONE_INTL;
    ssn += got.v[i].id == SL_P_SSN;
    card_tail += got.v[i].id == SL_P_CARD_GROUPED && got.v[i].end > n - 60;
    iban += got.v[i].id == SL_P_IBAN;
  }
  assert_true(phones > 500 && phones == ssn);
  assert_true(card_tail >= 1);
  assert_int_equal(iban, 1);
  free(got.v);
  free(t);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(equivalence), cmocka_unit_test(long_runs)};
  return cmocka_run_group_tests(tests, setup_router, teardown_router);
}
