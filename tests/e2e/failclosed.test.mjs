// Fail closed, proven end to end: a request the policy keeps inside never reaches
// the external mock, whatever the in-network backend does (absent, down, failing,
// overloaded, slow), and the client gets a clear error. Non-sensitive requests in the
// same set-ups do reach the external mock, so these tests can fail. Every assertion
// about leaks searches everything the external mock received.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { startMock, startSluice, apiBackend, sleep, completion, replyJson } from './lib.mjs';
import { anthMessage, replyAnthStream, anthBackend } from './anth_mock.mjs';
import { SENSITIVE, ALL_VALUES, chat, userMsg, assertNeverSaw, echoHandler, parseSSE,
         LOCAL_MODEL, BIG_MODEL } from './fc_common.mjs';

const ENV = { MOCK_KEY: 'sk-mock-fc-1', MOCK_ANTH_KEY: 'sk-ant-mock-fc-1', SLUICE_MODEL: '' };
const PUBLIC = 'Write one sentence about a friendly cat';

async function stopAll(s, ...mocks) {
  if (s) {
    const r = await s.stop();
    assert.equal(r.code, 0, 'sluice exits 0: ' + s.stderr().slice(-3000));
  }
  for (const m of mocks) if (m) await m.stop();
}

// ---------------------------------------------------------------------------
describe('local backend absent: its model file is missing', () => {
  test('sluice refuses to start (nothing is served, nothing leaves)', async () => {
    const ext = await startMock(echoHandler());
    try {
      await assert.rejects(
        startSluice({
          backends: [{ name: 'local', kind: 'local', model: '/nonexistent/fc-missing-model.gguf' },
                     apiBackend('ext', ext.url)],
          rules: [{ name: 'keep-sensitive-inside', when: { sensitivity_at_least: 'confidential' },
                    route: ['local'], on_unavailable: 'reject' },
                  { name: 'default', route: ['local', 'ext'] }],
        }, ENV),
        (e) => /exited 1/.test(e.message) && /fc-missing-model\.gguf/.test(e.message));
      assert.equal(ext.received.length, 0);
    } finally { await ext.stop(); }
  });
});

// ---------------------------------------------------------------------------
describe('no local backend; the keep-inside route is an internal server that is down', () => {
  let ext, s, downPort, oai, anth, failing, hanging;
  const publicSent = [];
  before(async () => {
    const tmp = await startMock(() => {});
    downPort = tmp.port;
    await tmp.stop(); // a closed port on loopback: connection refused
    ext = await startMock(echoHandler());
    // in-network servers that fail (HTTP 500) or hang (no answer within the timeout)
    failing = await startMock((req, body, res) => res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":{"message":"engine crashed","type":"server_error"}}'));
    hanging = await startMock((req, body, res) => setTimeout(() => res.destroyed || res.writeHead(200).end('{}'), 3000));
    s = await startSluice({
      backends: [
        apiBackend('inside', `http://127.0.0.1:${downPort}/v1`, { location: 'internal', connect_timeout_ms: 500, max_retries: 0 }),
        apiBackend('ext', ext.url, { max_retries: 0 }),
        apiBackend('inside-500', failing.url, { location: 'internal', max_retries: 1 }),
        apiBackend('inside-slow', hanging.url, { location: 'internal', first_byte_timeout_ms: 300, max_retries: 0 }),
      ],
      rules: [
        { name: 'pin-ext', when: { model: 'ext/mock-model' }, route: ['ext'] },
        { name: 'fallback', when: { header: { 'x-route': 'fallback' } }, route: ['inside', 'ext'] },
        { name: 'fallback-500', when: { header: { 'x-route': 'f500' } }, route: ['inside-500', 'ext'] },
        { name: 'fallback-slow', when: { header: { 'x-route': 'fslow' } }, route: ['inside-slow', 'ext'] },
        { name: 'keep-sensitive-inside', when: { sensitivity_at_least: 'confidential' }, route: ['inside'], on_unavailable: 'reject' },
        { name: 'default', route: ['ext'] },
      ],
    }, ENV);
    oai = new OpenAI({ baseURL: `${s.base}/v1`, apiKey: 'unused', maxRetries: 0 });
    anth = new Anthropic({ baseURL: s.base, apiKey: 'unused', maxRetries: 0 });
  });
  after(() => stopAll(s, ext, failing, hanging));

  test('internal server failing (500) or hanging (timeout): keep-inside requests get a clear error, public ones fall back', async () => {
    for (const smp of SENSITIVE) {
      let r = await chat(s.base, userMsg(smp.content), { ...smp.headers, 'x-route': 'f500' });
      assert.equal(r.status, 503, r.text);
      assert.equal(r.json.error.code, 'kept_inside_unavailable');
      assert.match(r.json.error.message, /"inside-500" is unavailable/);
      r = await chat(s.base, userMsg(smp.content), { ...smp.headers, 'x-route': 'fslow' });
      assert.equal(r.status, 504, r.text);
      assert.ok(r.json.error.message.length > 5, r.text);
      assert.notEqual(r.backend, 'ext');
    }
    assert.ok(failing.received.length >= SENSITIVE.length, 'the internal server was tried');
    assertNeverSaw(ext, ALL_VALUES);
    assert.equal(ext.received.length, publicSent.length);
    for (const h of ['f500', 'fslow']) {
      const content = `${PUBLIC} (${h})`;
      const r = await chat(s.base, userMsg(content), { 'x-route': h });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.backend, 'ext');
      publicSent.push(content);
    }
    assert.equal(ext.received.length, publicSent.length);
  });

  for (const smp of SENSITIVE) {
    test(`${smp.name}: refused with a clear error by rule, fallback and pinned model`, async () => {
      // matched by the keep-inside rule: the internal server is down
      const clear = (r, rule) => {
        assert.equal(r.status, 503, r.text);
        assert.equal(r.rule, rule);
        assert.notEqual(r.backend, 'ext');
        assert.equal(r.json.error.code, 'kept_inside_unavailable', r.text);
        assert.match(r.json.error.message, /"inside" is unavailable.*keeps it inside the network/, r.text);
        assert.equal(r.headers.get('retry-after'), '1');
      };
      let r = await chat(s.base, userMsg(smp.content), smp.headers);
      clear(r, 'keep-sensitive-inside');
      // a rule whose chain is [internal, external]: the external step is removed
      r = await chat(s.base, userMsg(smp.content), { ...smp.headers, 'x-route': 'fallback' });
      clear(r, 'fallback');
      // streamed, same (nothing was sent yet, so a plain error)
      r = await chat(s.base, userMsg(smp.content, { stream: true }), { ...smp.headers, 'x-route': 'fallback' });
      clear(r, 'fallback');
      // the official SDKs see a clear error too (OpenAI and Anthropic dialects)
      await assert.rejects(oai.chat.completions.create(userMsg(smp.content), { headers: { ...smp.headers, 'x-route': 'fallback' } }),
        (e) => e instanceof OpenAI.APIError && e.status === 503 && /keeps it inside the network/.test(e.message));
      await assert.rejects(anth.messages.create({ model: 'auto', max_tokens: 8, messages: [{ role: 'user', content: smp.content }] },
        { headers: { ...smp.headers, 'x-route': 'fallback' } }),
        (e) => e instanceof Anthropic.APIError && e.status === 503 && /keeps it inside the network/.test(e.message));
      // the client pins the external model: refused by policy
      r = await chat(s.base, userMsg(smp.content, { model: 'ext/mock-model' }), smp.headers);
      assert.equal(r.status, 451, r.text);
      assert.match(r.json.error.message, /inside|restricted|confidential/i);
      assertNeverSaw(ext, smp.values);
      assert.equal(ext.received.length, publicSent.length, 'the external mock got only the public requests');
    });
  }

  test('non-sensitive requests do reach the external mock (default, fallback, pinned)', async () => {
    for (const [h, extra, rule] of [[{}, {}, 'default'], [{ 'x-route': 'fallback' }, {}, 'fallback'],
                                     [{}, { model: 'ext/mock-model' }, 'pin-ext']]) {
      const content = `${PUBLIC} (${rule})`;
      const r = await chat(s.base, userMsg(content, extra), h);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.backend, 'ext');
      assert.equal(r.rule, rule);
      assert.equal(r.json.choices[0].message.content, 'echo: ' + content);
      publicSent.push(content);
    }
    assert.equal(ext.received.length, publicSent.length);
    assert.deepEqual(ext.received.map((x) => JSON.parse(x.body).messages[0].content), publicSent);
    assertNeverSaw(ext, ALL_VALUES);
  });
});

