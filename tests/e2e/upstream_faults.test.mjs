// Upstreams that answer badly: what an app behind sluice sees through the
// official `openai` SDK when the upstream's answer is not what the wire format
// promises. Before anything reached the client, a broken answer is a failure of
// that backend (the next one of the route is tried); with no next one, the
// client gets an OpenAI-shaped 502, never a garbled 200. After the first
// streamed byte, the stream ends with an error event. sluice keeps serving.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import https from 'node:https';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMock, startSluice, apiBackend, completion, replyJson, replyStream } from './lib.mjs';

let bad, good, limited1, tls, tlsSeen = 0, sluice, client;
let fault = 'html';
let nTools = 0;
const KEY = 'sk-mock-faults-0123456789';
const badAt = []; // when the broken upstream was asked

const chunk = (delta, finish = null) => `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'mock-model', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;

// Each fault, as the broken upstream plays it.
const faults = {
  html: (req, body, res) => { res.writeHead(200, { 'content-type': 'text/html' }); res.end('<html><body>Sign in to the Wi-Fi</body></html>'); },
  not_json: (req, body, res) => { res.writeHead(200, { 'content-type': 'application/json' }); res.end('{"id": "x", "choices": [ oops'); },
  no_choices: (req, body, res) => replyJson(res, 200, { id: 'x', object: 'chat.completion', usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } }),
  truncated: (req, body, res) => {
    // promises 5000 bytes, sends 40 and hangs up
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': 5000 });
    res.write(JSON.stringify(completion('x')).slice(0, 40));
    setTimeout(() => res.destroy(), 50);
  },
  hang_up: (req, body, res) => res.socket.destroy(),
  // part of the body, then a reset (RST)
  reset_mid: (req, body, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': 5000 });
    res.write(JSON.stringify(completion('x')).slice(0, 40));
    setTimeout(() => res.socket.resetAndDestroy(), 50);
  },
  // one header line of 200 KB: over libcurl's limit
  huge_header: (req, body, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'x-big': 'h'.repeat(200 << 10) });
    res.end(JSON.stringify(completion('x')));
  },
  // two Content-Length headers that disagree: where the body ends is unknown
  dup_length: (req, body, res) => {
    const j = JSON.stringify(completion('framed twice'));
    res.socket.end(`HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${j.length}\r\n` +
      `content-length: ${j.length + 5}\r\n\r\n${j}`);
  },
  redirect: (req, body, res) => { res.writeHead(302, { location: 'http://127.0.0.1:1/elsewhere' }); res.end(); },
  upstream_408: (req, body, res) => replyJson(res, 408, { error: { message: 'request timed out', type: 'timeout' } }),
  limited_s: (req, body, res) => {
    res.setHeader('retry-after', '7');
    replyJson(res, 429, { error: { message: 'slow down', type: 'rate_limit_error' } });
  },
  limited_date: (req, body, res) => { // RFC 9110: an HTTP-date, two minutes ahead
    res.setHeader('retry-after', new Date(Date.now() + 120000).toUTCString());
    replyJson(res, 429, { error: { message: 'slow down', type: 'rate_limit_error' } });
  },
  limited_fast: (req, body, res) => {
    res.setHeader('retry-after-ms', '50');
    replyJson(res, 429, { error: { message: 'slow down', type: 'rate_limit_error' } });
  },
  limited_ms: (req, body, res) => {
    res.setHeader('retry-after-ms', '2500');
    res.setHeader('retry-after', '1');
    replyJson(res, 429, { error: { message: 'slow down', type: 'rate_limit_error' } });
  },
  huge: (req, body, res) => {
    // a 64 MB "completion": more than any answer sluice will hold
    res.writeHead(200, { 'content-type': 'application/json' });
    const block = 'x'.repeat(1 << 20);
    res.write('{"id":"x","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"');
    let n = 0;
    const more = () => {
      while (n < 64) {
        n++;
        if (!res.write(block)) return res.once('drain', more);
      }
      res.end('"},"finish_reason":"stop"}]}');
    };
    res.on('error', () => {});
    more();
  },
  status_402: (req, body, res) => replyJson(res, 402, { error: { message: 'Insufficient Balance', type: 'unknown_error' } }),
  status_403: (req, body, res) => replyJson(res, 403, { error: { message: 'Project does not have access to model', type: 'invalid_request_error' } }),
  status_404: (req, body, res) => replyJson(res, 404, { error: { message: 'The model does not exist', type: 'invalid_request_error', code: 'model_not_found' } }),
  // tool calls as some OpenAI-compatible servers send them: arguments as a JSON
  // value, indices 5 and 0 (no calls in between)
  tool_odd: (req, body, res) => replyJson(res, 200, { id: 'x', object: 'chat.completion', created: 1, model: 'mock-model',
    choices: [{ index: 0, finish_reason: 'tool_calls', message: { role: 'assistant', content: null, tool_calls: [
      { index: 5, id: 'c5', type: 'function', function: { name: 'f5', arguments: { a: 1 } } },
      { index: 0, id: 'c0', type: 'function', function: { name: 'f0', arguments: 12 } }] } }],
    usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } }),
  // nTools parallel calls, whole or streamed
  tools_n: (req, body, res) => {
    const calls = Array.from({ length: nTools }, (_, i) => ({ index: i, id: `c${i}`, type: 'function', function: { name: `f${i}`, arguments: '{}' } }));
    if (!JSON.parse(body).stream)
      return replyJson(res, 200, { id: 'x', object: 'chat.completion', created: 1, model: 'mock-model',
        choices: [{ index: 0, finish_reason: 'tool_calls', message: { role: 'assistant', content: null, tool_calls: calls } }],
        usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } });
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.end(calls.map((c) => chunk({ tool_calls: [c] })).join('') + chunk({}, 'tool_calls') + 'data: [DONE]\n\n');
  },
  // an emoji's UTF-16 halves in two events (a proxy that cuts strings by UTF-16 units)
  sse_split_pair: (req, body, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(chunk({ role: 'assistant', content: 'X\ud83d' }));
    res.write(chunk({ content: '\ude00Y \ud83c' }));
    res.end(chunk({ content: '\udf27!' }, 'stop') + 'data: [DONE]\n\n');
  },
  // a tool call's piece at an index never opened: no name, no id
  tool_nameless: (req, body, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(chunk({ role: 'assistant', content: null, tool_calls: [{ index: 0, id: 'c1', type: 'function', function: { name: 'f', arguments: '{"a"' } }] }));
    res.end(chunk({ tool_calls: [{ index: 5, function: { arguments: ':1}' } }] }) + chunk({}, 'tool_calls') + 'data: [DONE]\n\n');
  },
  // a stream with a second choice's deltas among the first's
  two_choices: (req, body, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const ch = (index, content, finish = null) => `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'mock-model', choices: [{ index, delta: { content }, finish_reason: finish }] })}\n\n`;
    res.end(ch(0, 'zero ') + ch(1, 'ONE ') + ch(0, 'end', 'stop') + 'data: [DONE]\n\n');
  },
  // a proxy that echoes the key it was sent, whole and masked as OpenAI does
  echo_key: (req, body, res) => replyJson(res, 400, { error: {
    message: `bad request (debug: auth=${req.headers.authorization}); Incorrect API key provided: ${KEY.slice(0, 8)}********${KEY.slice(-4)}; ` +
      `also seen: k2=${KEY.slice(0, 8)}...${KEY.slice(-6)} and ${KEY.slice(0, 7)}\u2026${KEY.slice(-3)}.`,
    type: 'invalid_request_error', param: KEY } }),
  // the key where the 1 KB kept of a message is cut
  echo_key_long: (req, body, res) => replyJson(res, 400, { error: {
    message: 'x'.repeat(1000) + ' ' + KEY, type: 'invalid_request_error' } }),
  auth_401: (req, body, res) => replyJson(res, 401, { error: { message: 'Incorrect API key provided', type: 'invalid_request_error', code: 'invalid_api_key' } }),
  sse_garbage: (req, body, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.end('data: {this is not json}\n\ndata: [DONE]\n\n');
  },
  sse_then_garbage: (req, body, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(chunk({ role: 'assistant', content: '' }));
    res.write(chunk({ content: 'first words ' }));
    setTimeout(() => res.end('data: {"choices": [ broken\n\n'), 100);
  },
  zero_usage: (req, body, res) => replyJson(res, 200, { ...completion('counted by sluice'),
    usage: { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 } }),
  bad_usage: (req, body, res) => replyJson(res, 200, { ...completion('counted by sluice'),
    usage: { prompt_tokens: -1000000, completion_tokens: 1e300, total_tokens: 5 } }),
  // the answer and its finish_reason, then the stream kept open with pings
  // (so no idle timeout fires) and never a [DONE]
  sse_finish_open: (req, body, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(chunk({ role: 'assistant', content: 'done here' }));
    res.write(chunk({}, 'stop'));
    const ping = setInterval(() => res.write(': ping\n\n'), 300);
    res.on('close', () => clearInterval(ping));
    setTimeout(() => { clearInterval(ping); res.end(); }, 8000);
  },
  // an error message that would forge a line of sluice's log, clear its
  // reader's terminal, and hide its tail behind a NUL
  log_forge: (req, body, res) => replyJson(res, 400, { error: { type: 'invalid_request_error',
    message: 'bad\n2026-12-07T04:50:00.000Z info  FORGED LINE\r\n\u001b[2J after \u0000 the tail' } }),
  sse_held_open: (req, body, res) => {
    // the whole answer and [DONE], then the body stays open (and says more)
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(chunk({ role: 'assistant', content: '' }));
    res.write(chunk({ content: 'all there' }));
    res.write(chunk({}, 'stop'));
    res.write('data: [DONE]\n\n');
    setTimeout(() => res.write(chunk({ content: ' AFTER THE END' })), 50);
    setTimeout(() => res.end(), 8000);
  },
  sse_stall: (req, body, res) => {
    // two chunks, then silence with the connection open
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(chunk({ role: 'assistant', content: '' }));
    res.write(chunk({ content: 'and then ' }));
    setTimeout(() => res.end(), 9000);
  },
  // the wire format broken in its types: not an empty answer, a broken one
  content_number: (req, body, res) => replyJson(res, 200, { ...completion('x'),
    choices: [{ index: 0, message: { role: 'assistant', content: 42 }, finish_reason: 'stop' }] }),
  two_values: (req, body, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(completion('first')) + JSON.stringify(completion('second')));
  },
  sse_only_done: (req, body, res) => { res.writeHead(200, { 'content-type': 'text/event-stream' }); res.end('data: [DONE]\n\n'); },
  sse_content_number: (req, body, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.end(chunk({ role: 'assistant', content: '' }) + chunk({ content: 42 }) + chunk({}, 'stop') + 'data: [DONE]\n\n');
  },
  sse_choices_object: (req, body, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.end('data: {"id":"c","object":"chat.completion.chunk","choices":{"index":0}}\n\ndata: [DONE]\n\n');
  },
  sse_text_plain: (req, body, res) => { // a valid stream under the wrong content type
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
    res.end(chunk({ role: 'assistant', content: '' }) + chunk({ content: 'plain but fine' }) + chunk({}, 'stop') + 'data: [DONE]\n\n');
  },
  sse_no_type: (req, body, res) => {
    res.removeHeader('content-type');
    res.writeHead(200);
    res.end(': keep-alive\n\n' + chunk({ role: 'assistant', content: '' }) + chunk({ content: 'untyped but fine' }) + chunk({}, 'stop') + 'data: [DONE]\n\n');
  },
  sse_error_event: (req, body, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.end('data: {"error":{"message":"the model is overloaded","type":"server_error"}}\n\n');
  },
  final_500: (req, body, res) => {
    res.writeHead(500, { 'content-type': 'application/json', 'x-should-retry': 'false' });
    res.end(JSON.stringify({ error: { message: 'this request cannot succeed', type: 'server_error', code: null } }));
  },
  quota_429: (req, body, res) => replyJson(res, 429, { error: { message: 'You exceeded your current quota',
    type: 'insufficient_quota', code: 'insufficient_quota' } }),
  // OpenRouter's way: HTTP 200 and an error object instead of the answer
  json_200_error: (req, body, res) => replyJson(res, 200,
    { error: { message: 'Provider returned error', code: 429, metadata: { provider_name: 'x' } } }),
  bad_utf8: (req, body, res) => {
    // bytes that are no UTF-8 inside the JSON strings (a broken upstream)
    const stream = JSON.parse(body).stream;
    const text = (s) => Buffer.concat([Buffer.from(s[0]), Buffer.from([0xff, 0xe2, 0x82]), Buffer.from(s[1])]);
    if (!stream) {
      res.writeHead(200, { 'content-type': 'application/json' });
      const j = JSON.stringify(completion('@@')).split('@@');
      res.end(Buffer.concat([Buffer.from(j[0]), text(['caf\u00e9 ', ' end']), Buffer.from(j[1])]));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const ch = JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm',
      choices: [{ index: 0, delta: { content: '@@' }, finish_reason: null }] }).split('@@');
    res.write(Buffer.concat([Buffer.from('data: ' + ch[0]), text(['caf\u00e9 ', ' end']), Buffer.from(ch[1] + '\n\n')]));
    res.end('data: ' + JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm',
      choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] }) + '\n\ndata: [DONE]\n\n');
  },
  nul_in_text: (req, body, res) => {
    // JSON allows U+0000 in a string; C strings end there
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(completion('col1\u0000col2 and the rest')));
  },
  // a 101 no one asked for, then another protocol's bytes on a connection kept open
  switched: (req, body, res) => {
    res.socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\x81\x05hello');
    setTimeout(() => res.socket.destroy(), 8000);
  },
  bad_chunked: (req, body, res) => res.socket.end('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n' +
    'Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n'),
  empty_200: (req, body, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': '0' });
    res.end();
  },
  raw_nul_in_text: (req, body, res) => {
    // a raw NUL byte inside a string: no JSON (control characters are escaped)
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(completion('col1@@col2')).replace('@@', '\u0000'));
  },
  long_error: (req, body, res) => replyJson(res, 400, { error: { type: 'invalid_request_error',
    message: 'Invalid schema for response_format: ' + 'ü'.repeat(700) + ' END' } }),
  echo_sampling: (req, body, res) => replyJson(res, 200, completion(body)),
  sse_cut_after_finish: (req, body, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(chunk({ role: 'assistant', content: '' }));
    res.write(chunk({ content: 'all of it' }));
    res.write(chunk({}, 'stop'));
    res.write('data: {"id":"c","choices":[],"usa'); // the usage chunk, cut
    setTimeout(() => res.socket.destroy(), 50);
  },
  sse_no_done: (req, body, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(chunk({ role: 'assistant', content: '' }));
    res.write(chunk({ content: 'cut ' }));
    setTimeout(() => res.end(), 100); // a clean end of the body, but no finish and no [DONE]
  },
  sse_done_no_finish: (req, body, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(chunk({ role: 'assistant', content: '' }));
    res.write(chunk({ content: 'cut short' }));
    res.end('data: [DONE]\n\n'); // the end marker, but the upstream never said the answer was over
  },
};

before(async () => {
  bad = await startMock((req, body, res) => { badAt.push(Date.now()); faults[fault](req, body, res); });
  // always rate-limited, asking for a short wait
  limited1 = await startMock((req, body, res) => {
    res.setHeader('retry-after', '1');
    replyJson(res, 429, { error: { message: 'slow down', type: 'rate_limit_error' } });
  });
  good = await startMock((req, body, res) => {
    const b = JSON.parse(body);
    if (b.stream) return replyStream(res, ['fine ', 'words'], 0);
    replyJson(res, 200, completion('from the good backend'));
  });
  // an HTTPS upstream whose certificate nobody signed: TLS verification refuses it
  const dir = mkdtempSync(join(tmpdir(), 'sluice-tls-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
  tls = https.createServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) },
    (req, res) => { tlsSeen++; replyJson(res, 200, completion('over unverified TLS')); });
  await new Promise((r) => tls.listen(0, '127.0.0.1', r));
  sluice = await startSluice({
    backends: [apiBackend('bad', bad.url, { max_retries: 0, total_timeout_ms: 5000, idle_timeout_ms: 1000 }), apiBackend('good', good.url),
               apiBackend('patient', bad.url, { max_retries: 1 }),
               apiBackend('selfsigned', `https://127.0.0.1:${tls.address().port}/v1`, { max_retries: 0 }),
               apiBackend('bare', good.url, { models: undefined }),
               apiBackend('azure', `${good.url}/?api-version=2024-06-01`),
               apiBackend('limited1', limited1.url, { max_retries: 0 })],
    rules: [
      { name: 'bad-only', when: { header: { 'x-route': 'bad-only' } }, route: ['bad'] },
      { name: 'patient', when: { header: { 'x-route': 'patient' } }, route: ['patient'] },
      { name: 'tls', when: { header: { 'x-route': 'tls' } }, route: ['selfsigned', 'good'] },
      { name: 'tls-only', when: { header: { 'x-route': 'tls-only' } }, route: ['selfsigned'] },
      { name: 'bare', when: { header: { 'x-route': 'bare' } }, route: ['bare'] },
      { name: 'azure', when: { header: { 'x-route': 'azure' } }, route: ['azure'] },
      { name: 'two-limited', when: { header: { 'x-route': 'two-limited' } }, route: ['bad', 'limited1'] },
      { name: 'default', route: ['bad', 'good'] },
    ],
  }, { MOCK_KEY: KEY });
  client = new OpenAI({ baseURL: `${sluice.base}/v1`, apiKey: 'unused', maxRetries: 0 });
});

