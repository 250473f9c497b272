// The gateway core end to end: the official `openai` SDK against sluice in front
// of mock OpenAI-compatible upstreams on loopback.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { startMock, startSluice, apiBackend, completion, replyJson, replyStream, raw, sleep } from './lib.mjs';

let primary, secondary, sluice, client;
const modes = { primary: 'ok', secondary: 'ok' };

function behave(which) {
  return (req, body, res) => {
    const b = JSON.parse(body);
    const mode = modes[which];
    if (mode === '500') return replyJson(res, 500, { error: { message: 'boom', type: 'server_error' } });
    if (mode === '429') return replyJson(res, 429, { error: { message: 'slow down', type: 'rate_limit_error' } });
    if (mode === '400') return replyJson(res, 400, { error: { message: 'bad thing', type: 'invalid_request_error' } });
    if (mode === 'think' || mode === 'think_fail') { // a reasoning model: the head at once, tokens (or an error) much later
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.flushHeaders();
      const c = (o) => `data: ${JSON.stringify(o)}\n\n`;
      const ch = (delta, finish = null) => c({ id: 'x', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta, finish_reason: finish }] });
      setTimeout(() => {
        if (res.destroyed) return;
        if (mode === 'think_fail') return res.end(c({ error: { message: 'overloaded, try later', type: 'server_error', code: 'overloaded' } }));
        res.end(ch({ role: 'assistant', content: 'after ' }) + ch({ content: 'thinking' }) + ch({}, 'stop') + 'data: [DONE]\n\n');
      }, 4500);
      return;
    }
    if (b.stream) {
      const n = b.messages[0].content.includes('long') ? 40 : 5;
      const pieces = Array.from({ length: n }, (_, i) => `w${i} `);
      return replyStream(res, pieces, 150, mode === 'break' ? { failAfter: 2 } : {});
    }
    replyJson(res, 200, completion(`${which} says hi`));
  };
}

before(async () => {
  primary = await startMock(behave('primary'));
  secondary = await startMock(behave('secondary'));
  sluice = await startSluice({
    backends: [apiBackend('primary', primary.url), apiBackend('secondary', secondary.url)],
    rules: [{ name: 'entrée 50%', when: { header: { 'x-route': 'fr' } }, route: ['primary'] },
            { name: 'default', route: ['primary', 'secondary'] }],
    limits: { max_header_bytes: 8192, max_body_bytes: 65536, header_timeout_ms: 1000, body_timeout_ms: 1000, idle_timeout_ms: 5000 },
    access_log: true,
  }, { MOCK_KEY: 'sk-mock-secret-123' });
  client = new OpenAI({ baseURL: `${sluice.base}/v1`, apiKey: 'unused', maxRetries: 0 });
});

after(async () => {
  const r = await sluice.stop();
  assert.equal(r.code, 0, 'sluice exits 0 on SIGTERM: ' + sluice.stderr().slice(-3000));
  assert.ok(!sluice.stderr().includes('sk-mock-secret-123'), 'the API key never appears in logs');
  await primary.stop();
  await secondary.stop();
});

