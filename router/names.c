/* Person names: a word-level pass over the text. The tokenizer marks words,
 * numbers, capitalisation and line/sentence breaks; the detector combines the
 * gazetteer (first names, last names, places, common English words) with context
 * cues ("my name is", "Mr.", "Dear", "Name:", initials, possessives) and vetoes
 * (organisation and holiday words, places, months). See docs/router.md. */
#include "router_int.h"
#include "sl_err.h"

#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Words that make a capitalised run an organisation, place, event or title. */
static const char *const veto[] = {
    "inc", "corp", "corporation", "llc", "ltd", "gmbh", "ag", "sa", "plc", "group", "bank",
    "insurance", "university", "college", "school", "institute", "department", "dept", "ministry",
    "agency", "council", "committee", "foundation", "hospital", "clinic", "center", "centre",
    "association", "society", "company", "co", "partners", "holdings", "technologies", "systems",
    "services", "solutions", "labs", "airlines", "airways", "club", "church", "museum", "park",
    "street", "avenue", "road", "river", "lake", "mountain", "mount", "island", "islands",
    "bridge", "day", "eve", "christmas", "easter", "thanksgiving", "halloween", "hanukkah",
    "ramadan", "diwali", "year", "act", "title", "royal", "princess", "prince", "king", "queen",
    "cooperative", "healthcare", "health", "dynamics", "trust", "federal", "national", "republic",
    "kingdom", "states", "union", "province", "county", "city", "town", "north", "south", "east",
    "west", "new", "saint", "st", "fort", "port", "airport", "station", "hotel", "inn", "motel",
    "hostel", "resort", "restaurant",
    /* holidays and fairs in other languages: "Święto Niepodległości", "Feria de Abril" */
    "święto", "Święto", "dzień", "wigilia", "feria", "fiesta", "semana", "noche", "fête",
    "bayram", "bayramı", "jour",
    /* stations, roads, trains and prizes: "Warszawa Centralna", "Tarlabaşı
     * Bulvarı", "Yüksek Hızlı Tren", "Nagrody Nobla" */
    "centralna", "centralnej", "centralny", "główny", "głównego", "główna", "głównej",
    "dworzec", "bulvarı", "bulvar", "caddesi", "sokağı", "meydanı", "tren", "nagroda",
    "nagrody", "nobla", "ödülü", "havalimanı",
    "cafe", "team", "league", "cup", "fc", "united", "award", "awards", "prize", "festival",
    "war", "battle", "treaty", "empire", "dynasty", "revolution", "cathedral",
    "temple", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
    "january", "february", "march", "april", "may", "june", "july", "august", "september",
    "october", "november", "december", "god", "lord", "jesus", "allah", "buddha", "python",
    /* types of programming languages and schemas ("name: String!") */
    "string", "boolean", "integer",
    /* a station's or a district's side ("Paris Nord", "München Süd") */
    "nord", "sud", "ouest", "süd", "hbf",
    "java", "linux", "windows", "google", "apple", "microsoft", "amazon", "tesla", "ford", "deere",
    "studio", "studios", "media", "press", "news", "times", "post", "journal", "magazine",
    "software", "network", "networks", "energy", "motors", "pharma", "capital", "ventures",
    "fund", "global", "international", "industries", "enterprises", "consulting", "bureau",
    "office", "court", "police", "army", "navy", "force", "forces", "senate", "congress",
    "parliament", "government", "state", "valley", "beach", "bay", "coast", "desert", "sea",
    "ocean", "gulf", "canyon", "falls", "hills", "heights", "square", "plaza", "mall", "market",
    "rua", "via", "viale", "calle", "avenida", "rue", "strada", "ulica", "utca", "piazza",
    "boulevard", "chemin", "travessa", "estrada", "alameda", "camino", "paseo", "corso",
    "san", "santa", "santo", "são", "sankt", "los", "las", "del", "ciudad", "puerto", "porto",
    "villa", "bad", "nueva", "nuevo", "isla", "cape", "glen",
    /* languages and nationalities (several are also given names: Germán, Francis) */
    "english", "german", "french", "spanish", "italian", "portuguese", "dutch", "chinese",
    "japanese", "korean", "russian", "arabic", "hindi", "american", "british", "canadian",
    "mexican", "indian", "african", "european", "asian", "latin", "greek", "turkish", "polish",
    "swedish", "norwegian", "danish", "finnish", "irish", "scottish", "welsh", "australian",
    "brazilian", "argentinian", "egyptian", "persian", "hebrew", "jewish", "christian",
    "muslim", "catholic", "protestant", "buddhist", "hindu", "roman", "viking", "victorian",
    "box",
    /* institutions in other languages ("Parlamento Europeo", "Banque de France") */
    "parlamento", "parlement", "parlament", "consiglio", "conseil", "consejo", "comisión",
    "commissione", "commission", "tribunal", "tribunale", "ministerio", "ministero", "ministère",
    "ministerium", "banca", "banco", "banque", "universidad", "università", "université",
    "universität", "universiteit", "uniwersytet", "hôpital", "ospedale", "krankenhaus",
    "ayuntamiento", "comune", "municipio", "gobierno", "governo", "gouvernement", "regierung",
    "agenzia", "agencia", "agence", "agentur", "europeo", "européen", "européenne", "europea",
    "europäische",
    /* German's abbreviation for a number ("Bestellung Nr. 4711") */
    "nr",
    /* number words ("signed nine days earlier") */
    "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
    "twelve", "twenty", "thirty", "forty", "fifty", "hundred", "thousand", "million",
    /* more company words */
    "telecom", "telekom", "logistics", "digital", "analytics", "robotics", "foods",
    "electronics", "chemicals", "semiconductor", "mobility", "pharmaceuticals", "biotech",
    "therapeutics", "motor", "airline", "shipping", "freight", "realty", "properties",
    "investments", "securities", "finance", "financial", "insurance", "trading", "imports",
    "exports", "supply", "supplies", "consultancy", "brewing", "brewery", "bakery", "farms",
    "textiles", "outfitters",
    /* ... and in other languages ("Nordlys Energi", "Quintero Construcciones") */
    "energi", "energia", "energie", "construcciones", "construction", "constructions",
    "construções", "costruzioni", "bouw", "bygg", "engineering", "ingenieria", "ingeniería",
    "consultores", "consultoria", "industria", "industrie", "manufacturing", "biolabs",
    "biosciences", "gruppe", "gruppo", "grupo", "groupe", "holding", "sociedad", "compagnie",
    /* legal forms and kin words that end a firm named after people ("Graham Brothers",
     * "Blomqvist Berggren HB", "Wijaya Tbk", "Laboy Romo Hermanos", "Favre e figli") */
    "brothers", "bros", "gruppen", "hb", "ab", "aps", "oy", "oyj", "kft", "nyrt", "zrt", "tbk",
    "ltda", "eireli", "hermanos", "asociados", "associados", "figli", "söhne", "sønner", "söner",
    "hijos", "filhos", "combinatie", "personlig", "sarl", "srl", "spa", "snc", "scs", "bv", "nv",
    "vof", "ohg", "kg", "asa", "sro", "công", "cty", "tnhh", "sas", "kkt", "ska", "sp",
    "kommanditbolag", "handelsbolag", "aktiebolag", "tmi", "ky", "oü", "uab", "sia", "doo",
    "sons",
    /* planets and gods more often than people in prompts */
    "mercury", "venus", "jupiter", "saturn", "uranus", "neptune", "pluto",
    /* storms are named like people */
    "storm", "hurricane", "typhoon", "cyclone",
    /* treaties, documents, events, eateries: "Paris Agreement", "Magna Carta",
     * "Berliner Mauer", "Trattoria Il Cortile" */
    "agreement", "protocol", "accord", "accords", "charter", "carta", "declaration",
    "convention", "constitution", "crash", "pact", "doctrine", "summit", "conference",
    "mauer", "manifesto", "trattoria", "osteria", "ristorante", "pizzeria", "bistro",
    "brasserie", "taverna", "restaurante", "gasthaus", "gasthof", "taberna", "bodega",
    "cantina", "primo", "secondo", "antipasto", "contorno",
    /* venues and teams */
    "opera", "cinema", "theatre", "theater", "stadium", "arena", "gallery", "zoo", "abbey",
    "palace", "rovers", "athletic", "wanderers", "albion", "hbf", "bahnhof", "plan", "avis",
    "trench", "week", "bibliotheek", "biblioteca", "bibliothèque", "bibliothek", "escadaria",
    /* landmarks in Turkish and Indonesian ("Topkapı Sarayı", "Candi Borobudur") */
    "sarayı", "camii", "köprüsü", "kulesi", "müzesi", "kalesi", "sarnıcı", "meydanı", "candi",
    "masjid", "pantai", "gunung", "danau", "pulau",
    /* units and missions named after people */
    "kelvin", "celsius", "fahrenheit", "apollo",
    /* a street's type, abbreviated ("4th Ave", "Gravois Ave") */
    "ave", "blvd", NULL};

static const char *const honorific[] = {"mr", "mrs", "ms", "miss", "mx", "dr", "prof",
                                        "professor", "sir", "madam", "madame", "mme", "herr",
                                        "frau", "senor", "señor", "sra", "sr", "mlle", "dear",
                                        "monsieur", "signora", "signor", "señora", "srta",
                                        "dhr", "mevr", "mevrouw", "dott", "mag", "dipl", "ing",
                                        "uncle", "aunt", "auntie", "grandma", "grandpa", "hi",
                                        "hello", "hey", NULL};

/* Sentence openers that are never names (the gazetteer has no general lexicon). */
static const char *const starters[] = {
    "this", "that", "these", "those", "it", "there", "here", "he", "she", "they", "we", "you",
    "what", "which", "who", "whose", "when", "where", "why", "how", "everyone", "everybody",
    "someone", "somebody", "nobody", "anyone", "everything", "nothing", "something", "today",
    "yesterday", "tomorrow", "one", "each", "every", "all", "both", "none", "another", "other",
    "his", "her", "their", "our", "my", "your", "its", "the", "a", "an", "if", "then", "also",
    "however", "meanwhile", "later", "now", "so", "but", "and", "or", "because", "although",
    "while", "since", "after", "before", "during", "once", "still", "yet", "thus", "hence",
    "mother", "father", "brother", "sister", "son", "daughter", "husband", "wife", "friend",
    "boss", "manager", "doctor", "teacher", "customer", "user", "patient", "employee", "please",
    "name", "address", "phone", "email", "note", "dear", "hello", "hi", "thanks", "website",
    "mobile", "tel", "fax", "occupation", "title", "company", "city", "country", "zip",
    /* an instruction's verb ("Summarise Chopin's years in Paris") */
    "summarise", "summarize", "explain", "describe", "compare", "translate", "write", "draft",
    "rewrite", "outline", "analyse", "analyze", "evaluate", "discuss", "contrast", "define",
    "list", "give", "show", "create", "generate", "suggest", "recommend", "calculate",
    "convert", "paraphrase", "proofread", "classify", "critique", "rank", "name",
    /* a question's verb ("Can Florence be done in two days?"; not "Will", "May": names too) */
    "can", "could", "would", "should", "shall", "does", "did", "is", "are", "was", "were", NULL};

int sl__names_register_starters(sl__gaz_t *g) { return sl__gaz_add(g, starters, SL_GZ_STARTER); }

static pthread_once_t words_once = PTHREAD_ONCE_INIT;
static void words_init(void); /* the word sets' filters, below */

void sl__names_register(sl__gaz_t *g) {
  pthread_once(&words_once, words_init);
  sl__gaz_add(g, veto, SL_GZ_VETO);
  sl__gaz_add(g, honorific, SL_GZ_HONOR);
  sl__gaz_add(g, starters, SL_GZ_STARTER);
}

/* A capitalised word with a Japanese honorific: "Tanaka-san", "Sato-sensei's". */
static bool honorific_suffix(const char *w, size_t n) {
  if (n > 2 && w[n - 2] == '\'' && w[n - 1] == 's') n -= 2;
  const char *hy = memchr(w, '-', n);
  if (!hy || (w[0] >= 'a' && w[0] <= 'z')) return false;
  static const char *const suffix[] = {"san", "sama", "kun", "chan", "sensei", NULL};
  size_t k = (size_t)(w + n - hy - 1);
  for (const char *const *x = suffix; *x; x++)
    if (strlen(*x) == k && !memcmp(hy + 1, *x, k)) return true;
  return false;
}

/* A word whose only non-ASCII letter is its accented capital ("Étienne",
 * "Óscar"), with that capital's base letter: the lists know many given names
 * only unaccented. 0 for any other word (an accent inside, "Colón", "Rosé",
 * makes another word of it). */
static size_t plain_capital(const char *w, size_t n, char *out, size_t cap) {
  static const char base[32] = "AAAAAA\0CEEEEIIII\0NOOOOO\0\0UUUUY\0\0";
  if (n < 4 || n + 1 > cap || (unsigned char)w[0] != 0xC3 || (unsigned char)w[1] < 0x80 ||
      (unsigned char)w[1] > 0x9F || !base[(unsigned char)w[1] - 0x80])
    return 0;
  out[0] = base[(unsigned char)w[1] - 0x80];
  for (size_t i = 2; i < n; i++) {
    if ((unsigned char)w[i] >= 0x80) return 0;
    out[i - 1] = w[i];
  }
  return n - 1;
}

unsigned sl__tok_flags(const sl__gaz_t *g, const char *text, sl__tok_t *t) {
  if (t->looked == 1) return t->gz;
  t->looked = 1;
  t->gz = 0;
  if (t->kind != SL_TK_WORD || t->e - t->s < 1 || t->e - t->s > 40) return 0;
  const char *w = text + t->s;
  size_t n = t->e - t->s;
  unsigned f = sl__gaz_lookup(g, w, n);
  char plain[48];
  size_t pn = f ? 0 : plain_capital(w, n, plain, sizeof plain);
  if (pn) f = sl__gaz_lookup(g, plain, pn) & (SL_GZ_FIRST | SL_GZ_LAST);
  if (!f && (t->caps & 8)) {
    /* possessive "Thomas's" and hyphenated "Mayo-Walters" parts (a word holds
     * ' or - only when the tokenizer joined it over one) */
    if (n > 3 && w[n - 2] == '\'' && w[n - 1] == 's') f = sl__gaz_lookup(g, w, n - 2);
    /* a name with a Japanese honorific stands alone, like a known first name */
    if (!f && honorific_suffix(w, n)) f = SL_GZ_FIRST | SL_GZ_LAST;
    /* Irish and Italian surnames: O'Brien, D'Angelo */
    if (!f && n >= 5 && (w[0] == 'O' || w[0] == 'D') && w[1] == '\'' && w[2] >= 'A' && w[2] <= 'Z')
      f = SL_GZ_LAST;
    const char *h = memchr(w, '-', n);
    if (!f && h) {
      unsigned a = sl__gaz_lookup(g, w, (size_t)(h - w));
      unsigned b = sl__gaz_lookup(g, h + 1, n - (size_t)(h - w) - 1);
      if ((a & (SL_GZ_FIRST | SL_GZ_LAST)) && (b & (SL_GZ_FIRST | SL_GZ_LAST))) f = SL_GZ_LAST;
    }
  }
  t->gz = (uint16_t)f;
  return f;
}

/* The word is a label's value on the label's line ("From: John Smith"), and
 * the label no date's ("Date: Tue Apr 9"). */
static bool after_label(const char *text, const sl__toks_t *T, size_t i) {
  static const char *const dated[] = {"date", "sent", "time", "received", "created", "updated",
                                      "modified", "datum", "fecha", "data", NULL};
  return i > 0 && T->v[i].punct_before == ':' && !T->v[i].nl_before && T->v[i - 1].kind == SL_TK_WORD &&
         !sl__tok_in(text, &T->v[i - 1], dated);
}

static bool sentence_start(const sl__toks_t *T, size_t i) {
  if (i == 0) return true;
  const sl__tok_t *t = &T->v[i];
  return t->nl_before || t->punct_before == '.' || t->punct_before == '!' ||
         t->punct_before == '?' || t->punct_before == '"' || t->punct_before == ':' ||
         t->punct_before == '*' || t->punct_before == '#' || t->punct_before == '>' ||
         t->punct_before == '-' || t->punct_before == '(' || t->punct_before == '[';
}

/* Capitalised word usable inside a name: no camelCase (DeWitt, McDonald are fine). */
static bool cap_word(const char *text, const sl__tok_t *t) {
  if (t->kind != SL_TK_WORD || !(t->caps & 1) || (t->caps & 2)) return false;
  if (t->caps & 4) {
    size_t n = t->e - t->s;
    const char *w = text + t->s;
    bool ok = (n > 3 && (!strncmp(w, "Mc", 2) || !strncmp(w, "De", 2) || !strncmp(w, "Di", 2) ||
                         !strncmp(w, "La", 2) || !strncmp(w, "Le", 2))) ||
              (n > 4 && (!strncmp(w, "Mac", 3) || !strncmp(w, "Van", 3) || !strncmp(w, "Von", 3)));
    if (!ok) return false;
  }
  return true;
}

/* A capital letter of Latin-1 or Latin Extended-A (À-Þ, Ā-Ž), two UTF-8 bytes. */
static bool latin_capital(const unsigned char *u) {
  if (u[0] < 0xC3 || u[0] > 0xC5 || (u[1] & 0xC0) != 0x80) return false;
  unsigned cp = ((unsigned)(u[0] & 0x1F) << 6) | (u[1] & 0x3F);
  if (cp < 0x100) return cp >= 0xC0 && cp <= 0xDE && cp != 0xD7;
  if (cp <= 0x137 || (cp >= 0x14A && cp <= 0x177)) return (cp & 1) == 0;
  return ((cp >= 0x139 && cp <= 0x148) || (cp >= 0x179 && cp <= 0x17E)) && (cp & 1);
}

/* An initial: "J", "J.", "Ó" (one capital letter). */
static bool initial(const char *text, const sl__tok_t *t) {
  if (t->kind != SL_TK_WORD) return false;
  if (t->e - t->s == 2) return latin_capital((const unsigned char *)text + t->s);
  return t->e - t->s == 1 && text[t->s] >= 'A' && text[t->s] <= 'Z';
}

/* A company's legal form written with dots starts at text[s] ("S.p.A.",
 * "B.V.", "A.Ş."), ending the word there. */
static bool legal_form_at(const char *text, size_t len, uint32_t s) {
  static const char *const forms[] = {"S.p.A.", "S.r.l.", "S.a.s.", "S.n.c.", "S.A.S.", "S.A.", "S.L.", "S.C.",
                                      "B.V.", "N.V.", "A.Ş.", "Ltda.", "S.A.R.L.", "S.à r.l.", "Sp. z o.o.",
                                      "s.r.o.", "a.s.", "d.o.o.", "S.R.L.", "GmbH", "Ltd.", "Inc.", "LLC", NULL};
  static const char firsts[] = "SBNALGIsad"; /* the forms' first letters */
  if (s >= len || !memchr(firsts, text[s], sizeof firsts - 1)) return false;
  for (const char *const *f = forms; *f; f++) {
    size_t n = strlen(*f);
    if (s + n <= len && !memcmp(text + s, *f, n) &&
        (s + n == len || !isalnum((unsigned char)text[s + n])))
      return true;
  }
  return false;
}

/* The pronoun, not an initial: "I" with no dot and no capitalised word after it
 * ("Tell Ahmed I will be late"). */
static bool pronoun_i(const char *text, const sl__toks_t *T, size_t j) {
  const sl__tok_t *t = &T->v[j];
  if (t->e - t->s != 1 || text[t->s] != 'I' || (t->e < T->v[T->n - 1].e && text[t->e] == '.'))
    return false;
  return j + 1 >= T->n || !(T->v[j + 1].caps & 1) || T->v[j + 1].nl_before;
}

/* Possessives and articles of the languages whose forms say "name": no name. */
static const char *const determiners[] = {
    "mi", "tu", "su", "mis", "tus", "sus", "nuestro", "nuestra", "el", "la", "los", "las", "un",
    "una", "mon", "ma", "mes", "ton", "ta", "son", "sa", "ses", "notre", "votre", "le", "les",
    "mein", "meine", "dein", "deine", "sein", "seine", "unser", "unsere", "il", "lo", "gli", "mio",
    "mia", "tuo", "tua", "suo", "sua", "meu", "minha", "seu", "teu", "nosso", "nossa", NULL};
static sl__wordset_t determiners_set = {.words = determiners};

/* Capitalised words that open no name (see the run's start in
 * sl__detect_names). */
static const char *const not_in_name[] = {"sie", "ihre", "ihr", "ihnen", "ihrer", "ihren", "ihrem",
                                          "ihres", "grüße", "gruß", "grüßen", "regards", "cheers",
                                          "thanks", "danke", "merci", "gracias", "grazie",
                                          /* Polish questions: "Jak napisać ...", "Jaki jest ..." */
                                          "jak", "jaki", "jaka", "jakie", NULL};