after(async () => {
  tls?.closeAllConnections?.();
  await new Promise((r) => (tls ? tls.close(r) : r()));
  await bad?.stop();
  await good?.stop();
  await limited1?.stop();
  const r = await sluice.stop();
  assert.equal(r.code, 0, 'sluice exits 0 on SIGTERM: ' + sluice.stderr().slice(-3000));
});

const ask = (extra = {}, opts = {}) =>
  client.chat.completions.create({ model: 'auto', messages: [{ role: 'user', content: 'hello there' }], ...extra }, opts);
const badOnly = { headers: { 'x-route': 'bad-only' } };
// A streamed answer read through the SDK: its text and last finish_reason.
async function readStream(opts) {
  let text = '', finish = null;
  for await (const c of await ask({ stream: true }, opts)) {
    text += c.choices[0]?.delta?.content ?? '';
    finish = c.choices[0]?.finish_reason ?? finish;
  }
  return { text, finish };
}

const expected = { upstream_408: 504 };
// what the client is told, in words (not libcurl's "select/poll returned error" or "Out of memory")
const said = { huge: /larger than 32 MiB/, truncated: /before the answer's end/, reset_mid: /reset or broke/,
               huge_header: /headers too large/ };
for (const f of ['html', 'not_json', 'no_choices', 'content_number', 'two_values', 'truncated', 'hang_up', 'redirect', 'upstream_408', 'huge',
                 'reset_mid', 'huge_header']) {
  const want = expected[f] ?? 502;
  test(`a broken answer (${f}) fails over to the next backend, or is a ${want} when none is left`, async () => {
    fault = f;
    const r = await ask();
    assert.equal(r.choices[0].message.content, 'from the good backend');
    const res = await fetch(`${sluice.base}/v1/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json', 'x-route': 'bad-only' },
      body: JSON.stringify({ messages: [{ role: 'user', content: 'hello there' }] }),
    });
    assert.equal(res.status, want, `status ${res.status}`);
    const e = await res.json();
    assert.equal(typeof e.error?.message, 'string');
    if (said[f]) assert.match(e.error.message, said[f]);
    assert.equal(res.headers.get('x-sluice-backend'), 'bad');
    await assert.rejects(ask({}, badOnly), (err) => err instanceof OpenAI.APIError && err.status === want);
  });
}

test("an upstream refusing sluice's own key is a 502 (the gateway's failure), not the client's 401; the route moves on", async () => {
  fault = 'auth_401';
  // with a next backend, it serves (a revoked key at one provider is no outage)
  assert.equal((await ask()).choices[0].message.content, 'from the good backend');
  for (const st of [402, 403, 404]) {
    fault = 'status_' + st;
    assert.equal((await ask()).choices[0].message.content, 'from the good backend', `after a ${st}`);
  }
  // a model the route chose that the upstream lacks: the gateway's fault (502), not the client's 404
  fault = 'status_404';
  // neither is cured by a retry: x-should-retry false, which the SDKs obey
  await assert.rejects(ask({}, badOnly), (err) => err.status === 502 && err.code === 'upstream_model_not_found' &&
    err.headers.get('x-should-retry') === 'false');
  fault = 'auth_401';
  await assert.rejects(ask({}, badOnly), (err) => {
    assert.ok(!(err instanceof OpenAI.AuthenticationError), String(err));
    assert.equal(err.status, 502);
    assert.equal(err.code, 'upstream_auth_failed');
    assert.match(err.message, /refused the gateway's credential \(HTTP 401\)/);
    assert.equal(err.headers.get('x-should-retry'), 'false');
    return true;
  });
  // the gateway's account out of funds (DeepSeek, OpenRouter): the gateway's failure too
  fault = 'status_402';
  await assert.rejects(ask({}, badOnly), (err) => err.status === 502 && err.code === 'upstream_payment_required' &&
    /HTTP 402, payment required\).*Insufficient Balance/.test(err.message) && err.headers.get('x-should-retry') === 'false');
});

test("the gateway's own upstream key, echoed by an upstream in an error, reaches neither the client nor the log", async () => {
  fault = 'echo_key';
  await assert.rejects(ask({}, badOnly), (err) => {
    assert.equal(err.status, 400);
    assert.match(err.message, /\[redacted\]/);
    assert.ok(!err.message.includes(KEY) && !err.message.includes(KEY.slice(0, 6)), err.message);
    assert.ok(!JSON.stringify(err.error).includes(KEY.slice(0, 8)), JSON.stringify(err.error));
    return true;
  });
  fault = 'echo_key_long';
  await assert.rejects(ask({}, badOnly), (err) => {
    assert.ok(!err.message.includes(KEY.slice(0, 6)), err.message.slice(-80));
    return true;
  });
  assert.ok(!sluice.stderr().includes(KEY.slice(0, 8)), 'not in the log');
});

test('tool calls with arguments as JSON values and sparse indices reach the client as text, numbered 0, 1; a second choice is not merged', async () => {
  fault = 'tool_odd';
  const r = await ask({}, badOnly);
  const calls = r.choices[0].message.tool_calls;
  assert.deepEqual(calls.map((t) => [t.id, t.function.name, t.function.arguments]), [['c5', 'f5', '{"a":1}'], ['c0', 'f0', '12']]);
  // a piece of a call that never began (no name) is a broken answer, not a call named ""
  fault = 'tool_nameless';
  await assert.rejects(async () => { for await (const c of await ask({ stream: true }, badOnly)) void c; },
    (e) => /tool call without a function name/.test(e.message));
  fault = 'two_choices';
  let text = '';
  for await (const c of await ask({ stream: true }, badOnly)) text += c.choices[0]?.delta?.content ?? '';
  assert.equal(text, 'zero end');
});

test('128 tool calls in one answer all arrive; an answer with more is a failure of its backend (the next one serves a whole answer), never cut short unseen', async () => {
  fault = 'tools_n';
  nTools = 128;
  const whole = await ask({}, badOnly);
  assert.deepEqual(whole.choices[0].message.tool_calls.map((t) => t.function.name), Array.from({ length: 128 }, (_, i) => `f${i}`));
  const names = new Set();
  for await (const c of await ask({ stream: true }, badOnly))
    for (const t of c.choices[0]?.delta?.tool_calls ?? []) if (t.function?.name) names.add(t.function.name);
  assert.equal(names.size, 128);
  nTools = 129;
  await assert.rejects(ask({}, badOnly), (e) => e.status === 502 && /more than 128 tool calls/.test(e.message));
  await assert.rejects(async () => { for await (const c of await ask({ stream: true }, badOnly)) void c; },
    (e) => /more than 128 tool calls/.test(e.message));
  // a whole answer: nothing of it reached the client, so the route moves on
  assert.equal((await ask()).choices[0].message.content, 'from the good backend');
});

test('a stream that is broken before its first chunk fails over; with no next backend, a 502', async () => {
  for (const f of ['sse_garbage', 'sse_only_done', 'sse_content_number', 'sse_choices_object']) {
    fault = f;
    let text = '';
    for await (const c of await ask({ stream: true })) text += c.choices[0]?.delta?.content ?? '';
    assert.equal(text, 'fine words', f);
    await assert.rejects(async () => { for await (const c of await ask({ stream: true }, badOnly)) void c; },
      (err) => err instanceof OpenAI.APIError, f);
  }
});

const spentOnBad = async () => {
  const m = await (await fetch(`${sluice.base}/metrics`)).text();
  const get = (re) => Number(m.match(re)?.[1] ?? 0);
  return { in: get(/sluice_tokens_total\{backend="bad"[^}]*direction="in"\} (\S+)/),
           out: get(/sluice_tokens_total\{backend="bad"[^}]*direction="out"\} (\S+)/),
           usd: get(/sluice_cost_usd_total\{backend="bad"[^}]*\} (\S+)/) };
};

test('garbage after the first streamed chunk, or an end with no finish_reason, ends the stream with an error the SDK raises; what was generated is charged', async () => {
  for (const f of ['sse_then_garbage', 'sse_no_done', 'sse_done_no_finish']) {
    fault = f;
    const before = await spentOnBad();
    let text = '';
    await assert.rejects(async () => {
      for await (const c of await ask({ stream: true }, badOnly)) text += c.choices[0]?.delta?.content ?? '';
    }, (err) => err instanceof Error, f);
    assert.ok(text.startsWith(f === 'sse_then_garbage' ? 'first words' : 'cut'), `${f}: ${text}`);
    // the prompt left and words came back: not recorded as zero (estimated: no usage came)
    const after = await spentOnBad();
    assert.ok(after.in > before.in && after.out > before.out && after.usd > before.usd,
      `${f}: ${JSON.stringify(before)} -> ${JSON.stringify(after)}`);
  }
});

test('a stream cut after its finish_reason (before usage or [DONE]) is a whole answer, not an error; it is charged', async () => {
  fault = 'sse_cut_after_finish';
  const before = await spentOnBad();
  const { text, finish } = await readStream(badOnly);
  assert.equal(text, 'all of it');
  assert.equal(finish, 'stop');
  const after = await spentOnBad();
  assert.ok(after.out > before.out && after.usd > before.usd, `${JSON.stringify(before)} -> ${JSON.stringify(after)}`);
});

test('a stream whose body stays open after [DONE] ends for the client at once; nothing after [DONE] is relayed', async () => {
  fault = 'sse_held_open';
  const t0 = Date.now();
  const { text, finish } = await readStream(badOnly);
  assert.equal(text, 'all there');
  assert.equal(finish, 'stop');
  assert.ok(Date.now() - t0 < 4000, `ended after ${Date.now() - t0} ms (the backend's total timeout is 5 s)`);
});

test('a stream kept open after its finish_reason (no [DONE]) ends for the client about a second later, whole', async () => {
  fault = 'sse_finish_open';
  const t0 = Date.now();
  const { text, finish } = await readStream(badOnly);
  assert.equal(text, 'done here');
  assert.equal(finish, 'stop');
  const ms = Date.now() - t0;
  assert.ok(ms < 2500, `ended after ${ms} ms (pings keep the idle timeout off; the total timeout is 5 s)`);
});

test("an upstream's error message neither forges a line of the log nor loses its tail to a NUL", async () => {
  fault = 'log_forge';
  await assert.rejects(ask({}, badOnly), (err) => {
    assert.equal(err.status, 400);
    assert.match(err.message, /FORGED LINE\r\n\u001b\[2J after \ufffd the tail$/);
    return true;
  });
  const log = sluice.stderr();
  assert.ok(!/^\S+ info  FORGED LINE/m.test(log), 'no forged line');
  assert.ok(!log.includes('\u001b'), 'no escape character');
  assert.match(log, /bad\\n2026-12-07T04:50:00\.000Z info  FORGED LINE\\r\\n\\x1b\[2J after/);
});

test('an upstream that stalls mid-stream fails at idle_timeout_ms, not at the total timeout', async () => {
  fault = 'sse_stall';
  const t0 = Date.now();
  let text = '';
  await assert.rejects(async () => {
    for await (const c of await ask({ stream: true }, badOnly)) text += c.choices[0]?.delta?.content ?? '';
  }, (err) => err instanceof Error && /idle timeout/i.test(err.message), 'an error event the SDK raises');
  assert.equal(text, 'and then ');
  const ms = Date.now() - t0;
  assert.ok(ms >= 900 && ms < 3500, `failed after ${ms} ms (idle 1 s, total 5 s)`);
});

test('an error event inside a 200 stream is named as one (not as an HTTP status the upstream never sent)', async () => {
  fault = 'sse_error_event';
  await assert.rejects(async () => { for await (const c of await ask({ stream: true }, badOnly)) void c; },
    (err) => err instanceof OpenAI.APIError && /sent an error event: the model is overloaded/.test(err.message));
});

test('an error object in a 200 answer is the upstream\'s error, at the status its code names, and fails over', async () => {
  fault = 'json_200_error';
  await assert.rejects(ask({}, badOnly),
    (err) => err instanceof OpenAI.RateLimitError && /Provider returned error/.test(err.message));
  const r = await ask();
  assert.equal(r.choices[0].message.content, 'from the good backend');
});

test('a stream under a wrong or missing content type is still read as a stream', async () => {
  for (const [f, want] of [['sse_text_plain', 'plain but fine'], ['sse_no_type', 'untyped but fine']]) {
    fault = f;
    let text = '';
    for await (const c of await ask({ stream: true }, badOnly)) text += c.choices[0]?.delta?.content ?? '';
    assert.equal(text, want, f);
  }
});

test('an upstream whose TLS certificate does not verify is never sent the request: failover, or a 502', async () => {
  const r = await ask({}, { headers: { 'x-route': 'tls' } });
  assert.equal(r.choices[0].message.content, 'from the good backend');
  await assert.rejects(ask({}, { headers: { 'x-route': 'tls-only' } }), (err) => {
    assert.ok(err instanceof OpenAI.APIError && err.status === 502, String(err));
    assert.match(err.message, /certificate|SSL|TLS/i);
    return true;
  });
  assert.equal(tlsSeen, 0, 'the self-signed upstream received no request');
});

test("an upstream's Retry-After reaches the client with the 429 (retry-after-ms first, rounded up to seconds; a date too)", async () => {
  for (const [f, want] of [['limited_s', '7'], ['limited_ms', '3'], ['limited_date', /^1(19|20|21)$/]]) {
    fault = f;
    const res = await fetch(`${sluice.base}/v1/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json', 'x-route': 'bad-only' },
      body: JSON.stringify({ messages: [{ role: 'user', content: 'hello there' }] }),
    });
    assert.equal(res.status, 429);
    if (want instanceof RegExp) assert.match(res.headers.get('retry-after'), want, f);
    else assert.equal(res.headers.get('retry-after'), want, f);
    await res.text();
  }
});

test('a route whose every step is rate-limited answers with the longest wait any of them asked for', async () => {
  fault = 'limited_s'; // the first step asks for 7 s, the second (limited1) for 1 s
  const res = await fetch(`${sluice.base}/v1/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json', 'x-route': 'two-limited' },
    body: JSON.stringify({ messages: [{ role: 'user', content: 'hello there' }] }),
  });
  assert.equal(res.status, 429);
  assert.equal(res.headers.get('retry-after'), '7');
  await res.text();
});

test('a spent quota (429 insufficient_quota) tells the SDK not to retry: x-should-retry false, no Retry-After', async () => {
  fault = 'quota_429';
  const n = badAt.length;
  const patient = new OpenAI({ baseURL: `${sluice.base}/v1`, apiKey: 'unused', maxRetries: 2 });
  await assert.rejects(patient.chat.completions.create({ model: 'auto', messages: [{ role: 'user', content: 'hello there' }] }, badOnly),
    (err) => {
      assert.ok(err instanceof OpenAI.RateLimitError, String(err));
      assert.equal(err.code, 'insufficient_quota');
      assert.equal(err.headers.get('x-should-retry'), 'false');
      assert.equal(err.headers.get('retry-after'), null);
      return true;
    });
  assert.equal(badAt.length - n, 1, 'the SDK asked once');
});

test("an upstream's own x-should-retry: false is obeyed (sluice does not ask it again) and relayed to the SDK", async () => {
  fault = 'final_500';
  const n = badAt.length;
  const patient = new OpenAI({ baseURL: `${sluice.base}/v1`, apiKey: 'unused', maxRetries: 2 });
  await assert.rejects(patient.chat.completions.create({ model: 'auto', messages: [{ role: 'user', content: 'hello there' }] },
    { headers: { 'x-route': 'patient' } }), (err) => {
    assert.equal(err.status, 502);
    assert.equal(err.headers.get('x-should-retry'), 'false');
    return true;
  });
  assert.equal(badAt.length - n, 1, 'one upstream call: neither sluice (max_retries 1) nor the SDK asked again');
});

test("sluice's own retry of a backend waits as long as the upstream's Retry-After asked", async () => {
  fault = 'limited_ms'; // retry-after-ms: 2500
  const n = badAt.length;
  const res = await fetch(`${sluice.base}/v1/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json', 'x-route': 'patient' },
    body: JSON.stringify({ messages: [{ role: 'user', content: 'hello there' }] }),
  });
  assert.equal(res.status, 429);
  await res.text();
  assert.equal(badAt.length - n, 2, 'asked twice (max_retries 1)');
  const gap = badAt.at(-1) - badAt.at(-2);
  assert.ok(gap >= 2400, `retried after ${gap} ms`);
});

test("an upstream's wait under a second reaches the client as retry-after-ms too (the SDKs read it first)", async () => {
  fault = 'limited_fast';
  const res = await fetch(`${sluice.base}/v1/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json', 'x-route': 'patient' },
    body: JSON.stringify({ messages: [{ role: 'user', content: 'hello there' }] }),
  });
  assert.equal(res.status, 429);
  await res.text();
  assert.equal(res.headers.get('retry-after'), '1');
  assert.equal(res.headers.get('retry-after-ms'), '50');
});

test("an upstream's impossible usage (negative, 1e300) is not believed: sluice estimates, counters never run back", async () => {
  fault = 'bad_usage';
  const r = await ask({}, badOnly);
  assert.equal(r.choices[0].message.content, 'counted by sluice');
  assert.ok(r.usage.prompt_tokens > 0 && r.usage.prompt_tokens < 1000, `prompt ${r.usage.prompt_tokens}`);
  assert.ok(r.usage.completion_tokens > 0 && r.usage.completion_tokens < 100, `completion ${r.usage.completion_tokens}`);
  const m = await (await fetch(`${sluice.base}/metrics`)).text();
  for (const dir of ['in', 'out']) {
    const v = Number(m.match(new RegExp(`sluice_tokens_total\\{backend="bad"[^}]*direction="${dir}"\\} (\\S+)`))?.[1]);
    assert.ok(v > 0 && v < 1e4, `tokens ${dir}: ${v}`);
  }
  const cost = Number(m.match(/sluice_cost_usd_total\{backend="bad"[^}]*\} (\S+)/)?.[1]);
  assert.ok(cost > 0 && cost < 0.01, `cost ${cost}`);
});

test('a base_url with a query (Azure-style api-version): the path goes before it', async () => {
  const n = good.received.length;
  const r = await ask({}, { headers: { 'x-route': 'azure' } });
  assert.equal(r.choices[0].message.role, 'assistant');
  assert.equal(good.received[n].url, '/v1/chat/completions?api-version=2024-06-01');
});

test('a usage of zero for a prompt and an answer with text (a proxy filling usage with zeros) is not believed: estimated', async () => {
  fault = 'zero_usage';
  const r = await ask({}, badOnly);
  assert.equal(r.choices[0].message.content, 'counted by sluice');
  // about 4 bytes a token of the prompt's text ("hello there": 11 bytes, 3
  // tokens), plus the chat template's 3 a message and 3 for the answer; not
  // of the whole request body the upstream got
  assert.equal(r.usage.prompt_tokens, 3 + 3 + 3);
  assert.equal(r.usage.completion_tokens, 5, '"counted by sluice": 17 bytes');
});

test('a U+0000 in upstream text does not cut the answer: it becomes U+FFFD and the rest arrives', async () => {
  fault = 'nul_in_text';
  const r = await ask({}, badOnly);
  assert.equal(r.choices[0].message.content, 'col1\ufffdcol2 and the rest');
  // a raw NUL is no JSON: a malformed answer (it cut the text short, silently, with a 200)
  fault = 'raw_nul_in_text';
  await assert.rejects(ask({}, badOnly), (e) => e.status === 502 && /malformed/.test(e.message));
});

test('broken framing and an empty answer are named for what they are (a 502 either way)', async () => {
  fault = 'bad_chunked';
  await assert.rejects(ask({}, badOnly), (e) => e.status === 502 && /malformed chunked encoding/.test(e.message));
  fault = 'empty_200';
  await assert.rejects(ask({}, badOnly), (e) => e.status === 502 && /no body/.test(e.message));
  fault = 'switched';
  const t0 = Date.now();
  await assert.rejects(ask({}, badOnly), (e) => e.status === 502 && /switched protocols/.test(e.message));
  assert.ok(Date.now() - t0 < 900, `failed at once, not at the idle timeout (${Date.now() - t0} ms)`);
});

test("an emoji whose UTF-16 halves came in two events reaches the client whole", async () => {
  fault = 'sse_split_pair';
  const { text } = await readStream(badOnly);
  assert.equal(text, 'X\u{1F600}Y \u{1F327}!');
});

test('bytes that are no UTF-8 in an upstream answer reach the client as U+FFFD: valid JSON for strict parsers, streamed or not', async () => {
  fault = 'bad_utf8';
  for (const stream of [false, true]) {
    const raw = await fetch(`${sluice.base}/v1/chat/completions`, { method: 'POST',
      headers: { 'content-type': 'application/json', 'x-route': 'bad-only' },
      body: JSON.stringify({ model: 'auto', stream, messages: [{ role: 'user', content: 'hi' }] }) });
    const bytes = new Uint8Array(await raw.arrayBuffer());
    const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes); // throws on invalid UTF-8
    assert.ok(text.includes('café \ufffd\ufffd end'), text.slice(0, 300));
  }
});

test('an upstream answer with conflicting Content-Length headers fails at once (502), not at the idle timeout', async () => {
  fault = 'dup_length';
  const t0 = Date.now();
  await assert.rejects(ask({}, badOnly), (err) => err.status === 502 && /conflicting Content-Length/.test(err.message));
  assert.ok(Date.now() - t0 < 3000, `took ${Date.now() - t0} ms`);
});

test('a long upstream error message arrives whole up to 1 KB, cut on a character boundary (valid UTF-8 JSON)', async () => {
  fault = 'long_error';
  const raw = await fetch(`${sluice.base}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-route': 'bad-only' },
    body: JSON.stringify({ model: 'auto', messages: [{ role: 'user', content: 'hi' }] }) });
  assert.equal(raw.status, 400);
  const bytes = Buffer.from(await raw.arrayBuffer());
  const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes); // throws on invalid UTF-8
  const msg = JSON.parse(text).error.message;
  assert.match(msg, /^upstream answered HTTP 400: Invalid schema for response_format: ü+$/);
  assert.ok(Buffer.byteLength(msg) > 900, `kept ${Buffer.byteLength(msg)} bytes`);
});

test("vLLM's sampling members and a negative seed reach an openai upstream as the client set them", async () => {
  fault = 'echo_sampling';
  const r = await ask({ top_k: 40, min_p: 0.05, repetition_penalty: 1.1, seed: -1 }, badOnly);
  const sent = JSON.parse(r.choices[0].message.content);
  assert.equal(sent.top_k, 40);
  assert.equal(sent.min_p, 0.05);
  assert.equal(sent.repetition_penalty, 1.1);
  assert.equal(sent.seed, -1);
  const plain = JSON.parse((await ask({}, badOnly)).choices[0].message.content);
  for (const k of ['top_k', 'min_p', 'repetition_penalty', 'seed']) assert.equal(plain[k], undefined, k);
});

test("the SDK's _request_id is sluice's request id (x-request-id), as in x-sluice-request-id", async () => {
  fault = 'echo_sampling';
  const { data, response } = await client.chat.completions.create({ model: 'auto', messages: [{ role: 'user', content: 'hi' }] },
    badOnly).withResponse();
  assert.ok(data._request_id?.startsWith('req_'), `_request_id ${data._request_id}`);
  assert.equal(data._request_id, response.headers.get('x-sluice-request-id'));
  assert.equal(response.headers.get('request-id'), data._request_id);
});

test('a backend with no model list answers under the model the client asked for (the one it was sent), streamed too', async () => {
  const r = await client.chat.completions.create({ model: 'gpt-4o-2024-08-06', messages: [{ role: 'user', content: 'hi' }] },
    { headers: { 'x-route': 'bare' } });
  assert.equal(r.model, 'gpt-4o-2024-08-06');
  const st = await client.chat.completions.create({ model: 'gpt-4o-2024-08-06', stream: true,
    messages: [{ role: 'user', content: 'hi' }] }, { headers: { 'x-route': 'bare' } });
  for await (const c of st) assert.equal(c.model, 'gpt-4o-2024-08-06');
});

test('after all of that, sluice still answers and counts upstream errors', async () => {
  fault = 'html';
  assert.equal((await ask()).choices[0].message.content, 'from the good backend');
  const m = await (await fetch(`${sluice.base}/metrics`)).text();
  const errs = Number(m.match(/sluice_upstream_errors_total\{backend="bad"\} (\d+)/)?.[1] ?? 0);
  assert.ok(errs >= 10, `upstream errors counted: ${errs}`);
});

test('a backend whose API key variable is not set is sent nothing: the next one serves, or a 503 that says why', async () => {
  const up = await startMock((req, body, res) => replyJson(res, 200, completion('keyed')));
  const s = await startSluice({
    backends: [apiBackend('keyless', up.url, { api_key_env: 'SLUICE_E2E_UNSET_KEY' }), apiBackend('keyed', up.url)],
    rules: [{ name: 'only-keyless', when: { header: { 'x-route': 'keyless' } }, route: ['keyless'] },
            { name: 'default', route: ['keyless', 'keyed'] }],
  }, { MOCK_KEY: KEY, SLUICE_E2E_UNSET_KEY: '' });
  try {
    const post = (h = {}) => fetch(`${s.base}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', ...h },
      body: JSON.stringify({ model: 'auto', messages: [{ role: 'user', content: 'hello' }] }) });
    const a = await post();
    assert.equal(a.status, 200);
    assert.equal(a.headers.get('x-sluice-backend'), 'keyed');
    assert.equal(up.received.length, 1);
    assert.equal(up.received[0].headers.authorization, `Bearer ${KEY}`);
    const b = await post({ 'x-route': 'keyless' });
    assert.equal(b.status, 503);
    const e = (await b.json()).error;
    assert.equal(e.code, 'upstream_key_missing');
    assert.match(e.message, /\$SLUICE_E2E_UNSET_KEY, which is not set/);
    assert.equal(up.received.length, 1, 'nothing was sent without the key');
    assert.match(s.stderr(), /backend "keyless": \$SLUICE_E2E_UNSET_KEY is not set; no request is sent to it/);
  } finally {
    await s.stop();
    await up.stop();
  }
});
