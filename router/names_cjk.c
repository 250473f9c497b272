/* Names in Chinese, Japanese and Korean, told by what is written beside
 * them (the person-name detector's part for those scripts, names.c the
 * rest; docs/router.md, "Names in other scripts" and "Chinese, Japanese and
 * Korean names introduced by a cue"):
 * - one to four ideographs (or katakana) before an honorific (さん, 様, さま,
 *   氏, くん, ちゃん, 先生, 女士, 小姐), not a common noun that takes one (皆さん,
 *   お客様, 神様, 店員さん …): "佐藤花子さんに", "请联系王先生";
 * - a Korean word of two to four syllables before 씨 or 님, not a title
 *   (고객님, 선생님 …): "김민준 씨", "민준님";
 * - a name label and a colon (姓名：, 氏名：, 성명:);
 * - a name after or before the cues that introduce one (cjk_cued_names);
 * - a Korean name in Latin letters with its hyphenated given name. */
#include "router_int.h"

#include <ctype.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

static bool utf8_cjk(const unsigned char *u) {
  return sl__han(u) || (u[0] == 0xE3 && (u[1] == 0x82 || u[1] == 0x83)); /* + katakana */
}

static void cjk_honorific_names(sl__ctx_t *c) {
  static const char *const hon[] = {"\xe3\x81\x95\xe3\x82\x93", "\xe6\xa7\x98", "\xe3\x81\x95\xe3\x81\xbe",
                                    "\xe6\xb0\x8f", "\xe3\x81\x8f\xe3\x82\x93", "\xe3\x81\xa1\xe3\x82\x83\xe3\x82\x93",
                                    "\xe5\x85\x88\xe7\x94\x9f", "\xe5\xa5\xb3\xe5\xa3\xab", "\xe5\xb0\x8f\xe5\xa7\x90", NULL};
  /* nouns that take an honorific: everyone, customer, god, wife, mother,
   * father, shop clerk, driver, doctor, landlord, nurse, teacher, each of you */
  static const char *const nouns[] = {"\xe7\x9a\x86", "\xe5\xae\xa2", "\xe7\xa5\x9e",
                                      "\xe5\xa5\xa5", "\xe6\xaf\x8d", "\xe7\x88\xb6", "\xe5\x93\xa1",
                                      "\xe6\x89\x8b", "\xe8\x80\x85", "\xe5\xae\xb6", "\xe5\xb8\xab",
                                      "\xe4\xbd\x8d", "\xe5\x85\x88", "\xe6\xa7\x98",
                                      /* お疲れ様, ご苦労様, お世話様, お互い様, ご馳走様, おかげ様 */
                                      "れ", "労", "話", "い", "走", "げ", NULL};
  const unsigned char *t = (const unsigned char *)c->text;
  size_t n = c->len;
  for (size_t p = 3; p + 3 <= n; p++) {
    if (sl__block_skip(t, n, &p, 0xE3, 0xE6)) continue; /* (no such lead byte) */
    if (t[p] != 0xE3 && t[p] != 0xE5 && t[p] != 0xE6) continue;
    /* (the honorifics' second bytes: 81 さ く ち, A7 様, B0 氏 小, 85 先, A5 女) */
    unsigned char b2 = t[p + 1];
    if (b2 != 0x81 && b2 != 0xA7 && b2 != 0xB0 && b2 != 0x85 && b2 != 0xA5) continue;
    /* (one space may stand between: "中村大輔 様") */
    size_t q = p >= 4 && t[p - 1] == ' ' ? p - 1 : p; /* (an ideographic space reads folded) */
    if (q < 3 || !utf8_cjk(t + q - 3)) continue;
    size_t hl = 0;
    for (const char *const *h = hon; *h && !hl; h++) {
      size_t m = strlen(*h);
      if (p + m <= n && !memcmp(t + p, *h, m)) hl = m;
    }
    if (!hl) continue;
    size_t s = q;
    while (s >= 3 && q - s < 12 && utf8_cjk(t + s - 3)) s -= 3;
    /* the character before the honorific names a role, not someone */
    bool noun = false;
    for (const char *const *w = nouns; *w && !noun; w++) noun = !memcmp(t + q - 3, *w, 3);
    if (!noun) sl__cands_add(c->out, (uint32_t)s, (uint32_t)q, SL_ET_PERSON, "person", 30);
    p += hl - 1;
  }
}

/* A CJK or Korean name as a form's value: a label (姓名, 联系人, 收件人,
 * 氏名, 名前, 担当者, 이름, 성명, 담당자 …; FORM in the cue table below), a
 * colon and two to four ideographs, kana or Hangul syllables: "客户姓名：李娜",
 * "联系人: 王芳", "氏名：佐藤花子", "성명: 김민준". The label ends at p. */
static void form_label_name(sl__ctx_t *c, const unsigned char *t, size_t n, size_t p) {
  if (p < n && t[p] == ':') p++; /* (a full-width colon reads folded) */
  else return;
  while (p < n && t[p] == ' ') p++;
  size_t s = p;
  bool hangul = p + 3 <= n && sl__hangul(t + p);
  while (p + 3 <= n && p - s < 15 && (hangul ? sl__hangul(t + p) : utf8_cjk(t + p))) p += 3;
  size_t chars = (p - s) / 3;
  if (chars >= 2 && chars <= 4 && !(p + 3 <= n && (hangul ? sl__hangul(t + p) : utf8_cjk(t + p))))
    sl__cands_add(c->out, (uint32_t)s, (uint32_t)p, SL_ET_PERSON, "person", 35);
}

static void korean_names(sl__ctx_t *c) {
  static const char *const titles[] = {"\xea\xb3\xa0\xea\xb0\x9d", "\xec\x84\xa0\xec\x83\x9d",
                                       "\xec\x82\xac\xec\x9e\xa5", "\xed\x9a\x8c\xec\x9b\x90",
                                       "\xeb\xb6\x80\xec\x9e\xa5", "\xed\x8c\x80\xec\x9e\xa5",
                                       "\xea\xb5\x90\xec\x88\x98", "\xea\xb8\xb0\xec\x82\xac",
                                       "\xec\x9d\xb4\xec\x82\xac", "\xea\xb3\xbc\xec\x9e\xa5", "대리",
                                       "주임", "실장", "차장", "상무", "전무", "원장", "반장", "기사", NULL};
  const unsigned char *t = (const unsigned char *)c->text;
  size_t n = c->len;
  for (size_t p = 6; p + 3 <= n; p++) {
    if (sl__block_skip(t, n, &p, 0xEB, 0xEC)) continue; /* (no such lead byte) */
    /* 씨 (EC 94 A8) or 님 (EB 8B 98) after a word, with a space or not */
    bool ssi = t[p] == 0xEC && t[p + 1] == 0x94 && t[p + 2] == 0xA8;
    bool nim = t[p] == 0xEB && t[p + 1] == 0x8B && t[p + 2] == 0x98;
    if (!ssi && !nim) continue;
    size_t e = p;
    if (ssi && t[e - 1] == ' ') e--;
    if (e < 6 || !sl__hangul(t + e - 3)) continue;
    size_t s = e;
    while (s >= 3 && e - s < 12 && sl__hangul(t + s - 3)) s -= 3;
    if (e - s < 6) continue;
    bool title = false;
    for (const char *const *w = titles; *w && !title; w++) title = e - s >= 6 && !memcmp(t + e - 6, *w, 6);
    if (!title) sl__cands_add(c->out, (uint32_t)s, (uint32_t)e, SL_ET_PERSON, "person", 30);
    p += 2;
  }
}

