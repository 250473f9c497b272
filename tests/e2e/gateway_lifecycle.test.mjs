// Connection limits and graceful shutdown: SIGTERM stops accepting, lets the
// in-flight stream finish, and exits 0. Several event-loop threads share one
// address, one connection limit, the metrics and unique request ids.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { BIN, startMock, startSluice, apiBackend, replyStream, replyJson, completion, raw, sleep } from './lib.mjs';

test('connections beyond max_connections get 503 and are closed', async () => {
  const mock = await startMock((req, body, res) => replyStream(res, ['a'], 0));
  const s = await startSluice({
    backends: [apiBackend('up', mock.url)], rules: [{ name: 'default', route: ['up'] }],
    limits: { max_connections: 2 },
  });
  try {
    const hold = [net.connect(s.port, '127.0.0.1'), net.connect(s.port, '127.0.0.1')];
    await Promise.all(hold.map((c) => new Promise((r) => c.on('connect', r))));
    await sleep(100);
    const r = await raw(s.port, 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.match(r.text, /^HTTP\/1\.1 503/);
    // the contract's headers (no request of its own was read: its id is none)
    // and an OpenAI error object with every member
    assert.match(r.text, /\r\nx-sluice-request-id: none\r\n/);
    assert.match(r.text, /\r\nx-sluice-backend: none\r\n/);
    assert.match(r.text, /\r\nDate: \w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} GMT\r\n/);
    assert.deepEqual(JSON.parse(r.text.slice(r.text.indexOf('\r\n\r\n') + 4)).error,
      { message: 'too many connections', type: 'server_error', param: null, code: 'too_many_connections' });
    // a refused client whose request sluice never read, reading late, gets its
    // 503 and a clean end, not a reset (the rest of its request is drained)
    for (const tail of ['{"messages":[]}', '']) {
      const c = net.connect(s.port, '127.0.0.1');
      c.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n` +
        `Content-Length: 15\r\n\r\n${tail}`);
      await sleep(150);
      let text = '', error = null;
      c.on('data', (d) => { text += d; });
      await new Promise((res) => { c.on('end', res); c.on('error', (e) => { error = e; res(); }); });
      c.destroy();
      assert.equal(error, null, `no reset (${tail ? 'whole request' : 'body unsent'})`);
      assert.match(text, /^HTTP\/1\.1 503/);
    }
    hold.forEach((c) => c.destroy());
    await sleep(200);
    assert.equal((await fetch(`${s.base}/healthz`)).status, 200, 'serves again once connections close');
    // an operator sees it: counted in /metrics and logged
    assert.match(await (await fetch(`${s.base}/metrics`)).text(), /^sluice_refused_connections_total 3$/m);
    assert.match(s.stderr(), /max_connections \(2\) reached/);
  } finally {
    assert.equal((await s.stop()).code, 0);
    await mock.stop();
  }
});

test('several event-loop threads: concurrent clients are all served, ids unique, metrics summed, clean exit', async () => {
  const mock = await startMock((req, body, res) => {
    const n = JSON.parse(body).messages[0].content;
    setTimeout(() => replyJson(res, 200, completion(`echo ${n}`)), 20);
  });
  const s = await startSluice({
    workers: 4, backends: [apiBackend('up', mock.url)], rules: [{ name: 'default', route: ['up'] }],
  });
  try {
    assert.match(s.stderr(), /4 event-loop threads/);
    // separate connections so that the kernel spreads them over the listeners
    const clients = Array.from({ length: 16 }, () => new OpenAI({ baseURL: `${s.base}/v1`, apiKey: 'x', maxRetries: 0 }));
    const ids = new Set();
    const all = await Promise.all(Array.from({ length: 96 }, async (_, i) => {
      const { data, response } = await clients[i % clients.length].chat.completions
        .create({ messages: [{ role: 'user', content: String(i) }] }).withResponse();
      ids.add(response.headers.get('x-sluice-request-id'));
      return data.choices[0].message.content;
    }));
    all.forEach((t, i) => assert.equal(t, `echo ${i}`));
    assert.equal(ids.size, 96, 'request ids are unique across threads');
    const m = await (await fetch(`${s.base}/metrics`)).text();
    const served = [...m.matchAll(/^sluice_requests_total\{status="200",backend="up"\} (\d+)/gm)]
      .reduce((a, x) => a + Number(x[1]), 0);
    assert.equal(served, 96);
  } finally {
    assert.equal((await s.stop()).code, 0, s.stderr());
    await mock.stop();
  }
});

test('request ids differ across a restart: two processes never hand out the same id', async () => {
  // ids are "req_" + time (8 hex) + the process's random boot number (8) + a
  // sequence: a restart within the same second starts its sequence again
  const mock = await startMock((req, body, res) => replyJson(res, 200, completion('ok')));
  const cfg = { backends: [apiBackend('up', mock.url)], rules: [{ name: 'default', route: ['up'] }] };
  const idOf = async (base) => (await fetch(`${base}/v1/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'auto', messages: [{ role: 'user', content: 'hi' }] }),
  })).headers.get('x-sluice-request-id');
  try {
    const ids = [];
    for (let run = 0; run < 2; run++) {
      const s = await startSluice(cfg);
      try { ids.push(await idOf(s.base), await idOf(s.base)); } finally { assert.equal((await s.stop()).code, 0); }
    }
    for (const id of ids) assert.match(id, /^req_[0-9a-f]{8}[0-9a-f]{8}[0-9a-f]{4,16}$/);
    assert.equal(new Set(ids).size, 4, ids.join(' '));
    assert.equal(ids[0].slice(12, 20), ids[1].slice(12, 20), 'one boot number per process');
    assert.notEqual(ids[0].slice(12, 20), ids[2].slice(12, 20), 'another process, another boot number');
  } finally {
    await mock.stop();
  }
});

