// The in-process engine behind the OpenAI SDK: streamed and whole answers from
// stories260K, the same tokens as `sluice generate`, usage and finish reasons,
// 429 when the queue is full, and a client that leaves frees its sequence.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdtempSync, rmSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { startSluice, BIN, SHARED, sleep } from './lib.mjs';

const MODEL = `${SHARED}/models/stories260K.gguf`;
let s, client;

before(async () => {
  s = await startSluice({
    backends: [{ name: 'local', kind: 'local', model: MODEL, threads: 1, max_batch: 2, queue_max: 2, usd_per_hour: 0.35 }],
    rules: [{ name: 'default', route: ['local'] }],
  });
  client = new OpenAI({ baseURL: `${s.base}/v1`, apiKey: 'x', maxRetries: 0 });
});

after(async () => {
  const r = await s.stop();
  assert.equal(r.code, 0, s.stderr().slice(-2000));
});

test('sluice generate refuses numbers it cannot use, naming the option (exit 2)', () => {
  for (const args of [['-n', 'abc'], ['-n', '0'], ['-n', '5x'], ['--temp', 'nan'], ['--top-p', '5'],
                      ['--min-p', '-1'], ['--seed', '99999999999999999999999']]) {
    let err;
    try { execFileSync(BIN, ['generate', '--model', MODEL, '-p', 'x', ...args], { encoding: 'utf8', stdio: 'pipe' }); } catch (e) { err = e; }
    assert.ok(err, `${args.join(' ')} is refused`);
    assert.equal(err.status, 2);
    assert.ok(err.stderr.includes(args[0]), err.stderr);
  }
});