/* ---- Chinese, Japanese and Korean names after what introduces them ---- */

/* Chinese surnames: the common single ones (about 85 % of people) and the
 * compound ones, which a given name of one or two characters follows. */
static const char zh_surnames[] =
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
    "姚卢姜崔钟谭陆汪范金石廖贾夏韦付傅方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
    "常温康施文牛樊葛邢齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕季裴霍涂"
    "苗谷盛曲翁冉骆蓝游辛靳柴蒙鲍喻祁蒲房滕屈饶牟艾尤阳穆农卓古吉缪简项连芦麦褚娄窦戚岑景党宫费卜冷"
    "晏席卫米柏宗瞿桂佟臧闵苟邬边卞姬仇栾隋刁沙荣巫寇桑郎甄丛仲虞敖巩佘池匡萧"
    /* the same in traditional characters */
    "劉陳張黃趙吳鄭謝許馮鄧蔣楊孫葉蘇呂盧鍾譚陸賈韋鄒閻龔錢嚴湯龍顧賀羅馬韓蕭萬溫齊喬龐顏莊聶魯歐蘭寧紀畢駱藍鮑饒陽"
    "農繆簡項連蘆麥婁竇黨宮費衛閔鄔邊欒榮叢鞏";
/* (left out: surnames that begin common words after the cues below, 安全
 * "safety", 成绩 "grades", 关系, 管理, 时候, 全职, 单身, 明天, 和 "and",
 * 车 "car" …) */
/* After a verb ("send to", "tell", "contact") anything may follow: there only
 * the surnames that begin few words (not 方 of 方案, 高 of 高铁, 许 of 许多,
 * 程 of 程序, 项 of 项目 …). */
static const char zh_surnames_strict[] =
    "王李张刘陈杨赵吴周徐孙朱胡郭罗郑梁谢宋唐冯邓曹彭肖袁潘蒋蔡杜魏吕丁沈姚卢姜崔谭汪廖贾韦邹孟秦邱薛闫侯郝龚"
    "邵戴倪聂殷詹俞裴霍骆靳鲍滕饶穆褚窦戚岑瞿佟臧闵邬卞栾隋甄虞萧劉陳張趙吳鄭謝馮鄧蔣楊孫蘇呂盧譚賈韋鄒閻龔羅蕭聶"
    "饒駱鮑竇閔鄔欒";
static const char *const zh_compound[] = {"欧阳", "司马", "诸葛", "上官", "夏侯", "皇甫", "尉迟", "公孙",
                                          "慕容", "令狐", "长孙", "宇文", "司徒", "端木", NULL};
/* what ends a name written without spaces: particles, pronouns, verbs and
 * the first characters of what is said next of a person (的 是 在 了 …,
 * 今年, 电话, 出生, 先生, 女士, 经理 …) */
static const char zh_after[] =
    "的是在了和与跟说来去也都就今明昨已将会要把被给对从向为请吗呢吧啊他她我你们先女小同老医经教律主总年岁男电手住"
    "出身邮联打发还刚正最很不没等及或今日号于上下本說來會將對從為請嗎們醫經師總歲電郵聯發還剛沒號與給";
static const char zh_particles[] = "的是在了和与跟说也都就把被给对从向为请吗呢吧啊他她我你们說與給對從為請嗎們";

static bool is_han(const unsigned char *t, size_t p, size_t n) {
  return p + 3 <= n && sl__han(t + p);
}

static bool han_in(const unsigned char *t, size_t p, const char *set) {
  for (const char *s = set; *s; s += 3)
    if (!memcmp(t + p, s, 3)) return true;
  return false;
}

/* A Chinese name at p: a surname (from `surnames`, or a compound one) and a
 * given name of one or two characters, then no more of the same word (a
 * character that ends a name, or none). Its end, or 0. */
/* The end of the Chinese surname at p (a compound one, or one of
 * `surnames`), or 0. */
static size_t zh_surname_end(const unsigned char *t, size_t p, size_t n, const char *surnames) {
  for (const char *const *s = zh_compound; *s; s++)
    if (p + 6 <= n && !memcmp(t + p, *s, 6)) return p + 6;
  return is_han(t, p, n) && han_in(t, p, surnames) ? p + 3 : 0;
}

static size_t zh_name_at(const unsigned char *t, size_t p, size_t n, const char *surnames, bool loose) {
  size_t g = zh_surname_end(t, p, n, surnames);
  /* (a given name's first character may be one that ends a name elsewhere:
   * 小龙, 明哲; not a particle or a pronoun) */
  if (!g || !is_han(t, g, n) || han_in(t, g, zh_particles)) return 0;
  if (!is_han(t, g + 3, n) || han_in(t, g + 3, zh_after)) return g + 3;
  if (!is_han(t, g + 6, n) || han_in(t, g + 6, zh_after) || loose) return g + 6;
  return 0;
}

/* Whether [p, e) is a Chinese name: a surname from `surnames` (or a
 * compound one) and a given name of one or two characters, no particle
 * among them (where its end is known: "王志明您好", where 明 could also begin
 * 明天 after a name). */
static bool zh_name_is(const unsigned char *t, size_t p, size_t e, const char *surnames) {
  size_t g = zh_surname_end(t, p, e, surnames);
  if (!g || e - g < 3 || e - g > 6) return false;
  for (size_t k = g; k < e; k += 3)
    if (!is_han(t, k, e) || han_in(t, k, zh_particles)) return false;
  return true;
}

/* Japanese surnames of two characters or more (the most common ones; one
 * character, 林 森 原 関, is a word as often) */