test('a second sluice on the address of a running one refuses to start instead of sharing it', async () => {
  const s = await startSluice({
    workers: 2, backends: [apiBackend('up', 'http://127.0.0.1:9/v1')], rules: [{ name: 'default', route: ['up'] }],
  });
  try {
    const second = spawn(BIN, ['serve', '--config', s.path, '--listen', `127.0.0.1:${s.port}`],
      { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    second.stderr.on('data', (d) => (err += d));
    const code = await new Promise((r) => second.on('exit', (c) => r(c)));
    assert.notEqual(code, 0);
    assert.match(err, /address is in use/);
    assert.equal((await fetch(`${s.base}/healthz`)).status, 200, 'the first one still serves');
  } finally {
    assert.equal((await s.stop()).code, 0, s.stderr());
  }
});

test('serve refuses a bad --listen or --workers with exit 2 and says why, as it does for the config', async () => {
  const s = await startSluice({ backends: [apiBackend('up', 'http://127.0.0.1:9/v1')], rules: [{ name: 'default', route: ['up'] }] });
  try {
    for (const [args, why] of [[['--listen', '127.0.0.1:84934'], /port must be 0\.\.65535/],
                               [['--listen', '127.0.0.1:8080xyz'], /port must be/],
                               [['--workers', 'abc'], /--workers: a whole number/],
                               [['--workers', '-3'], /--workers: a whole number/],
                               [['--workers', '65'], /--workers: a whole number/]]) {
      let err = '';
      let code;
      try {
        execFileSync(BIN, ['serve', '--config', s.path, ...args], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 5000 });
      } catch (e) {
        code = e.status;
        err = String(e.stderr);
      }
      assert.equal(code, 2, `${args.join(' ')}: ${err}`);
      assert.match(err, why);
    }
  } finally {
    assert.equal((await s.stop()).code, 0, s.stderr());
  }
});

test('SIGTERM drains: the in-flight stream completes, new connections are refused, exit 0', async () => {
  const pieces = Array.from({ length: 10 }, (_, i) => `p${i} `);
  const mock = await startMock((req, body, res) => replyStream(res, pieces, 100));
  const s = await startSluice({ backends: [apiBackend('up', mock.url)], rules: [{ name: 'default', route: ['up'] }] });
  const client = new OpenAI({ baseURL: `${s.base}/v1`, apiKey: 'x', maxRetries: 0 });
  const stream = await client.chat.completions.create({ stream: true, messages: [{ role: 'user', content: 'go' }] });
  let text = '';
  let signalled = false;
  for await (const c of stream) {
    text += c.choices[0]?.delta?.content ?? '';
    if (!signalled && text.length > 0) {
      signalled = true;
      s.proc.kill('SIGTERM');
      await sleep(100);
      await assert.rejects(fetch(`${s.base}/healthz`), 'no new connections while draining');
    }
  }
  assert.equal(text, pieces.join(''), 'the whole answer arrived');
  const r = await s.exited;
  assert.equal(r.code, 0, s.stderr());
  await mock.stop();
});

test('at the end of the shutdown grace the unfinished requests get a readable 503 (an error event in a stream), are recorded so, exit 0', async () => {
  const pieces = Array.from({ length: 40 }, (_, i) => `p${i} `);
  const mock = await startMock((req, body, res) => {
    if (JSON.parse(body).stream) return replyStream(res, pieces, 250);
    setTimeout(() => replyJson(res, 200, completion('too late')), 20000);
  });
  const dir = mkdtempSync(join(tmpdir(), 'sluice-grace-'));
  const db = join(dir, 'ledger.db');
  const s = await startSluice({
    backends: [apiBackend('up', mock.url)], rules: [{ name: 'default', route: ['up'] }],
    limits: { shutdown_grace_ms: 600 }, ledger: { path: db },
  });
  try {
    const client = new OpenAI({ baseURL: `${s.base}/v1`, apiKey: 'x', maxRetries: 0 });
    const whole = client.chat.completions.create({ messages: [{ role: 'user', content: 'slow' }] })
      .then(() => null, (e) => e);
    const stream = await client.chat.completions.create({ stream: true, messages: [{ role: 'user', content: 'go' }] });
    let text = '';
    let err = null;
    const t0 = Date.now();
    try {
      for await (const c of stream) {
        text += c.choices[0]?.delta?.content ?? '';
        if (text === 'p0 ') s.proc.kill('SIGTERM');
      }
    } catch (e) { err = e; }
    assert.ok(err instanceof OpenAI.APIError, `the stream ends with an error event, not a cut: ${err}`);
    assert.match(err.message, /shutting down/);
    assert.equal(err.code, 'server_shutting_down', 'the same code as a whole answer gets');
    assert.ok(text.length > 0 && text.length < pieces.join('').length, text);
    const e2 = await whole;
    assert.ok(e2 instanceof OpenAI.APIError && e2.status === 503, `whole answer: ${e2}`);
    assert.equal(e2.code, 'server_shutting_down');
    assert.ok(Date.now() - t0 < 5000, 'ended at the grace period, not at the upstream');
    const r = await s.exited;
    assert.equal(r.code, 0, s.stderr());
    const ended = [...s.stderr().matchAll(/ending this event loop's unfinished requests \((\d+)\)/g)].reduce((a, m) => a + Number(m[1]), 0);
    assert.equal(ended, 2, s.stderr()); // each event-loop thread logs its own
    const rows = JSON.parse(execFileSync('sqlite3', ['-readonly', '-json', db,
      "SELECT http_status, status FROM requests WHERE kind = 'request' ORDER BY id"], { encoding: 'utf8' }));
    assert.deepEqual(rows.map((x) => x.http_status), [503, 503], JSON.stringify(rows));
  } finally {
    if (s.proc.exitCode === null) await s.stop();
    await mock.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('max_retries retries the same backend after a retryable failure before failing over', async () => {
  let n = 0;
  const flaky = await startMock((req, body, res) => {
    if (++n <= 2) return replyJson(res, 503, { error: { message: 'warming up', type: 'server_error' } });
    replyJson(res, 200, completion('third time lucky'));
  });
  const other = await startMock((req, body, res) => replyJson(res, 200, completion('other')));
  const s = await startSluice({
    backends: [apiBackend('flaky', flaky.url, { max_retries: 2 }), apiBackend('other', other.url)],
    rules: [{ name: 'default', route: ['flaky', 'other'] }],
  });
  try {
    const client = new OpenAI({ baseURL: `${s.base}/v1`, apiKey: 'x', maxRetries: 0 });
    const { data, response } = await client.chat.completions.create({ messages: [{ role: 'user', content: 'hi' }] }).withResponse();
    assert.equal(data.choices[0].message.content, 'third time lucky');
    assert.equal(response.headers.get('x-sluice-backend'), 'flaky');
    assert.equal(flaky.received.length, 3);
    assert.equal(other.received.length, 0);
  } finally {
    assert.equal((await s.stop()).code, 0);
    await flaky.stop();
    await other.stop();
  }
});

test('sluice --version names its version and the libraries it runs on', () => {
  const out = execFileSync(BIN, ['--version'], { encoding: 'utf8' });
  assert.match(out, /^sluice \d+\.\d+\.\d+\n/);
  for (const lib of ['libuv', 'llhttp', 'libcurl', 'SQLite', 'OpenSSL', 'oneDNN', 'Hyperscan']) assert.match(out, new RegExp(lib));
});

// /metrics names key ids, their spend and the policy's rules: with
// auth.metrics_keys set, only those keys (and the admin keys) read it.
test('auth.metrics_keys: /metrics needs a metrics or an admin key; /healthz stays open', async () => {
  const { createHash } = await import('node:crypto');
  const sha = (s) => createHash('sha256').update(s).digest('hex');
  const mock = await startMock((req, body, res) => replyJson(res, 200, completion('hi')));
  const s = await startSluice({
    backends: [apiBackend('up', mock.url)], rules: [{ name: 'default', route: ['up'] }],
    auth: { keys: [{ id: 'app', sha256: sha('sk-app') }], admin_keys: [sha('sk-admin')], metrics_keys: [sha('sk-prom')] },
  });
  try {
    const get = (key) => fetch(`${s.base}/metrics`, { headers: key ? { authorization: `Bearer ${key}` } : {} });
    assert.equal((await get()).status, 401);
    const wrong = await get('sk-app'); // a client key is no metrics key
    assert.equal(wrong.status, 403);
    assert.equal((await wrong.json()).error.code, 'metrics_key_required');
    const ok = await get('sk-prom');
    assert.equal(ok.status, 200);
    assert.match(await ok.text(), /sluice_requests_total/);
    assert.equal((await get('sk-admin')).status, 200);
    assert.equal((await fetch(`${s.base}/healthz`)).status, 200);
  } finally {
    await s.stop();
    await mock.stop();
  }
});

// The log never holds the gateway up: with stderr a pipe nobody reads (a
// stalled `| tee`, a blocked log driver), or closed by whoever started sluice
// (whose first files would otherwise take its number), the loops keep serving
// and /healthz answers. Each request logs several --debug lines: a 64 KiB pipe
// fills within the first hundred.
for (const how of ['stderr a pipe nobody reads', 'stdio closed']) {
  test(`the log never blocks the gateway: ${how}`, async () => {
    const up = await startMock((req, body, res) => replyJson(res, 200, completion('ok')));
    const dir = mkdtempSync(join(tmpdir(), 'sluice-log-'));
    const path = join(dir, 'sluice.json');
    writeFileSync(path, JSON.stringify({ backends: [apiBackend('up', up.url)], rules: [{ name: 'all', route: ['up'] }] }));
    const args = ['serve', '--config', path, '--listen', '127.0.0.1:0', '--debug'];
    const proc = how === 'stdio closed'
      ? spawn('bash', ['-c', 'exec "$0" "$@" 2>&- <&-', BIN, ...args], { env: { ...process.env, MOCK_KEY: 'k' }, stdio: ['ignore', 'pipe', 'ignore'] })
      : spawn(BIN, args, { env: { ...process.env, MOCK_KEY: 'k' }, stdio: ['ignore', 'pipe', 'pipe'] }); // stderr never read
    try {
      const port = await new Promise((resolve, reject) => {
        let out = '';
        proc.stdout.on('data', (d) => { out += d; const m = out.match(/listening (\d+)/); if (m) resolve(Number(m[1])); });
        proc.on('exit', (code) => reject(new Error(`sluice exited ${code}`)));
      });
      const body = JSON.stringify({ model: 'auto', messages: [{ role: 'user', content: 'hello' }] });
      for (let i = 0; i < 300; i++) {
        const r = await fetch(`http://127.0.0.1:${port}/v1/chat/completions`, {
          method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(5000) });
        assert.equal(r.status, 200, `request ${i}`);
        await r.arrayBuffer();
      }
      assert.equal((await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(5000) })).status, 200);
      proc.kill('SIGTERM');
      const code = await new Promise((r) => proc.on('exit', r));
      assert.equal(code, 0, 'drained and exited (its flush of the log waits at most 2 s)');
    } finally {
      if (proc.exitCode === null) proc.kill('SIGKILL');
      await up.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

// Every connection takes a file: serve raises its soft open-file limit to the
// hard one, and says so when even that is under what max_connections needs
// (connections past it would be closed unanswered).
test('the open-file limit: raised to the hard limit at start, a warning when still too low', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-nofile-'));
  const path = join(dir, 'sluice.json');
  writeFileSync(path, JSON.stringify({ backends: [apiBackend('up', 'http://127.0.0.1:9/v1')], rules: [{ name: 'all', route: ['up'] }] }));
  const start = (ulimit) => new Promise((resolve, reject) => {
    const proc = spawn('bash', ['-c', `${ulimit}; exec "$0" serve --config "$1" --listen 127.0.0.1:0`, BIN, path],
                       { env: { ...process.env, MOCK_KEY: 'k' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    proc.stderr.on('data', (d) => (err += d));
    proc.stdout.on('data', (d) => { out += d; if (/listening \d+/.test(out)) resolve({ proc, err: () => err }); });
    proc.on('exit', (code) => reject(new Error(`exited ${code}: ${err}`)));
  });
  const stop = (p) => new Promise((r) => { p.proc.on('exit', r); p.proc.kill('SIGTERM'); });
  try {
    const hs = execFileSync('bash', ['-c', 'ulimit -Hn']).toString().trim();
    const hard = hs === 'unlimited' ? Infinity : Number(hs);
    const raised = await start('ulimit -Sn 64');
    const soft = Number(/Max open files\s+(\d+)/.exec(readFileSync(`/proc/${raised.proc.pid}/limits`, 'utf8'))[1]);
    assert.equal(soft, Math.min(hard, 1 << 20));
    await stop(raised);
    const low = await start('ulimit -n 64');
    assert.match(low.err(), /open-file limit \(64\) is under what limits\.max_connections \(4096\) needs/);
    await stop(low);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