static sl__wordset_t not_in_name_set = {.words = not_in_name};

/* The token after j is a surname's particle, lower case, maybe of two words,
 * and a capitalised word follows it on the line: "Sanne de Vries", "Karl von
 * Stein", "Pieter van den Broek". Only after a given name, and before no place
 * or common word: the same words join places and things ("Rio de Janeiro",
 * "Día de Muertos", "Copa del Mundo"). How many tokens on the name goes: 1
 * without a particle, 2 or 3 with one. */
static const char *const surname_particles[] = {"de", "van", "von", "der", "den", "da", "di", "del",
                                                "della", "dos", "das", "du", "le", "ter", "ten", NULL};
static size_t particle_step(const sl__gaz_t *g, const char *text, const sl__toks_t *T, size_t j) {
  /* the second word of a two-word particle: "van der", "van den", "von der", "de la" */
  static const char *const second[] = {"der", "den", "de", "la", "los", "las", NULL};
  size_t k = j + 1;
  if (k + 1 >= T->n || T->v[k].nl_before || T->v[k].punct_before || T->v[k + 1].nl_before ||
      T->v[k + 1].punct_before || T->v[k].e - T->v[k].s > 5 || !strchr("dvlt", text[T->v[k].s]) ||
      !sl__tok_in(text, &T->v[k], surname_particles))
    return 1;
  size_t name = k + 1;
  if (!cap_word(text, &T->v[name]) && sl__tok_in(text, &T->v[name], second) && name + 1 < T->n &&
      !T->v[name + 1].nl_before && !T->v[name + 1].punct_before)
    name++;
  unsigned f1 = sl__tok_flags(g, text, &T->v[j]), f2 = sl__tok_flags(g, text, &T->v[name]);
  /* (a two-word particle joins fewer places: there a given name or a surname
   * that is also a place is still one, "Jan van der Berg", "Maria de la Cruz") */
  const unsigned place = name - j == 3 ? 0 : SL_GZ_PLACE;
  /* (and a given name that is a place's too before a known surname: "Jan de Vries") */
  const unsigned place1 = (f2 & SL_GZ_LAST) && !(f2 & SL_GZ_COMMON) ? 0 : place;
  return cap_word(text, &T->v[name]) && (f1 & SL_GZ_FIRST) &&
                 !(f1 & (SL_GZ_COMMON | SL_GZ_VETO | place1)) && !(f2 & (SL_GZ_VETO | place)) &&
                 (!(f2 & SL_GZ_COMMON) || (f2 & SL_GZ_LAST))
             ? name - j
             : 1;
}

/* Token j, on the same line right after a word, is a product's model code:
 * capitals and digits, maybe joined by a hyphen ("HX-400", "G9", "XR-7"). */
static bool model_code(const char *text, const sl__toks_t *T, size_t j) {
  if (j >= T->n || T->v[j].nl_before || T->v[j].punct_before) return false;
  const sl__tok_t *t = &T->v[j];
  if (t->kind == SL_TK_ALNUM) {
    bool up = false, dg = false;
    for (uint32_t k = t->s; k < t->e; k++) {
      char ch = text[k];
      if (ch >= 'a' && ch <= 'z') return false;
      up |= ch >= 'A' && ch <= 'Z';
      dg |= ch >= '0' && ch <= '9';
    }
    return up && dg;
  }
  return t->kind == SL_TK_WORD && (t->caps & 2) && t->e - t->s <= 4 && j + 1 < T->n &&
         T->v[j + 1].punct_before == '-' && !T->v[j + 1].nl_before && T->v[j + 1].kind == SL_TK_NUM &&
         T->v[j + 1].s == t->e + 1;
}

/* Token k, right after a word on its line, is a lower-case word that is no
 * English word: the sentence is in another language. Not a surname's particle
 * joined to it ("al-Rashidi", "van der"). */
static bool foreign_after(const char *text, const sl__toks_t *T, size_t k) {
  static const char *const arabic[] = {"bin", "ibn", "ben", NULL}; /* "Omar bin Said" */
  const sl__tok_t *t = &T->v[k];
  return t->kind == SL_TK_WORD && !t->punct_before && !t->nl_before && !(t->caps & (1 | 4 | 8)) &&
         !sl__lexicon_has(text + t->s, t->e - t->s) && !sl__tok_in(text, t, surname_particles) &&
         !sl__tok_in(text, t, arabic);
}

/* Lines that open with a lower-case word and a colon ("dov: ...", "nikolai:
 * ..."), as a chat transcript's speaker labels are written; counted up to 2. */
/* The line from byte p on ends as code does (";", "{", ",", "(", "["): a
 * declaration's or a literal's, not what someone said ("dev: boolean;"). */
static bool line_ends_code(const char *text, size_t len, size_t p) {
  const char *nl = memchr(text + p, '\n', len - p);
  size_t e = nl ? (size_t)(nl - text) : len;
  while (e > p && isspace((unsigned char)text[e - 1])) e--;
  return e > p && strchr(";{,([", text[e - 1]);
}

/* Token k opens its line with a lower-case word and a colon, as a speaker's
 * label does ("dov: remember me?", "@dimitri: ..."): nothing else before it on the line (not
 * "\t\"iban: DEUTDEFF\","), no code after it. */
static bool speaker_label(const char *text, size_t len, const sl__toks_t *T, size_t k) {
  size_t p = T->v[k].s;
  if (p > 0 && text[p - 1] == '@') p--; /* "@dimitri: ..." */
  while (p > 0 && (text[p - 1] == ' ' || text[p - 1] == '\t')) p--;
  if (p > 0 && (text[p - 1] == '>' || text[p - 1] == '-' || text[p - 1] == '*')) p--; /* "> sipho: ..." */
  while (p > 0 && (text[p - 1] == ' ' || text[p - 1] == '\t')) p--;
  return (p == 0 || text[p - 1] == '\n') && T->v[k].kind == SL_TK_WORD &&
         !(T->v[k].caps & 1) && T->v[k + 1].punct_before == ':' && !T->v[k + 1].nl_before &&
         islower((unsigned char)text[T->v[k].s]) && !line_ends_code(text, len, T->v[k].e);
}

static size_t speaker_lines(const char *text, size_t len, const sl__toks_t *T) {
  size_t n = 0;
  for (size_t k = 0; k + 1 < T->n && n < 2; k++) n += speaker_label(text, len, T, k);
  return n;
}

/* A run's step from its word j: past the word, or past the word, its
 * particle and the capitalised word after it, so that a run's length limit
 * never ends it between a particle and the surname ("Sor Juana Inés de la
 * Cruz"). */
static size_t run_step(const sl__gaz_t *g, const char *text, const sl__toks_t *T, size_t j) {
  size_t step = particle_step(g, text, T, j);
  return step > 1 ? step + 1 : 1;
}

/* Has a non-ASCII byte: "Amélie", "Łukasz" (no English word a gazetteer lacks). */
static bool has_non_ascii(const char *s, size_t n) {
  for (size_t k = 0; k < n; k++)
    if ((unsigned char)s[k] >= 0x80) return true;
  return false;
}

static bool namey(unsigned f) { return (f & (SL_GZ_FIRST | SL_GZ_LAST)) && !(f & SL_GZ_COMMON); }

/* First names that are also English words (John, Mark, Will, Grace, Ruby) are
 * names when written with a capital inside a sentence after a lower-case word
 * that is not a determiner ("I told John", "ask Mark to"; not "the Bill", "a
 * Rose garden"), or after a verb said to a person that opens the sentence
 * ("Tell Will the results"), unless they name a programming language there. */
static const char *const not_after[] = {"the", "a", "an", "this", "that", "these", "those",
                                        "my", "your", "his", "her", "our", "their", "its",
                                        "in", "of", NULL};
static const char *const to_person[] = {"tell", "ask", "call", "email", "text", "ping",
                                        "thank", "remind", "invite", "message", "meet", "cc",
                                        "notify", "inform", "contact", "phone", "visit", NULL};
/* Before "for" and a person: "ask for Chukwuemeka", "asking for Mrs …". */
static const char *const asked_for[] = {"ask", "asks", "asked", "asking", NULL};

/* Token j ends the phrase before it: the text's or the line's end, punctuation,
 * or a word that starts what comes next ("ask for Siobhan at the desk"; not
 * "ask for Kubernetes support"). */
static bool clause_end(const char *text, const sl__toks_t *T, size_t j) {
  static const char *const next[] = {"at", "in", "on", "and", "or", "when", "if", "who", "please",
                                     "from", "by", "today", "tomorrow", "directly", "instead", NULL};
  return j >= T->n || T->v[j].nl_before || T->v[j].punct_before || sl__tok_in(text, &T->v[j], next);
}
/* The verbs of to_person that take a person only (one calls or texts a firm too). */
static const char *const asked_person[] = {"tell", "ask", "thank", "remind", "invite", "meet",
                                           "notify", "inform", "told", "asked", "thanked",
                                           "reminded", "invited", "notified", "informed",
                                           "tells", "asks", "reminds", NULL};
/* Before "with"/"to" and a name the lexicon does not know: someone spoken with
 * (not "according to", "a meeting with": sources and firms follow those). */
static const char *const spoken_with[] = {"speaking", "spoke", "spoken", "talked", "talking",
                                          "conversation", "chatted", "shouted", "yelled",
                                          "screamed", "whispered", "smiled", "nodded", "waved",
                                          "winked", NULL};
/* After a name the lexicon does not know: "Thao Dang has spent twelve years". */
static const char *const person_states[] = {"has", "had", "is", "was", "leads", "works", "lives",
                                            "joined", "spent", "holds", "owns", "will", NULL};
/* Before a lower-case first name in lower-case text: "send it to marcus". */
static const char *const to_whom[] = {"to", "with", "from", NULL};
/* What people do, right after a first name that opens a sentence. */
static const char *const person_verbs[] = {"called", "phoned", "rang", "said", "says", "told",
                                           "asked", "wrote", "texted", "emailed", "replied",
                                           "mentioned", "thinks", "thought", "wants", "wanted",
                                           "sent", "messaged", "complained", "promised", "began",
                                           "shouted", "yelled", "screamed", "whispered", "laughed",
                                           "smiled", "nodded", "sighed", "shrugged", "cried", NULL};
/* Tokens a and b are the same bytes. */
static bool same_word(const char *text, const sl__tok_t *a, const sl__tok_t *b) {
  return a->e - a->s == b->e - b->s && !memcmp(text + a->s, text + b->s, a->e - a->s);
}

/* "X and Sons": a firm */
static const char *const firm_kin[] = {"sons", "son", "daughters", "brothers", "bros", "co",
                                       "company", "partners", "associates", "friends", NULL};
/* the first word of a town's name that makes a given name after it a place */
static const char *const place_prefix[] = {"st", "ste", "saint", "sainte", "san", "santa", "santo",
                                           "são", "sankt", "fort", "ft", "mount", "mt", "port",
                                           "lake", "puerto", "porto", "cape", NULL};
static const char *const languages[] = {"ruby", "julia", "crystal", "dart", "elm", "ada",
                                        "rust", "swift", "go", "pascal", "basil", "max", "lua",
                                        "perl", "scala", "kotlin", "elixir", "haskell", "erlang",
                                        "clojure", "fortran", "cobol", "delphi", "logo", "lean", NULL};

/* Languages, as a translation names them ("Latin: Normanni"). */
static const char *const tongues[] = {
    "english", "french", "latin", "german", "spanish", "italian", "portuguese", "dutch", "greek",
    "norman", "arabic", "hebrew", "russian", "chinese", "japanese", "korean", "hindi", "sanskrit",
    "irish", "welsh", "gaelic", "norse", "danish", "swedish", "norwegian", "finnish", "polish",
    "czech", "hungarian", "turkish", "persian", "catalan", "basque", "occitan", "frankish", NULL};
/* Titles of sovereigns, written in lower case before the name. */
static const char *const sovereigns[] = {"king", "queen", "emperor", "empress", "pope", "tsar",
                                         "czar", "sultan", "pharaoh", "caliph", "shah", "kaiser",
                                         "duke", "archduke", NULL};

static bool common_first_name(const char *text, const sl__toks_t *T, size_t i, unsigned f) {
  if (!(f & SL_GZ_FIRST) || !(f & (SL_GZ_COMMON | SL_GZ_PLACE)) || (f & SL_GZ_VETO) || i == 0)
    return false;
  const sl__tok_t *t = &T->v[i], *p = &T->v[i - 1];
  if (sentence_start(T, i) || t->punct_before || p->kind != SL_TK_WORD ||
      sl__tok_in(text, t, languages))
    return false;
  /* a place too ("Carolina", "Georgia"): only right after such a verb ("Tell Carolina"),
   * and one visits a place as often as a person ("visit Victoria in spring") */
  if (sl__tok_in(text, p, to_person)) return !((f & SL_GZ_PLACE) && sl__tok_is(text, p, "visit"));
  return (f & SL_GZ_COMMON) && !(p->caps & 1) && !sl__tok_in(text, p, not_after);
}

/* A lower-case word follows on the same line, no punctuation between: the
 * label's value is a phrase ("- name: Comment on PR"), not a name. */
static bool lower_word_next(const sl__toks_t *T, size_t j) {
  return j < T->n && !T->v[j].nl_before && !T->v[j].punct_before && T->v[j].kind == SL_TK_WORD &&
         !(T->v[j].caps & 1);
}

/* A lower-case key of a YAML list item or mapping: only spaces and "- " before it
 * on its line ("  - name: Publish"), where the value names a step, not a person. */
static bool yaml_key(const char *text, uint32_t at) {
  if (text[at] < 'a' || text[at] > 'z') return false;
  uint32_t p = at;
  while (p > 0 && (text[p - 1] == ' ' || text[p - 1] == '-')) p--;
  return p < at && (p == 0 || text[p - 1] == '\n');
}

/* Tokens i..j-1 end the text, on a line that opens with a dash (em, en or
 * "--", not a list's "-") and nothing else before them: a signed note
 * ("Thanks!\n\n— Mateusz", "-- Ana Lima"). */
static bool dash_signed(const char *text, const sl__toks_t *T, size_t i, size_t j) {
  if (j < T->n) return false;
  size_t p = T->v[i].s;
  while (p > 0 && text[p - 1] == ' ') p--;
  size_t d = p;
  if (p >= 3 && ((unsigned char)text[p - 3] == 0xE2 && (unsigned char)text[p - 2] == 0x80 &&
                 ((unsigned char)text[p - 1] == 0x94 || (unsigned char)text[p - 1] == 0x93)))
    p -= 3; /* an em or en dash */
  else if (p >= 2 && text[p - 1] == '-' && text[p - 2] == '-')
    p -= 2;
  if (p == d) return false;
  while (p > 0 && (text[p - 1] == ' ' || text[p - 1] == '\t')) p--;
  return p == 0 || text[p - 1] == '\n';
}

/* Tokens i..j-1 fill a line of their own right after the signature delimiter
 * ("-- " alone on the line before). */
static bool sig_line(const char *text, const sl__toks_t *T, size_t i, size_t j) {
  if (!T->v[i].nl_before || (j < T->n && !T->v[j].nl_before)) return false;
  size_t p = T->v[i].s;
  while (p > 0 && (text[p - 1] == ' ' || text[p - 1] == '\t' || text[p - 1] == '\r')) p--;
  if (p == 0 || text[p - 1] != '\n') return false;
  p--;
  while (p > 0 && (text[p - 1] == ' ' || text[p - 1] == '\r')) p--; /* "-- " */
  return p >= 2 && text[p - 1] == '-' && text[p - 2] == '-' && (p == 2 || text[p - 3] == '\n');
}

/* A word with a possessive "'s": the name ends there ("Musa's New York licence"). */
static bool possessive_tok(const char *text, const sl__tok_t *t) {
  return t->e - t->s > 3 && text[t->e - 2] == '\'' && text[t->e - 1] == 's';
}

/* A word that is neither English (the lexicon) nor a place, veto, cue or
 * sentence opener: a capitalised one is likely a name the gazetteer lacks
 * ("Papadakis", "Aroha"). Its possessive "'s" does not count. */
static bool foreign_word(const char *text, const sl__tok_t *t, unsigned f) {
  size_t n = t->e - t->s - (possessive_tok(text, t) ? 2 : 0);
  if (f & (SL_GZ_VETO | SL_GZ_HONOR | SL_GZ_STARTER)) return false;
  if ((f & SL_GZ_PLACE) && !(f & (SL_GZ_FIRST | SL_GZ_LAST))) return false;
  if (sl__lexicon_has(text + t->s, n)) return false;
  if (!(t->caps & 8)) return true;
  /* joined by '-': English when each part is, capitalised ("Retry-After",
   * "Follow-Up"; "Sung-min" is a name) */
  const char *w = text + t->s, *end = w + n;
  while (w < end) {
    const char *d = memchr(w, '-', (size_t)(end - w));
    if (!d) d = end;
    if (d == w || !isupper((unsigned char)*w) || !sl__lexicon_has(w, (size_t)(d - w))) return true;
    w = d + 1;
  }
  return false;
}

/* Personal data of another kind (e-mail, phone, ID, date of birth, ...) found
 * within 200 bytes of [s, e): what a name beside it is likely to belong to. */
static bool personal_data_near(const sl__ctx_t *c, uint32_t s, uint32_t e) {
  for (size_t k = 0; k < c->out->n; k++) {
    const sl__cand_t *d = &c->out->v[k];
    switch (d->type) {
      case SL_ET_EMAIL_ADDRESS: case SL_ET_PHONE_NUMBER: case SL_ET_CREDIT_CARD:
      case SL_ET_IBAN_CODE: case SL_ET_BANK_ACCOUNT: case SL_ET_US_SSN: case SL_ET_US_PASSPORT:
      case SL_ET_US_DRIVER_LICENSE: case SL_ET_NATIONAL_ID: case SL_ET_MEDICAL_RECORD:
      case SL_ET_IP_ADDRESS: case SL_ET_DATE_OF_BIRTH:
        if (d->end + 200 >= s && d->start <= e + 200) return true;
        break;
      default: break;
    }
  }
  return false;
}

/* A street follows within a few words (the address rules run after the name
 * rules): a house number, then a street type within four words ("Tariq
 * Hussain: 58 Wilmslow Road"). */
static bool street_after(const sl__gaz_t *g, const char *text, sl__toks_t *T, size_t j) {
  for (size_t k = j; k < T->n && k < j + 6 && T->v[k].nl_before <= 1; k++) {
    if (T->v[k].kind != SL_TK_NUM || T->v[k].e - T->v[k].s > 6) continue;
    for (size_t m = k + 1; m < T->n && m <= k + 4 && !T->v[m].nl_before; m++)
      if (T->v[m].kind == SL_TK_WORD && (sl__tok_flags(g, text, &T->v[m]) & SL_GZ_ST_AFTER)) return true;
  }
  return false;
}

/* Tokens i..j-1 fill a line that heads a block of short lines, one of them a
 * place or a number (a postcode, a house): an address block's first line,
 * "Yuki Tanaka\n\nMombasa\nPhilippines", "Lena Wirth\nKastanienweg 7\n...".
 * Looks at the next three lines, each of at most four tokens with no
 * sentence's end inside. */
static bool block_head(const sl__gaz_t *g, const char *text, sl__toks_t *T, size_t i, size_t j) {
  if ((i > 0 && !T->v[i].nl_before) || j >= T->n || !T->v[j].nl_before) return false;
  size_t k = j;
  for (int line = 0; line < 3 && k < T->n; line++) {
    size_t e = k + 1;
    while (e < T->n && !T->v[e].nl_before) e++;
    if (e - k > 4) return false;
    for (size_t m = k; m < e; m++) {
      if (m > k && strchr(".?!", T->v[m].punct_before ? T->v[m].punct_before : ' ')) return false;
      if (T->v[m].kind == SL_TK_NUM ||
          (T->v[m].kind == SL_TK_WORD && (sl__tok_flags(g, text, &T->v[m]) & SL_GZ_PLACE)))
        return true;
    }
    k = e;
  }
  return false;
}

/* What a possessive name is followed by: "Parisa Moradi's mobile", "Chen
 * Jing's date of birth", "Ananya's passport". */
static const char *const personal_nouns[] = {
    "mobile", "phone", "number", "email", "e-mail", "address", "passport", "birthday", "birth",
    "dob", "iban", "account", "ssn", "licence", "license", "card", "salary", "medical", "record",
    "password", "aadhaar", "id", "visa", "insurance", "home", "cell", "contact",
    /* family: "Franciska's kid" */
    "kid", "kids", "son", "daughter", "wife", "husband", "mother", "father", "mom", "mum", "dad",
    "brother", "sister", "baby", "parents", "boyfriend", "girlfriend", "fiancé", "fiancée",
    /* what news says of a person: "Will Baker's killers", "Rose Miller's funeral" */
    "killer", "killers", "murderer", "murder", "funeral", "widow", "lawyer", "attorney", NULL};