test('sluice generate says a prompt the model cannot take in its own numbers', () => {
  for (const [args, want] of [[['--prompt-ids', '1,600'], /prompt token 1 is id 600: the model's ids are 0\.\.511/],
                              [['--prompt-ids', '1,,2'], /--prompt-ids '1,,2' is not a list of token ids separated by single commas/],
                              [['--prompt-ids', '1,2,'], /not a list of token ids/],
                              [['-p', 'the cat sat '.repeat(400)], /the prompt has \d+ tokens: the context holds \d+/]]) {
    let err;
    try { execFileSync(BIN, ['generate', '--model', MODEL, '-n', '2', ...args], { encoding: 'utf8', stdio: 'pipe' }); } catch (e) { err = e; }
    assert.ok(err, `${args[0]} is refused`);
    assert.equal(err.status, 1);
    assert.match(err.stderr, want);
  }
});

test('greedy answer equals sluice generate on the same prompt', async () => {
  const prompt = 'Once upon a time, there was a little girl';
  const gen = JSON.parse(execFileSync(BIN, ['generate', '--model', MODEL, '-p', prompt, '-n', '24', '--temp', '0', '--json'], { encoding: 'utf8' }));
  const { data, response } = await client.chat.completions.create({
    model: 'auto', temperature: 0, max_tokens: 24, messages: [{ role: 'user', content: prompt }],
  }).withResponse();
  assert.equal(response.headers.get('x-sluice-backend'), 'local');
  assert.equal(data.choices[0].message.content, gen.text);
  assert.equal(data.usage.completion_tokens, 24);
  assert.equal(data.usage.prompt_tokens, gen.prompt_tokens.length);
  assert.equal(data.choices[0].finish_reason, 'length');
});

test('streamed answer arrives in pieces and matches the whole one', async () => {
  const prompt = 'The cat sat on the mat and';
  const whole = await client.chat.completions.create({ temperature: 0, max_tokens: 30, messages: [{ role: 'user', content: prompt }] });
  const stream = await client.chat.completions.create({
    temperature: 0, max_tokens: 30, stream: true, stream_options: { include_usage: true },
    messages: [{ role: 'user', content: prompt }],
  });
  let text = '', pieces = 0, usage = null, finish = null;
  for await (const c of stream) {
    if (c.choices[0]?.delta?.content) { text += c.choices[0].delta.content; pieces++; }
    if (c.choices[0]?.finish_reason) finish = c.choices[0].finish_reason;
    if (c.usage) usage = c.usage;
  }
  assert.equal(text, whole.choices[0].message.content);
  // The engine hands text to the loop as it is sampled; a model this small can
  // finish before the loop wakes, so pieces may coalesce: at least one arrives.
  assert.ok(pieces >= 1, `streamed in ${pieces} pieces`);
  assert.equal(usage.completion_tokens, 30);
  assert.equal(finish, 'length');
});

test('logprobs: one entry per generated token, its bytes spell the answer, greedy picks the top one', async () => {
  const prompt = 'Once upon a time, there was a little girl';
  const req = { temperature: 0, max_tokens: 20, logprobs: true, top_logprobs: 3, messages: [{ role: 'user', content: prompt }] };
  const whole = await client.chat.completions.create(req);
  const check = (entries, text) => {
    assert.equal(entries.length, 20, 'one entry per token');
    assert.equal(Buffer.from(entries.flatMap((e) => e.bytes)).toString('utf8'), text);
    for (const e of entries) {
      assert.ok(e.logprob <= 0 && Number.isFinite(e.logprob));
      assert.equal(e.top_logprobs.length, 3);
      assert.deepEqual(e.top_logprobs[0].bytes, e.bytes, 'greedy: the chosen token is the most likely one');
      assert.equal(e.top_logprobs[0].logprob, e.logprob);
      assert.ok(e.top_logprobs[1].logprob <= e.top_logprobs[0].logprob);
    }
  };
  const content = whole.choices[0].message.content;
  check(whole.choices[0].logprobs.content, content);
  // streamed: each content chunk carries the entries of its own text
  const stream = await client.chat.completions.create({ ...req, stream: true });
  const entries = [];
  let text = '';
  for await (const c of stream) {
    const ch = c.choices[0];
    if (ch?.delta?.content) {
      text += ch.delta.content;
      entries.push(...ch.logprobs.content);
    }
  }
  assert.equal(text, content);
  check(entries, content);
  // not asked: null, as OpenAI sends it
  const plain = await client.chat.completions.create({ temperature: 0, max_tokens: 4, messages: [{ role: 'user', content: prompt }] });
  assert.equal(plain.choices[0].logprobs, null);
});

test('a stop string ends the answer with finish_reason stop, not included', async () => {
  const prompt = 'Once upon a time, there was a little girl';
  const full = await client.chat.completions.create({ temperature: 0, max_tokens: 40, messages: [{ role: 'user', content: prompt }] });
  const t = full.choices[0].message.content;
  const words = t.trim().split(/\s+/);
  const stopWord = words[Math.min(4, words.length - 1)];
  const r = await client.chat.completions.create({ temperature: 0, max_tokens: 40, stop: [stopWord], messages: [{ role: 'user', content: prompt }] });
  assert.equal(r.choices[0].finish_reason, 'stop');
  assert.equal(r.choices[0].message.content, t.slice(0, t.indexOf(stopWord)));
});

test('an empty stop string is ignored (it would end every answer at once)', async () => {
  const req = { temperature: 0, max_tokens: 10, messages: [{ role: 'user', content: 'Once upon a time' }] };
  const a = await client.chat.completions.create(req);
  const b = await client.chat.completions.create({ ...req, stop: [''] });
  assert.ok(a.choices[0].message.content.length > 0);
  assert.equal(b.choices[0].message.content, a.choices[0].message.content);
});

test('/metrics shows the engine\'s running and queued sequences', async () => {
  const m = await (await fetch(`${s.base}/metrics`)).text();
  assert.match(m, /^sluice_local_sequences\{backend="local",state="running"\} \d+$/m);
  assert.match(m, /^sluice_local_sequences\{backend="local",state="queued"\} \d+$/m);
});

test('top_p 0 keeps the top token only: the same answer as greedy, whatever the seed', async () => {
  const req = { temperature: 1, max_tokens: 12, messages: [{ role: 'user', content: 'Once upon a time' }] };
  const greedy = (await client.chat.completions.create({ ...req, temperature: 0 })).choices[0].message.content;
  for (const seed of [1, 2, 3])
    assert.equal((await client.chat.completions.create({ ...req, top_p: 0, seed })).choices[0].message.content, greedy);
});

test('a JSON response_format is refused by the local engine (free text would fail the client\'s parser); text is served; an unknown type is a 400', async () => {
  const req = { max_tokens: 5, messages: [{ role: 'user', content: 'Once upon a time' }] };
  for (const rf of [{ type: 'json_object' }, { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'object' } } }])
    await assert.rejects(client.chat.completions.create({ ...req, response_format: rf }), (e) => {
      assert.ok(e instanceof OpenAI.BadRequestError, String(e));
      assert.equal(e.code, 'unsupported_by_backend');
      assert.match(e.message, /response_format/);
      return true;
    });
  const ok = await client.chat.completions.create({ ...req, response_format: { type: 'text' } });
  assert.ok(ok.choices[0].message.content.length > 0);
  for (const rf of [{ type: 'bogus' }, 'json', { type: 'json_schema' }])
    await assert.rejects(client.chat.completions.create({ ...req, response_format: rf }), (e) => {
      assert.ok(e instanceof OpenAI.BadRequestError, String(e));
      assert.match(e.message, /response_format/);
      return true;
    });
});