static const char *const ja_surnames[] = {
    "佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "山本", "中村", "小林", "加藤", "吉田", "山田", "佐々木",
    "山口", "松本", "井上", "木村", "斎藤", "清水", "山崎", "池田", "橋本", "阿部", "石川", "山下", "中島",
    "石井", "小川", "前田", "岡田", "長谷川", "藤田", "後藤", "近藤", "村上", "遠藤", "青木", "坂本", "斉藤",
    "福田", "太田", "西村", "藤井", "金子", "岡本", "藤原", "中野", "三浦", "原田", "中川", "松田", "竹内",
    "小野", "田村", "中山", "和田", "石田", "森田", "上田", "内田", "柴田", "酒井", "宮崎", "横山", "高木",
    "安藤", "宮本", "大野", "小島", "谷口", "今井", "工藤", "高田", "増田", "丸山", "杉山", "村田", "大塚",
    "新井", "小山", "平野", "藤本", "河野", "上野", "野口", "武田", "松井", "千葉", "岩崎", "菅原", "木下",
    "久保", "佐野", "野村", "松尾", "菊地", "杉本", "市川", "古川", "大西", "島田", "水野", "桜井", "高野",
    "渡部", "吉川", "山内", "西田", "飯田", "菊池", "西川", "小松", "北村", "安田", "五十嵐", "川口", "平田",
    "中田", "久保田", "服部", "岩田", "土屋", "川崎", "福島", "本田", "樋口", "秋山", "田口", "永井", "山中",
    "中西", "吉村", "川上", "石原", "大橋", "松岡", "馬場", "浅野", "荒木", "大久保", "野田", "小沢", "田辺",
    "川村", "星野", "黒田", "尾崎", "望月", "永田", "熊谷", "内藤", "松村", "西山", "大谷", "平井", "大島",
    "岩本", "片山", "本間", "早川", "横田", "岡崎", "荒井", "大石", "鎌田", "成田", "宮田", "小田", "石橋",
    "篠原", "須藤", "河合", "大山", "桑原", "坂口", "吉岡", "前川", "野崎", "松下", "関口", "森本", "堀内",
    "村井", "森川", "坂井", "小池", "大川", "上原", "今村", "細川", "新田", "宮下", "堀田", "青山", "白石",
    "井口", "杉田", "奥村", "松浦", "高山", "沢田", "奥田", "久野", "長尾", "榎本", "西尾", "寺田", "森下",
    NULL};

/* The Japanese surname that starts at p, as its length in bytes, or 0. */
static size_t ja_surname_at(const unsigned char *t, size_t p, size_t n) {
  for (const char *const *w = ja_surnames; *w; w++) {
    if (p + 1 >= n || (unsigned char)(*w)[0] != t[p] || (unsigned char)(*w)[1] != t[p + 1]) continue;
    size_t m = strlen(*w);
    if (p + m <= n && !memcmp(t + p, *w, m)) return m;
  }
  return 0;
}

static bool hiragana(const unsigned char *t, size_t p, size_t n) {
  return p + 3 <= n && t[p] == 0xE3 && ((t[p + 1] == 0x81 && t[p + 2] >= 0x81) || (t[p + 1] == 0x82 && t[p + 2] <= 0x93));
}

/* A Japanese name: two to six kanji or katakana from p (a given name may go
 * on in hiragana: "原田あかり"), up to です, a punctuation mark or the end of
 * the text. Its end, or 0. */
static size_t ja_name_at(const unsigned char *t, size_t p, size_t n) {
  size_t e = p;
  while (e - p < 18 && (is_han(t, e, n) || (e + 3 <= n && t[e] == 0xE3 && (t[e + 1] == 0x82 || t[e + 1] == 0x83) &&
                                            !(t[e + 1] == 0x82 && t[e + 2] < 0xA1))))
    e += 3;
  if (e - p < 6 || e - p > 18 || is_han(t, e, n)) return 0;
  /* (a particle after the name: "妹の千尋といっしょに", "藤井拓也が") */
  if (e + 3 <= n && t[e] == 0xE3 && t[e + 1] == 0x81 && han_in(t, e, "とがはをにもへで") &&
      !(e + 6 <= n && !memcmp(t + e, "では", 6)))
    return e;
  size_t k = e;
  while (k - e < 12 && hiragana(t, k, n) && !(k + 6 <= n && !memcmp(t + k, "です", 6))) k += 3;
  if (k + 6 <= n && !memcmp(t + k, "です", 6)) return k;
  if (k == e && (e == n || t[e] == ' ' || t[e] == '\n' ||
                 (e + 3 <= n && (!memcmp(t + e, "、", 3) || !memcmp(t + e, "。", 3) || !memcmp(t + e, "と", 3)))))
    return e;
  return 0;
}

/* Korean surnames of one syllable (김 이 박 최 정 …) and of two */
static const char ko_surnames[] = "김이박최정강조윤장임한오서신권황안송류전홍고문양손배백허유남심노하곽성차주우"
                                  "구민진나지엄채원천방공현함변염여추도소석선설마길연위표명기반왕금옥육인맹제모"
                                  "탁국어은편용예경봉";
static const char *const ko_compound[] = {"남궁", "황보", "제갈", "선우", "독고", "사공", NULL};
/* endings of a word that names a role, not someone (…님, …인 "person",
 * …가 …자 "-er", …생 "student", …원 "member", …사 "-ist"; a place's
 * 시 도 구 군 동 읍 면) */
static const char ko_roles[] = "님인가자생원사들시도구군동읍면";
/* the copula and quotation after a name: 입니다, 이에요, 예요, 이고, 라고 */
static const char *const ko_is[] = {"입니다", "이에요", "예요", "이고", "이며", "이라고", "라고", "이야", NULL};

/* What a cue says of the name beside it (cued_name) */
enum { ZH_BEFORE, ZH_ROLE, ZH_VERB, ZH_SELF, ZH_SAID, ZH_TITLE, ZH_LABEL, JA_BEFORE, JA_NAMED, JA_SELF,
       JA_AFTER, JA_TITLE, JA_LIST, KO_BEFORE, KO_STRICT, KO_ROLE, KO_NAMED, KO_TITLE, KO_AFTER, KO_LABEL,
       FORM /* a form's label in any of the three: form_label_name */ };

/* Whether a Korean word from p of `syl` syllables has a name's shape: a
 * surname (one syllable, or two of a compound one) and a given name of two
 * syllables, not a role's ending. */
static bool ko_shaped(const unsigned char *t, size_t p, size_t w) {
  size_t syl = (w - p) / 3;
  bool compound = false;
  for (const char *const *c = ko_compound; *c && !compound; c++) compound = syl == 4 && !memcmp(t + p, *c, 6);
  return (compound || (syl == 3 && han_in(t, p, ko_surnames))) && !han_in(t, w - 3, ko_roles);
}