// ---------------------------------------------------------------------------
describe('local engine failing, overloaded and slow; classification errors', () => {
  let ext, s;
  let publicCount = 0;
  const LONG = (prefix) => prefix + ' ' + 'the small dog ran to the park and sat down. '.repeat(40);
  before(async () => {
    ext = await startMock(echoHandler());
    s = await startSluice({
      backends: [
        { name: 'local', kind: 'local', model: LOCAL_MODEL(), threads: 1, max_batch: 2 },
        // one engine (same model file) for both: max_batch 1 and queue_max 1 come from the first
        { name: 'local-big', kind: 'local', model: BIG_MODEL(), threads: 1, max_batch: 1, queue_max: 1 },
        { name: 'local-slow', kind: 'local', model: BIG_MODEL(), threads: 1, timeout_ms: 300 },
        apiBackend('ext', ext.url, { max_retries: 0 }),
      ],
      detectors: {
        // catastrophic backtracking on "xxxx…!": PCRE2 gives up at its match limit,
        // which makes the classification fail
        custom: [{ type: 'PATHOLOGICAL', pattern: '^(x+x+)+$', level: 'internal' }],
      },
      rules: [
        { name: 'pin-ext', when: { model: 'ext/mock-model' }, route: ['ext'] },
        { name: 'overload', when: { header: { 'x-route': 'big' } }, route: ['local-big', 'ext'] },
        { name: 'slow', when: { header: { 'x-route': 'slow' } }, route: ['local-slow', 'ext'] },
        { name: 'fallback', when: { header: { 'x-route': 'fallback' } }, route: ['local', 'ext'] },
        { name: 'keep-sensitive-inside', when: { sensitivity_at_least: 'confidential' }, route: ['local'], on_unavailable: 'reject' },
        { name: 'default', route: ['ext'] },
      ],
    }, ENV);
  });
  after(() => stopAll(s, ext));

  test('healthy local engine: sensitive requests are served inside', async () => {
    for (const smp of SENSITIVE) {
      const r = await chat(s.base, userMsg(smp.content), smp.headers);
      assert.equal(r.status, 200, `${smp.name}: ${r.text}`);
      assert.equal(r.backend, 'local');
      assert.equal(r.rule, 'keep-sensitive-inside');
      const f = await chat(s.base, userMsg(smp.content), { ...smp.headers, 'x-route': 'fallback' });
      assert.equal(f.status, 200, `${smp.name} fallback: ${f.text}`);
      assert.equal(f.backend, 'local');
    }
    assert.equal(ext.received.length, publicCount);
  });

  test('a value in the anthropic-beta header is classified with the request', async () => {
    // the header goes out as it came to an anthropic backend: a key in it keeps the request inside
    const r = await chat(s.base, userMsg(PUBLIC), { 'anthropic-beta': 'api-key-a3f9c2e1b7d4f6a8c0e2b4d6f8a0c2e4-2025-01-01' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.backend, 'local');
    assert.equal(r.rule, 'keep-sensitive-inside');
    // a feature's name and date are not a value: a public request still goes out
    const p = await chat(s.base, userMsg(PUBLIC), { 'anthropic-beta': 'output-128k-2025-02-19, claude-code-20250219' });
    assert.equal(p.status, 200, p.text);
    assert.equal(p.backend, 'ext');
    publicCount++;
    assert.equal(ext.received.length, publicCount);
  });

  test('failing: the engine cannot take the request (prompt beyond its context) -> 400, nothing leaves', async () => {
    // (a 400 the client can act on: a retry, as a 503 invites, would fail the same way)
    for (const smp of SENSITIVE) {
      for (const h of [{}, { 'x-route': 'fallback' }]) {
        const r = await chat(s.base, userMsg(LONG(smp.content)), { ...smp.headers, ...h });
        assert.equal(r.status, 400, `${smp.name} ${JSON.stringify(h)}: ${r.text}`);
        assert.equal(r.json.error.code, 'context_length_exceeded');
      }
    }
    assertNeverSaw(ext, ALL_VALUES);
    assert.equal(ext.received.length, publicCount);
    // control: the same failure on a public request falls back to the external mock
    const r = await chat(s.base, userMsg(LONG(PUBLIC)), { 'x-route': 'fallback' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.backend, 'ext');
    publicCount++;
    assert.equal(ext.received.length, publicCount);
  });

  test('overloaded: queue full -> 429 for some keep-inside requests, none sent out', async () => {
    const smp = SENSITIVE[1];
    const burst = await Promise.all(Array.from({ length: 6 }, (_, i) =>
      chat(s.base, userMsg(`${smp.content} (${i})`, { max_tokens: 200 }), { 'x-route': 'big' })));
    const statuses = burst.map((r) => r.status);
    assert.ok(statuses.includes(429), `some were refused: ${statuses}`);
    assert.ok(statuses.includes(200), `some were served: ${statuses}`);
    for (const r of burst) {
      assert.ok([200, 429].includes(r.status), r.text);
      if (r.status === 200) assert.equal(r.backend, 'local-big');
      else {
        assert.equal(r.json.error.code, 'queue_full');
        assert.equal(r.backend, 'local-big', 'the refusal names the backend that was full');
        assert.match(r.json.error.message, /capacity.*inside the network/);
        assert.equal(r.headers.get('retry-after'), '1');
      }
    }
    assertNeverSaw(ext, ALL_VALUES);
    assert.equal(ext.received.length, publicCount);
    // control: the same burst of public requests spills to the external mock
    const pub = await Promise.all(Array.from({ length: 6 }, (_, i) =>
      chat(s.base, userMsg(`${PUBLIC} ${i}`, { max_tokens: 200 }), { 'x-route': 'big' })));
    const backends = pub.map((r) => `${r.status}:${r.backend}`);
    assert.ok(pub.every((r) => r.status === 200), `all public served: ${backends}`);
    const spilled = pub.filter((r) => r.backend === 'ext').length;
    assert.ok(spilled >= 1, `some spilled to ext: ${backends}`);
    publicCount += spilled;
    assert.equal(ext.received.length, publicCount);
  });

  test('slow: the local engine times out (timeout_ms 300) -> 504 / stream error, nothing sent out', async () => {
    for (const smp of [SENSITIVE[0], SENSITIVE[4], SENSITIVE[5]]) {
      const t0 = Date.now();
      const r = await chat(s.base, userMsg(smp.content, { max_tokens: 1500 }), { ...smp.headers, 'x-route': 'slow' });
      assert.equal(r.status, 504, `${smp.name}: ${r.text}`);
      assert.match(r.json.error.message, /did not finish in time/);
      assert.ok(Date.now() - t0 < 5000, 'the timeout fired');
      const st = await chat(s.base, userMsg(smp.content, { max_tokens: 1500, stream: true }), { ...smp.headers, 'x-route': 'slow' });
      if (st.status === 200) {
        const sse = parseSSE(st.text);
        assert.ok(sse.error, `the stream ends with an error event: ${st.text.slice(-400)}`);
        assert.match(sse.error.message, /did not finish in time/);
        assert.ok(!sse.done, 'no [DONE] after a failure');
      } else assert.equal(st.status, 504, st.text);
    }
    assertNeverSaw(ext, ALL_VALUES);
    assert.equal(ext.received.length, publicCount);
    // control: public requests on the default rule do reach the external mock
    const r = await chat(s.base, userMsg(PUBLIC));
    assert.equal(r.status, 200);
    assert.equal(r.backend, 'ext');
    publicCount++;
    assert.equal(ext.received.length, publicCount);
  });

  test('a classification that fails (regex match limit) is treated as restricted', async () => {
    const bad = 'x'.repeat(40) + '!';
    const ex = await chat(s.base, userMsg(bad), {}, '/v1/explain');
    assert.equal(ex.status, 200, ex.text);
    assert.equal(ex.json.sensitivity.level, 'restricted');
    assert.equal(ex.json.sensitivity.error, true);
    let r = await chat(s.base, userMsg(bad));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.rule, 'keep-sensitive-inside');
    assert.equal(r.backend, 'local');
    r = await chat(s.base, userMsg(bad), { 'x-route': 'fallback' });
    assert.equal(r.backend, 'local');
    r = await chat(s.base, userMsg(bad, { model: 'ext/mock-model' }));
    assert.equal(r.status, 451, r.text);
    assertNeverSaw(ext, ['xxxxxxxxxx']);
    assert.equal(ext.received.length, publicCount);
    // control: the same pattern not failing (no backtracking blow-up) is public
    r = await chat(s.base, userMsg('xx!'));
    assert.equal(r.backend, 'ext');
    publicCount++;
    assert.equal(ext.received.length, publicCount);
  });

  test('after all of the above: the external mock never saw any sensitive value', () => {
    assertNeverSaw(ext, ALL_VALUES);
    assert.equal(ext.received.length, publicCount);
  });

  // Sensitive data in parts of the request other than message text: tool calls,
  // tool definitions, schemas, the user field and stop strings are classified too
  // (sl_chat_text appends them after the messages).
  const SSN = '287-65-4321';
  const elsewhere = {
    'assistant tool_calls arguments': { messages: [{ role: 'user', content: 'look it up' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'lookup', arguments: `{"ssn":"${SSN}"}` } }] },
      { role: 'tool', tool_call_id: 'c1', content: 'found' }] },
    'tool definitions': { messages: [{ role: 'user', content: 'hi' }],
      tools: [{ type: 'function', function: { name: 'lookup', description: `look up SSN ${SSN}`, parameters: { type: 'object', properties: {} } } }] },
    'response_format schema': { messages: [{ role: 'user', content: 'hi' }],
      response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'object', description: `for SSN ${SSN}` } } } },
    'the user field': { messages: [{ role: 'user', content: 'hi' }], user: `ssn ${SSN}` },
    'stop strings': { messages: [{ role: 'user', content: 'hi' }], stop: [`SSN ${SSN}`] },
    'the id a tool result answers': { messages: [{ role: 'user', content: 'look it up' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'lookup', arguments: '{}' } }] },
      { role: 'tool', tool_call_id: `c1 SSN ${SSN}`, content: 'found' }] },
    'full-width digits and dashes (a Japanese IME)': { messages: [{ role: 'user', content: 'My SSN is ２８７－６５－４３２１' }] },
    'tool_calls arguments, after a line break (JSON text: the \\n escape)': { messages: [{ role: 'user', content: 'look it up' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'lookup', arguments: JSON.stringify({ note: `SSN:\n${SSN}` }) } }] },
      { role: 'tool', tool_call_id: 'c1', content: 'found' }] },
    'a tool result of JSON text written with \\u escapes': { messages: [{ role: 'user', content: 'look it up' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'lookup', arguments: '{}' } }] },
      { role: 'tool', tool_call_id: 'c1', content: `{"ssn": "${SSN.replace(/-/g, '\\u002d')}"}` }] },
    'groups two spaces apart (text from a PDF)': { messages: [{ role: 'user', content: `My SSN is ${SSN.replace(/-/g, '  ')}` }] },
  };
  for (const [where, body] of Object.entries(elsewhere)) {
    test(`an SSN in ${where} keeps the request inside`, async () => {
      const before = ext.received.length;
      const r = await chat(s.base, { max_tokens: 5, temperature: 0, ...body });
      assert.notEqual(r.backend, 'ext', `served by ${r.backend} (${r.status})`);
      assert.equal(ext.received.length, before, 'nothing was sent out');
      assertNeverSaw(ext, [SSN]);
    });
  }
  test('x-sluice-data-class: every header line and every word counts (the highest wins)', async () => {
    const before = ext.received.length;
    const { default: http } = await import('node:http');
    const send = (headers) => new Promise((resolve, reject) => {
      const body = JSON.stringify({ model: 'auto', max_tokens: 5, messages: [{ role: 'user', content: 'What is a prime number?' }] });
      const u = new URL(s.base + '/v1/chat/completions');
      const rq = http.request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', headers: ['host', u.host,
        'content-type', 'application/json', 'content-length', String(Buffer.byteLength(body)), ...headers] }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode, backend: res.headers['x-sluice-backend'] }));
      });
      rq.on('error', reject);
      rq.end(body);
    });
    for (const h of [['x-sluice-data-class', 'public', 'x-sluice-data-class', 'restricted'],
                     ['x-sluice-data-class', 'public, restricted'], ['x-sluice-data-class', 'public restricted'],
                     // sent but blank (filled from an unset variable): names no level, fails closed
                     ['x-sluice-data-class', ''], ['x-sluice-data-class', '  ']]) {
      const r = await send(h);
      assert.equal(r.backend, 'local', `${JSON.stringify(h)}: ${r.status} ${r.backend}`);
    }
    assert.equal((await send(['x-sluice-data-class', 'public'])).backend, 'ext', 'public alone may leave (control)');
    assert.equal(ext.received.length, before + 1);
  });

  test('a model name carrying prose or an e-mail address is refused (it may be sent upstream as it came)', async () => {
    const before = ext.received.length;
    for (const model of [`My SSN is ${SSN}`, 'maria.keller@acme-logistics.com', '287-65-4321']) {
      const r = await chat(s.base, { model, max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] });
      assert.equal(r.status, 400, `${model}: ${r.status} ${r.text}`);
      assert.match(r.text, /model must be a model name/);
    }
    assert.equal(ext.received.length, before);
  });

  test('the same SSN in message text is classified (control for the cases above)', async () => {
    const before = ext.received.length;
    for (const body of [
      { messages: [{ role: 'system', content: `User SSN ${SSN}` }, { role: 'user', content: 'hi' }] },
      { messages: [{ role: 'user', content: [{ type: 'text', text: 'hello' }, { type: 'text', text: `SSN ${SSN}` }] }] },
      { messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } }] },
                   { role: 'tool', tool_call_id: 'c1', content: `SSN is ${SSN}` }] },
    ]) {
      const r = await chat(s.base, { max_tokens: 5, temperature: 0, ...body });
      assert.equal(r.backend, 'local', r.text);
    }
    const a = await chat(s.base, { model: 'auto', max_tokens: 5, system: [{ type: 'text', text: `User SSN ${SSN}` }],
                                   messages: [{ role: 'user', content: 'hi' }] }, {}, '/v1/messages');
    assert.equal(a.backend, 'local', a.text);
    assert.equal(ext.received.length, before);
  });

});