test('messages longer than the model\'s context: a 400 context_length_exceeded, not a retryable 503', async () => {
  const long = 'The quick brown fox jumps over the lazy dog. '.repeat(20); // stories260K: 128 tokens
  await assert.rejects(client.chat.completions.create({ max_tokens: 5, messages: [{ role: 'user', content: long }] }), (e) => {
    assert.ok(e instanceof OpenAI.BadRequestError, String(e));
    assert.equal(e.code, 'context_length_exceeded');
    return true;
  });
  // megabytes that no tokenization could fit: refused before the tokenizer runs
  const t0 = Date.now();
  await assert.rejects(client.chat.completions.create({ max_tokens: 5, messages: [{ role: 'user', content: 'x'.repeat(2 << 20) }] }),
    (e) => e instanceof OpenAI.BadRequestError && e.code === 'context_length_exceeded');
  assert.ok(Date.now() - t0 < 5000, 'answered at once');
});

test('same seed, same text at temperature 1', async () => {
  const req = { temperature: 1, seed: 1234, max_tokens: 20, messages: [{ role: 'user', content: 'One day' }] };
  const a = await client.chat.completions.create(req);
  const b = await client.chat.completions.create(req);
  assert.equal(a.choices[0].message.content, b.choices[0].message.content);
});

test('queue full gives 429; a client that leaves frees its slot', async () => {
  const long = { temperature: 0, max_tokens: 100000, stream: true, messages: [{ role: 'user', content: 'Once upon a time' }] };
  // 16 at once against room for 4 (2 running, 2 queued): a fast (Release) engine
  // can finish a few streams before the last of 6 arrives, never 12
  const acs = Array.from({ length: 16 }, () => new AbortController());
  const results = await Promise.allSettled(acs.map((ac) => client.chat.completions.create(long, { signal: ac.signal })));
  const rejected = results.filter((r) => r.status === 'rejected');
  assert.ok(rejected.some((r) => r.reason.status === 429), `some got 429: ${rejected.map((r) => r.reason.status)}`);
  acs.forEach((ac) => ac.abort());
  // once the streams are gone their sequences are freed and the engine serves again
  let ok = false;
  for (let i = 0; i < 50 && !ok; i++) {
    try {
      await client.chat.completions.create({ temperature: 0, max_tokens: 4, messages: [{ role: 'user', content: 'Hi' }] });
      ok = true;
    } catch { await sleep(200); }
  }
  assert.ok(ok, 'served again after the clients left');
});