static bool ko_punct_at(const unsigned char *t, size_t e, size_t n) {
  return e >= n || (t[e] && strchr(",.:;)(/\n'\"", t[e])) ||
         (e + 3 <= n && !memcmp(t + e, "。", 3));
}

/* A Korean name as the word at p: Hangul syllables, the copula after them
 * stripped, two to four of them (KO_BEFORE: after "my name is"). The others
 * ask for a name's shape (ko_shaped), and KO_STRICT (after "저는", "I am")
 * for the copula too, KO_ROLE (after "환자", "patient") for punctuation after
 * the word ("고객 정보를" is "customer data"), KO_NAMED (after "이름은", "the
 * name is") for either. Its end, or 0. */
static size_t ko_name_at(const unsigned char *t, size_t p, size_t n, int kind) {
  size_t e = p;
  while (e + 3 <= n && e - p < 24 && sl__hangul(t + e)) e += 3;
  if (e + 3 <= n && (is_han(t, e, n) || sl__hangul(t + e))) return 0;
  size_t w = e;
  for (const char *const *c = ko_is; *c; c++) {
    size_t m = strlen(*c);
    if (w - p > m && !memcmp(t + w - m, *c, m)) {
      w -= m;
      break;
    }
  }
  size_t syl = (w - p) / 3;
  if (kind != KO_BEFORE && !ko_shaped(t, p, w)) return 0;
  bool copula = w != e, punct = ko_punct_at(t, e, n);
  if ((kind == KO_STRICT && !copula) || (kind == KO_ROLE && !punct) || (kind == KO_NAMED && !copula && !punct))
    return 0;
  return syl >= 2 && syl <= 4 ? w : 0;
}

/* The start of the Korean word that ends at e (a name before a title or
 * "라고 합니다"), when it has a name's shape and nothing of its script before
 * it; else e. */
static size_t ko_word_before(const unsigned char *t, size_t e) {
  size_t s = e;
  while (s >= 3 && e - s < 12 && sl__hangul(t + s - 3)) s -= 3;
  return (s == 0 || !(t[s - 1] & 0x80)) && ko_shaped(t, s, e) ? s : e;
}

static const char *const zh_titles[] = {"经理", "老师", "医生", "教授", "律师", "主任", "总监", "同学",
                                        "經理", "老師", "醫生", "律師", "總監", "同學", NULL};

/* How many lines open with a Chinese or Korean name and a colon, a chat's
 * speakers ("陈怡君：…", "이서연: …"), up to 2: two make a transcript, one is
 * a form's field ("주호소: 발열", "chief complaint"). */
static int chat_speakers(const unsigned char *t, size_t n) {
  int k = 0;
  for (size_t p = 0; p < n && k < 2; p++) {
    if (p && t[p - 1] != '\n') continue;
    size_t e = zh_name_at(t, p, n, zh_surnames_strict, false);
    size_t m = e ? 0 : ja_surname_at(t, p, n);
    if (m)
      for (e = p + m; e + 3 <= n && e - p < 18 && is_han(t, e, n);) e += 3;
    if (!e) {
      for (e = p; e + 3 <= n && e - p < 12 && sl__hangul(t + e);) e += 3;
      if (e - p < 9 || !ko_shaped(t, p, e)) e = 0;
    }
    k += e && e < n && t[e] == ':';
  }
  return k;
}

/* Whether a name at s opens a line of a chat (chat_speakers, counted once
 * per text into *speakers, -1 before). */
static bool chat_line(const unsigned char *t, size_t n, size_t s, int *speakers) {
  if (s > 0 && t[s - 1] != '\n') return false;
  if (*speakers < 0) *speakers = chat_speakers(t, n);
  return *speakers >= 2;
}

/* Where the name a cue of this kind found at [at, end) introduces is: its
 * start in *s and its end, or 0. */