/* German's commonest short words (nouns_capitalised). */
static const char *const de[] = {"der", "die", "das", "und", "ist", "nicht", "mit", "ein",
                                 "eine", "den", "dem", "des", "auf", "von", "ich", "sie",
                                 "wir", "für", "bitte", "zu", "im", "bei", "uns", "mir",
                                 "auch", "wird", "sind", "noch", "oder", "aber", "wenn",
                                 "über", "nach", "vom", "zum", "zur", "sehr", "haben",
                                 "ihre", "ihnen", NULL}; /* of at most 5 bytes */
static sl__wordset_t de_set = {.words = de};

/* German capitalises every noun: two capitalised words the lexicon does not
 * know are no name there. Told by its commonest short words, once per text
 * (*state: 0 unknown, 1 no, 2 yes). */
static bool nouns_capitalised(const char *text, const sl__toks_t *T, int *state) {
  if (!*state) {
    int hits = 0; /* told from the first 300 words: a long text pays no more */
    for (size_t k = 0; k < T->n && k < 300 && hits < 3; k++)
      if (T->v[k].e - T->v[k].s <= 5 && !(T->v[k].caps & 1) && sl__tok_in_set(text, &T->v[k], &de_set))
        hits++;
    *state = hits >= 3 ? 2 : 1;
  }
  return *state == 2;
}

/* Words before a place more often than before a person: "in Addis Ababa",
 * "flew to Kuala Lumpur". */
static bool after_place_word(const char *text, const sl__toks_t *T, size_t i) {
  static const char *const preps[] = {"in", "at", "near", "via", "into", "across", "around", "over",
                                      "inside", "outside", "towards", NULL};
  static const char *const motion[] = {"flew", "fly", "flying", "moved", "move", "travel",
                                       "travelled", "traveled", "trip", "visit", "visited",
                                       "visiting", "drove", "drive", "arrived", "landed", "went",
                                       "relocated", "shipped", "welcome", "returned", "return",
                                       "returning", "headed", "heading", NULL};
  if (i == 0) return false;
  const sl__tok_t *p = &T->v[i - 1];
  if (sl__tok_in(text, p, preps)) return true;
  return i >= 2 && p->e - p->s == 2 && !strncmp(text + p->s, "to", 2) &&
         sl__tok_in(text, &T->v[i - 2], motion);
}

/* What a firm or a brand has, after "the" and its name. */
static const char *const brand_things[] = {"website", "site", "homepage", "webpage", "app", "brand",
                                           "store", "shop", "platform", "portal", "blog", "newsletter",
                                           "podcast", "channel", "franchise", "chain", "logo", NULL};

/* Before "in" and a place's name: where something is. */
static const char *const place_verbs[] = {"based", "located", "headquartered", "situated", NULL};

/* The run i..j-1 stands in quotation marks ("„Zielone Wzgórze”", "'Sapiens'"):
 * a title or a brand more often than a person. */
static bool quoted_run(const sl__ctx_t *c, const sl__toks_t *T, size_t i, size_t j) {
  const unsigned char *t = (const unsigned char *)c->text;
  uint32_t s = T->v[i].s, e = T->v[j - 1].e;
  /* typographic quotes are E2 80 xx: the tokenizer keeps the third byte */
  bool open = s > 0 && (t[s - 1] == '"' || t[s - 1] == '\'' ||
                        (s >= 3 && t[s - 3] == 0xE2 && t[s - 2] == 0x80 &&
                         (t[s - 1] == 0x9C || t[s - 1] == 0x9E || t[s - 1] == 0x98)));
  if (!open || e >= c->len) return false;
  /* a value in data ("assignee": "Chinedu Okeke", name='x', ["a", "b"]) is no title */
  uint32_t q = s - (t[s - 1] < 0x80 ? 1 : 3);
  while (q > 0 && (t[q - 1] == ' ' || t[q - 1] == '\t')) q--;
  if (q > 0 && strchr(":=,[(", t[q - 1])) return false;
  if (t[e] == '"') return true;
  if (t[e] == '\'') return !(e + 1 < c->len && (t[e + 1] == 's' || t[e + 1] == 'S'));
  if (e + 2 < c->len && t[e] == 0xE2 && t[e + 1] == 0x80 &&
      (t[e + 2] == 0x9D || t[e + 2] == 0x99 || t[e + 2] == 0x9C))
    return true;
  /* a quote closes later on the line, the title going on: "'I Have a Dream'",
   * "„Faust I“" (typographic quotes close with “ ” or ’) */
  if (t[e] != ' ') return false;
  const unsigned char *nl = memchr(t + e, '\n', c->len - e);
  size_t lim = (nl ? (size_t)(nl - t) : c->len) - e;
  if (lim > 80) lim = 80;
  if (t[s - 1] >= 0x80) {
    for (size_t k = e; k + 2 < e + lim; k++)
      if (t[k] == 0xE2 && t[k + 1] == 0x80 && (t[k + 2] == 0x9C || t[k + 2] == 0x9D || t[k + 2] == 0x99))
        return t[k - 1] != ' ';
    return false;
  }
  const unsigned char *close = memchr(t + e, t[s - 1], lim);
  if (!close || close[-1] == ' ') return false;
  size_t after = (size_t)(close - t) + 1;
  return after == c->len || !sl__alnum(t[after]);
}

/* A template's slot, not a person: the run alone inside brackets with a word
 * that is no name ("Dear [Customer Name]", "{First Name}", "<Hiring Manager>");
 * "[John Smith]" stays a name. */
static bool bracket_slot(const sl__gaz_t *g, const char *text, size_t len, sl__toks_t *T, size_t i,
                         size_t j) {
  uint32_t s = T->v[i].s, e = T->v[j - 1].e;
  if (s == 0 || e >= len) return false;
  char o = text[s - 1], cl = text[e];
  if (!((o == '[' && cl == ']') || (o == '{' && cl == '}') || (o == '<' && cl == '>'))) return false;
  for (size_t k = i; k < j; k++) {
    unsigned f = sl__tok_flags(g, text, &T->v[k]);
    if ((!(f & (SL_GZ_FIRST | SL_GZ_LAST)) || (f & SL_GZ_COMMON)) &&
        sl__lexicon_has(text + T->v[k].s, T->v[k].e - T->v[k].s))
      return true; /* an English word that is no name */
  }
  return false;
}

/* The run i..j-1 names a well-known public figure (figures.c): the whole run,
 * or its first and last words ("Yuval Noah Harari" as "Yuval Harari"), or the
 * run and the words after a particle ("Simone de Beauvoir"). Returns the end
 * of the figure's tokens (j, or past the particle's words), 0 if none. */
static size_t public_figure(const char *text, const sl__toks_t *T, size_t i, size_t j) {
  /* someone the writer knows is no general-knowledge mention: "my colleague Dan
   * Brown", "our client Will Smith" */
  static const char *const known[] = {"my", "our", "your", "colleague", "coworker", "co-worker",
                                      "friend", "neighbour", "neighbor", "boss", "manager",
                                      "client", "customer", "patient", "tenant", "employee",
                                      "wife", "husband", "partner", "son", "daughter", "brother",
                                      "sister", "mother", "father", "mom", "dad", "uncle", "aunt",
                                      "cousin", "nephew", "niece", "teacher", "student", NULL};
  for (size_t k = i; k > 0 && i - k < 2; k--)
    if (T->v[k - 1].kind == SL_TK_WORD && sl__tok_in(text, &T->v[k - 1], known)) return 0;
  uint32_t e = T->v[j - 1].e;
  /* a brand named with the possessive: "Wendy's", "Levi's" */
  if (possessive_tok(text, &T->v[j - 1]) && sl__figure_has(text + T->v[i].s, e - T->v[i].s)) return j;
  if (possessive_tok(text, &T->v[j - 1])) e -= 2;
  if (sl__figure_has(text + T->v[i].s, e - T->v[i].s)) return j;
  /* a Turkish case ending after an apostrophe: "Mustafa Kemal Atatürk'ün" */
  const char *ap = memrchr(text + T->v[j - 1].s, '\'', T->v[j - 1].e - T->v[j - 1].s);
  if (ap && ap > text + T->v[j - 1].s && text + T->v[j - 1].e - ap <= 8) {
    const char *q = ap + 1;
    while (q < text + T->v[j - 1].e && (islower((unsigned char)*q) || (unsigned char)*q >= 0x80)) q++;
    if (q == text + T->v[j - 1].e && sl__figure_has(text + T->v[i].s, (size_t)(ap - text) - T->v[i].s)) return j;
  }
  /* the name as the list has it, with more of the full name after it:
   * "Miguel de Cervantes Saavedra" */
  for (size_t m = j - 1; m >= i + 2; m--)
    if (sl__figure_has(text + T->v[i].s, T->v[m - 1].e - T->v[i].s)) return j;
  /* a figure's work, the name in the German genitive: "Goethes Faust" */
  size_t n0 = T->v[i].e - T->v[i].s;
  if (j - i >= 2 && n0 > 4 && text[T->v[i].e - 1] == 's' && sl__figure_has(text + T->v[i].s, n0 - 1))
    return j;
  /* the run stops at a lower-case particle; the name goes on after it:
   * "Simone de Beauvoir", "Johann Wolfgang von Goethe", "Alexander the Great" */
  static const char *const particles[] = {"de", "da", "di", "du", "del", "della", "der", "den",
                                          "van", "von", "la", "le", "bin", "ibn", "al", "el",
                                          "the", "of", "y", "dos", "das", NULL};
  size_t k = j;
  for (;;) { /* one particle or two: "de la Cruz", "van der Rohe" */
    size_t p = k;
    while (p < T->n && p - k < 2 && !T->v[p].nl_before && T->v[p].kind == SL_TK_WORD &&
           !(T->v[p].caps & 1) && sl__tok_in(text, &T->v[p], particles))
      p++;
    if (p == k || p >= T->n || k - j >= 6 || T->v[p].nl_before || !(T->v[p].caps & 1) ||
        possessive_tok(text, &T->v[k - 1]))
      break;
    k = p + 1;
    while (k < T->n && k - j < 6 && !T->v[k].nl_before && !T->v[k].punct_before &&
           (T->v[k].caps & 1) && !possessive_tok(text, &T->v[k - 1]))
      k++;
    uint32_t ke = T->v[k - 1].e;
    if (possessive_tok(text, &T->v[k - 1])) ke -= 2;
    if (sl__figure_has(text + T->v[i].s, ke - T->v[i].s)) return k;
  }
  if (j - i < 3) return 0;
  char buf[128];
  size_t a = T->v[i].e - T->v[i].s, b = e - T->v[j - 1].s;
  if (a + b + 1 > sizeof buf) return 0;
  memcpy(buf, text + T->v[i].s, a);
  buf[a] = ' ';
  memcpy(buf + a + 1, text + T->v[j - 1].s, b);
  return sl__figure_has(buf, a + b + 1) ? j : 0;
}

/* One word right after a day's number: a month in a language the lists lack
 * ("1 Nisan itibarıyla", "15 Temmuz"), not a person. */
static bool after_day_number(const char *text, const sl__toks_t *T, size_t i) {
  static const char *const of[] = {"de", "di", "del", NULL}; /* "25 de Abril", "10 di Marzo" */
  const sl__tok_t *t = &T->v[i], *p = i ? &T->v[i - 1] : NULL;
  if (p && i >= 2 && !t->punct_before && !t->nl_before && sl__tok_in(text, p, of) &&
      !p->punct_before && !p->nl_before)
    t = p, p = &T->v[i - 2];
  return p && p->kind == SL_TK_NUM && p->e - p->s <= 2 && !t->punct_before && !t->nl_before &&
         text[p->s] != '0';
}

/* "v" or "vs" between two teams. */
static bool versus(const char *text, const sl__tok_t *t) {
  return sl__tok_is(text, t, "v") || sl__tok_is(text, t, "vs");
}

/* A regnal number after the word: a monarch, not a private person ("el puente
 * de Isabel II", "Louis XIV"). */
static bool regnal_after(const char *text, const sl__toks_t *T, size_t i) {
  if (i + 1 >= T->n || T->v[i + 1].nl_before || T->v[i + 1].punct_before) return false;
  const sl__tok_t *u = &T->v[i + 1];
  size_t n = u->e - u->s;
  if (n < 1 || n > 5) return false;
  for (size_t k = 0; k < n; k++)
    if (!strchr("IVXL", text[u->s + k])) return false;
  /* a lone I is the pronoun, unless a realm follows: "Richard I of Normandy" */
  return n > 1 || text[u->s] != 'I' ||
         (i + 3 < T->n && !T->v[i + 2].nl_before && !T->v[i + 2].punct_before &&
          sl__tok_is(text, &T->v[i + 2], "of") && (T->v[i + 3].caps & 1));
}

/* A weekday's abbreviation before a number ("Thu 06:45", "Sun 12/05"), beside
 * another ("Tue–Thu", "Mon-Fri") or as a schedule's label ("Thu: cloudy"). */