test('a rule name past ASCII reaches the client percent-encoded in x-sluice-rule', async () => {
  modes.primary = 'ok';
  const r = await fetch(`${sluice.base}/v1/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json', 'x-route': 'fr' },
    body: JSON.stringify({ model: 'auto', messages: [{ role: 'user', content: 'bonjour' }] }),
  });
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('x-sluice-rule'), 'entr%C3%A9e 50%25');
  assert.equal(decodeURIComponent(r.headers.get('x-sluice-rule')), 'entrée 50%');
  await r.text();
});

test("a web page's POST (an Origin header, as a browser sends it) is refused with a 403; nothing goes upstream", async () => {
  const before = primary.received.length + secondary.received.length;
  const body = JSON.stringify({ model: 'auto', messages: [{ role: 'user', content: 'from a page' }] });
  for (const ctype of ['text/plain;charset=UTF-8', 'application/x-www-form-urlencoded']) {
    const r = await fetch(`${sluice.base}/v1/chat/completions`, { method: 'POST', body,
      headers: { 'content-type': ctype, origin: 'https://evil.example' } });
    assert.equal(r.status, 403);
    const j = await r.json();
    assert.equal(j.error.code, 'cross_origin_refused');
    assert.ok(r.headers.get('x-sluice-request-id'));
  }
  assert.equal(primary.received.length + secondary.received.length, before);
  // without Origin (servers, SDKs, curl), the same body is served
  const ok = await fetch(`${sluice.base}/v1/chat/completions`, { method: 'POST', body });
  assert.equal(ok.status, 200);
  assert.equal((await fetch(`${sluice.base}/healthz`, { headers: { origin: 'https://x.example' } })).status, 200);
});

test('non-streaming completion through the SDK, with sluice headers and usage', async () => {
  modes.primary = 'ok';
  const { data, response } = await client.chat.completions
    .create({ model: 'auto', messages: [{ role: 'user', content: 'hello there' }] })
    .withResponse();
  assert.equal(data.choices[0].message.content, 'primary says hi');
  assert.equal(data.choices[0].finish_reason, 'stop');
  assert.equal(data.usage.prompt_tokens, 11);
  assert.equal(data.usage.completion_tokens, 7);
  assert.match(response.headers.get('x-sluice-request-id'), /^req_/);
  assert.equal(response.headers.get('x-sluice-backend'), 'primary');
  assert.equal(response.headers.get('x-sluice-rule'), 'default');
  const sent = JSON.parse(primary.received.at(-1).body);
  assert.equal(sent.messages[0].content, 'hello there');
  assert.equal(primary.received.at(-1).headers.authorization, 'Bearer sk-mock-secret-123');
});

test('access_log: one info line per answered request, with its id, status, backend and rule; never its text', async () => {
  modes.primary = 'ok';
  const { response } = await client.chat.completions
    .create({ model: 'auto', messages: [{ role: 'user', content: 'access log secret words' }] })
    .withResponse();
  const id = response.headers.get('x-sluice-request-id');
  const nf = await fetch(`${sluice.base}/v1/nowhere`);
  const nfId = nf.headers.get('x-sluice-request-id');
  await fetch(`${sluice.base}/healthz`);
  let log = '';
  for (let i = 0; i < 50 && !log.includes(nfId); i++, await sleep(20)) log = sluice.stderr();
  const line = log.split('\n').find((l) => l.includes(`access ${id} `));
  assert.ok(line, 'an access line for ' + id + ' in ' + log.slice(-2000));
  assert.match(line, / info +access req_\w+ POST \/v1\/chat\/completions 200 [\d.]+ ms backend=primary rule=default tenant=- bytes_in=\d+$/);
  assert.match(log, new RegExp(`access ${nfId} GET /v1/nowhere 404 `));
  // a name with a space is one quoted field: the line still splits into key=value pairs
  const fr = await fetch(`${sluice.base}/v1/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json', 'x-route': 'fr' },
    body: JSON.stringify({ messages: [{ role: 'user', content: 'bonjour' }] }),
  });
  const frId = fr.headers.get('x-sluice-request-id');
  await fr.text();
  for (let i = 0; i < 50 && !log.includes(`access ${frId} `); i++, await sleep(20)) log = sluice.stderr();
  assert.match(log.split('\n').find((l) => l.includes(`access ${frId} `)), / backend=primary rule="entrée 50%" tenant=- bytes_in=\d+$/);
  assert.ok(!log.includes('access log secret words'), 'no request text in the log');
  assert.ok(!/access \S+ GET \/healthz/.test(log), 'probes are not logged');
});