static size_t cued_name(const unsigned char *t, size_t n, int kind, size_t at, size_t end, size_t *s,
                        int *speakers) {
  switch (kind) {
  case ZH_BEFORE:
  case ZH_ROLE: /* (a role as a label: "客户：张伟", read folded; "收款人是钟立群", "申请人 唐晓峰") */
    if (end + 3 <= n && (!memcmp(t + end, "是", 3) || !memcmp(t + end, "为", 3)))
      end += 3;
    else if (end < n && (t[end] == ':' || t[end] == ' '))
      end += 1 + (end + 1 < n && t[end + 1] == ' ');
    return zh_name_at(t, *s = end, n, zh_surnames, kind == ZH_ROLE);
  case ZH_VERB: /* (not a day: "通知周一开会") */
    *s = end;
    return end + 6 <= n && han_in(t, end + 3, "一二三四五六七八九十日末") ? 0 : zh_name_at(t, end, n, zh_surnames_strict, false);
  case ZH_SELF: { /* "我是李静，", not "我是程序员。" (a role's ending) */
    size_t e = zh_name_at(t, *s = end, n, zh_surnames, false);
    return e && (!is_han(t, e, n) || !memcmp(t + e, "的", 3)) &&
                   !han_in(t, e - 3, "员生师家人者工长手士官商户民員師長戶")
               ? e
               : 0;
  }
  case ZH_SAID: { /* "，孙浩说", "王志明您好", "“宋佳”", "【赵俊】", "陈怡君：": a name of two or
                   * three characters from the stricter list, at a clause's start */
    bool titled = false; /* ("张经理说": the title's rule has the surname) */
    for (const char *const *w = zh_titles; *w && !titled && at >= 6; w++) titled = !memcmp(t + at - 6, *w, 6);
    if (titled) return 0;
    static const size_t lens[] = {9, 6}; /* (three characters, then two) */
    for (size_t i = 0; i < 2; i++) {
      if (at < lens[i]) continue;
      *s = at - lens[i];
      /* (curly quotes read folded: "“" is '"') */
      bool open = *s == 0 || !(t[*s - 1] & 0x80) ||
                  (*s >= 3 && (!memcmp(t + *s - 3, "。", 3) || !memcmp(t + *s - 3, "、", 3) ||
                               !memcmp(t + *s - 3, "【", 3)));
      if (open && zh_name_is(t, *s, at, zh_surnames_strict) && (t[at] != ':' || chat_line(t, n, *s, speakers)))
        return at;
    }
    return 0;
  }
  case ZH_TITLE: {
    /* a surname alone, or a full name of three characters, after a word's
     * end, a verb or the start ("项目经理" is "project manager", "中文老师"
     * "Chinese teacher") */
    static const size_t lens[] = {9, 3}; /* (a full name, then a surname alone) */
    for (size_t i = 0; i < 2; i++) {
      size_t k = lens[i];
      if (at < k) continue;
      *s = at - k;
      bool open = *s < 3 || !is_han(t, *s - 3, n) || han_in(t, *s - 3, zh_after) ||
                  han_in(t, *s - 3, "请找问让由叫诉见约访谢");
      if (open && is_han(t, *s, n) && han_in(t, *s, zh_surnames) &&
          (k == 3 || zh_name_is(t, *s, at, zh_surnames)))
        return at;
    }
    return 0;
  }
  case ZH_LABEL:
    /* a label that names a person (…人, …方, …者, …员, …官: 参会人, 甲方,
     * 购买方, 出席者) before a colon: "乙方（承租方）：潘立新" */
    if (at >= 1 && t[at - 1] == ')') { /* (a label's note in brackets; full-width ones read folded) */
      size_t o = at;
      for (size_t k = at >= 30 ? at - 30 : 0; k + 1 < at; k++)
        if (t[k] == '(') o = k;
      at = o;
    }
    if (at < 3 || !is_han(t, at - 3, n) || !han_in(t, at - 3, "人方者员員官")) return 0;
    end += end < n && t[end] == ' ';
    return zh_name_at(t, *s = end, n, zh_surnames_strict, false);
  case JA_NAMED: /* "名前は", after the start, a stop or a family's word */
    if (!(at == 0 || !(t[at - 1] & 0x80) ||
          (at >= 3 && (!memcmp(t + at - 3, "。", 3) || !memcmp(t + at - 3, "、", 3) ||
                       !memcmp(t + at - 3, "「", 3))) ||
          (at >= 6 && !memcmp(t + at - 3, "の", 3) && han_in(t, at - 6, "父母夫妻娘兄姉弟妹私僕俺"))))
      return 0;
    /* fall through */
  case JA_BEFORE:
    return ja_name_at(t, *s = end, n);
  case JA_SELF: { /* "私は岡田真一です": three or more, not a role (会社員, 学生, 日本人) */
    size_t e = ja_name_at(t, *s = end, n);
    return e && e - end >= 9 && e + 6 <= n && !memcmp(t + e, "です", 6) &&
                   !han_in(t, e - 3, "員人生者家師士長手官民") && memcmp(t + end, "大丈夫", 9)
               ? e
               : 0;
  }
  case JA_AFTER:
    *s = at;
    while (*s >= 3 && at - *s < 18 &&
           (is_han(t, *s - 3, n) || (t[*s - 3] == 0xE3 && t[*s - 2] == 0x83) ||
            (t[*s - 3] == 0xE3 && t[*s - 2] == 0x82 && t[*s - 1] >= 0xA1)))
      *s -= 3;
    return at - *s >= 6 ? at : 0;
  case JA_TITLE: { /* "井上雅人課長", "岡田部長", "山口翔太：…" (a chat's speakers): a
                   * known surname and up to three more kanji or katakana */
    *s = at;
    while (*s >= 3 && at - *s < 15 && (is_han(t, *s - 3, n) || (t[*s - 3] == 0xE3 && t[*s - 2] == 0x83)))
      *s -= 3;
    for (; *s + 6 <= at; *s += 3) {
      size_t m = ja_surname_at(t, *s, n);
      if (m && *s + m <= at && at - *s <= m + 9 &&
          (t[at] != ':' || chat_line(t, n, *s, speakers)))
        return at;
    }
    return 0;
  }
  case JA_LIST: { /* "出席者：加藤、吉田、山口" (a known surname, a given name or none) */
    size_t p = end + (end < n && t[end] == ' ');
    size_t m = ja_surname_at(t, p, n);
    if (!m) return 0;
    size_t e = p + m;
    while (e + 3 <= n && e - p < m + 9 && (is_han(t, e, n) || hiragana(t, e, n))) e += 3;
    if (e < n && t[e] == ' ') { /* "清水 亮": a given name after a space */
      size_t g = e + 1;
      while (g + 3 <= n && g - e < 13 && (is_han(t, g, n) || hiragana(t, g, n))) g += 3;
      if (g > e + 1) e = g;
    }
    *s = p;
    return e;
  }
  case KO_TITLE: /* the name before: "김민준 고객님" */
    *s = ko_word_before(t, at);
    return *s < at ? at : 0;
  case KO_LABEL: /* "임대인: 배소윤", "참석자: 정하늘, 조민호" (…자, …인, 사람); a chat's
                  * speaker: "이서연: 내일 …" */
    if ((*s = ko_word_before(t, at)) < at && chat_line(t, n, *s, speakers)) return at;
    if (at < 3 || !sl__hangul(t + at - 3) || !han_in(t, at - 3, "자인람")) return 0;
    return ko_name_at(t, *s = end, n, KO_ROLE);
  case KO_AFTER: /* "곽도윤이라고 합니다", "최준호라고 합니다" */
    if (at >= 3 && !memcmp(t + at - 3, "이", 3) && (*s = ko_word_before(t, at - 3)) < at - 3) return at - 3;
    *s = ko_word_before(t, at);
    return *s < at ? at : 0;
  default:
    return ko_name_at(t, *s = end, n, kind);
  }
}

/* Chinese, Japanese and Korean names after what introduces them, written
 * without spaces in Chinese and Japanese (traditional characters too):
 * - Chinese: a surname and a given name after "叫" (is called), "我的名字是",
 *   "全名", "本人", a role or a relation (患者 patient, 客户 customer, 同事
 *   colleague, 老公 husband, 收件人 …; a colon or "是" allowed; after a role
 *   a given name of two characters may run on into a verb), a title (经理,
 *   老师 …), a verb of sending or telling (发给, 告诉, 联系 …: fewer
 *   surnames), "我是" when punctuation follows, a label that names a person
 *   and a colon (参会人：, 甲方：, with the names listed after it): "我叫王伟，",
 *   "客户李娜的电话", "发给胡婉婷和魏东", "参会人：邓凯、谢雨桐"; a surname or a
 *   full name before a title: "张经理说", "赵立峰经理您好";
 * - Japanese: kanji and katakana (hiragana after them) after "私の名前は",
 *   "名前は" (not a thing's: "会社の名前は"), "担当は", "私は" (three or more
 *   before です, not a role: 会社員), before "と申します": "私の名前は田中太郎です",
 *   "山田と申します";
 * - Korean: after "제 이름은"; then, with a name's shape (ko_shaped), after
 *   "저는" with the copula, after "이름은" with the copula or punctuation,
 *   after a role or a label (환자, 임대인:, 참석자:) with punctuation, before
 *   a title (김민준 고객님, 구민정 님) or "라고 합니다".
 * The surname lists keep common words after the same cues out ("我是学生",
 * "저는 학생입니다"); what they do not know is missed. */