// ---------------------------------------------------------------------------
describe('redaction to an external backend', () => {
  let ext, ext500, s;
  before(async () => {
    ext = await startMock(echoHandler());
    ext500 = await startMock((req, body, res) => res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":{"message":"down"}}'));
    // an upstream that refuses the request quoting what it was sent
    ext400 = await startMock((req, body, res) => res.writeHead(400, { 'content-type': 'application/json' })
      .end(JSON.stringify({ error: { message: `cannot do: ${JSON.parse(body).messages.at(-1).content}`, type: 'invalid_request_error' } })));
    extTools = await startMock(toolsHandler);
    anthTools = await startMock(anthToolsHandler);
    think = await startMock(thinkHandler);
    // a stream cut right after "[PERSON_" (a placeholder's beginning, which
    // the restorer holds: nothing of it reaches the client)
    extCut = await startMock((req, body, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const chunk = (delta) => `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta, finish_reason: null }] })}\n\n`;
      res.write(chunk({ role: 'assistant', content: '' }) + chunk({ content: '[PERSON_' }));
      setTimeout(() => res.destroy(), 50);
    });
    s = await startSluice({
      backends: [{ name: 'local', kind: 'local', model: LOCAL_MODEL(), threads: 1, max_batch: 2 },
                 apiBackend('ext', ext.url, { max_retries: 0 }),
                 apiBackend('ext-500', ext500.url, { max_retries: 0 }),
                 apiBackend('ext-400', ext400.url, { max_retries: 0 }),
                 apiBackend('ext-tools', extTools.url, { max_retries: 0 }),
                 anthBackend('anth-tools', anthTools.url, { max_retries: 0 }),
                 apiBackend('ext-think', think.url, { max_retries: 0 }),
                 apiBackend('ext-cut', extCut.url, { max_retries: 0 })],
      rules: [
        { name: 'redact-think', when: { header: { 'x-lane': 'think' } }, route: ['ext-think'], redact: ['PERSON', 'EMAIL_ADDRESS'] },
        { name: 'redact-tools', when: { header: { 'x-lane': 'tools' } }, route: ['ext-tools'], redact: ['PERSON', 'EMAIL_ADDRESS'] },
        { name: 'redact-anth-tools', when: { header: { 'x-lane': 'anth-tools' } }, route: ['anth-tools'], redact: ['PERSON', 'EMAIL_ADDRESS'] },
        { name: 'redact-failover', when: { header: { 'x-lane': 'failover' } }, route: ['ext-500', 'ext'], redact: ['PERSON', 'EMAIL_ADDRESS'] },
        { name: 'redact-cut', when: { header: { 'x-lane': 'cut' } }, route: ['ext-cut', 'ext'], redact: ['PERSON', 'EMAIL_ADDRESS'] },
        { name: 'redact-400', when: { header: { 'x-lane': '400' } }, route: ['ext-400'], redact: ['PERSON', 'EMAIL_ADDRESS'] },
        // an earlier rule that sends straight out: the keep-inside filter still applies
        { name: 'lane-ext', when: { header: { 'x-lane': 'ext' } }, route: ['ext'] },
        { name: 'keep-restricted-inside', when: { sensitivity_at_least: 'restricted' }, route: ['local'], on_unavailable: 'reject' },
        // kept inside by type, whatever its level (a phone number is only confidential)
        { name: 'keep-phones-inside', when: { entity_types_any: ['PHONE_NUMBER'] }, route: ['local'], on_unavailable: 'reject' },
        { name: 'redact-to-ext', route: ['ext'], redact: ['PERSON', 'EMAIL_ADDRESS'] },
      ],
    }, ENV);
    oai = new OpenAI({ baseURL: `${s.base}/v1`, apiKey: 'unused', maxRetries: 0 });
  });
  after(() => stopAll(s, ext, ext500, ext400, extTools, anthTools, think, extCut));
  let oai, extTools, anthTools, think, ext400, extCut;

  // A reasoning model that thinks aloud about what it was sent (placeholders
  // and all), in 3-byte deltas of reasoning_content, then answers "done".
  function thinkHandler(req, body, res) {
    const b = JSON.parse(body);
    const t = 'thinking about: ' + b.messages.filter((m) => m.role === 'user').at(-1).content;
    if (!b.stream) {
      const r = completion('done');
      r.choices[0].message.reasoning_content = t;
      return replyJson(res, 200, r);
    }
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const chunk = (delta, finish = null) => `data: ${JSON.stringify({ id: 'chatcmpl-k', object: 'chat.completion.chunk', created: 1, model: 'mock-model', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
    res.write(chunk({ role: 'assistant', content: null }));
    for (let o = 0; o < t.length; o += 3) res.write(chunk({ reasoning_content: t.slice(o, o + 3) }));
    res.write(chunk({ content: 'done' }));
    res.write(chunk({}, 'stop'));
    res.end('data: [DONE]\n\n');
  }

  test('placeholders in a reasoning model\'s reasoning_content are restored, streamed and whole', async () => {
    const content = 'Ask Julian DeWitt (julian.dewitt@northwind-freight.com) to call Laila Hansen.';
    const opts = { headers: { 'x-lane': 'think' } };
    const c = await oai.chat.completions.create({ model: 'auto', messages: [{ role: 'user', content }] }, opts);
    assert.equal(c.choices[0].message.reasoning_content, 'thinking about: ' + content);
    assert.equal(c.choices[0].message.content, 'done');
    const st = await oai.chat.completions.create({ model: 'auto', stream: true, messages: [{ role: 'user', content }] }, opts);
    let r = '', text = '';
    for await (const ch of st) {
      r += ch.choices[0]?.delta?.reasoning_content ?? '';
      text += ch.choices[0]?.delta?.content ?? '';
      if (text) assert.equal(r, 'thinking about: ' + content, 'the reasoning is whole before the answer begins');
    }
    assert.equal(text, 'done');
    assert.equal(think.received.length, 2);
    assert.match(JSON.parse(think.received[0].body).messages[0].content, /^Ask \[PERSON_1\] \(\[EMAIL_ADDRESS_1\]\) to call \[PERSON_2\]\.$/);
    assertNeverSaw(think, ['Julian', 'DeWitt', 'Laila', 'Hansen', 'northwind']);
  });

  // An upstream that calls two tools with the placeholders it was sent (and one
  // that is not ours); streamed, the two calls' argument deltas interleave in
  // 3-byte pieces, so placeholders are split across deltas and calls.
  function toolCalls(body) {
    const b = JSON.parse(body);
    const m = b.messages.filter((m) => m.role === 'user').at(-1).content;
    const last = typeof m === 'string' ? m : m.map((p) => p.text ?? '').join('');
    const ph = (t) => last.match(new RegExp(`\\[${t}_\\d+\\]`))?.[0] ?? 'none';
    return [b, [
      { id: 'call_a', name: 'send_mail', args: JSON.stringify({ to: ph('EMAIL_ADDRESS'), greeting: `Dear ${ph('PERSON')},` }) },
      { id: 'call_b', name: 'log', args: JSON.stringify({ who: ph('PERSON'), note: 'not ours: [PERSON_9]' }) },
    ]];
  }
  function anthToolsHandler(req, body, res) {
    const [b, calls] = toolCalls(body);
    if (!b.stream)
      return replyJson(res, 200, anthMessage(calls.map((c) => ({ type: 'tool_use', id: c.id, name: c.name, input: JSON.parse(c.args) })), { stop_reason: 'tool_use' }));
    const pieces = (t) => Array.from({ length: Math.ceil(t.length / 3) }, (_, i) => t.slice(3 * i, 3 * i + 3));
    // "(text first)": a text block ending in what could begin a placeholder comes first
    const lead = JSON.stringify(b.messages).includes('(text first)') ? [{ text: ['Done [PERSON_1] and [PERS'] }] : [];
    replyAnthStream(res, [...lead, ...calls.map((c) => ({ tool: { id: c.id, name: c.name, json: pieces(c.args) } }))], { stop_reason: 'tool_use' });
  }
  function toolsHandler(req, body, res) {
    const [b, calls] = toolCalls(body);
    if (!b.stream) {
      const r = completion(null, { finish: 'tool_calls' });
      r.choices[0].message.tool_calls = calls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.args } }));
      return replyJson(res, 200, r);
    }
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const chunk = (delta, finish = null) => `data: ${JSON.stringify({ id: 'chatcmpl-t', object: 'chat.completion.chunk', created: 1, model: 'mock-model', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
    res.write(chunk({ role: 'assistant', content: null }));
    calls.forEach((c, i) => res.write(chunk({ tool_calls: [{ index: i, id: c.id, type: 'function', function: { name: c.name, arguments: '' } }] })));
    for (let o = 0; o < Math.max(...calls.map((c) => c.args.length)); o += 3)
      calls.forEach((c, i) => { if (o < c.args.length) res.write(chunk({ tool_calls: [{ index: i, function: { arguments: c.args.slice(o, o + 3) } }] })); });
    res.write(chunk({}, 'tool_calls'));
    res.end('data: [DONE]\n\n');
  }

  test('failover between external backends sends the redacted copy to each', async () => {
    const content = 'Tell Laila Hansen at laila.hansen@northwind-freight.com hi';
    for (const stream of [false, true]) {
      const r = await chat(s.base, userMsg(content, { stream }), { 'x-lane': 'failover' });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.backend, 'ext');
      assert.equal(stream ? parseSSE(r.text).text : r.json.choices[0].message.content, 'echo: ' + content);
    }
    assert.equal(ext500.received.length, 2);
    for (const m of [ext500, ext]) assertNeverSaw(m, ['Laila', 'Hansen', 'northwind'], 'an external mock');
    assert.equal(JSON.parse(ext500.received[0].body).messages[0].content, 'Tell [PERSON_1] at [EMAIL_ADDRESS_1] hi');
  });

  test('a stream cut while the restorer held all of its text ("[PERSON_") moves on to the next backend: nothing of it reached the client', async () => {
    const content = 'Tell Laila Hansen at laila.hansen@northwind-freight.com hi';
    const r = await chat(s.base, userMsg(content, { stream: true }), { 'x-lane': 'cut' });
    assert.equal(r.status, 200, r.text);
    assert.equal(parseSSE(r.text).text, 'echo: ' + content);
    assert.equal(extCut.received.length, 1);
    assertNeverSaw(extCut, ['Laila', 'Hansen', 'northwind'], 'the cut mock');
  });

  test('a value to redact where sluice cannot rewrite it (a stop string, user) is a 451 the SDK does not retry; nothing leaves', async () => {
    const before = ext.received.length;
    const body = { model: 'auto', messages: [{ role: 'user', content: 'Write to Laila Hansen about the invoice' }] };
    // the whole value, or one word of the name (the same person), or the name
    // as a message name must write it
    for (const extra of [{ stop: ['Laila Hansen'] }, { user: 'laila.hansen@northwind-freight.com' },
                         { stop: ['Hansen'] },
                         { messages: [{ role: 'user', name: 'Laila_Hansen', content: 'Write to Laila Hansen about the invoice' }] },
                         { tools: [{ type: 'function', function: { name: 'f', description: 'for Hansen', parameters: { type: 'object' } } }] }]) {
      const r = await chat(s.base, { ...body, ...extra });
      assert.equal(r.status, 451, r.text);
      assert.equal(r.json.error.code, 'redaction_impossible');
      assert.equal(r.headers.get('retry-after'), null);
    }
    assert.equal(ext.received.length, before, 'nothing was sent');
  });

  test('keep-inside by level or by entity type holds whichever rule matched', async () => {
    const before = ext.received.length;
    const phone = 'Call me back on +1 415 555 0142 tomorrow';
    const ex = await chat(s.base, userMsg(phone), {}, '/v1/explain');
    assert.ok(ex.json.sensitivity.entities.some((e) => e.type === 'PHONE_NUMBER'), ex.text);
    let r = await chat(s.base, userMsg(phone));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.rule, 'keep-phones-inside');
    assert.equal(r.backend, 'local');
    for (const content of [phone, SENSITIVE[1].content]) {
      r = await chat(s.base, userMsg(content), { 'x-lane': 'ext' });
      assert.equal(r.status, 451, r.text);
      assert.equal(r.rule, 'lane-ext');
      assert.match(r.json.error.message, /inside/);
    }
    assert.equal(ext.received.length, before);
    assertNeverSaw(ext, ['415 555 0142', '4155550142', ...SENSITIVE[1].values]);
  });

  test('redaction through the OpenAI SDK, streamed: restored text, nothing leaked', async () => {
    const before = ext.received.length;
    const content = 'Ask Julian DeWitt (julian.dewitt@northwind-freight.com) to call Laila Hansen.';
    const stream = await oai.chat.completions.create({ model: 'auto', stream: true, messages: [{ role: 'user', content }] });
    let text = '';
    for await (const c of stream) text += c.choices[0]?.delta?.content ?? '';
    assert.equal(text, 'echo: ' + content);
    assert.equal(ext.received.length, before + 1);
    const sent = JSON.parse(ext.received.at(-1).body).messages[0].content;
    assert.match(sent, /^Ask \[PERSON_1\] \(\[EMAIL_ADDRESS_1\]\) to call \[PERSON_2\]\.$/);
    assertNeverSaw(ext, ['Julian', 'DeWitt', 'Laila', 'Hansen', 'northwind']);
  });

  const NAMES = ['Laila Hansen', 'Julian DeWitt'];
  const EMAILS = ['julian.dewitt@northwind-freight.com', 'laila.hansen@northwind-freight.com'];
  const turn1 = 'Dear Laila Hansen, please forward the report to julian.dewitt@northwind-freight.com today.';
  const turn2 = 'Thanks. Julian DeWitt asked Laila Hansen to write to laila.hansen@northwind-freight.com and julian.dewitt@northwind-freight.com.';

  // value -> placeholder, read from what the mock received for `orig`
  function placeholders(sent, orig) {
    const vals = [...NAMES, ...EMAILS].filter((v) => orig.includes(v));
    let re = orig.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    for (const v of vals) re = re.split(v.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('(\\[(?:PERSON|EMAIL_ADDRESS)_\\d+\\])');
    const m = sent.match(new RegExp('^' + re + '$'));
    assert.ok(m, `redacted text has the original's shape:\n  sent ${sent}\n  orig ${orig}`);
    // capture groups in order of appearance
    const order = [];
    let rest = orig;
    while (true) {
      let best = null;
      for (const v of vals) { const i = rest.indexOf(v); if (i >= 0 && (!best || i < best.i)) best = { i, v }; }
      if (!best) break;
      order.push(best.v);
      rest = rest.slice(best.i + best.v.length);
    }
    const map = {};
    order.forEach((v, k) => {
      const ph = m[k + 1];
      if (map[v]) assert.equal(map[v], ph, `${v} gets one placeholder`);
      map[v] = ph;
      assert.match(ph, NAMES.includes(v) ? /^\[PERSON_\d+\]$/ : /^\[EMAIL_ADDRESS_\d+\]$/);
    });
    return map;
  }

  for (const stream of [false, true]) {
    test(`names and emails never reach the mock, placeholders are consistent, the answer is restored (stream ${stream})`, async () => {
      const before = ext.received.length;
      const ask = async (messages) => {
        const r = await chat(s.base, { messages, stream, temperature: 0 });
        assert.equal(r.status, 200, r.text);
        assert.equal(r.backend, 'ext');
        assert.equal(r.rule, 'redact-to-ext');
        return stream ? parseSSE(r.text).text : r.json.choices[0].message.content;
      };
      const a1 = await ask([{ role: 'user', content: turn1 }]);
      assert.equal(a1, 'echo: ' + turn1, 'placeholders restored in the answer');
      const msgs2 = [{ role: 'user', content: turn1 }, { role: 'assistant', content: a1 }, { role: 'user', content: turn2 }];
      const a2 = await ask(msgs2);
      assert.equal(a2, 'echo: ' + turn2);
      assert.equal(ext.received.length, before + 2);
      const b1 = JSON.parse(ext.received[before].body);
      const b2 = JSON.parse(ext.received[before + 1].body);
      const m1 = placeholders(b1.messages[0].content, turn1);
      const m2a = placeholders(b2.messages[0].content, turn1);
      const m2c = placeholders(b2.messages[2].content, turn2);
      assert.deepEqual(m2a, m1, 'the same turn is redacted the same way when re-sent');
      for (const v of Object.keys(m2c)) if (m1[v]) assert.equal(m2c[v], m1[v], `${v}: same placeholder across turns`);
      // distinct values get distinct placeholders
      const all = { ...m1, ...m2c };
      assert.equal(new Set(Object.values(all)).size, Object.keys(all).length);
      // the re-sent assistant turn is redacted too
      placeholders(b2.messages[1].content, a1);
      assertNeverSaw(ext, [...NAMES, ...EMAILS, 'Laila', 'DeWitt', 'northwind-freight']);
    });
  }

  test('values seen in the text are also replaced in assistant tool_calls arguments and tool results', async () => {
    const before = ext.received.length;
    const r = await chat(s.base, { messages: [
      { role: 'user', content: 'Find the account of Laila Hansen, laila.hansen@northwind-freight.com' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'find',
        arguments: '{"name":"Laila Hansen","email":"laila.hansen@northwind-freight.com"}' } }] },
      { role: 'tool', tool_call_id: 'c1', content: 'Laila Hansen: account 7' },
      { role: 'user', content: 'thanks' }],
      tools: [{ type: 'function', function: { name: 'find', parameters: { type: 'object', properties: {} } } }] });
    assert.equal(r.status, 200, r.text);
    assert.equal(ext.received.length, before + 1);
    const sent = JSON.parse(ext.received.at(-1).body).messages;
    assert.equal(JSON.parse(sent[1].tool_calls[0].function.arguments).name, '[PERSON_1]');
    assert.equal(JSON.parse(sent[1].tool_calls[0].function.arguments).email, '[EMAIL_ADDRESS_1]');
    assert.equal(sent[2].content, '[PERSON_1]: account 7');
    assertNeverSaw(ext, ['Laila', 'Hansen', 'northwind']);
  });

  test('tool_calls arguments written with \\u escapes (Python json.dumps) are redacted too', async () => {
    const before = ext.received.length;
    const args = JSON.stringify({ name: 'Zoë Brännström' }).replace(/[^\x00-\x7f]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
    assert.match(args, /Zo\\u00eb/);
    const r = await chat(s.base, { messages: [
      { role: 'user', content: 'Find the account of Zoë Brännström' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'find', arguments: args } }] },
      { role: 'tool', tool_call_id: 'c1', content: 'account 7' }],
      tools: [{ type: 'function', function: { name: 'find', parameters: { type: 'object', properties: {} } } }] });
    assert.equal(r.status, 200, r.text);
    assert.equal(ext.received.length, before + 1);
    const sent = JSON.parse(ext.received.at(-1).body).messages;
    assert.deepEqual(JSON.parse(sent[1].tool_calls[0].function.arguments), { name: '[PERSON_1]' });
    assertNeverSaw(ext, ['Zoë', 'Zo\\u00eb', 'Br\\u00e4nnstr\\u00f6m', 'Brännström']);
  });

  test('JSON text in arguments and tool results: a value after \\n, a quoted value, \\u-escaped names are redacted; a JSON answer gets them back escaped', async () => {
    const before = ext.received.length;
    const pyjson = (o) => JSON.stringify(o).replace(/[^\x00-\x7f]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
    const r = await chat(s.base, { messages: [
      { role: 'user', content: 'Mail Laila Hansen at laila.hansen@northwind-freight.com about José García' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'find',
        arguments: JSON.stringify({ to: 'Email:\nlaila.hansen@northwind-freight.com' }) } }] },
      { role: 'tool', tool_call_id: 'c1', content: pyjson({ customer: 'José García' }) }],
      response_format: { type: 'json_object' } });
    assert.equal(r.status, 200, r.text);
    assert.equal(ext.received.length, before + 1);
    const sent = JSON.parse(ext.received.at(-1).body).messages;
    assert.deepEqual(JSON.parse(sent[1].tool_calls[0].function.arguments), { to: 'Email:\n[EMAIL_ADDRESS_1]' });
    assert.equal(sent[2].content, '{"customer":"[PERSON_2]"}');
    assert.match(r.text, /José García/, 'the echo gets the name back');
    assertNeverSaw(ext, ['Laila', 'Hansen', 'northwind', 'Jos\\u00e9', 'Garc\\u00eda', 'José']);
  });

  for (const lane of ['tools', 'anth-tools'])
  test(`placeholders in the tool calls an upstream returns are restored, streamed and not, in both dialects (${lane})`, async () => {
    const upstream = lane === 'tools' ? extTools : anthTools;
    const content = 'Send the Q3 report to Laila Hansen at laila.hansen@northwind-freight.com';
    const want = [{ name: 'send_mail', input: { to: 'laila.hansen@northwind-freight.com', greeting: 'Dear Laila Hansen,' } },
                  { name: 'log', input: { who: 'Laila Hansen', note: 'not ours: [PERSON_9]' } }];
    const tools = [{ type: 'function', function: { name: 'send_mail', parameters: { type: 'object', properties: {} } } },
                   { type: 'function', function: { name: 'log', parameters: { type: 'object', properties: {} } } }];
    const opt = { headers: { 'x-lane': lane } };
    const before = upstream.received.length;
    const m = await oai.chat.completions.create({ model: 'auto', messages: [{ role: 'user', content }], tools }, opt);
    assert.deepEqual(m.choices[0].message.tool_calls.map((c) => ({ name: c.function.name, input: JSON.parse(c.function.arguments) })), want);
    const st = await oai.chat.completions.create({ model: 'auto', stream: true, messages: [{ role: 'user', content }], tools }, opt);
    const got = [];
    for await (const c of st)
      for (const t of c.choices[0]?.delta?.tool_calls ?? []) {
        got[t.index] ??= { name: '', args: '' };
        got[t.index].name += t.function?.name ?? '';
        got[t.index].args += t.function?.arguments ?? '';
      }
    assert.deepEqual(got.map((c) => ({ name: c.name, input: JSON.parse(c.args) })), want);
    const anth = new Anthropic({ baseURL: s.base, apiKey: 'unused', maxRetries: 0 });
    const aTools = tools.map((t) => ({ name: t.function.name, input_schema: t.function.parameters }));
    const areq = { model: 'auto', max_tokens: 64, messages: [{ role: 'user', content }], tools: aTools };
    const a1 = await anth.messages.create(areq, opt);
    assert.deepEqual(a1.content.filter((b) => b.type === 'tool_use').map((b) => ({ name: b.name, input: b.input })), want);
    const a2 = await anth.messages.stream(areq, opt).finalMessage();
    assert.deepEqual(a2.content.filter((b) => b.type === 'tool_use').map((b) => ({ name: b.name, input: b.input })), want);
    assert.equal(upstream.received.length, before + 4);
    assertNeverSaw(upstream, ['Laila', 'Hansen', 'northwind']);
  });

  test('a streamed text block that ends in what could begin a placeholder ends before the tool call that follows it', async () => {
    // (the restorer held "[PERS" until the next text: it came out after the
    // tool call, as a third block)
    const content = 'Send the Q3 report to Laila Hansen at laila.hansen@northwind-freight.com (text first)';
    const opt = { headers: { 'x-lane': 'anth-tools' } };
    const anth = new Anthropic({ baseURL: s.base, apiKey: 'unused', maxRetries: 0 });
    const tools = [{ name: 'send_mail', input_schema: { type: 'object', properties: {} } },
                   { name: 'log', input_schema: { type: 'object', properties: {} } }];
    const m = await anth.messages.stream({ model: 'auto', max_tokens: 64, messages: [{ role: 'user', content }], tools }, opt)
      .finalMessage();
    assert.deepEqual(m.content.map((b) => b.type), ['text', 'tool_use', 'tool_use']);
    assert.equal(m.content[0].text, 'Done Laila Hansen and [PERS');
    const st = await oai.chat.completions.create({ model: 'auto', stream: true, messages: [{ role: 'user', content }],
      tools: tools.map((t) => ({ type: 'function', function: { name: t.name, parameters: t.input_schema } })) }, opt);
    const order = [];
    let text = '';
    for await (const c of st) {
      const d = c.choices[0]?.delta ?? {};
      if (d.content) order.push('text'), (text += d.content);
      if (d.tool_calls) order.push('tool');
    }
    assert.equal(text, 'Done Laila Hansen and [PERS');
    assert.ok(order.lastIndexOf('text') < order.indexOf('tool'), `text before the tool calls: ${order.join(' ')}`);
  });

  test('an upstream error that quotes the redacted copy reaches the client with its own values', async () => {
    const content = 'Tell Laila Hansen at laila.hansen@northwind-freight.com hi';
    await assert.rejects(oai.chat.completions.create({ model: 'auto', messages: [{ role: 'user', content }] },
      { headers: { 'x-lane': '400' } }), (e) => {
      assert.equal(e.status, 400);
      assert.match(e.message, /cannot do: Tell Laila Hansen at laila\.hansen@northwind-freight\.com hi/);
      return true;
    });
    assertNeverSaw(ext400, ['Laila', 'Hansen', 'northwind']);
    assert.doesNotMatch(s.stderr(), /Laila|northwind/, 'the log keeps the placeholders');
  });

  test('restricted data in the same set-up stays inside; the mock never saw it', async () => {
    const before = ext.received.length;
    const r = await chat(s.base, userMsg(SENSITIVE[1].content));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.backend, 'local');
    assert.equal(ext.received.length, before);
    assertNeverSaw(ext, SENSITIVE[1].values);
  });
});