test('an upstream that thinks before its first token: the head and a keep-alive comment go out within seconds (the SDK timeout, which runs until the head, does not fire); the route can still move on until the first event', async () => {
  modes.primary = 'think';
  const patient = new OpenAI({ baseURL: `${sluice.base}/v1`, apiKey: 'unused', maxRetries: 0, timeout: 3500 });
  const ask = async () => {
    let text = '';
    for await (const c of await patient.chat.completions.create({ model: 'auto', stream: true, messages: [{ role: 'user', content: 'think first' }] }))
      text += c.choices[0]?.delta?.content ?? '';
    return text;
  };
  assert.equal(await ask(), 'after thinking');
  // on the wire: the head long before the first event, and the comment first
  const t0 = Date.now();
  const r = await fetch(`${sluice.base}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'auto', stream: true, messages: [{ role: 'user', content: 'think first' }] }) });
  assert.ok(Date.now() - t0 < 3500, `the head after ${Date.now() - t0} ms`);
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('x-sluice-backend'), 'primary');
  assert.match(await r.text(), /^: keep-alive\n\n(: keep-alive\n\n)*data: /);
  // an Anthropic client reads the comment as the SSE it is
  const anth = new Anthropic({ baseURL: sluice.base, apiKey: 'unused', maxRetries: 0, timeout: 3500 });
  const m = await anth.messages.stream({ model: 'auto', max_tokens: 20, messages: [{ role: 'user', content: 'think first' }] }).finalMessage();
  assert.equal(m.content[0].text, 'after thinking');
  // an upstream that fails after thinking, nothing relayed yet: the next backend answers, in the same stream
  modes.primary = 'think_fail';
  assert.equal(await ask(), 'w0 w1 w2 w3 w4 ');
  modes.primary = 'ok';
});

test('streaming arrives incrementally, with include_usage', async () => {
  modes.primary = 'ok';
  const t0 = Date.now();
  const stream = await client.chat.completions.create({
    model: 'auto', stream: true, stream_options: { include_usage: true },
    messages: [{ role: 'user', content: 'stream please' }],
  });
  const times = [];
  let text = '';
  let usage = null;
  let finish = null;
  for await (const chunk of stream) {
    if (chunk.choices[0]?.delta?.content) { text += chunk.choices[0].delta.content; times.push(Date.now() - t0); }
    if (chunk.choices[0]?.finish_reason) finish = chunk.choices[0].finish_reason;
    if (chunk.usage) usage = chunk.usage;
  }
  assert.equal(text, 'w0 w1 w2 w3 w4 ');
  assert.equal(finish, 'stop');
  assert.deepEqual(usage, { prompt_tokens: 5, completion_tokens: 5, total_tokens: 10 });
  // The mock spaces pieces 150 ms apart: relayed chunk by chunk, the first one
  // arrives long before the last.
  assert.ok(times.at(-1) - times[0] >= 450, `chunks spread out: ${times}`);
  const sent = JSON.parse(primary.received.at(-1).body);
  assert.equal(sent.stream, true);
  assert.equal(sent.stream_options.include_usage, true);
});

test('the upstream\'s system_fingerprint and service_tier reach the client, whole and streamed', async () => {
  const up = await startMock((req, body, res) => {
    const b = JSON.parse(body);
    const meta = { system_fingerprint: 'fp_mock123', service_tier: 'flex' };
    if (!b.stream) return replyJson(res, 200, { ...completion('hi'), ...meta });
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const chunk = (delta, finish = null) => `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', ...meta, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
    res.write(chunk({ role: 'assistant', content: 'hi' }));
    res.write(chunk({}, 'stop'));
    res.end('data: [DONE]\n\n');
  });
  const s = await startSluice({ backends: [apiBackend('up', up.url)], rules: [{ name: 'default', route: ['up'] }] }, { MOCK_KEY: 'k' });
  try {
    const client = new OpenAI({ baseURL: `${s.base}/v1`, apiKey: 'x', maxRetries: 0 });
    const req = { messages: [{ role: 'user', content: 'hi' }] };
    const whole = await client.chat.completions.create(req);
    assert.equal(whole.system_fingerprint, 'fp_mock123');
    assert.equal(whole.service_tier, 'flex');
    const final = await client.chat.completions.stream(req).finalChatCompletion();
    assert.equal(final.system_fingerprint, 'fp_mock123');
    const chunks = [];
    for await (const c of await client.chat.completions.create({ ...req, stream: true })) chunks.push(c);
    assert.ok(chunks.every((c) => c.system_fingerprint === 'fp_mock123' && c.service_tier === 'flex'),
      JSON.stringify(chunks.map((c) => [c.system_fingerprint, c.service_tier])));
  } finally {
    await s.stop();
    await up.stop();
  }
});