test('a local answer that runs out of time is a 504, whole or streamed, and what the engine used is charged', async () => {
  // tiny-qwen2 (context 2048) asked for 1900 tokens with 300 ms to give them:
  // the engine works until the time is up, then the request fails
  const dir = mkdtempSync(join(tmpdir(), 'sluice-ltimeout-'));
  const db = join(dir, 'ledger.db');
  const t = await startSluice({
    backends: [{ name: 'local', kind: 'local', model: `${SHARED}/models/tiny-qwen2.gguf`, threads: 1,
                 timeout_ms: 300, usd_per_hour: 0.35 }],
    rules: [{ name: 'default', route: ['local'] }],
    ledger: { path: db, durability: 'commit' },
  });
  try {
    const c = new OpenAI({ baseURL: `${t.base}/v1`, apiKey: 'x', maxRetries: 0 });
    const req = { temperature: 0, max_tokens: 1900, messages: [{ role: 'user', content: 'hi' }] };
    const whole = await c.chat.completions.create(req).then(() => null, (e) => e);
    assert.ok(whole instanceof OpenAI.APIError && whole.status === 504, `whole answer: ${whole}`);
    let err = null;
    try {
      for await (const _ of await c.chat.completions.create({ ...req, stream: true }));
    } catch (e) { err = e; }
    assert.ok(err instanceof OpenAI.APIError, `the stream ends with an error event: ${err}`);
    await sleep(300);
    const rows = JSON.parse(execFileSync('sqlite3', ['-readonly', '-json', db,
      "SELECT http_status, tokens_in, tokens_out, cost_usd FROM requests WHERE kind = 'request' ORDER BY id"],
    { encoding: 'utf8' }));
    assert.equal(rows.length, 2, JSON.stringify(rows));
    for (const r of rows) {
      assert.equal(r.http_status, 504, JSON.stringify(rows)); // one status for one failure
      assert.ok(r.tokens_in > 0 && r.tokens_out > 0 && r.cost_usd > 0, `engine time charged: ${JSON.stringify(rows)}`);
    }
  } finally {
    await t.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('logprobs describe the text the client got: a sampled control token is in neither', async () => {
  // tiny-llama3 (random weights) at temperature 1 samples Llama 3's reserved
  // control tokens now and then; they render as nothing in the answer
  const t = await startSluice({
    backends: [{ name: 'local', kind: 'local', model: `${SHARED}/models/tiny-llama3.gguf`, threads: 1 }],
    rules: [{ name: 'default', route: ['local'] }],
  });
  try {
    const c = new OpenAI({ baseURL: `${t.base}/v1`, apiKey: 'x', maxRetries: 0 });
    let control = 0;
    for (let seed = 0; seed < 8; seed++) {
      const r = await c.chat.completions.create({ max_tokens: 100, temperature: 1, seed, logprobs: true,
        messages: [{ role: 'user', content: '日本語 🚀 émigré' }] });
      const ch = r.choices[0];
      const joined = Buffer.concat(ch.logprobs.content.map((e) => Buffer.from(e.bytes))).toString('utf8');
      assert.equal(joined, ch.message.content, `seed ${seed}`);
      control += ch.logprobs.content.filter((e) => e.token === '').length;
    }
    assert.ok(control > 0, 'some seed sampled a control token (else this test tests nothing)');
  } finally {
    await t.stop();
  }
});

// The engine computes from its own memory: a model file overwritten in place
// while sluice serves ("cp new.gguf model.gguf", which truncates first) neither
// changes its answers nor brings the gateway down (the file was mapped, and a
// truncated mapping is a SIGBUS).
test('a model file overwritten in place while serving: the same answers, sluice keeps serving', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-model-swap-'));
  const path = join(dir, 'model.gguf');
  copyFileSync(MODEL, path);
  chmodSync(path, 0o644); // (the shared copy may be read-only)
  const g = await startSluice({
    backends: [{ name: 'local', kind: 'local', model: path, threads: 1 }],
    rules: [{ name: 'default', route: ['local'] }],
  });
  try {
    const sdk = new OpenAI({ baseURL: `${g.base}/v1`, apiKey: 'x', maxRetries: 0 });
    const ask = async () => (await sdk.chat.completions.create({ model: 'auto', temperature: 0, max_tokens: 24,
      messages: [{ role: 'user', content: 'Once upon a time' }] })).choices[0].message.content;
    const before = await ask();
    truncateSync(path, 1000); // what cp does first
    assert.equal(await ask(), before);
    copyFileSync(`${SHARED}/models/tiny-qwen2.gguf`, path);
    assert.equal(await ask(), before);
  } finally {
    const r = await g.stop();
    assert.equal(r.code, 0, g.stderr().slice(-2000));
    rmSync(dir, { recursive: true, force: true });
  }
});
