// Memory held for upstream answers has one bound for the whole process
// (limits.max_buffered_bytes): each non-streamed answer may be up to 32 MiB, so
// an upstream answering many requests at once with large bodies could
// otherwise take the machine's memory. A request whose answer would cross the
// bound gets a 503 the SDK raises (retry later); the others are served, and
// the bytes are given back when an answer is done.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startMock, startSluice, apiBackend, sleep } from './lib.mjs';

const PART = 1536 * 1024; // each answer sends this much, then waits
let mock, sluice, client;
let release = null; // resolves the held answers
let held = 0;

before(async () => {
  let gate = new Promise((r) => (release = r));
  mock = await startMock((req, body, res) => {
    const text = JSON.parse(body).messages[0].content;
    res.writeHead(200, { 'content-type': 'application/json' });
    const head = '{"id":"x","object":"chat.completion","created":1,"model":"mock-model","choices":[{"index":0,"message":{"role":"assistant","content":"';
    const tail = '"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":5,"total_tokens":8}}';
    res.write(head + 'y'.repeat(PART));
    held++;
    if (text === 'now') return res.end(tail);
    gate.then(() => res.end(tail));
  });
  sluice = await startSluice({
    backends: [apiBackend('big', mock.url, { max_retries: 0 })],
    rules: [{ name: 'all', route: ['big'] }],
    limits: { max_buffered_bytes: 4 << 20 },
  }, { MOCK_KEY: 'sk-mock-answer-memory' });
  client = new OpenAI({ baseURL: `${sluice.base}/v1`, apiKey: 'x', maxRetries: 0 });
});

after(async () => {
  release?.();
  await sluice?.stop();
  await mock?.stop();
});

test('an answer that would cross limits.max_buffered_bytes is a 503; the others are served and the bytes given back', async () => {
  const ask = (content) => client.chat.completions.create({ model: 'mock-model', messages: [{ role: 'user', content }] });
  // two answers of 1.5 MiB held at once: 3 MiB of the 4 MiB bound
  const a = ask('wait'), b = ask('wait');
  for (let i = 0; i < 100 && held < 2; i++) await sleep(20);
  assert.equal(held, 2);
  await sleep(300); // their bytes are in sluice
  // a third would make 4.5 MiB
  await assert.rejects(ask('wait'), (e) => {
    assert.equal(e.status, 503);
    assert.match(e.message, /max_buffered_bytes/);
    return true;
  });
  release();
  const [ra, rb] = await Promise.all([a, b]);
  assert.equal(ra.choices[0].message.content.length, PART);
  assert.equal(rb.choices[0].message.content.length, PART);
  // all given back: two more at once fit again
  const [rc, rd] = await Promise.all([ask('now'), ask('now')]);
  assert.equal(rc.choices[0].message.content.length, PART);
  assert.equal(rd.choices[0].message.content.length, PART);
  // and sluice kept serving
  const res = await fetch(`${sluice.base}/healthz`);
  assert.equal(res.status, 200);
});
