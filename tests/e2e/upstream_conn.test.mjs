// Pooled upstream connections that an upstream spoils between requests. A
// connection kept alive for the next request must never hand one client's
// request another answer: bytes an upstream sends after its answer (one
// response too many, a stray CRLF) would be read as the next request's answer,
// which across clients is a leak. (Bytes that arrive only after the next
// request went out cannot be told from its answer: HTTP/1.1 has no request ids.)
// And an idle connection the upstream reset must
// not fail the next request (the keep-alive race): it goes on a new connection.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import OpenAI from 'openai';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { startSluice, apiBackend, completion, replyJson, sleep } from './lib.mjs';

// A raw HTTP/1.1 upstream: each request's answer is written by `play`, which
// gets the socket, the parsed request body and a response for a text.
function startRawMock(play, intercept = () => false) {
  const sockets = new Set();
  const server = net.createServer((sock) => {
    sockets.add(sock);
    sock.setNoDelay(true); // a stray write goes out at once, not after the next ACK
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => {});
    let buf = Buffer.alloc(0);
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.subarray(0, end).toString();
        const len = Number(/content-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
        if (buf.length < end + 4 + len) return;
        const body = JSON.parse(buf.subarray(end + 4, end + 4 + len).toString());
        buf = buf.subarray(end + 4 + len);
        mock.requests++;
        mock.bodyBytes += len;
        const key = who(body);
        if (!mock.seen.has(key)) { mock.seen.add(key); mock.firstBytes += len; }
        if (!intercept(sock, body)) play(sock, body);
      }
    });
  });
  const mock = {
    requests: 0,
    bodyBytes: 0,
    firstBytes: 0, // of each request's first arrival
    seen: new Set(),
    sockets,
    listen: () => new Promise((r) => server.listen(0, '127.0.0.1', () => { mock.port = server.address().port; r(); })),
    close: () => { for (const s of sockets) s.destroy(); return new Promise((r) => server.close(r)); },
  };
  return mock;
}

const response = (text) => {
  const b = JSON.stringify(completion(text));
  return `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(b)}\r\n\r\n${b}`;
};
const who = (body) => body.messages.at(-1).content;

let mode = 'stray';
const mock = startRawMock((sock, body) => {
  const asker = who(body);
  sock.write(response(`answer for ${asker}`));
  if (mode === 'stray' && asker === 'client-A')
    setImmediate(() => sock.write(response('STRAY answer nobody asked for'))); // a separate write
  if (mode === 'crlf' && asker === 'client-A') setImmediate(() => sock.write('\r\n'));
  if (mode === 'reset') setTimeout(() => sock.resetAndDestroy(), 20); // the idle connection is reset
}, (sock, body) => {
  // mode 'take-and-reset' ('take-and-close'): the second request on a connection is
  // read whole, then the connection is reset (closed) without an answer (the
  // request's bytes did arrive)
  sock.count = (sock.count ?? 0) + 1;
  if (mode === 'take-and-reset' && sock.count === 2) { sock.resetAndDestroy(); return true; }
  if (mode === 'take-and-close' && sock.count === 2) { sock.destroy(); return true; }
  return false;
});
let sluice, client;

before(async () => {
  await mock.listen();
  sluice = await startSluice({
    workers: 1,
    backends: [apiBackend('up', `http://127.0.0.1:${mock.port}/v1`)], // max_retries 0: no retry hides a failure
    rules: [{ name: 'all', route: ['up'] }],
  }, { MOCK_KEY: 'k' });
  client = new OpenAI({ baseURL: `${sluice.base}/v1`, apiKey: 'x', maxRetries: 0 });
});
after(async () => { await sluice?.stop(); await mock.close(); });

const ask = async (asker) => {
  const r = await client.chat.completions.create({ model: 'auto', messages: [{ role: 'user', content: asker }] });
  return r.choices[0].message.content;
};

for (const m of ['stray', 'crlf']) {
  test(`bytes an upstream sends after its answer (${m}) never become the next client's answer`, async () => {
    mode = m;
    for (const asker of ['client-A', 'client-B', 'client-C', 'client-D', 'client-A', 'client-E']) {
      assert.equal(await ask(asker), `answer for ${asker}`);
      await sleep(30); // the stray bytes arrive while the connection idles in the pool
    }
  });
}

test('an idle pooled connection the upstream reset does not fail the next request', async () => {
  mode = 'reset';
  const seen = mock.requests;
  for (let i = 0; i < 12; i++) {
    assert.equal(await ask(`reset-${i}`), `answer for reset-${i}`);
    await sleep([0, 40, 100][i % 3]); // before, around and after the reset
  }
  // each reached the upstream, at most twice (once more when the reset came just
  // after the upstream read it and before it answered)
  const reached = mock.requests - seen;
  assert.ok(reached >= 12 && reached <= 24, `the upstream saw ${reached} requests for 12`);
});

