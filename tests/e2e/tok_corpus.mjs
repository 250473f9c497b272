// The text corpus of the tokenizer parity test: hand-picked strings for each kind
// of input that tokenizers get wrong (prose, code, digits, whitespace runs, CJK,
// Arabic, accented Latin, emoji, contractions, special-token text), plus strings
// made by a seeded generator that glues random fragments of those kinds together,
// so boundaries between kinds get exercised too. Deterministic: same list each run.

export const fixed = [
  // English prose and punctuation
  "Hello, my dog is cute",
  "The capital of France is",
  "Once upon a time, there was a little girl named Lily. She loved to play outside!",
  "It was the best of times; it was the worst of times — wasn't it?",
  "\"Quoted,\" she said. 'Single quotes' and (parentheses) [brackets] {braces}.",
  "e.g. i.e. etc. Mr. Smith's U.S.A. trip... ?!?! ...",
  // contractions in every case
  "I'll we'VE they're She'S it'd you'D I'M we'Ll don't can't won't",
  "'s 't 're 've 'm 'll 'd 'S 'T 'RE 'VE 'M 'LL 'D",
  "rock'n'roll o'clock y'all ma'am",
  // code
  "def f(x):\n    return x**2",
  "def fibonacci(n):",
  "int main(void) {\n\tprintf(\"%d\\n\", 42);\n\treturn 0;\n}\n",
  "const re = /^[a-z]+$/i; if (a !== b && c >= d) { x += 1; }",
  "SELECT id, name FROM users WHERE email LIKE '%@example.com' ORDER BY id DESC;",
  "#include <stdio.h>\n#define MAX(a,b) ((a)>(b)?(a):(b))\n",
  "    indented\n        twice\n\t\ttabs\n",
  "<html><body class=\"x\">&amp; &lt;tag&gt;</body></html>",
  "$ git commit -m \"fix: off-by-one\" && ./build.sh --jobs=2 | tee log.txt",
  // digits and long numbers
  "12345 67890",
  "3.14159265358979323846264338327950288419716939937510",
  "1234567890123456789012345678901234567890",
  "Call 555-0123 or +1 (800) 555-0199 before 2024-12-31T23:59:59Z",
  "1,000,000 and 1.000.000 and 1 000 000 and 10^9 and 0x7fffffff 1e-10",
  "٠١٢٣٤٥٦٧٨٩ ①②③ ½ ¾ Ⅻ",
  // whitespace and newline runs
  "  leading spaces\n\ttabs 12345 67890 I'll we'VE",
  "a  b   c    d     e      f",
  "line1\nline2\n\nline4\n\n\n\nline8",
  "\r\n\r\nwindows\r\nnewlines\r\n",
  "trailing spaces   ",
  "   ",
  "\n",
  "\t \t \n \n\t",
  "x\u00a0y\u2003z\u3000w",
  "mixed \n  \n   \n    end",
  // CJK
  "日本語 🚀 émigré",
  "我爱自然语言处理。今天天气很好，我们去公园散步吧！",
  "東京タワーは、とても高いです。カタカナとひらがな",
  "한국어 문장을 토큰화합니다. 안녕하세요!",
  "中文English混合text测试123数字",
  // Arabic, Hebrew, other scripts
  "مرحبا بالعالم! كيف حالك اليوم؟",
  "العربية: الذكاء الاصطناعي ١٢٣",
  "שלום עולם, מה שלומך?",
  "Привет, мир! Как дела? Ёжик в тумане.",
  "Γειά σου Κόσμε! αβγδε",
  "नमस्ते दुनिया, यह एक परीक्षण है।",
  "สวัสดีครับ ภาษาไทย",
  // accented Latin
  "Crème brûlée, naïve café, façade, São Paulo, Zürich, Ångström, Øresund",
  "Ça va? Où est la bibliothèque? Ĳsselmeer ŒUVRE straße ﬁnance",
  "Pchnąć w tę łódź jeża lub ośm skrzyń fig. Żółć!",
  "Tiếng Việt có dấu: người, được, những",
  // emoji and symbols
  "🚀🔥💯 emoji test 👍🏽 👨‍👩‍👧‍👦 🇫🇷 ❤️",
  "Math: ∀x ∈ ℝ, ∃y: x² + y² ≤ 1 → ∞ ≠ ∅",
  "Currency: $100 €200 £300 ¥400 ₹500 ₿0.01",
  "Box: ┌─┐│└┘ arrows ←↑→↓ ★☆♠♣",
  "zero\u200bwidth\u200djoiner\ufeffbom",
  // special-token text
  "<|im_start|>user\nhi<|im_end|>",
  "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>assistant\n",
  "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|>",
  "<|endoftext|>text after<|endoftext|>",
  "<think>\nreasoning\n</think>\n\nanswer <tool_call>{}</tool_call>",
  "<|im_start|<|im_end|> <|unknown|> <| im_start |> <s></s>",
  "<|reserved_special_token_5|> and <|finetune_right_pad_id|>",
  // Unicode normalization (Qwen declares NFC; decomposed input must compose)
  "cafe\u0301 re\u0301sume\u0301 A\u030angstro\u0308m",
  "\u1100\u1161\u11a8 Hangul jamo, \u0041\u0300\u0301 stacked, \u212b Angstrom sign",
  "\u00c5 vs A\u030a vs \u212b; \ufb01 ligature stays (NFC, not NFKC)",
  // whitespace the regex flavours disagree on: NEL, BOM, long s
  "next\u0085line \ufeff bom\ufeff  \ufeff",
  "it'\u017f a long s, it'\u212a kelvin",
  // odd cases
  "",
  " ",
  "a",
  "'",
  "''''",
  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
  "!!!!!!!!!!!!!!!!!!!!????????????............",
  "----------------------------------------------------------------",
  "================================================================",
  "https://example.com/path?query=1&x=y#frag user@example.org",
];