static const struct {
  const char *cue;
  int kind;
} cjk_cues[] = {
      {"叫", ZH_BEFORE}, {"名字是", ZH_BEFORE}, {"全名", ZH_BEFORE}, {"本人", ZH_BEFORE}, {"患者", ZH_ROLE},
      {"病人", ZH_ROLE}, {"客户", ZH_ROLE}, {"顾客", ZH_ROLE}, {"乘客", ZH_ROLE}, {"员工", ZH_ROLE}, {"学生", ZH_ROLE},
      {"收件人", ZH_ROLE}, {"寄件人", ZH_ROLE}, {"联系人", ZH_ROLE}, {"申请人", ZH_ROLE}, {"投保人", ZH_ROLE},
      {"被保险人", ZH_ROLE}, {"持卡人", ZH_ROLE}, {"租客", ZH_ROLE}, {"房东", ZH_ROLE}, {"同事", ZH_ROLE}, {"同学", ZH_ROLE},
      {"实习生", ZH_ROLE}, {"业主", ZH_ROLE}, {"家属", ZH_ROLE}, {"孩子", ZH_ROLE}, {"儿子", ZH_ROLE}, {"女儿", ZH_ROLE},
      {"老公", ZH_ROLE}, {"老婆", ZH_ROLE}, {"丈夫", ZH_ROLE}, {"妻子", ZH_ROLE}, {"朋友", ZH_ROLE}, {"收款人", ZH_ROLE},
      {"付款人", ZH_ROLE}, {"投诉人", ZH_ROLE}, {"候选人", ZH_ROLE}, {"签名", ZH_ROLE}, {"辅导员", ZH_ROLE},
      {"私は", JA_SELF}, {"经理", ZH_ROLE}, {"老师", ZH_ROLE}, {"医生", ZH_ROLE}, {"主任", ZH_ROLE}, {"律师", ZH_ROLE},
      {"教授", ZH_ROLE}, {"发给", ZH_VERB}, {"转给", ZH_VERB}, {"交给", ZH_VERB}, {"寄给", ZH_VERB}, {"告诉", ZH_VERB},
      {"通知", ZH_VERB}, {"联系", ZH_VERB}, {"转告", ZH_VERB}, {"提醒", ZH_VERB}, {"感谢", ZH_VERB},
      {"我是", ZH_SELF}, {"经理", ZH_TITLE}, {"老师", ZH_TITLE}, {"医生", ZH_TITLE}, {"教授", ZH_TITLE},
      {"律师", ZH_TITLE}, {"主任", ZH_TITLE}, {"总监", ZH_TITLE}, {"同学", ZH_TITLE}, {"私の名前は", JA_BEFORE},
      {"僕の名前は", JA_BEFORE}, {"わたしの名前は", JA_BEFORE}, {"名前は", JA_NAMED}, {"担当は", JA_BEFORE},
      {"と申します", JA_AFTER}, {"と申し上げます", JA_AFTER}, {"제 이름은 ", KO_BEFORE}, {"내 이름은 ", KO_BEFORE},
      {"저의 이름은 ", KO_BEFORE}, {"제이름은 ", KO_BEFORE}, {"저는 ", KO_STRICT}, {"이름은 ", KO_NAMED}, {"환자 ", KO_ROLE},
      {"고객 ", KO_ROLE}, {"담당자 ", KO_ROLE}, {"신청인 ", KO_ROLE}, {"작성자 ", KO_ROLE}, {"지원자 ", KO_ROLE},
      {" 고객님", KO_TITLE}, {" 환자분", KO_TITLE}, {" 선생님", KO_TITLE}, {" 과장님", KO_TITLE}, {" 부장님", KO_TITLE},
      {" 팀장님", KO_TITLE}, {" 교수님", KO_TITLE}, {" 님", KO_TITLE}, {" 학생", KO_TITLE}, {"라고 합니다", KO_AFTER},
      {"라고 해요", KO_AFTER}, {"라고 합니당", KO_AFTER}, {": ", KO_LABEL},
      {":", ZH_LABEL}, /* (full-width punctuation reads folded: "：" is ":") */
      {"负责人", ZH_ROLE}, {"病患", ZH_ROLE}, {"自称", ZH_ROLE}, {"表妹", ZH_ROLE}, {"表姐", ZH_ROLE},
      {"表弟", ZH_ROLE}, {"表哥", ZH_ROLE}, {"妹妹", ZH_ROLE}, {"姐姐", ZH_ROLE}, {"弟弟", ZH_ROLE},
      {"哥哥", ZH_ROLE}, {"由", ZH_VERB}, {"@", ZH_VERB}, {"说", ZH_SAID}, {"您好", ZH_SAID},
      {"你好", ZH_SAID}, {"小朋友", ZH_SAID}, {"\"", ZH_SAID}, {"】", ZH_SAID}, {":", ZH_SAID}, {"妹の", JA_BEFORE},
      {"姉の", JA_BEFORE}, {"弟の", JA_BEFORE}, {"兄の", JA_BEFORE}, {"母の", JA_BEFORE}, {"父の", JA_BEFORE},
      {"息子の", JA_BEFORE}, {"娘の", JA_BEFORE}, {"夫の", JA_BEFORE}, {"妻の", JA_BEFORE},
      {"部下の", JA_BEFORE}, {"上司の", JA_BEFORE}, {"同僚の", JA_BEFORE}, {"友達の", JA_BEFORE},
      {"友人の", JA_BEFORE}, {"課長", JA_TITLE}, {"部長", JA_TITLE}, {"社長", JA_TITLE}, {"係長", JA_TITLE},
      {"主任", JA_TITLE}, {"先輩", JA_TITLE}, {":", JA_TITLE}, {"出席者:", JA_LIST}, {"参加者:", JA_LIST},
      {"欠席:", JA_LIST}, {"担当:", JA_LIST}, {"月:", JA_LIST}, {"火:", JA_LIST}, {"水:", JA_LIST},
      {"木:", JA_LIST}, {"金:", JA_LIST}, {" 주임", KO_TITLE}, {" 대리", KO_TITLE}, {" 팀장", KO_TITLE}, {" 사원", KO_TITLE},
      {" 과장", KO_TITLE}, {" 부장", KO_TITLE}, {" 차장", KO_TITLE}, {" 실장", KO_TITLE}, {" 드림", KO_TITLE},
      {"환자명 ", KO_ROLE}, {"내담자 ", KO_ROLE}, {"발신자 ", KO_ROLE}, {"수신자 ", KO_ROLE},
      {"받는 사람: ", KO_ROLE}, {"팀 ", KO_STRICT},
      /* traditional characters */
      {"客戶", ZH_ROLE}, {"員工", ZH_ROLE}, {"學生", ZH_ROLE}, {"聯絡人", ZH_ROLE}, {"聯繫人", ZH_ROLE}, {"申請人", ZH_ROLE},
      {"房東", ZH_ROLE}, {"同學", ZH_ROLE}, {"實習生", ZH_ROLE}, {"業主", ZH_ROLE}, {"家屬", ZH_ROLE}, {"兒子", ZH_ROLE},
      {"女兒", ZH_ROLE}, {"投訴人", ZH_ROLE}, {"候選人", ZH_ROLE}, {"簽名", ZH_ROLE}, {"經理", ZH_ROLE}, {"老師", ZH_ROLE},
      {"醫生", ZH_ROLE}, {"律師", ZH_ROLE}, {"發給", ZH_VERB}, {"轉給", ZH_VERB}, {"告訴", ZH_VERB}, {"聯繫", ZH_VERB}, {"說", ZH_SAID},
      {"病患", ZH_ROLE}, {"負責人", ZH_ROLE},
      {"聯絡", ZH_VERB}, {"轉告", ZH_VERB}, {"感謝", ZH_VERB}, {"經理", ZH_TITLE}, {"老師", ZH_TITLE}, {"醫生", ZH_TITLE},
      {"律師", ZH_TITLE}, {"總監", ZH_TITLE}, {"同學", ZH_TITLE},
      /* a form's labels (not a role alone, 客户 "customer", 患者 "patient": a
       * transcript's speakers) */
      {"姓名", FORM}, {"名字", FORM}, {"联系人", FORM}, {"收件人", FORM}, {"收货人", FORM}, {"申请人", FORM},
      {"负责人", FORM}, {"联络人", FORM}, {"氏名", FORM}, {"名前", FORM}, {"担当者", FORM}, {"이름", FORM},
      {"성명", FORM}, {"담당자", FORM}, {"고객명", FORM}, {"환자명", FORM}, {"성함", FORM}, {"수신인", FORM},
      {"수취인", FORM}, {"수령인", FORM}, {"受取人", FORM}, {"差出人", FORM}, {"申込者", FORM}, {"契約者", FORM},
      {"面试官", FORM}, {"候选人", FORM}, {"申請者", FORM}, {"担当者名", FORM}
};
#define N_CJK_CUES (sizeof cjk_cues / sizeof cjk_cues[0])