for (const m of ['take-and-reset', 'take-and-close'])
test(`a request resent on a new connection after a reused one failed (${m}) is a transmission of its own: every byte that left is counted`, async () => {
  mode = m;
  await sleep(100); // the reset test's connections are gone (their resets would race these requests)
  const egress = async () => Number((await (await fetch(`${sluice.base}/metrics`)).text())
    .match(/sluice_egress_bytes_total\{backend="up"\} (\S+)/)?.[1] ?? 0);
  const bytes0 = mock.bodyBytes, first0 = mock.firstBytes, egress0 = await egress(), seen = mock.requests;
  for (let i = 0; i < 6; i++) assert.equal(await ask(`${m}-${i}`), `answer for ${m}-${i}`);
  assert.ok(mock.requests - seen > 6, `some requests reached the upstream twice (${mock.requests - seen})`);
  // every send is counted: the gateway's resends, and none of libcurl's own
  // (which it would make, unrecorded, when a reused connection dies before
  // the answer: sluice stops it and resends as a call of its own)
  const counted = await egress() - egress0, received = mock.bodyBytes - bytes0, once = mock.firstBytes - first0;
  assert.ok(counted > once, `egress ${counted}: more than the ${once} bytes of one send each`);
  assert.equal(counted, received, 'every byte the upstream received is counted');
});

// An upstream whose SYNs go unanswered (a full accept backlog here; a firewalled
// host or a dead VM in production): the connect stays pending until a timeout or
// the client gives up. sluice aborted (libuv asserted on a closed fd that libcurl
// had closed without its close-socket callback) in each of these cases.
test('a connect still pending when it times out, or when the client leaves, fails that request only', async () => {
  const { spawn } = await import('node:child_process');
  const py = spawn('python3', ['-c', `
import socket, time
s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(0)
fill = []
for i in range(4):
    c = socket.socket(); c.setblocking(False)
    try: c.connect(s.getsockname())
    except BlockingIOError: pass
    fill.append(c)
print(s.getsockname()[1], flush=True); time.sleep(60)`], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = Number(await new Promise((r) => py.stdout.once('data', (d) => r(String(d).trim()))));
  const good = startRawMock((sock) => sock.write(response('fine')));
  await good.listen();
  const s = await startSluice({
    backends: [apiBackend('hang', `http://127.0.0.1:${port}/v1`, { connect_timeout_ms: 500, max_retries: 0 }),
               apiBackend('good', `http://127.0.0.1:${good.port}/v1`)],
    rules: [{ name: 'hang', when: { header: { 'x-route': 'hang' } }, route: ['hang'] }, { name: 'default', route: ['good'] }],
  });
  try {
    const body = JSON.stringify({ messages: [{ role: 'user', content: 'hello' }] });
    const post = (route, signal) => fetch(`${s.base}/v1/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json', 'x-route': route }, body, signal });
    const t0 = Date.now();
    const r = await post('hang');
    assert.equal(r.status, 504, await r.text());
    assert.ok(Date.now() - t0 < 3000);
    // the client leaves while the connect is pending
    await assert.rejects(post('hang', AbortSignal.timeout(200)));
    await sleep(300);
    for (let i = 0; i < 3; i++) assert.equal((await post('good')).status, 200, 'sluice still serves');
  } finally {
    py.kill();
    const r = await s.stop();
    assert.equal(r.code, 0, 'exits cleanly, no abort: ' + s.stderr().slice(-2000));
    await good.close();
  }
});

// An upstream behind TLS with a private CA (an inference server inside the
// network): refused while its certificate is not trusted — verification is
// never off — and served once the backend's ca_file names the CA.
test('a TLS upstream is verified: its private CA is trusted through ca_file only', async () => {
  const fix = new URL('./fixtures/', import.meta.url);
  const up = https.createServer({ key: readFileSync(new URL('tls-key.pem', fix)), cert: readFileSync(new URL('tls-cert.pem', fix)) },
    (req, res) => { req.resume(); req.on('end', () => replyJson(res, 200, completion('over tls'))); });
  await new Promise((r) => up.listen(0, '127.0.0.1', r));
  const url = `https://127.0.0.1:${up.address().port}/v1`;
  const s = await startSluice({
    backends: [apiBackend('plain', url, { max_retries: 0 }),
               apiBackend('trusted', url, { ca_file: fileURLToPath(new URL('tls-cert.pem', fix)) })],
    rules: [{ name: 'plain', when: { header: { 'x-route': 'plain' } }, route: ['plain'] }, { name: 'default', route: ['trusted'] }],
  });
  try {
    const ask = (route) => fetch(`${s.base}/v1/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json', 'x-route': route },
      body: JSON.stringify({ messages: [{ role: 'user', content: 'hello' }] }) });
    const bad = await ask('plain');
    assert.equal(bad.status, 502);
    assert.match((await bad.json()).error.message, /certificate/);
    const ok = await ask('trusted');
    assert.equal(ok.status, 200);
    assert.equal((await ok.json()).choices[0].message.content, 'over tls');
    // the untrusted backend stays refused after the trusted one's connection exists
    assert.equal((await ask('plain')).status, 502);
  } finally {
    await s.stop();
    up.closeAllConnections();
    await new Promise((r) => up.close(r));
  }
});