// Fragments the generator draws from, by kind.
const pools = [
  ["the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "Hello", "WORLD", "tokenizer"],
  ["I'm", "you're", "it's", "we'll", "they'd", "I'VE", "can't", "O'Neil"],
  ["(", ")", "{", "}", ";", "==", "=>", "->", "::", "**", "//", "#", "@", "!", "?", "...", "\"", "'"],
  ["0", "7", "42", "123", "2024", "31415926", "1000000", "3.5", "0.001", "99999999999"],
  [" ", "  ", "   ", "\n", "\n\n", "\t", " \n", "\r\n", "        "],
  ["日本", "語", "中文", "测试", "한국어", "カタカナ", "ひらがな", "。", "，"],
  ["مرحبا", "العالم", "שלום", "Привет", "мир", "Γειά"],
  ["é", "ü", "ñ", "ç", "ø", "å", "ß", "œ", "ł", "ő", "ệ"],
  ["🚀", "🔥", "👍🏽", "👨‍👩‍👧", "🇯🇵", "❤️", "🙂", "∑", "√", "€"],
  ["<|im_start|>", "<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<|begin_of_text|>", "<think>"],
];

// Small deterministic PRNG (mulberry32).
function rng(seed) {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function generated(n, seed = 1234) {
  const r = rng(seed);
  const out = [];
  for (let i = 0; i < n; i++) {
    const parts = 1 + Math.floor(r() * 12);
    let s = "";
    for (let k = 0; k < parts; k++) {
      const pool = pools[Math.floor(r() * pools.length)];
      s += pool[Math.floor(r() * pool.length)];
      if (r() < 0.5) s += " ";
    }
    out.push(s);
  }
  return out;
}

// A long text (tens of KB) mixing everything: checks nothing degrades with length.
export function long() {
  return fixed.join("\n").repeat(8);
}

// Random code points from many Unicode blocks (controls and NUL included, no lone
// surrogates): catches character-class disagreements between the regex engines.
const blocks = [
  [0x20, 0x7e], [0x20, 0x7e], [0x00, 0x20], [0x80, 0x2ff], [0x300, 0x36f], [0x370, 0x4ff],
  [0x590, 0x6ff], [0x900, 0x97f], [0xe00, 0xe7f], [0x1100, 0x11ff], [0x2000, 0x206f],
  [0x2100, 0x22ff], [0x3000, 0x30ff], [0x4e00, 0x9fff], [0xac00, 0xd7a3], [0xfb00, 0xfb4f],
  [0xfe00, 0xfeff], [0xff00, 0xffef], [0x1f300, 0x1faff], [0x10000, 0x1007f],
  [0x1d400, 0x1d7ff], [0xe0000, 0xe007f], [0x30, 0x39], [0x27, 0x27],
];

export function randomUnicode(n, seed = 7) {
  const r = rng(seed);
  const out = [];
  for (let i = 0; i < n; i++) {
    let s = "";
    const len = 1 + Math.floor(r() * 40);
    for (let k = 0; k < len; k++) {
      const [a, b] = blocks[Math.floor(r() * blocks.length)];
      s += String.fromCodePoint(a + Math.floor(r() * (b - a + 1)));
      if (r() < 0.3) s += " ";
    }
    out.push(s);
  }
  return out;
}