test('logprobs from an OpenAI-compatible upstream are relayed, whole and streamed', async () => {
  const entry = (token, logprob) => ({ token, logprob, bytes: [...Buffer.from(token)],
    top_logprobs: [{ token, logprob, bytes: [...Buffer.from(token)] }, { token: ' x', logprob: -3.5, bytes: [32, 120] }] });
  // (doubles with every digit they have: relayed as they came, not cut to a float's 9)
  const lp = [entry('Hel', -0.30000000000000004), entry('lo é', -1.2345678901234567)];
  const asked = [];
  const up = await startMock((req, body, res) => {
    const b = JSON.parse(body);
    asked.push([b.logprobs, b.top_logprobs]);
    if (!b.stream) {
      const c = completion('Hello é');
      if (b.logprobs) c.choices[0].logprobs = { content: lp, refusal: null };
      return replyJson(res, 200, c);
    }
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const chunk = (delta, logprobs, finish = null) => `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta, logprobs, finish_reason: finish }] })}\n\n`;
    res.write(chunk({ role: 'assistant', content: '' }, null));
    res.write(chunk({ content: 'Hel' }, { content: [lp[0]] }));
    res.write(chunk({ content: 'lo é' }, { content: [lp[1]] }));
    res.write(chunk({}, null, 'stop'));
    res.end('data: [DONE]\n\n');
  });
  const s = await startSluice({ backends: [apiBackend('up', up.url)], rules: [{ name: 'default', route: ['up'] }] }, { MOCK_KEY: 'k' });
  try {
    const client = new OpenAI({ baseURL: `${s.base}/v1`, apiKey: 'x', maxRetries: 0 });
    const req = { logprobs: true, top_logprobs: 2, messages: [{ role: 'user', content: 'hi' }] };
    const whole = await client.chat.completions.create(req);
    assert.deepEqual(whole.choices[0].logprobs.content, lp);
    const stream = await client.chat.completions.create({ ...req, stream: true });
    const got = [];
    for await (const c of stream) if (c.choices[0]?.delta?.content) got.push(...c.choices[0].logprobs.content);
    assert.deepEqual(got, lp);
    const plain = await client.chat.completions.create({ messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(plain.choices[0].logprobs, null);
    assert.deepEqual(asked, [[true, 2], [true, 2], [undefined, undefined]], 'passed upstream as asked');
  } finally {
    await s.stop();
    await up.stop();
  }
});

test('upstream 500 fails over to the next backend of the chain', async () => {
  modes.primary = '500';
  modes.secondary = 'ok';
  const { data, response } = await client.chat.completions
    .create({ messages: [{ role: 'user', content: 'x' }] }).withResponse();
  assert.equal(data.choices[0].message.content, 'secondary says hi');
  assert.equal(response.headers.get('x-sluice-backend'), 'secondary');
  modes.primary = 'ok';
});

test('upstream 429 everywhere surfaces as an SDK RateLimitError', async () => {
  modes.primary = '429';
  modes.secondary = '429';
  await assert.rejects(
    client.chat.completions.create({ messages: [{ role: 'user', content: 'x' }] }),
    (e) => e instanceof OpenAI.RateLimitError && e.status === 429);
  modes.primary = modes.secondary = 'ok';
});

test('upstream 400 is not retried and reaches the client as a 400', async () => {
  modes.primary = '400';
  const before = secondary.received.length;
  await assert.rejects(
    client.chat.completions.create({ messages: [{ role: 'user', content: 'x' }] }),
    (e) => e instanceof OpenAI.BadRequestError && /bad thing/.test(e.message));
  assert.equal(secondary.received.length, before, 'no failover on a client error');
  modes.primary = 'ok';
});

test('an upstream failure mid-stream ends the stream with an error event', async () => {
  modes.primary = 'break';
  const stream = await client.chat.completions.create({ stream: true, messages: [{ role: 'user', content: 'x' }] });
  let text = '';
  await assert.rejects(async () => {
    for await (const c of stream) text += c.choices[0]?.delta?.content ?? '';
  });
  assert.ok(text.startsWith('w0'), 'the part before the failure arrived');
  modes.primary = 'ok';
});

test('a client abort mid-stream closes the upstream transfer', async () => {
  modes.primary = 'ok';
  const before = primary.closed;
  const ac = new AbortController();
  const stream = await client.chat.completions.create(
    { stream: true, messages: [{ role: 'user', content: 'long stream' }] }, { signal: ac.signal });
  let n = 0;
  try {
    for await (const c of stream) { if (c.choices[0]?.delta?.content && ++n === 2) ac.abort(); }
  } catch { /* aborted */ }
  for (let i = 0; i < 40 && primary.closed === before; i++) await sleep(50);
  assert.equal(primary.closed, before + 1, 'the mock saw its connection closed early');
});

test('malformed JSON and bad fields are OpenAI-shaped 400s', async () => {
  let r = await fetch(`${sluice.base}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"messages": [' });
  assert.equal(r.status, 400);
  let j = await r.json();
  assert.equal(j.error.type, 'invalid_request_error');
  r = await fetch(`${sluice.base}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"messages": [{"role": "user", "content": 5}]}' });
  assert.equal(r.status, 400);
  j = await r.json();
  assert.match(j.error.message, /messages\[0\]\.content/);
  assert.ok(r.headers.get('x-sluice-request-id'));
});

test('models, health, readiness and metrics', async () => {
  const models = await client.models.list();
  const ids = models.data.map((m) => m.id);
  assert.ok(ids.includes('auto') && ids.includes('primary/mock-model') && ids.includes('secondary/mock-model'));
  const none200 = (text) => Number(text.match(/^sluice_requests_total\{status="200",backend="none"\} (\d+)/m)?.[1] ?? 0);
  const before = none200(await (await fetch(`${sluice.base}/metrics`)).text());
  assert.equal((await fetch(`${sluice.base}/healthz`)).status, 200);
  assert.equal((await fetch(`${sluice.base}/readyz`)).status, 200);
  assert.equal((await fetch(`${sluice.base}/healthz`, { method: 'HEAD' })).status, 200);
  const m = await (await fetch(`${sluice.base}/metrics`)).text();
  // probes and scrapes are monitoring, not traffic: not counted; /v1/models is
  assert.equal(none200(m), before);
  await client.models.list();
  assert.equal(none200(await (await fetch(`${sluice.base}/metrics`)).text()), before + 1);
  assert.match(m, /# TYPE sluice_requests_total counter/);
  assert.match(m, /sluice_requests_total\{status="200",backend="primary"\} \d+/);
  assert.match(m, /sluice_request_duration_seconds_bucket\{backend="primary",le="\+Inf"\} \d+/);
  assert.match(m, /sluice_upstream_errors_total\{backend="primary"\} \d+/);
  assert.match(m, /sluice_open_connections \d+/);
  // events that may not have happened yet have a series from the start (0)
  assert.match(m, /sluice_policy_reloads_total\{result="error"\} 0/);
  assert.match(m, /sluice_stream_pauses_total\{backend="secondary"\} \d+/);
  assert.match(m, /sluice_client_bytes_in_total \d+/);
  assert.match(m, /sluice_egress_bytes_total\{backend="primary"\} \d+/);
});

const chatReq = (body) => `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

test('pipelined requests are answered in order on one connection', async () => {
  const body = JSON.stringify({ messages: [{ role: 'user', content: 'p' }] });
  const r = await raw(sluice.port, chatReq(body) + 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n' + chatReq(body), 3000);
  const statuses = [...r.text.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => m[1]);
  assert.deepEqual(statuses, ['200', '200', '200']);
  const bodies = r.text.split('HTTP/1.1 ').slice(1);
  assert.match(bodies[0], /chat\.completion/);
  assert.match(bodies[1], /"status":"ok"/);
  assert.match(bodies[2], /chat\.completion/);
});

test('chunked request bodies are accepted', async () => {
  const body = JSON.stringify({ messages: [{ role: 'user', content: 'chunky' }] });
  const half = Math.floor(body.length / 2);
  const enc = (s) => `${Buffer.byteLength(s).toString(16)}\r\n${s}\r\n`;
  const r = await raw(sluice.port, `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${enc(body.slice(0, half))}${enc(body.slice(half))}0\r\n\r\n`);
  assert.match(r.text, /^HTTP\/1\.1 200/);
  assert.equal(JSON.parse(primary.received.at(-1).body).messages[0].content, 'chunky');
});

test('oversized headers get 431, oversized bodies 413, garbage 400', async () => {
  const count = async (st) => Number((await (await fetch(`${sluice.base}/metrics`)).text())
    .match(new RegExp(`^sluice_requests_total\\{status="${st}",backend="none"\\} (\\d+)`, 'm'))?.[1] ?? 0);
  const before = { 413: await count(413), 431: await count(431) };
  let r = await raw(sluice.port, `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(10000)}\r\n\r\n`);
  assert.match(r.text, /^HTTP\/1\.1 431/);
  r = await raw(sluice.port, `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n`);
  assert.match(r.text, /^HTTP\/1\.1 413/);
  const big = 'x'.repeat(70000);
  r = await raw(sluice.port, `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${big.length.toString(16)}\r\n${big}\r\n0\r\n\r\n`);
  assert.match(r.text, /^HTTP\/1\.1 413/);
  r = await raw(sluice.port, `HELLO WORLD\r\n\r\n`);
  assert.match(r.text, /^HTTP\/1\.1 400/);
  // an HTTP/2 client (prior knowledge) is told what is served, not llhttp's internals
  r = await raw(sluice.port, `PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`);
  assert.match(r.text, /^HTTP\/1\.1 400[^]*HTTP\/2 connection preface: only HTTP\/1\.0 and HTTP\/1\.1 are served/);
  assert.equal((await fetch(`${sluice.base}/healthz`)).status, 200, 'still serving');
  // the HTTP layer's refusals are counted like any answer
  assert.equal(await count(413), before[413] + 2);
  assert.equal(await count(431), before[431] + 1);
});

test('an SDK uploading a body past the limit gets the 413 (not a reset), with the sluice headers', async () => {
  // sluice answers before the upload ends and reads the rest: closing at once
  // would reset the connection under the client, which SDKs report as a
  // connection error (and retry)
  const big = 'word '.repeat(600_000);
  const c = new OpenAI({ baseURL: `${sluice.base}/v1`, apiKey: 'x', maxRetries: 0 });
  await assert.rejects(c.chat.completions.create({ messages: [{ role: 'user', content: big }] }), (e) => {
    assert.equal(e.status, 413, String(e));
    assert.match(e.headers.get('x-sluice-request-id'), /^req_/);
    return true;
  });
  const r = await fetch(`${sluice.base}/v1/messages`, { method: 'POST', body: big });
  assert.equal(r.status, 413);
  assert.equal((await r.json()).type, 'error', 'the Anthropic shape on /v1/messages');
});

test('a slowloris client gets 408 and the connection is closed', async () => {
  const t0 = Date.now();
  const parts = [[0, 'GET /healthz HTTP/1.1\r\n']];
  for (let i = 0; i < 10; i++) parts.push([300, `X-Slow-${i}: y\r\n`]);
  const r = await raw(sluice.port, parts, 5000);
  assert.match(r.text, /^HTTP\/1\.1 408/);
  assert.ok(Date.now() - t0 < 3000, 'closed at the header timeout, not after the client finished');
  assert.equal((await fetch(`${sluice.base}/healthz`)).status, 200, 'still serving');
});

test('unknown paths are OpenAI-shaped 404s that say what is served', async () => {
  const r = await fetch(`${sluice.base}/v1/nope`);
  assert.equal(r.status, 404);
  // (one trailing slash is the same path)
  assert.equal((await fetch(`${sluice.base}/v1/models/`)).status, 200);
  const e = (await r.json()).error;
  assert.equal(e.code, 'not_found');
  assert.match(e.message, /POST \/v1\/chat\/completions/);
  assert.match(e.message, /POST \/v1\/responses/);
  // stored responses are not kept: retrieving one is a 404 that says so
  await assert.rejects(client.responses.retrieve('resp_123'), (err) => {
    assert.equal(err.status, 404);
    assert.match(err.message, /stores no responses/);
    return true;
  });
});

test('models.retrieve: a listed model by id (slash and all), an unknown one is a NotFoundError', async () => {
  const m = await client.models.retrieve('primary/mock-model');
  assert.equal(m.id, 'primary/mock-model');
  assert.equal(m.owned_by, 'primary');
  assert.equal((await client.models.retrieve('auto')).id, 'auto');
  // percent-encoded, as SDKs that encode path parameters send it
  const enc = await (await fetch(`${sluice.base}/v1/models/primary%2Fmock-model`)).json();
  assert.equal(enc.id, 'primary/mock-model');
  await assert.rejects(client.models.retrieve('no-such-model'), (e) => {
    assert.ok(e instanceof OpenAI.NotFoundError, String(e));
    assert.equal(e.code, 'model_not_found');
    return true;
  });
});

test('Expect: 100-continue gets its interim 100 before the body is sent; other expectations 417', async () => {
  const body = JSON.stringify({ messages: [{ role: 'user', content: 'expecting' }] });
  const head = `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n`;
  // the headers alone: the 100 comes without waiting for the body
  let r = await raw(sluice.port, head, 400);
  assert.equal(r.text, 'HTTP/1.1 100 Continue\r\n\r\n');
  // then the body, sent only later: the final answer follows the 100
  r = await raw(sluice.port, [[0, head], [300, body]], 3000);
  assert.match(r.text, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 OK\r\n/);
  assert.match(r.text, /chat\.completion/);
  assert.equal(JSON.parse(primary.received.at(-1).body).messages[0].content, 'expecting');
  // a body that is too large is refused at once, with no 100
  const big = `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 999999\r\nExpect: 100-continue\r\n\r\n`;
  r = await raw(sluice.port, big, 1000);
  assert.match(r.text, /^HTTP\/1\.1 413 /);
  r = await raw(sluice.port, `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: teapot\r\n\r\n{}`, 1000);
  assert.match(r.text, /^HTTP\/1\.1 417 Expectation Failed\r\n/);
  assert.equal(await (await fetch(`${sluice.base}/healthz`)).status, 200);
});

test('HEAD gets the GET headers and no body; a wrong method is a 405 with Allow', async () => {
  const r = await raw(sluice.port, 'HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', 2000);
  const parts = r.text.split('HTTP/1.1 ').slice(1);
  assert.equal(parts.length, 2, r.text);
  assert.match(parts[0], /^200 OK\r\n/);
  assert.match(parts[0], /Content-Length: 15\r\n/);
  assert.ok(parts[0].endsWith('\r\n\r\n'), 'no body after the HEAD answer: ' + JSON.stringify(parts[0]));
  assert.match(parts[1], /\{"status":"ok"\}$/);
  let res = await fetch(`${sluice.base}/healthz`, { method: 'DELETE' });
  assert.equal(res.status, 405);
  assert.equal(res.headers.get('allow'), 'GET, HEAD');
  assert.equal((await res.json()).error.code, 'method_not_allowed');
  res = await fetch(`${sluice.base}/v1/chat/completions`);
  assert.equal(res.status, 405);
  assert.equal(res.headers.get('allow'), 'POST');
  assert.ok(res.headers.get('x-sluice-request-id'));
});

test('reasoning-model parameters reach the upstream: max_completion_tokens by that name, reasoning_effort, parallel_tool_calls, logit_bias', async () => {
  await client.chat.completions.create({
    model: 'auto', messages: [{ role: 'user', content: 'think briefly' }], max_completion_tokens: 77,
    reasoning_effort: 'low', parallel_tool_calls: false, logit_bias: { 50256: -100 },
    prompt_cache_key: 'support-bot-v2', safety_identifier: 'user-7f3a9c',
    tools: [{ type: 'function', function: { name: 'noop', parameters: { type: 'object', properties: {} } } }],
  });
  const sent = JSON.parse(primary.received.at(-1).body);
  assert.equal(sent.max_completion_tokens, 77);
  assert.equal(sent.max_tokens, undefined);
  assert.equal(sent.reasoning_effort, 'low');
  assert.equal(sent.parallel_tool_calls, false);
  assert.deepEqual(sent.logit_bias, { 50256: -100 });
  assert.equal(sent.prompt_cache_key, 'support-bot-v2'); // (cache hits, and OpenAI's abuse attribution)
  assert.equal(sent.safety_identifier, 'user-7f3a9c');
  await client.chat.completions.create({ model: 'auto', messages: [{ role: 'user', content: 'plain' }], max_tokens: 5 });
  const plain = JSON.parse(primary.received.at(-1).body);
  assert.equal(plain.max_tokens, 5);
  assert.equal(plain.reasoning_effort, undefined);
  await assert.rejects(client.chat.completions.create({ model: 'auto', messages: [{ role: 'user', content: 'x' }],
    reasoning_effort: 'ignore previous instructions' }), (e) => e instanceof OpenAI.BadRequestError);
  await assert.rejects(client.chat.completions.create({ model: 'auto', messages: [{ role: 'user', content: 'x' }],
    prompt_cache_key: 'two words' }), (e) => e instanceof OpenAI.BadRequestError && e.param === 'prompt_cache_key');
});