/* The cues by their first character, so that one walk over the text finds
 * them all (a search per cue read a 1 KB text 150 times). */
static uint32_t cjk_cue_key[N_CJK_CUES];
static uint8_t cjk_cue_len[N_CJK_CUES];
static uint16_t cjk_cue_order[N_CJK_CUES];
static uint64_t cjk_cue_pair[1024]; /* a bit per cue's first two bytes: most places open none */
static unsigned char cjk_cue_ascii[4]; /* the ASCII bytes cues open with */
static bool cjk_cue_ascii_hi[4];       /* ... each followed by a byte past ASCII in every such cue */
static size_t cjk_cue_n_ascii;
static bool cjk_cue_no_vector;         /* more than 4 such bytes: the walk goes a byte at a time */
static pthread_once_t cjk_cue_once = PTHREAD_ONCE_INIT;

/* The bytes of the UTF-8 character at p as one number, and its length. */
static uint32_t char_key(const unsigned char *t, size_t p, size_t n, size_t *len) {
  unsigned char b = t[p];
  size_t l = b < 0xC0 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
  if (l > n - p) l = n - p;
  uint32_t k = 0;
  for (size_t i = 0; i < l; i++) k = k << 8 | t[p + i];
  *len = l;
  return k;
}

static void cjk_cue_init(void) {
  for (size_t i = 0; i < N_CJK_CUES; i++) {
    size_t l, m = strlen(cjk_cues[i].cue);
    cjk_cue_key[i] = char_key((const unsigned char *)cjk_cues[i].cue, 0, m, &l);
    cjk_cue_len[i] = (uint8_t)m;
    const unsigned char *u = (const unsigned char *)cjk_cues[i].cue;
    if (u[0] < 0x80 && !cjk_cue_no_vector) {
      size_t a = 0;
      while (a < cjk_cue_n_ascii && cjk_cue_ascii[a] != u[0]) a++;
      if (a == sizeof cjk_cue_ascii) {
        cjk_cue_no_vector = true;
      } else {
        if (a == cjk_cue_n_ascii) cjk_cue_ascii[cjk_cue_n_ascii++] = u[0], cjk_cue_ascii_hi[a] = true;
        cjk_cue_ascii_hi[a] &= m > 1 && u[1] >= 0xC0;
      }
    }
    for (unsigned b = 0; b < 256; b++) /* (a cue of one byte opens at any next byte) */
      if (m > 1 ? b == u[1] : true) cjk_cue_pair[(u[0] << 8 | b) >> 6] |= (uint64_t)1 << ((u[0] << 8 | b) & 63);
    size_t j = i;
    for (; j > 0 && cjk_cue_key[cjk_cue_order[j - 1]] > cjk_cue_key[i]; j--) cjk_cue_order[j] = cjk_cue_order[j - 1];
    cjk_cue_order[j] = (uint16_t)i;
  }
}

/* A cue of this kind found at [at, at + m): the name it introduces, and for a
 * label the names listed after it ("参会人：邓凯、谢雨桐", "참석자: 정하늘,
 * 조민호"). */
static void cjk_cue_found(sl__ctx_t *c, const unsigned char *t, size_t n, int kind, size_t at, size_t m,
                          int *speakers) {
  size_t s, e = cued_name(t, n, kind, at, at + m, &s, speakers);
  while (e) {
    sl__cands_add(c->out, (uint32_t)s, (uint32_t)e, SL_ET_PERSON, "person", 30);
    if (kind != ZH_LABEL && kind != KO_LABEL && kind != JA_LIST) break;
    /* (、 or a comma: full-width ones read folded) */
    size_t sep = e + 3 <= n && !memcmp(t + e, "、", 3) ? 3
                 : e < n && t[e] == ','                  ? 1 + (e + 1 < n && t[e + 1] == ' ')
                                                         : 0;
    if (!sep) break;
    s = e + sep;
    e = kind == ZH_LABEL  ? zh_name_at(t, s, n, zh_surnames_strict, false)
        : kind == JA_LIST ? cued_name(t, n, JA_LIST, s, s, &s, speakers)
                          : ko_name_at(t, s, n, KO_ROLE);
  }
}