static bool weekday_not_name(const char *text, const sl__toks_t *T, size_t i) {
  static const char *const days[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun", NULL};
  if (!sl__tok_in(text, &T->v[i], days)) return false;
  return (i + 1 < T->n && !T->v[i + 1].nl_before &&
          (T->v[i + 1].kind == SL_TK_NUM || sl__tok_in(text, &T->v[i + 1], days) ||
           T->v[i + 1].punct_before == ':')) ||
         (i > 0 && !T->v[i].nl_before && sl__tok_in(text, &T->v[i - 1], days));
}

/* What people do, right after a name that opens a sentence ("Chamari
 * Wickramasinghe led the training"): verbs a place, a product or a firm rarely
 * takes. */
static const char *const person_acts[] = {
    "said", "told", "asked", "called", "wrote", "emailed", "replied", "requested", "thanked",
    "presented", "chaired", "led", "signed", "reviewed", "approved", "submitted", "reported",
    "confirmed", "mentioned", "explained", "agreed", "decided", "suggested", "noted", "accepted",
    "declined", "resigned", "complained", "promised", "apologised", "apologized", "volunteered",
    "thinks", "thought", "wants", "wanted", "prefers", "booked", "paid", "attended", "finished",
    "flagged", "forwarded", "organised", "organized", "hosted", "interviewed", "recommended",
    "messaged", "texted", "phoned", "visited", "retired", NULL};

/* What follows a surname alone that opens a sentence, in the languages the
 * gazetteer knows ("Weber hat gestern gekündigt", "Conti ha chiesto …",
 * "Lindgren har sagt upp sig", "Şahin bugün işe gelmedi"): an auxiliary, a
 * negation or a verb of someone absent. */
static const char *const surname_acts[] = {
    "has", "hasn't", "was", "wasn't", "didn't", "hat", "hatte", "ist", "war", "wird", "kann", "muss",
    "möchte", "will", "ha", "non", "aveva", "vuole", "no", "está", "tiene", "quiere", "faltou",
    "não", "foi", "tem", "pediu", "heeft", "wil", "jest", "nie", "był", "była", "chce", "har", "vill",
    "bugün", "dün", "est", "veut", "n'a", NULL};
/* Pronouns of a person later in the text ("seinen Resturlaub", "il suo IBAN",
 * "jej prywatny numer"): the evidence that the word that opened it was
 * someone. ("sie" and "le" are more than that.) */
static const char *const person_pronouns[] = {
    "his", "her", "him", "he", "she", "sein", "seine", "seinen", "seinem", "seiner", "ihr", "ihre",
    "ihren", "ihrem", "ihm", "ihn", "suo", "sua", "suoi", "lui", "lei", "gli", "sus", "él", "ella",
    "ele", "ela", "dele", "dela", "seu", "lhe", "zijn", "haar", "hem", "hij", "zij", "jej", "jego",
    "niego", "niej", "mu", "hans", "hennes", "honom", "henne", "han", "hon", "onun", "ona", "son",
    "ses", "elle", NULL};

/* An article after that verb makes a definition ("Weber ist die SI-Einheit
 * …; seine Definition", where "seine" is "its"). */
static const char *const articles[] = {"a", "an", "the", "die", "der", "das", "ein", "eine", "un", "una",
                                       "uno", "il", "la", "el", "um", "uma", "het", "een", "en", "ett", NULL};

/* A person's pronoun among the 60 tokens after j. */
static bool pronoun_after(const char *text, const sl__toks_t *T, size_t j) {
  for (size_t k = j; k < T->n && k < j + 60; k++)
    if (T->v[k].kind == SL_TK_WORD && sl__tok_in(text, &T->v[k], person_pronouns)) return true;
  return false;
}

/* Every word of the run is in no English list (or, with names_too, is a
 * gazetteer name). */
static bool all_foreign(const sl__gaz_t *g, const char *text, sl__toks_t *T, size_t i, size_t j,
                        bool names_too) {
  for (size_t k = i; k < j; k++) {
    unsigned f = sl__tok_flags(g, text, &T->v[k]);
    if (!(names_too && namey(f)) && !foreign_word(text, &T->v[k], f)) return false;
  }
  return true;
}

/* Tokens i..j-1: a word, then initials, then a word, each word a name or no
 * English word ("Alvir D. Pušaver", "Ravil G Yefimov"; not "Vitamin B Complex"). */
static bool initials_between_foreign(const sl__gaz_t *g, const char *text, sl__toks_t *T, size_t i,
                                     size_t j) {
  if (initial(text, &T->v[i]) || initial(text, &T->v[j - 1])) return false;
  for (size_t k = i; k < j; k++) {
    if (initial(text, &T->v[k])) continue;
    unsigned f = sl__tok_flags(g, text, &T->v[k]);
    if ((f & SL_GZ_PLACE) && !(f & (SL_GZ_FIRST | SL_GZ_LAST))) return false;
    if (!namey(f) && !foreign_word(text, &T->v[k], f)) return false;
  }
  return true;
}

/* Tokens i..j-1, capitalised words on one line, are all foreign words (above),
 * and something says a person is meant: two or three words beside personal
 * data of another kind ("Giorgos Papadakis, date of birth 5 April 1972") or
 * before what people do ("Wei Zhang said"), or a possessive before a personal
 * noun ("Parisa Moradi's mobile", "Ananya's passport"). */
static bool foreign_run(const sl__ctx_t *c, const sl__gaz_t *g, sl__toks_t *T, size_t i, size_t j) {
  const char *text = c->text;
  const sl__tok_t *last = &T->v[j - 1];
  /* cheapest first: the words' own context, then the lexicon, then the
   * candidates found so far (a walk over them) */
  bool possessive = possessive_tok(text, last), context = false;
  if (possessive) {
    for (size_t k = j; k < T->n && k < j + 3 && !T->v[k].nl_before && !T->v[k].punct_before && !context;
         k++)
      context = sl__tok_in(text, &T->v[k], personal_nouns);
    /* two words and more, none English, with 's: "Wisława Szczepańska's killers" */
    if (!context && j - i >= 2 && all_foreign(g, text, T, i, j, true)) return true;
    if (!context) return false;
  } else if (j - i < 2) {
    return false;
  } else {
    context = j < T->n && !T->v[j].nl_before && !T->v[j].punct_before &&
              (sl__tok_in(text, &T->v[j], person_verbs) || sl__tok_in(text, &T->v[j], person_states));
  }
  if (!all_foreign(g, text, T, i, j, false)) return false;
  return context || personal_data_near(c, T->v[i].s, last->e) || street_after(g, text, T, j);
}

/* The pronouns that refer to a person ("he", "her", ...). */
static const char *const pronouns[] = {"he", "him", "his", "she", "her", "hers", NULL};

/* Pronoun close after a word: "X is very reliable ... on him". */
static bool pronoun_near(const char *text, const sl__toks_t *T, size_t i, size_t span) {
  for (size_t k = i + 1; k < T->n && k <= i + span; k++) {
    const sl__tok_t *t = &T->v[k];
    if (t->e - t->s > 4) continue;
    if (sl__tok_in(text, t, pronouns)) return true;
  }
  return false;
}

/* A surname by its shape, in languages whose surnames end alike ("Szczepańska",
 * "Ottová", "Kowalski", "Petrović", "Yefimov", "Shervashidze", "Petersson",
 * "Papadopoulos", "Vasquez"): 5 bytes at least, no English word. */
static bool surname_shape(const char *text, const sl__tok_t *t) {
  static const char *const ends[] = {
      "ová", "ská", "ski", "ska", "cki", "cka", "wicz", "vić", "vič", "ić", "ov", "ova", "ev",
      "eva", "enko", "chuk", "yan", "shvili", "dze", "escu", "eanu", "sson", "poulos", "akis",
      "idis", "oğlu", "ez", "aitė", "ienė", "yte", "dóttir", "dottir", NULL};
  size_t n = t->e - t->s;
  if (n >= 4 && text[t->e - 2] == '\'' && text[t->e - 1] == 's') n -= 2;
  if (n < 5) return false;
  const char *w = text + t->s;
  for (const char *const *e = ends; *e; e++) {
    size_t m = strlen(*e);
    if (m < n && !memcmp(w + n - m, *e, m)) return !sl__lexicon_has(w, n);
  }
  return false;
}

/* Verbs of speech before a name ("... direction," says Joly.). */
static const char *const speech[] = {"says", "said", "asks", "asked", "adds", "added", "writes",
                                     "wrote", "explains", "explained", "notes", "noted",
                                     "recalls", "recalled", "insists", "insisted", NULL};
static sl__wordset_t speech_set = {.words = speech};
/* A word of letters alone, no '-' or '\'' joining parts ("db-creds" names a thing);
 * not after a backtick (code). */
static bool letters_only(const char *text, const sl__tok_t *t) {
  if (t->s > 0 && text[t->s - 1] == '`') return false;
  for (uint32_t k = t->s; k < t->e; k++)
    if (text[k] == '-' || text[k] == '\'' || text[k] == '_') return false;
  return t->e - t->s >= 3;
}

/* After a name and a comma that open a sentence: a question or request to them. */
static const char *const vocative_next[] = {"can", "could", "would", "will", "please", "do",
                                            "did", "are", "have", "is", NULL};
/* After "X and Y": what people do or are. */
static const char *const people_were[] = {"were", "met", "married", "founded", "wrote", "agreed",
                                          "decided", "said", NULL};
/* A work by someone: "the Castro novel", "a Ravil G Yefimov concert". */
static const char *const works[] = {"novel", "novels", "version", "concert", "album", "song",
                                    "songs", "book", "books", "poem", "poems", "recording",
                                    "biography", "memoir", "painting", "sculpture", "symphony",
                                    "opera", NULL};
/* What is named after someone, right after the name: "the Thomas algorithm",
 * "a tridiagonal (Thomas) solver". Nouns only: a verb there ("Did Maria test
 * it?") would end a name that is one. */
/* Token j (after a run) is what follows a person's name at a sentence's start:
 * a verb of what people do, or "from" ("K. Venkataraman from procurement"). */
static bool person_next(const char *text, const sl__toks_t *T, size_t j) {
  static const char *const from[] = {"from", NULL};
  if (j >= T->n || T->v[j].nl_before || T->v[j].punct_before || (T->v[j].caps & 1)) return false;
  const sl__tok_t *t = &T->v[j];
  return sl__tok_in(text, t, person_acts) || sl__tok_in(text, t, person_verbs) || sl__tok_in(text, t, speech) ||
         sl__tok_in(text, t, person_states) || sl__tok_in(text, t, from);
}

/* What only a person is said to be: the last word of "X is a very sympathetic
 * person", "Why is X so impulsive?" (nouns and adjectives no place, product or
 * firm takes). */
static const char *const person_heads[] = {
    "person", "man", "woman", "guy", "girl", "boy", "lady", "gentleman", "friend", "colleague",
    "coworker", "co-worker", "neighbour", "neighbor", "roommate", "classmate", "boss", "kid",
    "child", "baby", "human", "individual", "soul", "mother", "father", "mom", "mum", "dad",
    "wife", "husband", "sister", "brother", "son", "daughter", "uncle", "aunt", "cousin",
    "nephew", "niece", "girlfriend", "boyfriend", "grandmother", "grandfather", "widow",
    "widower", "listener", "introvert", "extrovert", "impulsive", "jealous", "shy", "selfish",
    "stubborn", "grumpy", "moody", "rude", "arrogant", "generous", "brave", "upset", "nervous",
    "pregnant", "married", "divorced", "unemployed", "retired", "polite", "cheerful",
    "talkative", "clumsy", "sympathetic", "empathetic", "kind-hearted", "introverted",
    "extroverted", "lonely", "homesick", NULL};

/* After a name (token j on): a short predicate that says a person is meant — a
 * copula or a degree word ("so", "very"), at most three lower-case words, then
 * a word of person_heads
 * ending the clause: "Jordan is a very sympathetic person.", "Why is Aroha so
 * impulsive?" (not "Jordan is a small country", "Rust is so fast"). */
static bool person_predicate(const char *text, const sl__toks_t *T, size_t j) {
  static const char *const copulas[] = {"is", "was", "seems", "seemed", "sounds", "looks",
                                        "became", "remains", "feels", "felt", NULL};
  static const char *const degrees[] = {"so", "very", "really", "such", "too", "quite", NULL};
  static const char *const determiners[] = {"a", "an", "the", "this", "that", NULL};
  size_t k = j;
  if (j >= 2 && sl__tok_in(text, &T->v[j - 2], determiners)) return false; /* "a Chilean woman" */
  if (k >= T->n || T->v[k].nl_before || T->v[k].punct_before ||
      !(sl__tok_in(text, &T->v[k], copulas) || sl__tok_in(text, &T->v[k], degrees)))
    return false;
  if (sl__tok_in(text, &T->v[k], copulas)) k++;
  for (size_t m = 0; m <= 3 && k < T->n; m++, k++) {
    const sl__tok_t *u = &T->v[k];
    if (u->nl_before || u->punct_before || u->kind != SL_TK_WORD || (u->caps & 1)) return false;
    if (sl__tok_in(text, u, person_heads) &&
        (k + 1 == T->n || T->v[k + 1].nl_before || T->v[k + 1].punct_before ||
         sl__tok_is(text, &T->v[k + 1], "and") || sl__tok_is(text, &T->v[k + 1], "who") ||
         sl__tok_is(text, &T->v[k + 1], "but")))
      return true;
  }
  return false;
}

/* Before a name (token i): what only a person has, and "of": "The true gender
 * of Soo-ah", "the wife of Hemi" (not kin, which myths and scripture name: "the
 * son of Zeus"). */
static bool person_attribute_of(const char *text, const sl__toks_t *T, size_t i) {
  static const char *const attrs[] = {"gender", "pronouns", "wife", "husband", "widow",
                                      "girlfriend", "boyfriend", "fiancé", "fiancée", "birthday",
                                      NULL};
  return i >= 2 && !T->v[i].nl_before && !T->v[i].punct_before && !T->v[i - 1].punct_before &&
         sl__tok_is(text, &T->v[i - 1], "of") && sl__tok_in(text, &T->v[i - 2], attrs);
}

static const char *const eponym_nouns[] = {"algorithm", "algorithms", "solver", "method", "methods",
                                           "optimizer", "optimiser", "theorem", "lemma", "conjecture",
                                           "equation", "equations", "inequality", "criterion",
                                           "coefficient", "coefficients", "polynomial", "polynomials",
                                           "integral", "decomposition", "distribution", "estimator",
                                           "paradox", "principle", "heuristic", "civilization",
                                           "problem", "problems", "equilibrium", "hypothesis",
                                           "transform", "constant", "effect",
                                           "civilisation", "empire", "dynasty", "calendar", NULL};

static bool eponym_after(const char *text, const sl__toks_t *T, size_t j) {
  return j < T->n && !T->v[j].nl_before && (T->v[j].punct_before == 0 || T->v[j].punct_before == ')') &&
         sl__tok_in(text, &T->v[j], eponym_nouns);
}

/* Products named like people, and the words of texts about them: tools in a
 * text about software ("5+ years of Java, Kotlin, Cassandra and Kafka", "the
 * Jenkins job failed"), assistants beside another or a word for one ("Ask
 * Claude or ChatGPT?", "Is Alexa or Siri better for the lights?"). */
static const char *const tools[] = {"Cassandra", "Jenkins", "Kafka", "Hadoop", "Django", "Sinatra", "Jekyll",
                                    "Helm", "Ansible", "Terraform", NULL};
static const char *const tools_about[] = {"Java", "Kotlin", "Python", "Scala", "database", "SQL", "Postgres",
                                          "MySQL", "MongoDB", "Redis", "Docker", "Kubernetes", "cluster",
                                          "pipeline", "deploy", "backend", "microservice", "JVM", "Spring",
                                          "Elasticsearch", "NoSQL", "CI/CD", "GitHub", "GitLab", "AWS", "server",
                                          "Spark", NULL};
static const char *const assistants[] = {"Claude", "Alexa", "Siri", "Cortana", "Bixby", "Gemini", "Copilot", NULL};
static const char *const assistants_about[] = {"ChatGPT", "GPT-", "Siri", "Alexa", "Gemini", "Copilot", "Cortana",
                                               "Claude", "chatbot", "LLM", "Anthropic", "OpenAI", "AI assistant",
                                               "voice assistant", "Google Assistant", "Google Home", "Amazon Echo",
                                               "smart speaker", NULL};

/* The word t, alone, is one of `names` (as written), and a word of `about`
 * other than itself is within `win` bytes. */
static bool product_named(const sl__ctx_t *c, const sl__tok_t *t, const char *const *names,
                          const char *const *about, size_t win) {
  size_t n = t->e - t->s - (possessive_tok(c->text, t) ? 2 : 0);
  bool named = false;
  for (const char *const *w = names; *w && !named; w++) named = strlen(*w) == n && !memcmp(c->text + t->s, *w, n);
  if (!named) return false;
  size_t a = t->s > win ? t->s - win : 0, b = c->len - t->e > win ? t->e + win : c->len;
  for (const char *const *w = about; *w; w++) {
    size_t m = strlen(*w);
    if (!(m == n && !memcmp(*w, c->text + t->s, n)) && memmem(c->text + a, b - a, *w, m)) return true;
  }
  return false;
}

/* "Adam" after "with", "using" ... in a text about training models is the
 * optimizer: "train it with Adam on a small corpus" (the words looked for
 * within 300 bytes). */
static bool adam_optimizer(const sl__ctx_t *c, const sl__toks_t *T, size_t i) {
  static const char *const ml[] = {"gradient", "learning rate", "optimi", "epoch", "SGD", "backprop",
                                   "PyTorch", "torch.", "TensorFlow", "neural", NULL};
  static const char *const by[] = {"with", "using", "use", "uses", "via", "or", "and", "vs", NULL};
  const sl__tok_t *t = &T->v[i];
  if (t->e - t->s != 4 || memcmp(c->text + t->s, "Adam", 4) || i == 0 || t->nl_before ||
      !sl__tok_in(c->text, &T->v[i - 1], by))
    return false;
  size_t a = t->s > 300 ? t->s - 300 : 0, b = c->len - t->e > 300 ? t->e + 300 : c->len;
  for (const char *const *w = ml; *w; w++)
    if (sl__find(c->text + a, b - a, *w, strlen(*w))) return true;
  return false;
}

/* Of those, the ones only a person makes (a brand has a version, an album, a book). */
static const char *const authored[] = {"novel", "novels", "concert", "poem", "poems", "biography",
                                       "memoir", "painting", "sculpture", "symphony", NULL};

/* "and" in the languages whose firms are named "A, B and C" ("Motchebon, Albert
 * und Lauckner", "Lira, Cantú y Carbajal"). */
static const char *const firm_and[] = {"and", "und", "y", "e", "et", "og", "och", "en", "és", NULL};

/* Three or more single capitalised words, "A, B and C" (or "A, B & C"), that
 * name one thing: a singular verb or a firm's word follows ("Lopez, Santos and
 * Coleman is a design agency", "The Clark, Romero and Hall Orchestra"), or a
 * verb of working precedes ("I work for Smith, Johnson and Lee"). Returns the
 * token after the list, or 0. */
static size_t firm_coordination(const sl__gaz_t *g, const char *text, const sl__toks_t *T, size_t i) {
  static const char *const singular[] = {"is", "was", "has", NULL};
  static const char *const firm_tail[] = {"orchestra", "philharmonic", "band", "choir", "quartet",
                                          "quintet", "trio", "ensemble", "llp", "associates", NULL};
  size_t k = i, items = 1;
  for (;;) {
    size_t n = k + 1;
    if (n >= T->n || T->v[n].nl_before) return 0;
    if (T->v[n].punct_before == ',' && cap_word(text, &T->v[n]) && items < 8) {
      k = n, items++;
      continue;
    }
    if (T->v[n].punct_before == '&' && cap_word(text, &T->v[n])) {
      k = n, items++;
      break;
    }
    if (n + 1 < T->n && (!T->v[n].punct_before || T->v[n].punct_before == ',') &&
        sl__tok_in(text, &T->v[n], firm_and) && !T->v[n + 1].punct_before && !T->v[n + 1].nl_before &&
        cap_word(text, &T->v[n + 1])) {
      k = n + 1, items++;
      break;
    }
    return 0;
  }
  static const char *const working[] = {"work", "works", "worked", "working", "employed", NULL};
  size_t a = k + 1;
  if (items < 3) return 0;
  if (i >= 2 && !T->v[i].punct_before && !T->v[i - 1].punct_before &&
      (sl__tok_is(text, &T->v[i - 1], "for") || sl__tok_is(text, &T->v[i - 1], "at") ||
       sl__tok_is(text, &T->v[i - 1], "by")) &&
      sl__tok_in(text, &T->v[i - 2], working))
    return a;
  if (a >= T->n || T->v[a].nl_before || T->v[a].punct_before) return 0;
  bool firm = sl__tok_in(text, &T->v[a], singular) || sl__tok_in(text, &T->v[a], firm_tail) ||
              ((T->v[a].caps & 1) && (sl__tok_flags(g, text, &T->v[a]) & SL_GZ_VETO));
  return firm ? a : 0;
}

/* Vetoes that are surnames too, after a given name ("Ivan King", "Lisa Prince"). */
static const char *const surname_vetoes[] = {"king", "queen", "prince", "ford", "park", NULL};

/* The run at token i names who made a work: "directed by Brad L Key",
 * "Directed By: Arquímedes Ballesteros", "a song written by Maren Ødegård". */
static bool creator_before(const char *text, const sl__toks_t *T, size_t i) {
  static const char *const made[] = {"directed", "written", "composed", "painted", "illustrated",
                                     "narrated", "translated", "edited", "choreographed",
                                     "authored", "sung", "photographed", "sculpted", NULL};
  const sl__tok_t *t = &T->v[i];
  return i >= 2 && !t->nl_before && (!t->punct_before || t->punct_before == ':') &&
         !T->v[i - 1].nl_before && !T->v[i - 1].punct_before && sl__tok_is(text, &T->v[i - 1], "by") &&
         sl__tok_in(text, &T->v[i - 2], made);
}

/* The run at token i follows a band or a team its person left: "ex-Zombie
 * Kastner", "ex-Beatle Pete Best" (the hyphenated word is one token). */
static bool former_member(const char *text, const sl__toks_t *T, size_t i) {
  if (i == 0 || T->v[i].nl_before || T->v[i].punct_before) return false;
  const sl__tok_t *p = &T->v[i - 1];
  return p->e - p->s > 4 && !strncasecmp(text + p->s, "ex-", 3) &&
         isupper((unsigned char)text[p->s + 3]);
}

/* After a run ending at token j: ", the <title of one to six words>, said"
 * (or says, told, added, explained, wrote); the title may hold a comma or
 * brackets itself ("the Engineer, civil, said", "the Scientist, research
 * (physical sciences), said"). */
static bool titled_speaker(const char *text, const sl__toks_t *T, size_t j) {
  if (j + 2 >= T->n || T->v[j].punct_before != ',' || T->v[j].nl_before || !sl__tok_is(text, &T->v[j], "the"))
    return false;
  for (size_t k = j + 2; k < T->n && k <= j + 8 && !T->v[k].nl_before; k++) {
    char p = T->v[k].punct_before;
    if (p == ',' && sl__tok_in(text, &T->v[k], speech)) return true;
    if ((p && p != ',' && p != '(' && p != ')') || T->v[k].kind != SL_TK_WORD) return false;
  }
  return false;
}

/* Token i, a capitalised English word after "as" or an article, opens a job's
 * title: a word for a trade follows ("as Line cook", "a Data engineer"). */
static bool job_title(const char *text, const sl__toks_t *T, size_t i) {
  static const char *const trades[] = {
      "cook", "chef", "engineer", "manager", "developer", "assistant", "nurse", "teacher",
      "analyst", "designer", "officer", "clerk", "worker", "technician", "consultant", "architect",
      "scientist", "operator", "attendant", "specialist", "administrator", "coordinator",
      "editor", "writer", "accountant", "librarian", "therapist", "surveyor", "inspector",
      "planner", "adviser", "advisor", "programmer", "buyer", "broker", "agent", NULL};
  static const char *const before[] = {"as", "a", "an", "the", NULL};
  return i > 0 && i + 1 < T->n && !T->v[i].punct_before && sl__tok_in(text, &T->v[i - 1], before) &&
         !T->v[i + 1].nl_before && !T->v[i + 1].punct_before && !(T->v[i + 1].caps & 1) &&
         sl__tok_in(text, &T->v[i + 1], trades) && sl__lexicon_has(text + T->v[i].s, T->v[i].e - T->v[i].s);
}

/* Token j (after a run) is "from" and a capitalised word: where a person works
 * or comes from ("... from Helix Biolabs is the keynote speaker"). */
static bool from_firm(const char *text, const sl__toks_t *T, size_t j) {
  return j + 1 < T->n && !T->v[j].nl_before && !T->v[j].punct_before && !T->v[j + 1].nl_before &&
         !T->v[j + 1].punct_before && sl__tok_is(text, &T->v[j], "from") && cap_word(text, &T->v[j + 1]);
}

/* Of two words, at most one a place, and that one also a name. */
static bool pair_not_places(unsigned f1, unsigned f2) {
  if ((f1 & SL_GZ_PLACE) && (f2 & SL_GZ_PLACE)) return false;
  unsigned p = (f1 & SL_GZ_PLACE) ? f1 : f2;
  return !(p & SL_GZ_PLACE) || namey(p);
}

/* A name the gazetteer does not know or a known one, by itself: not English,
 * not only a place, no veto. */
/* A given name that is also a word, at a sentence's start, then a comma and a
 * request to someone (j: "can", "could", ... then "I", "you", "we"; or
 * "please"): "Faith, can I ...", "Grace, could you ...", "Bill, please ...";
 * not a word people are called by ("Honey, can you ..."). */
static bool asked_by_name(const char *text, const sl__toks_t *T, size_t i, size_t j, unsigned f) {
  static const char *const pronouns[] = {"i", "you", "u", "we", NULL};
  static const char *const endearments[] = {"honey", "baby", "babe", "buddy", "darling", "dear",
                                            "sweetie", "chief", "boss", "love", "sugar", NULL};
  if (!(f & SL_GZ_FIRST) || (f & (SL_GZ_VETO | SL_GZ_HONOR | SL_GZ_STARTER)) ||
      sl__tok_in(text, &T->v[i], endearments))
    return false;
  if (sl__tok_is(text, &T->v[j], "please")) return true;
  return j + 1 < T->n && !T->v[j + 1].nl_before && !T->v[j + 1].punct_before &&
         sl__tok_in(text, &T->v[j + 1], pronouns);
}

static bool name_like(const char *text, const sl__tok_t *t, unsigned f) {
  if (f & (SL_GZ_VETO | SL_GZ_HONOR | SL_GZ_STARTER)) return false;
  return namey(f) || surname_shape(text, t) || foreign_word(text, t, f);
}

/* Token i starts a list of single words ("a, b, c and d"), four at least, of
 * which three or more are given names and none is a place or a veto word:
 * returns the token after the list, or 0. */
static size_t name_list(const sl__gaz_t *g, const char *text, sl__toks_t *T, size_t i) {
  size_t items = 0, names = 0, k = i;
  for (; k < T->n && k < i + 24 && !T->v[k].nl_before; k++) {
    if (T->v[k].kind != SL_TK_WORD) return 0;
    if (sl__tok_is(text, &T->v[k], "and") && k > i) continue;
    unsigned f = sl__tok_flags(g, text, &T->v[k]);
    /* (a given name that is also a place counts as an item: "chad") */
    if ((f & SL_GZ_VETO) || ((f & SL_GZ_PLACE) && !(f & SL_GZ_FIRST))) return 0;
    items++;
    names += (f & SL_GZ_FIRST) && namey(f) && !(f & SL_GZ_PLACE);
    if (k + 1 >= T->n || (T->v[k + 1].punct_before != ',' && !sl__tok_is(text, &T->v[k + 1], "and"))) {
      k++;
      break;
    }
  }
  return items >= 4 && names >= 3 && names * 4 >= items * 3 ? k : 0;
}

/* People named in a list after a word for them and a colon: "our 3 founders:
 * Kónya, Becker and Vasquez", "Speakers: Ana Souza, Li Wei & Tom Berg". Token
 * i is the list's first word; adds each capitalised run of one to three words
 * with a name or a word that is no English word, and no veto or starter (nor
 * a common word alone), and returns the list's end (0: no such list here). */
static size_t people_list(sl__ctx_t *c, const sl__gaz_t *g, sl__toks_t *T, size_t i) {
  static const char *const people[] = {
      "founders", "cofounders", "co-founders", "partners", "members", "authors", "owners",
      "employees", "speakers", "attendees", "guests", "participants", "children", "kids",
      "sons", "daughters", "siblings", "parents", "grandchildren", "winners", "finalists",
      "candidates", "nominees", "hosts", "organizers", "organisers", "panelists", "panellists",
      "instructors", "teachers", "students", "players", "directors", "witnesses", "signatories",
      "beneficiaries", "heirs", "tenants", "residents", "passengers", "travellers", "travelers",
      "recipients", "invitees", "volunteers", "suspects", "victims", "defendants", "plaintiffs",
      "coaches", "trainers", "reviewers", "approvers", "assignees", "contacts", "friends", NULL};
  const char *text = c->text;
  if (i == 0 || T->v[i].punct_before != ':' || T->v[i].nl_before || !sl__tok_in(text, &T->v[i - 1], people))
    return 0;
  size_t k = i;
  for (int items = 0; k < T->n && items < 12;) {
    size_t j = k;
    while (j < T->n && j - k < 3 && (j == k || (!T->v[j].punct_before && !T->v[j].nl_before)) &&
           cap_word(text, &T->v[j]) && !sl__tok_is(text, &T->v[j], "and"))
      j++;
    if (j == k) break;
    bool bad = false, good = false;
    for (size_t m = k; m < j; m++) {
      unsigned f = sl__tok_flags(g, text, &T->v[m]);
      bad |= (f & (SL_GZ_VETO | SL_GZ_STARTER)) || (j == k + 1 && (f & SL_GZ_COMMON));
      good |= namey(f) || !sl__lexicon_has(text + T->v[m].s, T->v[m].e - T->v[m].s);
    }
    if (good && !bad) sl__cands_add(c->out, T->v[k].s, T->v[j - 1].e, SL_ET_PERSON, "person", 35);
    items++;
    k = j;
    if (k >= T->n || T->v[k].nl_before) break;
    if (T->v[k].punct_before == ',' || T->v[k].punct_before == '&') continue;
    if (sl__tok_is(text, &T->v[k], "and") && k + 1 < T->n && !T->v[k + 1].nl_before) {
      k++;
      continue;
    }
    break;
  }
  return k;
}

/* An airline-style name before its title: "OYEWOLE/ADEBOLA MRS", "SMITH/JOHN MR"
 * (passenger lists, tickets): SURNAME/GIVEN in capitals (3+ letters each), then
 * the title (token k - 1, at `at`) on the same line. Adds the name and says so. */
static bool airline_name(const sl__ctx_t *c, const sl__toks_t *T, size_t k, uint32_t at) {
  if (k < 3 || T->v[k - 1].s != at) return false;
  const sl__tok_t *title = &T->v[k - 1], *given = &T->v[k - 2], *sur = &T->v[k - 3];
  if ((title->caps & 3) != 3 || title->nl_before || given->nl_before ||
      given->kind != SL_TK_WORD || sur->kind != SL_TK_WORD || (given->caps & 3) != 3 ||
      (sur->caps & 3) != 3 || given->punct_before != '/' || given->s != sur->e + 1 ||
      sur->e - sur->s < 3 || given->e - given->s < 3) /* not "AC/DC MR BIG" */
    return false;
  sl__cands_add(c->out, sur->s, given->e, SL_ET_PERSON, "person", 35);
  return true;
}

/* Marks the word after each name-cue hit of the multi-pattern pass; the marked
 * tokens go to cue_tok (sorted, at most cap; returns how many, or cap + 1 when
 * they do not fit). */
static size_t mark_cues(const sl__ctx_t *c, sl__toks_t *T, uint32_t *cue_tok, size_t cap) {
  static const char *const named_whom[] = {"him", "her", "me", "them", NULL};
  size_t n = 0;
  for (size_t h = 0; h < c->hits->n; h++) {
    const sl__hit_t *hit = &c->hits->v[h];
    if (hit->id != SL_P_CUE_NAME2 && hit->id != SL_P_CUE_NAME1) continue;
    size_t lo = sl__tok_at(T, hit->end); /* the first token after the cue */
    if (hit->id == SL_P_CUE_NAME2 && airline_name(c, T, lo, hit->start)) continue;
    /* a label ("Name:") or a sign-off ("Cheers,") may have the name on the next line */
    bool colon = hit->end > 0 && (c->text[hit->end - 1] == ':' || c->text[hit->end - 1] == '?');
    if (hit->end < c->len && c->text[hit->end] == ',') {
      /* a title alone is a salutation ("Madame, Monsieur,\nNous vous ..."), or a
       * street's type ("Kessler Blvd N Dr, Indianapolis"); a CSV field is not
       * ("Mrs,Patience,Osei") */
      if (hit->id == SL_P_CUE_NAME2 && hit->end + 1 < c->len &&
          isspace((unsigned char)c->text[hit->end + 1]) &&
          sl__word_in(c->text + hit->start, hit->end - hit->start, honorific))
        continue;
      colon = true; /* "Signed,\nAyodele" */
    }
    bool crosses = false; /* a cue does not reach over a sentence end ("called.\nAnswers") */
    for (uint32_t b = hit->end; lo < T->n && b < T->v[lo].s; b++)
      if (strchr(".!?;\n", c->text[b]) && !(colon && c->text[b] == '\n')) crosses = true;
    /* "named him Luís", "called her Ana": the name follows the pronoun */
    uint32_t slack = 4;
    /* a question and the answer in the next turn: "What's the name on the
     * account? User: Eve Magrath" (the speaker's label is no answer) */
    if (c->text[hit->end - 1] == '?' && lo + 1 < T->n && T->v[lo].kind == SL_TK_WORD &&
        T->v[lo + 1].punct_before == ':' && !T->v[lo + 1].nl_before &&
        T->v[lo].e - T->v[lo].s <= 12 && T->v[lo].s - hit->end <= 2)
      slack = T->v[++lo].s - hit->end;
    if (hit->id == SL_P_CUE_NAME2 && lo + 1 < T->n && !T->v[lo + 1].nl_before && !T->v[lo + 1].punct_before &&
        T->v[lo].s - hit->end <= 1 && sl__tok_in(c->text, &T->v[lo], named_whom))
      lo++, slack = 6;
    if (lo < T->n && !crosses && T->v[lo].nl_before <= 1 && T->v[lo].s - hit->end <= slack) {
      /* 1: a weak cue ("hi", "thanks"); 2: a strong one ("my name is", "Mr."); 3: a
       * strong one that is a label ("Name:") */
      uint8_t st = hit->id == SL_P_CUE_NAME2 ? (c->text[hit->end - 1] == ':' ? 3 : 2) : 1;
      if (st == 3 && yaml_key(c->text, hit->start)) st = 1; /* "  - name: Publish" */
      /* a bare "name" key in JSON names things as often as people ("name": "Prod") */
      if (st == 3 && hit->end - hit->start == 6 && !strncasecmp(c->text + hit->start, "name", 4) &&
          (c->text[hit->start + 4] == '"' || c->text[hit->start + 4] == '\''))
        st = 1;
      if (st > T->v[lo].cue) T->v[lo].cue = st;
      if (n < cap) { /* insertion into the sorted list, no duplicates */
        size_t k = n;
        while (k > 0 && cue_tok[k - 1] > lo) k--;
        if (!(k > 0 && cue_tok[k - 1] == lo)) {
          memmove(cue_tok + k + 1, cue_tok + k, (n - k) * sizeof *cue_tok);
          cue_tok[k] = (uint32_t)lo;
          n++;
        }
      } else {
        n = cap + 1;
      }
    }
  }
  return n;
}

/* Lower-case names inside text that has capitals too ("I talked to bao
 * yesterday", "what olga said", "cc'ing mohammed and yuki"); the main pass reads
 * lower-case words only at a line's start or after a cue. Found from hits of
 * the multi-pattern pass, so that text pays only where such words are:
 * - after words that point only at people (SL_P_LOWER_CUE: "talked to",
 *   "thank", "cc'ing", "text from"), any word that is neither
 *   English (the lexicon) nor in the gazetteer as something else;
 * - after words that point at where things go or come from (SL_P_LOWER_SEND:
 *   "send it to", "from", "by", "wait for"), a gazetteer given name only
 *   ("send it to staging", "waiting for rollout" are no names);
 * - before what people do (SL_P_LOWER_VERB: "said", "agreed"), at a clause's
 *   start ("what olga said"), a gazetteer given name only;
 * - "X and Y" after one found.
 * Never a programming language, a product or an assistant. */
static const char *const clause_open[] = {"what", "and", "but", "then", "so", "because", "when",
                                          "if", "that", "as", "since", "while", "until", "after",
                                          "before", "how", "why", "where", "also", "cause", "coz",
                                          "once", "lol", "ok", "yes", "no", NULL};
static const char *const lower_products[] = {
    "alexa", "siri", "cortana", "maya", "django", "jenkins", "pandas", "sage", "oracle",
    "ansible", "heroku", "vercel", "kafka", "celery", "flask", "chatgpt", "gpt", "gemini",
    "copilot", "claude", "bard", "llama", "mistral", "grok", "jarvis", "ollama", NULL};

/* 0: no name; 1: a gazetteer given name; 2: a surname or a word no list knows
 * (no English, no place). */
static int lower_name_kind(const sl__gaz_t *g, const char *text, sl__toks_t *T, size_t k) {
  sl__tok_t *t = &T->v[k];
  if (t->kind != SL_TK_WORD || (t->caps & 1) || t->nl_before || t->punct_before ||
      !letters_only(text, t) || sl__lexicon_has(text + t->s, t->e - t->s) ||
      sl__tok_in(text, t, languages) || sl__tok_in(text, t, lower_products))
    return 0;
  unsigned f = sl__tok_flags(g, text, t);
  if (f & (SL_GZ_PLACE | SL_GZ_VETO | SL_GZ_STARTER | SL_GZ_HONOR | SL_GZ_COMMON)) return 0;
  if (f & SL_GZ_FIRST) return 1;
  /* an English plural the lexicon has in the singular ("speaking to bots") */
  size_t n = t->e - t->s;
  if (n > 3 && text[t->e - 1] == 's' && sl__lexicon_has(text + t->s, n - 1)) return 0;
  return 2;
}

/* Adds the name at token i (and a surname right after it: "tatiana
 * ivanova-petrenko"), then "and Y" after it; returns the last token used. */
static size_t lower_add(sl__ctx_t *c, const sl__gaz_t *g, sl__toks_t *T, size_t i) {
  const char *text = c->text;
  for (;;) {
    size_t j = i + 1;
    if (j < T->n && !T->v[j].nl_before && !T->v[j].punct_before && T->v[j].kind == SL_TK_WORD &&
        !(T->v[j].caps & 1) && !sl__lexicon_has(text + T->v[j].s, T->v[j].e - T->v[j].s) &&
        !(sl__tok_flags(g, text, &T->v[j]) & (SL_GZ_COMMON | SL_GZ_PLACE | SL_GZ_VETO | SL_GZ_STARTER)))
      j++;
    sl__cands_add(c->out, T->v[i].s, T->v[j - 1].e, SL_ET_PERSON, "person_lower", 30);
    if (!(j + 1 < T->n && sl__tok_is(text, &T->v[j], "and") && !T->v[j].punct_before &&
          !T->v[j].nl_before && lower_name_kind(g, text, T, j + 1)))
      return j - 1;
    i = j + 1;
  }
}

static void lower_names(sl__ctx_t *c, const sl__gaz_t *g, sl__toks_t *T) {
  const char *text = c->text;
  for (size_t h = 0; h < c->hits->n; h++) {
    const sl__hit_t *hit = &c->hits->v[h];
    if (hit->id != SL_P_LOWER_CUE && hit->id != SL_P_LOWER_SEND && hit->id != SL_P_LOWER_VERB)
      continue;
    size_t i;
    if (hit->id == SL_P_LOWER_VERB) {
      i = sl__tok_at(T, hit->start); /* the verb; the name before it */
      if (i < 1 || i >= T->n || T->v[i].s != hit->start || T->v[i].punct_before || T->v[i].nl_before)
        continue;
      /* a given name and a surname opening the text or a clause: "sanjay
       * mehta said he can't come in" */
      if (i >= 2 && (i == 2 || sl__tok_in(text, &T->v[i - 3], clause_open)) &&
          lower_name_kind(g, text, T, i - 2) == 1 && lower_name_kind(g, text, T, i - 1)) {
        lower_add(c, g, T, i - 2);
        continue;
      }
      if (i < 2 || !sl__tok_in(text, &T->v[i - 2], clause_open)) continue;
      i--;
    } else {
      i = sl__tok_at(T, hit->end);
      if (i >= T->n || T->v[i].s != hit->end + 1 || text[hit->end] != ' ') continue;
    }
    int kind = lower_name_kind(g, text, T, i);
    if (kind && (kind == 1 || hit->id == SL_P_LOWER_CUE)) lower_add(c, g, T, i);
  }
  /* A known given name's possessive in lower case, then a person's pronoun
   * within 15 words: "can someone cover aisha's shift tmrw? she's got her
   * chemo appt at 9". */
  static const char *const pronouns[] = {"she", "he", "her", "his", "him", "she's", "he's", NULL};
  for (size_t k = 0; k + 1 < T->n; k++) {
    sl__tok_t base = T->v[k];
    if (base.kind != SL_TK_WORD || !(base.caps & 8) || base.e - base.s < 5 || text[base.e - 2] != '\'' ||
        text[base.e - 1] != 's')
      continue;
    base.e -= 2, base.caps &= (uint8_t)~8, base.looked = 0;
    sl__toks_t one = {.v = &base, .n = 1};
    if (lower_name_kind(g, text, &one, 0) != 1) continue;
    bool pron = false;
    for (size_t m = k + 1; m < T->n && m <= k + 15 && !pron; m++) pron = sl__tok_in(text, &T->v[m], pronouns);
    if (pron) sl__cands_add(c->out, base.s, base.e, SL_ET_PERSON, "person_lower", 30);
  }
}

#define GZ(k) sl__tok_flags(g, text, &T->v[k])

/* Greetings and sign-offs before a comma and a name: "Groet, Femke". */
static const char *const sign_offs[] = {"groet", "groeten", "gruss", "salut", "saludos", "saluti",
                                        "bises", "bisous", "amicalement", "amitiés", "tschüss",
                                        "servus", "beijos", "beijo", "abraços", "abrazo", "besitos",
                                        "besos", "baci", "abrazos", "atentamente", "cordialement",
                                        "pozdrawiam", "pozdrav", "hilsen", "terveisin", "mvh", "mfg",
                                        "lg", "vg", "liebe", "lieber", "ciao", "hola", "hallo",
                                        "bonjour", "merci", "danke", "gracias", "grazie", "obrigado",
                                        "obrigada", "adios", "cheers", "xoxo", NULL};

/* The end of "Surname, Given" at token i (a given name, then maybe an initial or
 * a second given name, alone on the line or before a dash, a bar, a bracket or
 * a semicolon), or 0: not "Paris, France", "Hello, John", "Jackson, Mississippi". */
static size_t surname_first(const sl__gaz_t *g, const char *text, const sl__toks_t *T, size_t i) {
  if (!sentence_start(T, i) || i + 1 >= T->n || T->v[i + 1].punct_before != ',' ||
      T->v[i + 1].nl_before || !cap_word(text, &T->v[i + 1]))
    return 0;
  unsigned fs = sl__gaz_lookup(g, text + T->v[i].s, T->v[i].e - T->v[i].s),
           fg = sl__gaz_lookup(g, text + T->v[i + 1].s, T->v[i + 1].e - T->v[i + 1].s);
  if ((fs & (SL_GZ_VETO | SL_GZ_HONOR | SL_GZ_STARTER)) || sl__tok_in(text, &T->v[i], sign_offs) ||
      !((fs & SL_GZ_LAST) || foreign_word(text, &T->v[i], fs)) ||
      !((fg & SL_GZ_FIRST) || (namey(fs) && foreign_word(text, &T->v[i + 1], fg))) ||
      (fg & (SL_GZ_PLACE | SL_GZ_VETO | SL_GZ_STARTER)))
    return 0;
  size_t j = i + 2;
  if (j < T->n && !T->v[j].nl_before && !T->v[j].punct_before &&
      (initial(text, &T->v[j]) ||
       (cap_word(text, &T->v[j]) &&
        (sl__gaz_lookup(g, text + T->v[j].s, T->v[j].e - T->v[j].s) & SL_GZ_FIRST))))
    j++;
  if (j == T->n || T->v[j].nl_before) return j;
  unsigned char p = T->v[j].punct_before; /* (a dash of UTF-8 ends in a byte >= 0x80) */
  return p >= 0x80 || (p && strchr("-|([;", p)) ? j : 0;
}

/* An ALL-CAPS word right after a colon on its line: maybe a label's value. */
static inline bool caps_label(const sl__tok_t *u) {
  return (u->caps & 3) == 3 && u->punct_before == ':' && !u->nl_before;
}

/* A Vietnamese full name: one of the common family names, a middle name that
 * is one of the common ones ("Van", "Thi", "Duc": what tells the order apart
 * from English words), and one or two given names, capitalised on one line:
 * "Nguyen Van An", "Tran Thi Thu Ha", "Nguyễn Văn An". The token after its
 * end, or 0. */
static const char *const vn_family[] = {"nguyen", "tran", "le", "pham", "hoang", "huynh", "phan",
                                        "vu", "vo", "dang", "bui", "do", "ho", "ngo", "duong",
                                        "ly", "truong", "dinh", "lam", "trinh", "nguyễn", "trần",
                                        "lê", "phạm", "hoàng", "huỳnh", "võ", "vũ", "bùi", "hồ",
                                        "ngô", "dương", "lý", "trương", NULL};
static const char *const vn_middle[] = {"van", "thi", "duc", "huu", "ngoc", "quoc", "xuan", "minh",
                                        "thanh", "cong", "dinh", "gia", "kim", "thu", "văn", "thị",
                                        "đức", "hữu", "ngọc", "quốc", "xuân", "công", "đình",
                                        NULL};
static size_t vietnamese_name(const char *text, const sl__toks_t *T, size_t i) {
  if (i + 2 >= T->n || !sl__tok_in(text, &T->v[i], vn_family)) return 0;
  const sl__tok_t *m = &T->v[i + 1];
  if (m->nl_before || m->punct_before || !cap_word(text, m) || !sl__tok_in(text, m, vn_middle))
    return 0;
  size_t j = i + 2;
  while (j < T->n && j < i + 4 && !T->v[j].nl_before && !T->v[j].punct_before &&
         cap_word(text, &T->v[j]) && T->v[j].e - T->v[j].s <= 8)
    j++;
  return j > i + 2 ? j : 0;
}

static void detect_names(sl__ctx_t *c, const sl__gaz_t *g, sl__toks_t *T);

/* A household by its surname: "Davison family, table for six", "the Kowalski
 * family", "Familie Nowak" — a surname (or a word no list knows, written as a
 * name) right before "family" or right after "Familie"/"famille"/"familia". */
static void family_names(sl__ctx_t *c, const sl__gaz_t *g, sl__toks_t *T) {
  static const char *const after[] = {"familie", "famille", "familia", "família", "famiglia", NULL};
  const char *text = c->text;
  for (size_t i = 0; i + 1 < T->n; i++) {
    const sl__tok_t *t = &T->v[i], *n = &T->v[i + 1];
    size_t k;
    /* (most words start with no f: looked at before any comparison; "family"
     * in lower case: "Lakeside Family Practice" is a firm's name) */
    bool fam = text[n->s] == 'f' && n->e - n->s == 6, before = (text[t->s] | 32) == 'f' && t->e - t->s >= 7;
    if ((!fam && !before) || n->nl_before || n->punct_before) continue;
    if (fam && sl__tok_is(text, n, "family") && !(n->caps & 1) && cap_word(text, t)) k = i;
    else if (before && sl__tok_in(text, t, after) && cap_word(text, n)) k = i + 1;
    else continue;
    unsigned f = GZ(k);
    const sl__tok_t *w = &T->v[k];
    if ((f & (SL_GZ_VETO | SL_GZ_HONOR | SL_GZ_STARTER | SL_GZ_PLACE)) || w->e - w->s < 3 ||
        !((f & SL_GZ_LAST) || foreign_word(text, w, f)))
      continue;
    sl__cands_add(c->out, w->s, w->e, SL_ET_PERSON, "person", 30);
  }
}

/* The end of "SURNAME, GIVEN" in capitals at token i, as records and forms
 * print them ("Patient: HANSEN, LAILA.", "MÜLLER, JÜRGEN; DOE, JANE"), or 0:
 * a surname, a comma, a given name that is no place or word ("PARIS, FRANCE"
 * and "JACKSON, MISSISSIPPI" are places), maybe an initial or a second given
 * name, and then no more capitals. */
static size_t caps_surname_first(const sl__gaz_t *g, const char *text, const sl__toks_t *T, size_t i) {
  const sl__tok_t *s = &T->v[i], *f = &T->v[i + 1];
  if (f->punct_before != ',' || f->nl_before || f->kind != SL_TK_WORD || (f->caps & 3) != 3 ||
      s->e - s->s < 2 || f->e - f->s < 2)
    return 0;
  /* (a surname that is a word or a place too, SMITH or GARCIA, before a given
   * name that is neither) */
  const unsigned bad = SL_GZ_VETO | SL_GZ_HONOR | SL_GZ_STARTER | SL_GZ_PLACE | SL_GZ_COMMON;
  unsigned fs = GZ(i), fg = GZ(i + 1);
  if (!(fs & SL_GZ_LAST) || (fs & (SL_GZ_VETO | SL_GZ_HONOR | SL_GZ_STARTER)) ||
      !(fg & SL_GZ_FIRST) || (fg & bad))
    return 0;
  size_t j = i + 2;
  if (j < T->n && !T->v[j].nl_before && !T->v[j].punct_before &&
      (initial(text, &T->v[j]) ||
       (T->v[j].kind == SL_TK_WORD && (T->v[j].caps & 3) == 3 && (GZ(j) & SL_GZ_FIRST) && !(GZ(j) & bad))))
    j++;
  if (j < T->n && !T->v[j].nl_before && !T->v[j].punct_before && T->v[j].kind == SL_TK_WORD &&
      (T->v[j].caps & 3) == 3)
    return 0; /* more capitals: a heading or a sentence in capitals */
  return j;
}

/* A name in capitals inside a sentence in mixed case ("as commenter DANIEL
 * OKAFOR points out", "directed by DANIEL OKAFOR and"): two or three ALL-CAPS
 * words, a given name first (no word, place or veto) and a surname or a word
 * no list knows last, between lower-case words of the same line. */
static void caps_names(sl__ctx_t *c, const sl__gaz_t *g, sl__toks_t *T) {
  const char *text = c->text;
  size_t past = 0;
  for (size_t q = 0; q < T->n_caps; q++) { /* the words in capitals, as the tokenizer listed them */
    size_t i = T->sel_caps[q];
    if (i < past || i + 1 >= T->n) continue;
    const sl__tok_t *t = &T->v[i], *p = i ? &T->v[i - 1] : NULL;
    size_t end = t->kind == SL_TK_WORD && (t->caps & 3) == 3 ? caps_surname_first(g, text, T, i) : 0;
    if (end) {
      sl__cands_add(c->out, t->s, T->v[end - 1].e, SL_ET_PERSON, "person", 35);
      past = end;
      continue;
    }
    /* inside a sentence after a word in lower case, or opening a line or a
     * sentence ("DANIEL OKAFOR will be talking") */
    bool opens = !p || t->nl_before || sentence_start(T, i);
    if (t->kind != SL_TK_WORD || (t->caps & 3) != 3 || t->e - t->s < 3 ||
        (!opens && (t->punct_before || p->kind != SL_TK_WORD || (p->caps & 1))))
      continue;
    size_t j = i + 1;
    while (j < T->n && j - i < 3 && T->v[j].kind == SL_TK_WORD && (T->v[j].caps & 3) == 3 &&
           !T->v[j].nl_before && !T->v[j].punct_before && T->v[j].e - T->v[j].s >= 2)
      j++;
    if (j - i < 2) continue;
    const sl__tok_t *after = j < T->n ? &T->v[j] : NULL;
    if (after && !after->nl_before && after->kind == SL_TK_WORD && (after->caps & 3) == 3) continue;
    if (after && !after->nl_before && !after->punct_before && (after->kind != SL_TK_WORD || (after->caps & 1)))
      continue;
    unsigned f0 = GZ(i), fl = GZ(j - 1);
    bool vetoed = false;
    for (size_t k = i; k < j; k++) vetoed |= (GZ(k) & (SL_GZ_VETO | SL_GZ_HONOR | SL_GZ_STARTER)) != 0;
    if (!vetoed && namey(f0) && (f0 & SL_GZ_FIRST) && !(f0 & SL_GZ_PLACE) &&
        ((fl & SL_GZ_LAST) || foreign_word(text, &T->v[j - 1], fl)))
      sl__cands_add(c->out, t->s, T->v[j - 1].e, SL_ET_PERSON, "person", 35);
    past = j;
  }
}

/* A finding at s..e that code holds, not a person: a variable joined to a
 * literal ("\"Patient Name: \"+pname") or interpolated ("${patientName ||"),
 * a type in a declaration ("private Long id;"). */
static bool in_code(const char *text, size_t len, uint32_t s, uint32_t e) {
  static const char *const decl[] = {"private", "public", "protected", "static", "final", "const",
                                     "readonly", NULL};
  uint32_t p = s;
  while (p > 0 && text[p - 1] == ' ') p--;
  if (p > 1 && text[p - 1] == '+') {
    uint32_t r = p - 1;
    while (r > 0 && text[r - 1] == ' ') r--;
    if (r > 0 && (text[r - 1] == '"' || text[r - 1] == '\'' || text[r - 1] == '`')) return true;
  }
  if (p > 1 && text[p - 1] == '{' && text[p - 2] == '$') return true;
  uint32_t q = e;
  while (q < len && text[q] == ' ') q++;
  /* ("Phan^Thanh Huong||19840317": an HL7 field's end, not an operator) */
  if (q > e && q + 2 < len && text[q + 2] == ' ' &&
      ((text[q] == '|' && text[q + 1] == '|') || (text[q] == '&' && text[q + 1] == '&')))
    return true;
  /* a type between a modifier and a name that ends the statement */
  if (p > 0 && text[p - 1] != '\n') {
    uint32_t w = p;
    while (w > 0 && isalpha((unsigned char)text[w - 1])) w--;
    if (w < p && sl__word_in(text + w, p - w, decl)) {
      while (q < len && (isalnum((unsigned char)text[q]) || text[q] == '_')) q++;
      return q < len && (text[q] == ';' || text[q] == '=' || text[q] == ' ');
    }
  }
  return false;
}

/* The text speaks of the past only: two years or more before 1930 and none
 * after ("Constituency : Dover 1868-73 … George was the son of …"): the people
 * it names are history's (a biography, a genealogy), not someone's data. */
static bool historical(const char *text, size_t len, const sl__toks_t *T) {
  static const char *const before[] = {"in", "born", "died", "from", "since", "until", "by", "of",
                                        "circa", "c", "around", "year", NULL};
  int old = 0, first = 0;
  for (size_t q = 0; q < T->n_addr; q++) { /* the short numbers, as the tokenizer listed them */
    size_t k = T->sel_addr[q];
    const sl__tok_t *u = &T->v[k];
    if (u->kind != SL_TK_NUM || u->e - u->s != 4) continue;
    int y = 0;
    for (uint32_t q = u->s; q < u->e; q++) y = y * 10 + (text[q] - '0');
    if (y >= 1930 && y <= 2099) return false;
    /* a year as such: after "in", "born", "(", or opening a range ("1868-73");
     * not a time in a timetable ("1155 1745") */
    bool said = u->punct_before == '(' ||
                (k > 0 && !u->punct_before && sl__tok_in(text, &T->v[k - 1], before)) ||
                (u->e + 1 < len && (text[u->e] == '-' || text[u->e] == '/') && isdigit((unsigned char)text[u->e + 1])) ||
                (u->e + 3 < len && !memcmp(text + u->e, "\xe2\x80\x93", 3)); /* "1868–1874" */
    if (said && y >= 1000 && y < 1930 && y != first) {
      if (!old) first = y;
      old++;
    }
  }
  return old >= 2;
}

/* Russian and other Cyrillic names: a given name, a patronymic (…ович,
 * …евич, …овна, …евна, …ична, in any case) and the surname after it:
 * "Ивану Петровичу Смирнову"; or one of the common given names and a surname
 * by its ending (…ов, …ева, …ин, …ский, …енко, …швили, in any case): "Ивану
 * Петрову", "Ольге Шевченко". */
/* A Cyrillic word that starts with a capital (А-Я, Ё, and Ukrainian's Є І Ї). */
static bool cyr_capital(const char *text, const sl__tok_t *u) {
  const unsigned char *w = (const unsigned char *)text + u->s;
  return u->e - u->s >= 4 && ((w[0] == 0xD0 && w[1] >= 0x81 && w[1] <= 0xAF) || (w[0] == 0xD0 && w[1] == 0x84));
}

static bool patronymic(const char *text, const sl__tok_t *u) {
  static const char *const stems[] = {"\xd0\xbe\xd0\xb2\xd0\xb8\xd1\x87", "\xd0\xb5\xd0\xb2\xd0\xb8\xd1\x87",
                                      "\xd0\xbe\xd0\xb2\xd0\xbd", "\xd0\xb5\xd0\xb2\xd0\xbd",
                                      "\xd0\xb8\xd1\x87\xd0\xbd", NULL}; /* ович евич овн евн ичн */
  size_t n = u->e - u->s;
  for (const char *const *st = stems; *st; st++) {
    size_t m = strlen(*st);
    /* the stem, then at most two letters of a case ending (Петрович, Петровичу, Петровной) */
    for (size_t tail = 0; tail <= 4; tail += 2)
      if (n > m + tail + 2 && !memcmp(text + u->e - tail - m, *st, m)) return true;
  }
  return false;
}

/* A Russian given name in any case: one of the common ones' stems and at most
 * three more letters ("Иван", "Ивану", "Ивана"; "Алексей", "Алексею"). */
static bool cyr_given(const char *text, const sl__tok_t *u) {
  static const char *const stems[] = {
      "Иван", "Пётр", "Петр", "Алексе", "Серге", "Андре", "Дмитри", "Михаил", "Никола",
      "Александр", "Владимир", "Максим", "Артём", "Артем", "Евгени", "Павел", "Павл", "Олег",
      "Игор", "Юри", "Виктор", "Борис", "Антон", "Денис", "Роман", "Константин", "Григори",
      "Фёдор", "Федор", "Степан", "Тимур", "Кирилл", "Егор", "Анн", "Мари", "Елен", "Ольг",
      "Наталь", "Татьян", "Ирин", "Екатерин", "Светлан", "Юли", "Ксени", "Дарь", "Полин",
      "Алин", "Виктори", "Софи", "Софь", "Людмил", "Галин", "Оксан", "Валентин", NULL};
  size_t n = u->e - u->s;
  for (const char *const *st = stems; *st; st++) {
    size_t m = strlen(*st);
    if (n >= m && n <= m + 6 && !memcmp(text + u->s, *st, m)) return true;
  }
  return false;
}

/* A Russian, Ukrainian or Georgian surname by its ending, in any case
 * ("Петров", "Петрову", "Смирновой", "Шевченко", "Бериашвили"). */
static bool cyr_surname(const char *text, const sl__tok_t *u) {
  static const char *const ends[] = {"ов", "ова", "ову", "овым", "овой", "ове", "ев", "ева", "еву",
                                     "евым", "евой", "еве", "ин", "ина", "ину", "иным", "иной",
                                     "ине", "ский", "ская", "скому", "ской", "ского", "скую",
                                     "ским", "цкий", "цкая", "енко", "ук", "юк", "ян", "дзе",
                                     "швили", NULL};
  size_t n = u->e - u->s;
  for (const char *const *e = ends; *e; e++) {
    size_t m = strlen(*e);
    if (n >= m + 4 && !memcmp(text + u->e - m, *e, m)) return true;
  }
  return false;
}

static void cyrillic_names(sl__ctx_t *c, const sl__toks_t *T) {
  /* a given name and a surname: "Отправьте договор Ивану Петрову" */
  for (size_t i = 1; i < T->n; i++) {
    const sl__tok_t *u = &T->v[i], *p = &T->v[i - 1];
    if (u->kind == SL_TK_WORD && p->kind == SL_TK_WORD && (unsigned char)c->text[u->s] == 0xD0 &&
        !u->nl_before && !u->punct_before && cyr_capital(c->text, u) && cyr_capital(c->text, p) &&
        cyr_given(c->text, p) && cyr_surname(c->text, u) && !patronymic(c->text, u))
      sl__cands_add(c->out, p->s, u->e, SL_ET_PERSON, "person", 35);
  }
  for (size_t i = 1; i < T->n; i++) {
    const sl__tok_t *u = &T->v[i], *p = &T->v[i - 1];
    if (u->kind != SL_TK_WORD || (unsigned char)c->text[u->s] != 0xD0 || u->nl_before || u->punct_before ||
        !cyr_capital(c->text, u) || !patronymic(c->text, u) || p->kind != SL_TK_WORD || !cyr_capital(c->text, p))
      continue;
    size_t e = i;
    if (i + 1 < T->n && !T->v[i + 1].nl_before && !T->v[i + 1].punct_before && cyr_capital(c->text, &T->v[i + 1]))
      e = i + 1;
    sl__cands_add(c->out, p->s, T->v[e].e, SL_ET_PERSON, "person", 35);
  }
}

/* Arabic and Devanagari names after a title or "my name" ("السيد خالد
 * العتيبي", "الدكتورة …", "اسمي …"; "श्री …", "श्रीमती …", "डॉ …", "मेरा नाम
 * अर्जुन मेहता है"): the next one or two words of the same script, up to
 * "है" (is) in Hindi. */
static void titled_script_names(sl__ctx_t *c, const sl__toks_t *T) {
  static const char *const titles[] = {
      "\xd8\xa7\xd9\x84\xd8\xb3\xd9\x8a\xd8\xaf",                         /* السيد */
      "\xd8\xa7\xd9\x84\xd8\xb3\xd9\x8a\xd8\xaf\xd8\xa9",                 /* السيدة */
      "\xd8\xa7\xd9\x84\xd8\xa3\xd8\xb3\xd8\xaa\xd8\xa7\xd8\xb0",         /* الأستاذ */
      "\xd8\xa7\xd9\x84\xd8\xaf\xd9\x83\xd8\xaa\xd9\x88\xd8\xb1",         /* الدكتور */
      "\xd8\xa7\xd9\x84\xd8\xaf\xd9\x83\xd8\xaa\xd9\x88\xd8\xb1\xd8\xa9", /* الدكتورة */
      "\xd8\xa7\xd8\xb3\xd9\x85\xd9\x8a",                                 /* اسمي */
      "\xe0\xa4\xb6\xe0\xa5\x8d\xe0\xa4\xb0\xe0\xa5\x80",                 /* श्री */
      "\xe0\xa4\xb6\xe0\xa5\x8d\xe0\xa4\xb0\xe0\xa5\x80\xe0\xa4\xae\xe0\xa4\xa4\xe0\xa5\x80", /* श्रीमती */
      "\xe0\xa4\xa1\xe0\xa5\x89",                                         /* डॉ */
      "\xe0\xa4\xa8\xe0\xa4\xbe\xe0\xa4\xae",                             /* नाम */
      NULL};
  static const char *const is_hi = "\xe0\xa4\xb9\xe0\xa5\x88"; /* है */
  const char *text = c->text;
  for (size_t i = 0; i + 1 < T->n; i++) {
    const sl__tok_t *u = &T->v[i];
    unsigned char b = (unsigned char)text[u->s];
    if (u->kind != SL_TK_WORD || (b != 0xD8 && b != 0xE0) || !sl__tok_in(text, u, titles)) continue;
    /* (नाम, "name", only as "my name" or a label: "नाम बदलना है" is "change the name") */
    if (u->e - u->s == 9 && !memcmp(text + u->s, "\xe0\xa4\xa8\xe0\xa4\xbe\xe0\xa4\xae", 9) &&
        !(i > 0 && T->v[i - 1].e - T->v[i - 1].s == 12 &&
          !memcmp(text + T->v[i - 1].s, "\xe0\xa4\xae\xe0\xa5\x87\xe0\xa4\xb0\xe0\xa4\xbe", 12)) &&
        T->v[i + 1].punct_before != ':')
      continue;
    unsigned char lead = (unsigned char)text[T->v[i + 1].s];
    size_t j = i + 1;
    while (j < T->n && j - i <= 2 && T->v[j].kind == SL_TK_WORD && !T->v[j].nl_before &&
           (!T->v[j].punct_before || (j == i + 1 && T->v[j].punct_before == ':')) &&
           (unsigned char)text[T->v[j].s] == lead && lead >= 0xD8 &&
           !(T->v[j].e - T->v[j].s == 6 && !memcmp(text + T->v[j].s, is_hi, 6)))
      j++;
    if (j > i + 1) sl__cands_add(c->out, T->v[i + 1].s, T->v[j - 1].e, SL_ET_PERSON, "person", 35);
    i = j - 1;
  }
}


/* An Arabic name without a title: one of the common given names and a family
 * name with the article (العلي, الحربي) or another given name as the father's
 * ("محمد العلي", "أحمد يوسف", "محمد علي"), on one line. Names that are words
 * too open none (علي as in "علي الفور", "at once"; حسن "good", سعيد "happy",
 * كريم "generous"; نور "light", أمل "hope" not at all). */
static void arabic_names(sl__ctx_t *c, const sl__toks_t *T) {
  static const char *const given[] = {
      "محمد", "أحمد", "احمد", "عمر", "خالد", "يوسف", "إبراهيم", "ابراهيم", "عبدالله",
      "عبدالرحمن", "حسين", "مصطفى", "محمود", "طارق", "فيصل", "سلمان", "ماجد", "وليد", "ياسر",
      "زياد", "فاطمة", "عائشة", "مريم", "سارة", "ليلى", "زينب", "خديجة", "رنا", "دينا", "لينا",
      "سلمى", "نادية", NULL};
  static const char *const fathers[] = {"علي", "حسن", "سعيد", "كريم", "سامي", NULL};
  const char *text = c->text;
  for (size_t i = 0; i + 1 < T->n; i++) {
    const sl__tok_t *u = &T->v[i], *v = &T->v[i + 1];
    unsigned char b = (unsigned char)text[u->s];
    if (u->kind != SL_TK_WORD || (b != 0xD8 && b != 0xD9)) continue;
    if (!sl__tok_in(text, u, given) || v->kind != SL_TK_WORD || v->nl_before || v->punct_before)
      continue;
    bool family = v->e - v->s >= 8 && !memcmp(text + v->s, "ال", 4); /* the article and 2+ letters */
    if (!family && !sl__tok_in(text, v, given) && !sl__tok_in(text, v, fathers)) continue;
    sl__cands_add(c->out, u->s, v->e, SL_ET_PERSON, "person", 35);
    i++;
  }
}

/* The script of a UTF-8 lead byte, for the names after a label below. */
static int lead_script(unsigned char b) {
  return b == 0xCE || b == 0xCF ? 1 : b == 0xD0 || b == 0xD1 ? 2 : b == 0xD7 ? 3 : b >= 0xD8 && b <= 0xDB ? 4 : 0;
}

/* A name as a form's value in Cyrillic, Greek, Hebrew or Arabic: a name label
 * (ФИО, Имя, Фамилия, ПІБ, Прізвище; Όνομα, Επώνυμο, Ονοματεπώνυμο; שם;
 * الاسم, اسم), a colon and one to three words of the label's script on the
 * line: "ФИО: Смирнов Алексей", "Όνομα: Γιώργος Παπαδόπουλος", "שם: דוד כהן". */
static void labelled_script_names(sl__ctx_t *c, const sl__toks_t *T) {
  static const char *const labels[] = {"ФИО", "Имя", "Фамилия", "ПІБ", "Прізвище", "Όνομα",
                                       "Επώνυμο", "Ονοματεπώνυμο", "שם", "الاسم", "اسم", NULL};
  const char *text = c->text;
  for (size_t i = 0; i + 1 < T->n; i++) {
    const sl__tok_t *u = &T->v[i], *v = &T->v[i + 1];
    int sc = lead_script((unsigned char)text[u->s]);
    if (!sc || v->punct_before != ':' || v->nl_before || !sl__tok_in(text, u, labels)) continue;
    size_t j = i + 1;
    /* (capitalised, in the scripts that have capitals: "Имя: пользователь
     * должен ввести имя" names no one) */
    while (j < T->n && j - i <= 3 && T->v[j].kind == SL_TK_WORD && !T->v[j].nl_before &&
           (j == i + 1 || !T->v[j].punct_before) && lead_script((unsigned char)text[T->v[j].s]) == sc &&
           (sc == 2 ? cyr_capital(text, &T->v[j])
            : sc == 1 ? (unsigned char)text[T->v[j].s] == 0xCE && (unsigned char)text[T->v[j].s + 1] >= 0x86 &&
                            (unsigned char)text[T->v[j].s + 1] <= 0xAB
                      : true))
      j++;
    if (j > i + 1) sl__cands_add(c->out, v->s, T->v[j - 1].e, SL_ET_PERSON, "person", 35);
    i = j - 1;
  }
}

void sl__detect_names(sl__ctx_t *c, const sl__gaz_t *g, sl__toks_t *T) {
  size_t n0 = c->out->n;
  detect_names(c, g, T);
  if (c->scripts & SL_SCRIPT_CYRILLIC) cyrillic_names(c, T);
  if (c->scripts & (SL_SCRIPT_ARABIC | SL_SCRIPT_DEVANAGARI)) titled_script_names(c, T);
  if (c->scripts & SL_SCRIPT_ARABIC) arabic_names(c, T);
  if (c->scripts & (SL_SCRIPT_CYRILLIC | SL_SCRIPT_ARABIC | SL_SCRIPT_GREEK_HEBREW))
    labelled_script_names(c, T);
  sl__cjk_names(c);
  if (c->out->n == n0) return;
  /* what code holds is no one's name; nor are those of a text about the past */
  bool past = historical(c->text, c->len, T);
  size_t k = n0;
  for (size_t i = n0; i < c->out->n; i++) {
    sl__cand_t *d = &c->out->v[i];
    if (d->type == SL_ET_PERSON && (past || in_code(c->text, c->len, d->start, d->end))) continue;
    c->out->v[k++] = *d;
  }
  c->out->n = k;
}

static void detect_names(sl__ctx_t *c, const sl__gaz_t *g, sl__toks_t *T) {
  const char *text = c->text;
  enum { CUES = 64 };
  uint32_t cue_tok[CUES];
  size_t ncue = mark_cues(c, T, cue_tok, CUES);
  /* Most tokens start no rule below: numbers, ALL-CAPS words and, in text with
   * capitals, lower-case words inside a line with no cue before them. In text
   * with capitals, the tokenizer listed the others but for the cue words
   * (cue_tok); otherwise (or with very many cues) they are gathered here. */
  const uint32_t *sel = T->sel_name;
  size_t nsel = T->n_name, q = 0, qc = 0;
  if (!T->has_upper || ncue > CUES) {
    uint32_t *all = sl__tok_sel(T);
    if (!all) {
      if (!c->out->err) c->out->err = SL_ENOMEM;
      return;
    }
    bool lower_text = !T->has_upper;
    nsel = 0;
    for (size_t k = 0; k < T->n; k++) {
      const sl__tok_t *u = &T->v[k];
      all[nsel] = (uint32_t)k;
      nsel += (u->kind == SL_TK_WORD) &
              ((((u->caps & 3) != 3) &
                ((u->caps & 1) | lower_text | (u->nl_before != 0) | (k == 0) | (u->cue != 0))) |
               caps_label(u));
    }
    sel = all;
    ncue = 0;
  }
  size_t i = 0;
  int german = 0; /* nouns_capitalised()'s answer, once asked */
  int speakers = -1; /* speaker_lines()'s answer, once asked */
  enum { KNOWN = 16 };
  uint32_t known_tok[KNOWN]; /* tokens of quoted titles and well-known names seen so far */
  size_t n_known = 0;
  while (i < T->n) {
    /* the next listed token or cue word at or after i that can start a rule */
    for (;;) {
      while (q < nsel && sel[q] < i) q++;
      while (qc < ncue && cue_tok[qc] < i) qc++;
      size_t a = q < nsel ? sel[q] : T->n, b = qc < ncue ? cue_tok[qc] : T->n;
      i = a < b ? a : b;
      if (i >= T->n) break;
      const sl__tok_t *u = &T->v[i];
      if (u->kind == SL_TK_WORD && ((u->caps & 3) != 3 || u->cue || caps_label(u)) &&
          ((u->caps & 1) || !T->has_upper || u->nl_before || i == 0 || u->cue))
        break;
      i++;
    }
    if (i >= T->n) break;
    const sl__tok_t *t = &T->v[i];
    int cue = t->cue;
    /* 0. ALL-CAPS after a label: "Surname: KENT", "Cardholder: KEVIN LYNCH",
     *    "Passenger: WALKER/ERIK" (airline style) */
    if ((cue || caps_label(t)) && (t->caps & 3) == 3) {
      size_t j = i + 1;
      while (j < T->n && j - i < 3 && T->v[j].nl_before == 0 && T->v[j].kind == SL_TK_WORD &&
             (T->v[j].caps & 3) == 3 && (T->v[j].punct_before == 0 || T->v[j].punct_before == '/'))
        j++;
      bool known = false, vetoed = false;
      for (size_t k = i; k < j; k++) {
        unsigned f = GZ(k);
        known |= (f & (SL_GZ_FIRST | SL_GZ_LAST)) != 0;
        vetoed |= (f & (SL_GZ_VETO | SL_GZ_HONOR | SL_GZ_STARTER)) != 0;
      }
      unsigned f0 = GZ(i), fl = GZ(j - 1);
      /* with no cue, a label's value of two or three words, a given name and a
       * surname (as "From: John Smith"), or a name and a word no list knows:
       * "Assigned to: KATHERINE O'SULLIVAN-BYRNE" (not "Status: OPEN") */
      bool label_value = j - i >= 2 && after_label(text, T, i) && (f0 & SL_GZ_FIRST) &&
                         ((fl & SL_GZ_LAST) || (namey(f0) && foreign_word(text, &T->v[j - 1], fl)));
      bool found = !vetoed && t->e - t->s > 1 &&
                   (cue ? known || (cue >= 2 && j - i >= 2) : label_value);
      if (found) sl__cands_add(c->out, t->s, T->v[j - 1].e, SL_ET_PERSON, "person", 35);
      i = found || cue ? j : i + 1; /* (a title first leaves the cue it is to the next word) */
      continue;
    }
    bool cap = cap_word(text, t);
    if (cap && (GZ(i) & SL_GZ_HONOR)) {
      i++; /* the cue itself ("Dear", "Mr") */
      continue;
    }
    /* A sentence-initial capitalised word that is no name ("Ask Priya", "Call Anna")
     * is not part of the name that follows it. */
    if (cap && !cue && sentence_start(T, i) && i + 1 < T->n && T->v[i + 1].nl_before == 0 &&
        T->v[i + 1].punct_before == 0 && cap_word(text, &T->v[i + 1]) &&
        !(GZ(i) & (SL_GZ_FIRST | SL_GZ_LAST | SL_GZ_VETO)) && (GZ(i + 1) & SL_GZ_FIRST)) {
      i++;
      continue;
    }
    /* The pronoun contracted ("Hi, I'm Sarah Connor", "I've", "I'll", "I'd"),
     * German's polite pronouns, capitalised mid-sentence ("für Ihre
     * Nachricht", "rufen Sie Thomas Becker an"), and a letter's closing word
     * ("Grüße Jonas Hartmann"), and Polish question words ("Jak napisać")
     * are not part of the name that follows them, nor names themselves. */
    if (cap && ((t->e - t->s >= 3 && text[t->s] == 'I' &&
                 (text[t->s + 1] == '\'' || !strncmp(text + t->s + 1, "\xe2\x80\x99", 3))) ||
                (t->e - t->s <= 8 && strchr("SIGRCTDMJ", text[t->s]) &&
                 sl__tok_in_set(text, t, &not_in_name_set)))) {
      i++;
      continue;
    }
    /* A function in code is no name: "`func Valid(s string)`". */
    if (cap && t->e < c->len && text[t->e] == '(') {
      i++;
      continue;
    }
    /* 0-. A surname, a comma and a given name, as lists and records put them:
     *     "Smith, John - 3 open invoices", "Garcia, Maria L." */
    if (cap && !cue) {
      size_t end = surname_first(g, text, T, i);
      if (end) {
        sl__cands_add(c->out, t->s, T->v[end - 1].e, SL_ET_PERSON, "person", 35);
        i = end;
        continue;
      }
    }
    /* 0-v. A Vietnamese full name: "Nguyen Van An", "Pham Thi Lan" */
    if (cap) {
      size_t end = vietnamese_name(text, T, i);
      if (end) {
        sl__cands_add(c->out, t->s, T->v[end - 1].e, SL_ET_PERSON, "person", 35);
        i = end;
        continue;
      }
    }
    /* 0a. A firm named after its partners: "Lopez, Santos and Coleman is ..." */
    if (cap && !cue && i + 1 < T->n && (T->v[i + 1].punct_before == ',' || T->v[i + 1].punct_before == '&')) {
      size_t end = firm_coordination(g, text, T, i);
      if (end) {
        i = end;
        continue;
      }
    }
    /* 0b. A list after a word for people: "founders: Kónya, Becker and Vasquez" */
    if (cap && t->punct_before == ':') {
      size_t end = people_list(c, g, T, i);
      if (end) {
        i = end;
        continue;
      }
    }
    /* 1. A run of capitalised words and initials on one line (and a
     *    surname's particle inside it: "Sanne de Vries"). */
    if (cap || (initial(text, t) && i + 1 < T->n &&
                (cap_word(text, &T->v[i + 1]) || initial(text, &T->v[i + 1])))) {
      size_t j = i + (cap ? run_step(g, text, T, i) : 1);
      /* four words; one more after an initial or an abbreviated title ("D.
       * Francisco Javier Ruiz Ortega": given names and two surnames) */
      size_t max_run = 4 + (initial(text, t) ? 1 : 0);
      while (j < T->n && j - i < max_run && T->v[j].nl_before == 0 &&
             !possessive_tok(text, &T->v[j - 1]) &&
             (T->v[j].punct_before == 0 ||
              (T->v[j].punct_before == '.' && initial(text, &T->v[j - 1]))) &&
             (cap_word(text, &T->v[j]) || initial(text, &T->v[j])) && !pronoun_i(text, T, j) &&
             /* a form label after the name: "Lena Wirth Address: ..." */
             !(j + 1 < T->n && T->v[j + 1].punct_before == ':' && T->v[j + 1].nl_before == 0 &&
               (GZ(j) & SL_GZ_STARTER)))
        j += run_step(g, text, T, j);
      bool vetoed = false, any_name = false, all_place = true, common_word = false;
      int words = 0;
      for (size_t k = i; k < j; k++) {
        /* (a lower-case word inside a run of a text with capitals is a particle) */
        if (initial(text, &T->v[k]) || (T->has_upper && islower((unsigned char)text[T->v[k].s])))
          continue;
        words++;
        unsigned f = GZ(k);
        /* (after a strong cue a given name first is one: "name? Eve Magrath") */
        /* (and a title or a brand that is a surname too, after a given name: "Ivan King") */
        /* (and a surname that is a title or a place's word too, right after an
         * honorific: "Mr King", "Dr. Street") */
        /* (and "Sr." closing a name is Senior, not Señor: "Lera Padberg Sr.") */
        if ((f & (SL_GZ_VETO | SL_GZ_HONOR)) && !(cue >= 2 && k == i && (f & SL_GZ_FIRST) && j > i + 1) &&
            !(k > i + 1 && k == j - 1 && sl__tok_is(text, &T->v[k], "sr")) &&
            !(cue >= 2 && k == i && j == i + 1 && (f & SL_GZ_LAST) && !(f & SL_GZ_HONOR) && i > 0 &&
              (GZ(i - 1) & SL_GZ_HONOR)) &&
            !(k == i + 1 && j == i + 2 && (f & SL_GZ_LAST) && sl__tok_in(text, &T->v[k], surname_vetoes) &&
              (GZ(i) & SL_GZ_FIRST) && !(GZ(i) & (SL_GZ_COMMON | SL_GZ_PLACE | SL_GZ_VETO)) &&
              /* (inside a sentence, not after a place's words: "a walk in Albert Park") */
              !(sl__tok_is(text, &T->v[k], "park") && (sentence_start(T, i) || after_place_word(text, T, i) ||
                                                         (i > 0 && sl__tok_is(text, &T->v[i - 1], "the"))))))
          vetoed = true;
        if ((f & (SL_GZ_FIRST | SL_GZ_LAST)) && !(f & SL_GZ_COMMON)) any_name = true;
        if (!(f & SL_GZ_PLACE) || (f & SL_GZ_FIRST)) all_place = false;
        /* a capitalised common word that is no name ("Token", "Report") ends the chance */
        if ((f & SL_GZ_COMMON) && !(f & (SL_GZ_FIRST | SL_GZ_LAST))) common_word = true;
        if ((f & SL_GZ_STARTER) && k == i) common_word = true;
      }
      /* a sports fixture: "Accrington Stanley v Tranmere Rovers" */
      if ((j + 1 < T->n && !T->v[j].nl_before && versus(text, &T->v[j]) && (T->v[j + 1].caps & 1)) ||
          (i >= 2 && !t->nl_before && versus(text, &T->v[i - 1]) && (T->v[i - 2].caps & 1)))
        vetoed = true;
      /* "Atlas & Ember", "Procter & Gamble", "Johnson & Johnson": a firm, on
       * either side of the '&' (after it one word that is no given name only,
       * and no given name before it: "Amira & Lukas", "Inés & Paweł", "Harriet
       * & Joseph Nwachukwu" are couples); "Thomas and Sons" too */
      if ((j < T->n && T->v[j].punct_before == '&' && !T->v[j].nl_before && (T->v[j].caps & 1)) ||
          (i > 0 && j == i + 1 && t->punct_before == '&' && !t->nl_before &&
           (T->v[i - 1].caps & 1) && !((GZ(i) & (SL_GZ_FIRST | SL_GZ_LAST)) == SL_GZ_FIRST) &&
           (!(GZ(i - 1) & SL_GZ_FIRST) || same_word(text, t, &T->v[i - 1]))) ||
          (j + 1 < T->n && sl__tok_is(text, &T->v[j], "and") && !T->v[j].nl_before &&
           !T->v[j + 1].punct_before && sl__tok_in(text, &T->v[j + 1], firm_kin)))
        vetoed = true;
      /* a word in another language after its name ("French: Normands"); a
       * monarch or a pope after the title ("king Richard the Lion-Heart") */
      if (i > 0 && !t->nl_before &&
          ((t->punct_before == ':' && sl__tok_in(text, &T->v[i - 1], tongues)) ||
           (!t->punct_before && !(T->v[i - 1].caps & 1) && sl__tok_in(text, &T->v[i - 1], sovereigns))))
        vetoed = true;
      /* a town named after a saint or a fort: "St. Louis", "San Antonio", "Fort Collins" */
      if (i > 0 && !t->nl_before && (t->punct_before == 0 || t->punct_before == '.') &&
          (T->v[i - 1].caps & 1) && sl__tok_in(text, &T->v[i - 1], place_prefix))
        vetoed = true;
      /* a firm's or a brand's thing after "the": "according to the Fredericia Fragt website" */
      if (i > 0 && !t->nl_before && !t->punct_before && sl__tok_is(text, &T->v[i - 1], "the") && j < T->n &&
          !T->v[j].nl_before && !T->v[j].punct_before && sl__tok_in(text, &T->v[j], brand_things))
        vetoed = true;
      /* where a firm or a thing is: "a design agency based in Ost Bryan" */
      if (i >= 2 && !t->nl_before && !t->punct_before && sl__tok_is(text, &T->v[i - 1], "in") &&
          sl__tok_in(text, &T->v[i - 2], place_verbs))
        vetoed = true;
      /* a firm: a dotted legal form inside the run or right after it, its
       * letters read as initials ("Rossi Impianti S.p.A.", "Yıldız Tekstil
       * A.Ş.", "Meer Installatietechniek B.V.") */
      for (size_t k = i + 1; k <= j && k < T->n && !vetoed; k++)
        if (!T->v[k].nl_before && legal_form_at(text, c->len, T->v[k].s)) vetoed = true;
      /* a brand before its model's code: "Aeris HX-400", "Lumix G9" */
      if (words == 1 && model_code(text, T, j)) vetoed = true;
      /* the word after the run: "Dolby Laboratories"-style vetoes */
      /* (not after a possessive: "Francesca Romano's Italian passport") */
      if (j < T->n && T->v[j].nl_before == 0 && T->v[j].punct_before == 0 && (T->v[j].caps & 1) &&
          !possessive_tok(text, &T->v[j - 1]) && (GZ(j) & SL_GZ_VETO))
        vetoed = true;
      bool accept = false;
      if (!vetoed && words >= 1) {
        /* (the surname, not a generational suffix after it: "Lera Padberg Sr.") */
        static const char *const suffixes[] = {"jr", "sr", "ii", "iii", "iv", NULL};
        unsigned f0 = GZ(i),
                 fl = GZ(j - 2 > i && sl__tok_in(text, &T->v[j - 1], suffixes) ? j - 2 : j - 1);
        bool phrase = cue == 3 && words == 1 && j == i + 1 && lower_word_next(T, j);
        bool creator = creator_before(text, T, i);
        /* (a thing named: "a formation named Formation A" — after "named" or
         * "called" one word no list knows as a name that is an English word) */
        bool thing = words == 1 && !f0 && i > 0 &&
                     (sl__tok_is(text, &T->v[i - 1], "named") || sl__tok_is(text, &T->v[i - 1], "called")) &&
                     sl__lexicon_has(text + t->s, t->e - t->s);
        if (cue >= 2 && !(common_word && words == 1) && !phrase && !thing)
          accept = true; /* "my name is Shovda", "Name: Lena Wirth", "last name? Arcuri" */
        else if (cue == 1 && (words >= 2 || namey(f0)) && !common_word)
          accept = true;
        else if (words == 1 && j == i + 1 && sentence_start(T, i) && (f0 & SL_GZ_LAST) && !common_word &&
                 !(f0 & (SL_GZ_PLACE | SL_GZ_VETO | SL_GZ_STARTER)) && j < T->n && !T->v[j].nl_before &&
                 !T->v[j].punct_before && !(T->v[j].caps & 1) &&
                 (sl__tok_in(text, &T->v[j], person_acts) || sl__tok_in(text, &T->v[j], surname_acts)) &&
                 !(j + 1 < T->n && sl__tok_in(text, &T->v[j + 1], articles)) && pronoun_after(text, T, j + 1))
          accept = true; /* a surname alone opening a sentence, what the person did, then
                          * the person's pronoun: "Weber hat gestern gekündigt. Bitte
                          * berechne seinen Resturlaub" */
        else if (cue == 1 && words == 1 && j == i + 1 && !common_word && !(f0 & SL_GZ_PLACE) &&
                 (has_non_ascii(text + t->s, t->e - t->s) || foreign_word(text, t, f0)) &&
                 (j == T->n || T->v[j].nl_before || T->v[j].punct_before == ',' ||
                  T->v[j].punct_before == '!'))
          accept = true; /* a greeting or sign-off and a word alone, not English: "Bises, Amélie",
                          * "Hello, this is Aroha," */
        else if (words >= 2 && !common_word && !all_place &&
                 (((f0 & SL_GZ_FIRST) && (namey(f0) || namey(fl)) &&
                   ((fl & (SL_GZ_LAST | SL_GZ_FIRST)) || !fl)) ||
                  (!f0 && (fl & SL_GZ_LAST) && namey(fl) && !sentence_start(T, i)) ||
                  /* both names that are also words, inside a sentence ("ask John
                   * Smith") or as a label's value ("From: John Smith") */
                  (words == 2 && (f0 & SL_GZ_FIRST) && (fl & SL_GZ_LAST) &&
                   (!sentence_start(T, i) || after_label(text, T, i) ||
                    (possessive_tok(text, &T->v[j - 1]) && j < T->n && !T->v[j].nl_before &&
                     !T->v[j].punct_before && sl__tok_in(text, &T->v[j], personal_nouns))))))
          accept = true;
        else if (words >= 2 && j - i > (size_t)words && !common_word &&
                 (any_name || initials_between_foreign(g, text, T, i, j)))
          accept = true; /* with an initial: "Faina D. Yefremova", "Soib K. Kishiev" */
        else if (words >= 2 && words <= 3 && !common_word && !all_place &&
                 (any_name || has_non_ascii(text + t->s, t->e - t->s)) && sig_line(text, T, i, j))
          accept = true; /* the first line of an e-mail signature: "--\nÉlodie Marchand\n" */
        else if (words >= 2 && words <= 3 && j - i == (size_t)words && !common_word && !all_place &&
                 (any_name || all_foreign(g, text, T, i, j, false) ||
                  (words == 2 && (f0 & SL_GZ_FIRST) && (fl & SL_GZ_LAST))) &&
                 block_head(g, text, T, i, j))
          accept = true; /* an address block's first line: "Yuki Tanaka\n\nMombasa\nPhilippines",
                          * "Faith Hunter\n\nBrno\nTurkey" */
        else if (words >= 1 && words <= 3 && j - i == (size_t)words && !common_word && !all_place &&
                 (any_name || (words >= 2 && all_foreign(g, text, T, i, j, true))) && dash_signed(text, T, i, j))
          accept = true; /* "— Mateusz" closing a note */
        else if (words == 2 && j == i + 2 && !common_word && !(f0 & SL_GZ_PLACE) &&
                 surname_shape(text, &T->v[i + 1]) && all_foreign(g, text, T, i, j, false))
          accept = true; /* a surname by its ending after a word no list knows as
                          * English: "Kristín Jónsdóttir (kennitala ...)" */
        else if (words >= 2 && words <= 3 && j - i == (size_t)words && !common_word && !all_place &&
                 (any_name || all_foreign(g, text, T, i, j, false) ||
                  (words == 2 && (f0 & SL_GZ_FIRST) && (fl & SL_GZ_LAST))) &&
                 titled_speaker(text, T, j))
          accept = true; /* "Hijacinta Godina, the technical writer, said: ...", "Rose
                          * Miller, the translator, said" */
        else if (words == 2 && j == i + 2 && sentence_start(T, i) && !common_word && !all_place &&
                 !((f0 | fl) & (SL_GZ_VETO | SL_GZ_STARTER)) && from_firm(text, T, j) &&
                 (all_foreign(g, text, T, i, j, true) || ((f0 & SL_GZ_FIRST) && (fl & SL_GZ_LAST))))
          accept = true; /* a name, then where the person is from: "Thandiwe Dlamini from
                          * Halvorsen Logistics is ...", "Rose Miller from Helix Biolabs" */
        else if (words >= 2 && words <= 3 && j - i == (size_t)words && !common_word && !all_place &&
                 (!sentence_start(T, i) || (any_name && after_label(text, T, i))) &&
                 !after_place_word(text, T, i) &&
                 all_foreign(g, text, T, i, j, false) && !nouns_capitalised(text, T, &german))
          accept = true; /* mid-sentence, no English word: "forward it to Siobhan Gallagher" */
        else if (words >= 1 && words <= 3 && j - i == (size_t)words && !common_word && !all_place &&
                 foreign_run(c, g, T, i, j))
          accept = true; /* "Giorgos Papadakis, date of birth ...", "Parisa Moradi's mobile" */
        else if (words >= 2 && words <= 3 && j - i == (size_t)words && !common_word && !all_place &&
                 j < T->n && !T->v[j].nl_before && !T->v[j].punct_before && !(T->v[j].caps & 1) &&
                 sl__tok_in(text, &T->v[j], person_acts) && all_foreign(g, text, T, i, j, true) &&
                 !nouns_capitalised(text, T, &german))
          accept = true; /* a name, then what a person did: "Amélie Duchêne requested …" */
        else if (words == 2 && j == i + 2 && sentence_start(T, i) && (f0 & SL_GZ_FIRST) &&
                 !(f0 & (SL_GZ_VETO | SL_GZ_STARTER)) && !(fl & (SL_GZ_VETO | SL_GZ_PLACE)) &&
                 ((fl & SL_GZ_LAST) || foreign_word(text, &T->v[i + 1], fl)) &&
                 ((j < T->n && sl__tok_in(text, &T->v[j], person_acts) && !T->v[j].punct_before &&
                   !T->v[j].nl_before) ||
                  (!(f0 & SL_GZ_PLACE) && !((fl & SL_GZ_LAST) && (fl & SL_GZ_COMMON)) &&
                   person_next(text, T, j))))
          accept = true; /* a given name that is a word too, a surname, then what people
                          * do: "Rose Smith chaired", "Will Ashdown is leading" (a surname
                          * or a given name that is a place or word too only before an
                          * act: "Rose Hill is a suburb" stays out) */
        else if (words == 1 && j - i > 1 && initial(text, t) && !common_word &&
                 (namey(fl) ||
                  (!fl && !sl__lexicon_has(text + T->v[j - 1].s, T->v[j - 1].e - T->v[j - 1].s) &&
                   (!sentence_start(T, i) || person_next(text, T, j) || creator ||
                    titled_speaker(text, T, j) || block_head(g, text, T, i, j)))))
          accept = true; /* "J. R. Tolkien", "A. Kowalski", "K. Venkataraman from procurement
                          * rejected"; not "rating C. Offers", "B. Kubernetes setup" */
        else if (words <= 3 && !all_place && !(f0 & SL_GZ_PLACE) &&
                 (creator || former_member(text, T, i)) &&
                 ((creator && (f0 & SL_GZ_FIRST)) ||
                  (!common_word && ((f0 & SL_GZ_FIRST) || all_foreign(g, text, T, i, j, true) ||
                                    (words == 1 && !creator && (f0 & SL_GZ_LAST))))))
          accept = true; /* who made a work, who left a band: "directed by Brad L Key"
                          * (a given name first, any surname), "directed by Valentine S.
                          * Yermakov", "ex-Zombie Kastner", "ex-Zombie Marsh" (well-known
                          * names stay out) */
        else if (words >= 2 && words <= 3 && !common_word && !all_place && i > 0 && !t->nl_before &&
                 !t->punct_before && sl__tok_in(text, &T->v[i - 1], not_after) && j < T->n &&
                 !T->v[j].nl_before && !T->v[j].punct_before && sl__tok_in(text, &T->v[j], works) &&
                 all_foreign(g, text, T, i, j, true))
          accept = true; /* a work by someone: "The Halldór Ó Árnþórsson version" */
        else if (words == 1 && j - i == 1) {
          unsigned f = f0;
          bool first = (f & SL_GZ_FIRST) && !(f & SL_GZ_COMMON) && !(f & SL_GZ_PLACE);
          /* (at a sentence's start, not before a word of another language:
           * "Tính diện tích ...", "Domingos y festivos", "Jak napisać") */
          if (first && !sl__tok_in(text, t, languages) &&
              (!sentence_start(T, i) ||
               (i + 1 < T->n && T->v[i + 1].nl_before == 0 && !foreign_after(text, T, i + 1))))
            accept = true;
          else if (common_first_name(text, T, i, f))
            accept = true; /* "I told John yesterday" */
          else if (((f & SL_GZ_FIRST) || (namey(f) && !(f & SL_GZ_PLACE))) && !(f & SL_GZ_VETO) &&
                   sentence_start(T, i) && i + 1 < T->n && !T->v[i + 1].nl_before &&
                   !T->v[i + 1].punct_before && !sl__tok_in(text, t, languages) &&
                   sl__tok_in(text, &T->v[i + 1], person_verbs))
            accept = true; /* "Grace called twice this morning", "Bakker said ..." */
          else if (!f && foreign_word(text, t, f) && i + 1 < T->n && !T->v[i + 1].nl_before &&
                   !T->v[i + 1].punct_before && sl__tok_in(text, &T->v[i + 1], person_verbs))
            accept = true; /* a name the gazetteer lacks before what people do: "Ji-hoon asked" */
          else if (!f && foreign_word(text, t, f) && i > 0 && !t->nl_before && !t->punct_before &&
                   sl__tok_in(text, &T->v[i - 1], asked_person))
            accept = true; /* said to: "Ask Dimitra whether the venue ..." */
          else if (!f && foreign_word(text, t, f) && i > 1 && !t->nl_before && !t->punct_before &&
                   !T->v[i - 1].punct_before && sl__tok_is(text, &T->v[i - 1], "for") &&
                   sl__tok_in(text, &T->v[i - 2], asked_for) && clause_end(text, T, i + 1))
            accept = true; /* who to ask for: "call reception and ask for Chukwuemeka" */
          else if (((!f && foreign_word(text, t, f)) || (namey(f) && !(f & SL_GZ_PLACE))) && i > 1 &&
                   !t->nl_before && !t->punct_before &&
                   !T->v[i - 1].punct_before &&
                   (sl__tok_in(text, &T->v[i - 1], to_whom) || sl__tok_is(text, &T->v[i - 1], "at")) &&
                   sl__tok_in(text, &T->v[i - 2], spoken_with))
            accept = true; /* "you're speaking with Dawit", "a conversation with Yevgeny",
                            * "Mei shouted at Aroha" */
          else if (first && i + 1 < T->n && T->v[i + 1].punct_before == ':')
            accept = true; /* "Alexander: ..." */
          else if (sentence_start(T, i) && j < T->n && T->v[j].punct_before == ',' &&
                   !T->v[j].nl_before && sl__tok_in(text, &T->v[j], vocative_next) &&
                   (((!(f & SL_GZ_PLACE) || namey(f)) && name_like(text, t, f)) ||
                    asked_by_name(text, T, i, j, f)))
            accept = true; /* someone spoken to: "Warrane, can I please speak to your boss?",
                            * also a name that is a place too ("Kuba, can I ...") or a
                            * word too ("Faith, can I ...", "Bill, please send ...") */
          else if (i > 0 && !t->nl_before && sl__tok_in_set(text, &T->v[i - 1], &speech_set) &&
                   !(f & SL_GZ_PLACE) &&
                   (name_like(text, t, f) ||
                    ((f & SL_GZ_LAST) && !(f & (SL_GZ_VETO | SL_GZ_HONOR | SL_GZ_STARTER)))) &&
                   (j == T->n || T->v[j].nl_before || T->v[j].punct_before ||
                    sl__tok_is(text, &T->v[j], "to")))
            accept = true; /* who said it: "... in that direction," says Joly. */
          else if (i > 0 && !t->nl_before && !t->punct_before && j + 1 < T->n &&
                   !T->v[j].nl_before && !T->v[j].punct_before && sl__tok_in(text, &T->v[j], works) &&
                   (sl__tok_in(text, &T->v[i - 1], not_after) || T->v[i - 1].punct_before == '-') &&
                   !(f & (SL_GZ_VETO | SL_GZ_PLACE)) &&
                   (namey(f) || surname_shape(text, t) ||
                    (foreign_word(text, t, f) && (has_non_ascii(text + t->s, t->e - t->s) ||
                                                  sl__tok_in(text, &T->v[j], authored))) ||
                    ((f & SL_GZ_LAST) && sl__tok_in(text, &T->v[j], authored))))
            accept = true; /* an author's work: "Unlike the Castro novel", "the Young
                            * novel" (a surname that is a word too before what only an
                            * author makes: not "the White album") */
          else if (i + 3 < T->n && sl__tok_is(text, &T->v[i + 1], "and") && !T->v[i + 1].punct_before &&
                   !T->v[i + 2].punct_before && cap_word(text, &T->v[i + 2]) &&
                   !T->v[i + 3].punct_before && sl__tok_in(text, &T->v[i + 3], people_were) &&
                   !(f & (SL_GZ_VETO | SL_GZ_STARTER)) &&
                   !(GZ(i + 2) & (SL_GZ_VETO | SL_GZ_STARTER)) &&
                   pair_not_places(f, GZ(i + 2)) &&
                   (name_like(text, t, f) || name_like(text, &T->v[i + 2], GZ(i + 2)))) {
            /* two people: "Usamov and Bowers were precision engineers", "Torpy
             * and Salinas were ..." (one a place that is also a name, not both) */
            sl__cands_add(c->out, T->v[i + 2].s, T->v[i + 2].e, SL_ET_PERSON, "person", 35);
            accept = true;
          }
          else if (!f && sentence_start(T, i) && i + 2 < T->n && T->v[i + 1].kind == SL_TK_WORD &&
                   (sl__tok_is(text, &T->v[i + 1], "is") || sl__tok_is(text, &T->v[i + 1], "was") ||
                    sl__tok_is(text, &T->v[i + 1], "said") || sl__tok_is(text, &T->v[i + 1], "has")) &&
                   (pronoun_near(text, T, i, 14) ||
                    (foreign_word(text, t, f) && !sl__tok_is(text, &T->v[i + 1], "said") &&
                     sl__tok_is(text, &T->v[i + 2], "from") && (T->v[i + 3 < T->n ? i + 3 : i].caps & 1))))
            accept = true; /* unknown name, then a pronoun that refers to a person, or
                            * where someone works: "Quionia is from Areavibes Inc" */
          else if (!(f & (SL_GZ_VETO | SL_GZ_STARTER | SL_GZ_HONOR)) &&
                   ((f & SL_GZ_FIRST) || (!f && foreign_word(text, t, f))) &&
                   !sl__tok_in(text, t, languages) &&
                   (person_predicate(text, T, j) || person_attribute_of(text, T, i) ||
                    ((f & SL_GZ_FIRST) && sentence_start(T, i) && i + 3 < T->n &&
                     sl__tok_is(text, &T->v[i + 1], "is") && !T->v[i + 1].punct_before &&
                     sl__tok_is(text, &T->v[i + 2], "from") && !T->v[i + 2].punct_before &&
                     !T->v[i + 3].punct_before && cap_word(text, &T->v[i + 3]))))
            accept = true; /* a given name or a word no list knows, said to be what only
                            * a person is or has: "Jordan is a very sympathetic person",
                            * "Why is Aroha so impulsive?", "the true gender of Soo-ah";
                            * or where a given name works: "Paulo is from Tanaka Works" */
        }
      }
      /* without a cue: not a quoted title, not a month after a day or a
       * weekday before a time ("Thu 06:45"), not a well-known public figure
       * ("Who was Marie Curie?") */
      if (accept && !cue && words == 1 && j == i + 1 &&
          (after_day_number(text, T, i) || weekday_not_name(text, T, i) ||
           regnal_after(text, T, i) || job_title(text, T, i)))
        accept = false;
      if (accept && !cue &&
          (eponym_after(text, T, j) ||
           (words == 1 && j == i + 1 &&
            (adam_optimizer(c, T, i) || product_named(c, &T->v[i], tools, tools_about, 300) ||
             product_named(c, &T->v[i], assistants, assistants_about, 200)))))
        accept = false;
      /* a brand and a model: "Hyundai Ioniq", "Samsung Galaxy" (the first word
       * alone a well-known name that is no given name) */
      if (accept && !cue && words >= 2 && !(GZ(i) & SL_GZ_FIRST) &&
          sl__figure_has(text + t->s, t->e - t->s))
        accept = false;
      size_t figure_end = 0;
      if (accept && !cue &&
          (quoted_run(c, T, i, j) || (figure_end = public_figure(text, T, i, j)) != 0)) {
        accept = false;
        if (figure_end > j) j = figure_end; /* and the words after a particle */
        for (size_t k = i; k < j && n_known < KNOWN; k++) known_tok[n_known++] = (uint32_t)k;
      }
      /* a word of a well-known name met earlier in the text, alone: "Who was
       * Marie Curie, and what did Curie discover?" */
      if (accept && !cue && words == 1 && j == i + 1)
        for (size_t k = 0; k < n_known; k++) {
          const sl__tok_t *a = &T->v[known_tok[k]], *b = &T->v[i];
          size_t bl = b->e - b->s - (possessive_tok(text, b) ? 2 : 0);
          size_t al = a->e - a->s - (possessive_tok(text, a) ? 2 : 0);
          if (al == bl && !memcmp(text + a->s, text + b->s, al)) accept = false;
        }
      if (accept && bracket_slot(g, text, c->len, T, i, j)) accept = false;
      if (accept) {
        uint32_t e = T->v[j - 1].e;
        /* "J." as last token: include the dot */
        if (initial(text, &T->v[j - 1]) && e < c->len && text[e] == '.') e++;
        /* possessive "'s" stays outside the name */
        if (possessive_tok(text, &T->v[j - 1])) e -= 2;
        sl__cands_add(c->out, T->v[i].s, e, SL_ET_PERSON, "person", 35);
      } else if (j - i >= 2 && !figure_end && sentence_start(T, i) && !initial(text, t) &&
                 !(GZ(i) & SL_GZ_VETO)) {
        /* a word that opens the sentence is often no part of the name after it
         * ("Tell Ahmed ...", where "Tell" is also a surname): try without it
         * (unless that word is what vetoed the run: "Hurricane Ignatius") */
        i++;
        continue;
      }
      i = j;
      continue;
    }
    /* a list of given names, three or more ("they had 6: leonti, terrence, pamela
     * and brian"): each one the gazetteer knows as a given name is one */
    size_t list_end = t->kind == SL_TK_WORD && i + 4 < T->n && T->v[i + 1].punct_before == ','
                          ? name_list(g, text, T, i)
                          : 0;
    if (list_end) {
      for (size_t k = i; k < list_end; k++) {
        unsigned fk = GZ(k);
        if ((fk & SL_GZ_FIRST) && namey(fk))
          sl__cands_add(c->out, T->v[k].s, T->v[k].e, SL_ET_PERSON, "person", 30);
      }
      i = list_end;
      continue;
    }
    /* a word no list knows, alone after a strong cue: "people call me višeslav";
     * also one that is a town's name after a cue that is no label: "my name is
     * vitoria" */
    if (t->kind == SL_TK_WORD && !(t->caps & 1) && cue >= 2 && letters_only(text, t) &&
        (i + 1 == T->n || T->v[i + 1].nl_before || T->v[i + 1].punct_before) &&
        !(GZ(i) & (SL_GZ_VETO | SL_GZ_STARTER)) &&
        (foreign_word(text, t, GZ(i)) ||
         (cue == 2 && (GZ(i) & SL_GZ_PLACE) && !sl__lexicon_has(text + t->s, t->e - t->s)))) {
      sl__cands_add(c->out, t->s, t->e, SL_ET_PERSON, "person", 30);
      i++;
      continue;
    }
    /* 2. Lower-case names: two gazetteer names in a row ("leone mazzi") in
     *    all-lower-case text or at the start of a line, or a name after a cue. */
    if (t->kind == SL_TK_WORD && !(t->caps & 1) && i + 1 < T->n &&
        (!T->has_upper || t->nl_before || i == 0 || cue)) {
      const sl__tok_t *u = &T->v[i + 1];
      /* a speaker's label in a lower-case transcript: "dov: remember me?"
       * (a given name opening its line before a colon, in text with two
       * such lines at least) */
      if (speaker_label(text, c->len, T, i) && namey(GZ(i)) && (GZ(i) & SL_GZ_FIRST) &&
          !(GZ(i) & (SL_GZ_PLACE | SL_GZ_VETO | SL_GZ_STARTER | SL_GZ_HONOR)) &&
          !sl__tok_in(text, t, lower_products) && !sl__tok_in(text, t, languages)) {
        if (speakers < 0) speakers = (int)speaker_lines(text, c->len, T);
        if (speakers >= 2) {
          sl__cands_add(c->out, t->s, t->e, SL_ET_PERSON, "person", 30);
          i++;
          continue;
        }
      }
      unsigned f1 = GZ(i);
      /* (a possessive or an article is no name, though some are in the lists:
       * "a nombre de mi empresa", "au nom de ma société") */
      if (f1 && t->e - t->s <= 7 && sl__tok_in_set(text, t, &determiners_set)) f1 = 0;
      unsigned f2 = u->kind == SL_TK_WORD && !(u->caps & 1) ? GZ(i + 1) : 0;
      /* (not a short common word after the name: "priya can u send") */
      if ((f2 & SL_GZ_COMMON) && u->e - u->s <= 3) f2 = 0;
      if (u->nl_before == 0 && u->punct_before == 0 && (f1 & SL_GZ_FIRST) && (f2 & SL_GZ_LAST) &&
          (namey(f1) || namey(f2)) && !(f2 & SL_GZ_PLACE) && !(f1 & SL_GZ_STARTER)) {
        sl__cands_add(c->out, t->s, u->e, SL_ET_PERSON, "person", 30);
        i += 2;
        continue;
      }
      /* (after "my teacher", "our guide" a name that is an English word too is
       * more often the verb: "my teacher said it") */
      bool kin = i >= 2 && (sl__tok_is(text, &T->v[i - 2], "my") || sl__tok_is(text, &T->v[i - 2], "our"));
      if (!(f1 & SL_GZ_VETO) &&
          ((cue >= 2 && (f1 & (SL_GZ_FIRST | SL_GZ_LAST)) && !(kin && (f1 & SL_GZ_COMMON))) ||
           (cue == 1 && namey(f1))))
        sl__cands_add(c->out, t->s, t->e, SL_ET_PERSON, "person", 30);
      /* a first name said to ("just ask dmitri", "forward it to marcus"), or
       * called at the start ("sarah, can you ...") */
      else if ((f1 & SL_GZ_FIRST) && namey(f1) &&
               !(f1 & (SL_GZ_PLACE | SL_GZ_VETO | SL_GZ_STARTER)) &&
               ((i > 0 && !t->punct_before && !t->nl_before &&
                 (sl__tok_in(text, &T->v[i - 1], to_person) || sl__tok_in(text, &T->v[i - 1], to_whom))) ||
                (i == 0 && u->punct_before == ',')))
        sl__cands_add(c->out, t->s, t->e, SL_ET_PERSON, "person", 30);
    }
    i++;
  }
  lower_names(c, g, T);
  if (T->has_upper) caps_names(c, g, T);
  if (T->has_upper) family_names(c, g, T);
}

static void words_init(void) {
  sl__wordset_init(&de_set);
  sl__wordset_init(&not_in_name_set);
  sl__wordset_init(&determiners_set);
  sl__wordset_init(&speech_set);
}