/* The cues that open at p. */
static void cues_at(sl__ctx_t *c, const unsigned char *t, size_t n, size_t p, int *speakers) {
  /* a byte and the next (NUL at the end): no cue opens with a UTF-8
   * continuation byte, so where one does p is a character's start */
  unsigned pair = (unsigned)t[p] << 8 | (p + 1 < n ? t[p + 1] : 0);
  if (!(cjk_cue_pair[pair >> 6] >> (pair & 63) & 1)) return;
  size_t l;
  uint32_t k = char_key(t, p, n, &l);
  size_t lo = 0, hi = N_CJK_CUES;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (cjk_cue_key[cjk_cue_order[mid]] < k) lo = mid + 1;
    else hi = mid;
  }
  for (size_t j = lo; j < N_CJK_CUES && cjk_cue_key[cjk_cue_order[j]] == k; j++) {
    size_t i = cjk_cue_order[j], m = cjk_cue_len[i];
    int kind = cjk_cues[i].kind;
    if (m > n - p || memcmp(t + p, cjk_cues[i].cue, m)) continue;
    if (kind == FORM) form_label_name(c, t, n, p + m); /* (its script is the text's: it matched) */
    else if (c->scripts & (kind >= KO_BEFORE ? SL_SCRIPT_HANGUL : SL_SCRIPT_CJK))
      cjk_cue_found(c, t, n, kind, p, m, speakers);
  }
}

static void cjk_cued_names(sl__ctx_t *c) {
  pthread_once(&cjk_cue_once, cjk_cue_init);
  const unsigned char *t = (const unsigned char *)c->text;
  size_t n = c->len, p = 0;
  int speakers = -1;
  /* 32 bytes at a time: a cue opens only at a byte past ASCII or at one of
   * the few ASCII bytes some open with (' ', ':', '@'; a space only before a
   * character past ASCII) */
  for (; p + 33 <= n && !cjk_cue_no_vector; p += 32) {
    u8x32 v, next;
    memcpy(&v, t + p, 32);
    memcpy(&next, t + p + 1, 32);
    s8x32 m = (s8x32)(v >= 0xC0), hi = (s8x32)(next >= 0xC0);
    for (size_t a = 0; a < cjk_cue_n_ascii; a++) {
      s8x32 eq = (s8x32)(v == cjk_cue_ascii[a]);
      m |= cjk_cue_ascii_hi[a] ? eq & hi : eq;
    }
    for (uint32_t bits = sl__movemask32(m); bits; bits &= bits - 1)
      cues_at(c, t, n, p + (unsigned)__builtin_ctz(bits), &speakers);
  }
  for (; p < n; p++) cues_at(c, t, n, p, &speakers);
}

/* A Korean name in Latin letters: a common surname, then a given name of two
 * syllables joined by a hyphen ("Park Ji-hoon", "Lee Seo-yeon", "Kim
 * Min-jun"), its second syllable one Korean names end in. The hyphen is what
 * tells it from a surname that is an English word (Park, Song, Moon). */
static void korean_latin_names(sl__ctx_t *c) {
  static const char *const surnames[] = {
      "Kim", "Lee", "Yi", "Park", "Pak", "Choi", "Choe", "Jung", "Jeong", "Chung", "Kang", "Cho", "Jo",
      "Yoon", "Yun", "Jang", "Chang", "Lim", "Im", "Han", "Oh", "Seo", "Suh", "Shin", "Kwon", "Hwang",
      "Ahn", "An", "Song", "Yoo", "Yu", "Hong", "Jeon", "Jun", "Ko", "Koh", "Moon", "Yang", "Son", "Bae",
      "Baek", "Heo", "Nam", "Noh", "Roh", "Ha", "Kwak", "Sung", "Cha", "Joo", "Woo", "Koo", "Ku", "Min",
      "Ryu", "Yoo", "Jin", "Chae", "Won", "Byun", "Yeo", "Choo", "Do", "Seok", "Seol", "Gil", "Pyo", "Ok",
      "Maeng", "Je", "Tak", "Um", "Eom", "Hyun", "Bang", "Gong", "Ham", "Nah", "Ra", NULL};
  static const char *const second[] = {
      "hoon", "jun", "joon", "yeon", "woo", "jin", "min", "young", "yeong", "soo", "su", "hee", "ho",
      "eun", "ah", "a", "na", "ri", "bin", "hyun", "seok", "sung", "seong", "wook", "yoon", "won", "kyung",
      "mi", "ji", "hye", "in", "ae", "ra", "rin", "ha", "han", "gyu", "kyu", "hwan", "chul", "cheol",
      "sik", "il", "yong", "tae", "jae", "seo", "ye", "da", "chan", "gun", "geun", "gi", "ki", "hyuk",
      "jong", "moon", "sang", "dong", "gil", "seon", "sun", "jeong", "jung", "woong", "hwa", "kyeong",
      "mo", "yeop", "rim", "bo", "seul", "na", "yul", "ju", "joo", "hun", "suk", "sook", "ok", "ja", NULL};
  const char *t = c->text;
  size_t n = c->len;
  for (const char *h = memchr(t, '-', n); h; h = memchr(h + 1, '-', n - (size_t)(h + 1 - t))) {
    size_t p = (size_t)(h - t);
    /* the given name's first syllable, capitalised, right before the hyphen */
    size_t g = p;
    while (g > 0 && islower((unsigned char)t[g - 1])) g--;
    if (g == 0 || !isupper((unsigned char)t[g - 1]) || p - g > 4) continue;
    g--;
    if (g < 3 || t[g - 1] != ' ') continue;
    size_t s = g - 1;
    while (s > 0 && isalpha((unsigned char)t[s - 1])) s--;
    if (s > 0 && (isalnum((unsigned char)t[s - 1]) || (unsigned char)t[s - 1] >= 0x80)) continue;
    bool sur = false;
    for (const char *const *w = surnames; *w && !sur; w++)
      sur = strlen(*w) == g - 1 - s && !memcmp(t + s, *w, g - 1 - s);
    if (!sur) continue;
    size_t e = p + 1;
    while (e < n && islower((unsigned char)t[e])) e++;
    if (e < n && (isalnum((unsigned char)t[e]) || (unsigned char)t[e] >= 0x80 || t[e] == '-')) continue;
    bool ok = false;
    for (const char *const *w = second; *w && !ok; w++) ok = strlen(*w) == e - p - 1 && !memcmp(t + p + 1, *w, e - p - 1);
    if (ok) sl__cands_add(c->out, (uint32_t)s, (uint32_t)e, SL_ET_PERSON, "person", 35);
  }
}

void sl__cjk_names(sl__ctx_t *c) {
  if (c->scripts & SL_SCRIPT_CJK) cjk_honorific_names(c);
  if (c->scripts & SL_SCRIPT_HANGUL) korean_names(c);
  if (c->scripts & (SL_SCRIPT_CJK | SL_SCRIPT_HANGUL)) cjk_cued_names(c);
  korean_latin_names(c);
}
