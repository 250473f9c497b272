// The ledger end to end: after real traffic (local, internal, external, streamed,
// redacted) the chain verifies; `audit egress` lists exactly what the external mock
// received (destination, byte count and SHA-256 of the exact body); values never
// reach the file; costs follow the price table and the mock's usage; /metrics has
// tokens and cost per backend/rule/key; budgets answer 429 and survive a restart;
// an edited row breaks verification; a SIGKILL under load loses nothing acknowledged
// and nothing sent out.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMock, startSluice, apiBackend, replyJson, replyStream, completion, BIN, sleep, raw } from './lib.mjs';
import { chat, userMsg, assertNeverSaw, parseSSE, LOCAL_MODEL, SENSITIVE } from './fc_common.mjs';

const sha = (s) => createHash('sha256').update(s).digest('hex');
const ENV = { MOCK_KEY: 'sk-mock-ledger-1', SLUICE_MODEL: '' };
const KEY = 'sk-team-a-ledger-test';
const TINY = 'sk-tiny-budget-key';
const auth = (k = KEY) => ({ authorization: `Bearer ${k}` });

function audit(args) {
  const r = spawnSync(BIN, ['audit', ...args], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}
function sql(db, q) {
  const out = execFileSync('sqlite3', ['-readonly', '-json', db, q], { encoding: 'utf8' });
  return out.trim() ? JSON.parse(out) : [];
}
// All bytes of the ledger (db, WAL, shared-memory and pending-rows journal
// files), to search for values.
function ledgerBytes(db) {
  return ['', '-wal', '-shm', '-pending'].map((s) => db + s).filter(existsSync).map((f) => readFileSync(f)).reduce((a, b) => Buffer.concat([a, b]), Buffer.alloc(0));
}

// A mock that records the usage it reported for each request it received.
function usageMock() {
  const usage = [];
  return {
    usage,
    handler: (req, body, res) => {
      const b = JSON.parse(body);
      const content = b.messages.at(-1).content;
      if (b.stream) {
        const pieces = ('echo: ' + content).match(/.{1,4}/gs);
        usage.push({ in: 5, out: pieces.length });
        return replyStream(res, pieces, 0);
      }
      usage.push({ in: 1000, out: 500 });
      replyJson(res, 200, completion('echo: ' + content, { pt: 1000, ct: 500 }));
    },
  };
}

describe('ledger after mixed traffic', () => {
  let ext, inside, s, dir, db, cfg, um, im;
  const PRICE = { in: 3, out: 15 };          // ext, USD per Mtok
  const IPRICE = { in: 0.5, out: 1 };        // internal server
  const names = ['Laila Hansen', 'julian.dewitt@northwind-freight.com', 'Julian DeWitt'];
  before(async () => {
    um = usageMock();
    im = usageMock();
    ext = await startMock(um.handler);
    inside = await startMock(im.handler);
    dir = mkdtempSync(join(tmpdir(), 'sluice-ledger-'));
    db = join(dir, 'ledger.db');
    cfg = {
      ledger: { path: db },
      auth: { keys: [{ id: 'team-a', sha256: sha(KEY), tenant: 'team-a' },
                     { id: 'tiny', sha256: sha(TINY), tenant: 'team-b', monthly_budget_usd: 0.01 }] },
      backends: [
        apiBackend('ext', ext.url, { max_retries: 0, models: [{ name: 'mock-model', usd_per_mtok_in: PRICE.in, usd_per_mtok_out: PRICE.out }] }),
        apiBackend('inside', inside.url, { location: 'internal', max_retries: 0,
          models: [{ name: 'mock-model', usd_per_mtok_in: IPRICE.in, usd_per_mtok_out: IPRICE.out }] }),
        { name: 'local', kind: 'local', model: LOCAL_MODEL(), threads: 1, max_batch: 2, usd_per_hour: 3.6 },
      ],
      rules: [
        { name: 'keep-restricted-inside', when: { sensitivity_at_least: 'restricted' }, route: ['local'], on_unavailable: 'reject' },
        { name: 'to-inside', when: { header: { 'x-route': 'inside' } }, route: ['inside'] },
        { name: 'to-local', when: { header: { 'x-route': 'local' } }, route: ['local'] },
        { name: 'frontier', route: ['ext'], redact: ['PERSON', 'EMAIL_ADDRESS'] },
      ],
    };
    s = await startSluice(cfg, ENV);
  });
  after(async () => { if (s) await s.stop(); await ext.stop(); await inside.stop(); });

  const ids = { ext: [], inside: [], local: [] };
  test('a mix of local, internal and external requests (streamed and redacted)', async () => {
    const send = async (content, h, stream, want) => {
      const r = await chat(s.base, userMsg(content, { stream, max_tokens: 8 }), { ...auth(), ...h });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.backend, want);
      if (stream) assert.ok(parseSSE(r.text).done, 'stream complete');
      ids[want].push(r.id);
      return r;
    };
    await send('Once upon a time', { 'x-route': 'local' }, false, 'local');
    await send('Once upon a time there', { 'x-route': 'local' }, true, 'local');
    await send(SENSITIVE[1].content, {}, false, 'local');                       // restricted: kept inside
    await send('internal question one', { 'x-route': 'inside' }, false, 'inside');
    await send('internal question two', { 'x-route': 'inside' }, true, 'inside');
    await send('public question one', {}, false, 'ext');
    await send('public question two', {}, true, 'ext');
    const red = await send(`Dear ${names[0]}, forward it to ${names[1]} and ${names[2]}.`, {}, false, 'ext');
    assert.match(red.json.choices[0].message.content, /Laila Hansen/, 'restored');
    await send(`Stream to ${names[0]} at ${names[1]} please`, {}, true, 'ext');
    // a phone number is not redacted by this policy: it leaves, and its type is recorded
    await send('Call our office at +1 415 555 0142 about the parcel', {}, false, 'ext');
    assert.equal(ext.received.length, 5);
    assert.equal(inside.received.length, 2);
    assertNeverSaw(ext, names);
  });

  test('/metrics: tokens and cost per backend, rule and key', async () => {
    const m = await (await fetch(`${s.base}/metrics`)).text();
    const inTok = um.usage.reduce((a, u) => a + u.in, 0);
    const outTok = um.usage.reduce((a, u) => a + u.out, 0);
    const cost = um.usage.reduce((a, u) => a + (u.in * PRICE.in + u.out * PRICE.out) / 1e6, 0);
    const val = (re) => { const x = m.match(re); assert.ok(x, `${re} in\n${m}`); return Number(x[1]); };
    assert.equal(val(/sluice_tokens_total\{backend="ext",rule="frontier",key="team-a",direction="in"\} ([\d.e+-]+)/), inTok);
    assert.equal(val(/sluice_tokens_total\{backend="ext",rule="frontier",key="team-a",direction="out"\} ([\d.e+-]+)/), outTok);
    assert.ok(Math.abs(val(/sluice_cost_usd_total\{backend="ext",rule="frontier",key="team-a"\} ([\d.e+-]+)/) - cost) < 1e-9);
    const icost = im.usage.reduce((a, u) => a + (u.in * IPRICE.in + u.out * IPRICE.out) / 1e6, 0);
    assert.ok(Math.abs(val(/sluice_cost_usd_total\{backend="inside",rule="to-inside",key="team-a"\} ([\d.e+-]+)/) - icost) < 1e-9);
    assert.ok(val(/sluice_tokens_total\{backend="local",rule="to-local",key="team-a",direction="out"\} ([\d.e+-]+)/) > 0);
    assert.match(m, /sluice_cost_usd_total\{backend="local",rule="to-local",key="team-a"\} /);
    assert.match(m, /sluice_avoided_cost_usd_total\{backend="local",rule="to-local",key="team-a"\} /);
  });

  test('budget: a key with a tiny monthly budget gets 429 with the reset time', async () => {
    const r1 = await chat(s.base, userMsg('budget one'), auth(TINY));
    assert.equal(r1.status, 200, r1.text);
    let r2;
    for (let i = 0; i < 3; i++) {
      r2 = await chat(s.base, userMsg('budget two'), auth(TINY));
      if (r2.status === 429) break;
    }
    assert.equal(r2.status, 429, r2.text);
    assert.equal(r2.json.error.code, 'monthly_budget_exceeded');
    assert.equal(r2.headers.get('x-should-retry'), 'false', 'the SDKs do not retry a spent budget');
    const now = new Date();
    const reset = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1)).toISOString().slice(0, 10);
    assert.match(r2.json.error.message, new RegExp(`resets at ${reset}T00:00`));
    // Retry-After points at the reset, not at "one second from now"
    const ra = Number(r2.headers.get('retry-after'));
    const untilReset = (Date.parse(reset + 'T00:00:00Z') - Date.now()) / 1000;
    assert.ok(Math.abs(ra - untilReset) < 120, `Retry-After ${ra} vs ${untilReset} s to the reset`);
    // the other key is not affected
    const r3 = await chat(s.base, userMsg('other key'), auth());
    assert.equal(r3.status, 200);
    ids.ext.push(r3.id);
  });

  test('a request the HTTP layer refuses on a chat endpoint has its row', async () => {
    const r = await raw(s.port, 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 999999999\r\n\r\n');
    assert.match(r.text, /^HTTP\/1\.1 413/);
    ids.refused = r.text.match(/x-sluice-request-id: (\S+)/i)?.[1];
    assert.ok(ids.refused, r.text);
    // and so does one refused for its web page's Origin, and one with the wrong method
    const o = await fetch(`${s.base}/v1/responses`, { method: 'POST', headers: { origin: 'http://evil.example', 'content-type': 'application/json' },
                                                      body: JSON.stringify({ input: 'hi' }) });
    assert.equal(o.status, 403);
    ids.origin = o.headers.get('x-sluice-request-id');
    const g = await fetch(`${s.base}/v1/messages`);
    assert.equal(g.status, 405);
    ids.method = g.headers.get('x-sluice-request-id');
  });

  test('budget spend is restored from the ledger at restart', async () => {
    const r = await s.stop();
    assert.equal(r.code, 0, s.stderr().slice(-2000));
    s = await startSluice(cfg, ENV);
    const r2 = await chat(s.base, userMsg('after restart'), auth(TINY));
    assert.equal(r2.status, 429, r2.text);
    assert.match(r2.json.error.message, /resets at/);
    const r3 = await chat(s.base, userMsg('after restart, other key'), auth());
    assert.equal(r3.status, 200, r3.text);
    ids.ext.push(r3.id);
    const st = await s.stop();
    assert.equal(st.code, 0);
    s = null;
    // a request sluice refused itself is recorded as rejected, not as an error
    // (refused before it was read: no sensitivity level is claimed for it)
    const rows = sql(db, `SELECT status, http_status, backend, level FROM requests WHERE request_id = '${r2.id}'`);
    assert.deepEqual(rows.map((x) => [x.status, x.http_status, x.backend, x.level]), [['rejected', 429, '', 'unclassified']], JSON.stringify(rows));
    const refused = sql(db, `SELECT status, http_status, backend, egress, bytes_out FROM requests WHERE request_id = '${ids.refused}'`);
    assert.deepEqual(refused.map((x) => [x.status, x.http_status, x.backend, x.egress, x.bytes_out]), [['rejected', 413, '', 0, 0]], JSON.stringify(refused));
    for (const [k, st] of [['origin', 403], ['method', 405]]) {
      const rr = sql(db, `SELECT status, http_status, egress FROM requests WHERE request_id = '${ids[k]}'`);
      assert.deepEqual(rr.map((x) => [x.status, x.http_status, x.egress]), [['rejected', st, 0]], `${k}: ${JSON.stringify(rr)}`);
      delete ids[k];
    }
    delete ids.refused; // not a backend's list (the checks below)
  });

  test('audit verify: exit 0', () => {
    const v = audit(['verify', '--ledger', db]);
    assert.equal(v.code, 0, v.out + v.err);
    assert.match(v.out, /intact/);
  });

  test('audit egress lists exactly what the external mock received', () => {
    const e = audit(['egress', '--ledger', db, '--format', 'json']);
    assert.equal(e.code, 0, e.err);
    const j = JSON.parse(e.out);
    const tx = j.transmissions;
    assert.equal(tx.length, ext.received.length, `one transmission per external body:\n${e.out}`);
    for (const [i, rec] of ext.received.entries()) {
      const t = tx[i];
      assert.equal(t.destination, `127.0.0.1:${ext.port}`);
      assert.equal(t.bytes_out, Buffer.byteLength(rec.body));
      assert.equal(t.sha256_out, sha(rec.body));
      assert.equal(t.backend, 'ext');
    }
    assert.deepEqual(new Set(tx.map((t) => t.request_id)), new Set(ids.ext.concat(tx.filter((t) => t.key_id === 'tiny').map((t) => t.request_id))));
    for (const id of [...ids.inside, ...ids.local]) assert.ok(!tx.some((t) => t.request_id === id), 'internal/local not listed');
    // the redacted ones: the types were removed before sending, and are listed as such
    const red = tx.filter((t) => Object.keys(t.redacted || {}).length);
    assert.equal(red.length, 2, e.out);
    for (const t of red) {
      assert.ok(t.redacted.PERSON >= 1 && t.redacted.EMAIL_ADDRESS >= 1, JSON.stringify(t));
      // counted as replaced: one per placeholder in the bytes that left
      const body = ext.received[tx.indexOf(t)].body;
      for (const [type, n] of Object.entries(t.redacted))
        assert.equal(n, (body.match(new RegExp(`\\[${type}_\\d+\\]`, 'g')) || []).length, `${type}: ${body}`);
      assert.ok(!JSON.stringify(t.entity_types).includes('PERSON'), 'what left has no PERSON');
    }
    const phone = tx.filter((t) => t.entity_types && t.entity_types.PHONE_NUMBER);
    assert.equal(phone.length, 1, `the phone number that left is listed by type:\n${e.out}`);
    assert.equal(phone[0].level, 'confidential');
    for (const v of [...names, '415 555 0142']) assert.ok(!e.out.includes(v));
  });

  test('the ledger file never holds the values', () => {
    const bytes = ledgerBytes(db);
    assert.ok(bytes.length > 0);
    for (const v of [...names, ...SENSITIVE[1].values, 'Laila', 'northwind', '415 555 0142', '5550142'])
      assert.equal(bytes.indexOf(Buffer.from(v)), -1, `${v} is in the ledger file`);
    // but types are there
    assert.notEqual(bytes.indexOf(Buffer.from('US_SSN')), -1);
    assert.notEqual(bytes.indexOf(Buffer.from('PHONE_NUMBER')), -1);
  });

  test('audit costs by route follows the price table and the usage the mocks reported', () => {
    const c = audit(['costs', '--ledger', db, '--by', 'route', '--format', 'json']);
    assert.equal(c.code, 0, c.err);
    const j = JSON.parse(c.out);
    const g = Object.fromEntries(j.groups.map((x) => [x.route, x]));
    const fr = g.frontier;
    assert.ok(fr, c.out);
    const cost = um.usage.reduce((a, u) => a + (u.in * PRICE.in + u.out * PRICE.out) / 1e6, 0);
    assert.equal(fr.requests, um.usage.length, c.out);
    assert.equal(fr.tokens_in, um.usage.reduce((a, u) => a + u.in, 0));
    assert.equal(fr.tokens_out, um.usage.reduce((a, u) => a + u.out, 0));
    assert.ok(Math.abs(fr.cost_usd - cost) < 1e-6, `${fr.cost_usd} vs ${cost}`);
    const icost = im.usage.reduce((a, u) => a + (u.in * IPRICE.in + u.out * IPRICE.out) / 1e6, 0);
    assert.ok(Math.abs(g['to-inside'].cost_usd - icost) < 1e-6, c.out);
    assert.equal(g['to-local'].requests, 2);
    assert.ok(g['to-local'].avoided_usd > 0, 'local routing records the API cost it avoided');
    // refused before routing (the spent budget's 429s, the 413): a group of their own, named
    assert.ok(g['(none)']?.requests >= 2, c.out);
    assert.equal(g[''], undefined, c.out);
    const m = audit(['costs', '--ledger', db, '--by', 'model', '--format', 'csv']);
    assert.match(m.out, /^\(none\),/m, m.out);
    assert.doesNotMatch(m.out, /^\/,/m, m.out);
  });

  test('request rows match the request ids the clients saw', () => {
    const rows = sql(db, "SELECT request_id, backend, http_status FROM requests WHERE kind='request'");
    const byId = Object.fromEntries(rows.map((r) => [r.request_id, r]));
    for (const [b, list] of Object.entries(ids))
      for (const id of list) {
        assert.ok(byId[id], `${id} in the ledger`);
        assert.equal(byId[id].backend, b);
        assert.equal(byId[id].http_status, 200);
      }
  });

  test('tampering: an edited row makes audit verify exit 1', () => {
    const copy = join(dir, 'tampered.db');
    execFileSync('sqlite3', [db, 'PRAGMA wal_checkpoint(TRUNCATE);']);
    copyFileSync(db, copy);
    const trig = sql(copy, "SELECT name FROM sqlite_master WHERE type='trigger'").map((r) => r.name);
    const drop = trig.map((n) => `DROP TRIGGER "${n}";`).join('');
    execFileSync('sqlite3', [copy, `${drop} UPDATE requests SET tokens_out = tokens_out + 1 WHERE id = 3;`]);
    const v = audit(['verify', '--ledger', copy]);
    assert.equal(v.code, 1, v.out + v.err);
    assert.match(v.out, /BROKEN at row id 3/);
    assert.equal(audit(['verify', '--ledger', db]).code, 0, 'the original still verifies');
  });
});

describe('ledger: a request that failed over from an external backend to the local one', () => {
  let ext, s, dir, db;
  before(async () => {
    ext = await startMock((req, body, res) => replyJson(res, 500, { error: { message: 'upstream down', type: 'server_error' } }));
    dir = mkdtempSync(join(tmpdir(), 'sluice-failover-'));
    db = join(dir, 'ledger.db');
    s = await startSluice({
      ledger: { path: db },
      backends: [apiBackend('ext', ext.url, { max_retries: 0 }),
                 { name: 'local', kind: 'local', model: LOCAL_MODEL(), threads: 1, max_batch: 2 }],
      rules: [{ name: 'ext-then-local', route: ['ext', 'local'] }],
    }, ENV);
  });
  after(async () => { if (s) await s.stop(); await ext.stop(); });

  test('its request row says egress = 1 with the bytes that left; audit egress lists them', async () => {
    const r = await chat(s.base, userMsg('Once upon a time', { max_tokens: 6 }));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.backend, 'local');
    assert.equal(ext.received.length, 1, 'the external backend was tried first');
    await s.stop();
    s = null;
    const rows = sql(db, `SELECT kind, backend, egress, bytes_out, destination, status FROM requests WHERE request_id = '${r.id}' ORDER BY id`);
    const sent = Buffer.byteLength(ext.received[0].body);
    assert.deepEqual(rows.map((x) => [x.kind, x.backend, x.egress, x.bytes_out]),
                     [['egress', 'ext', 1, sent], ['request', 'local', 1, sent]], JSON.stringify(rows));
    assert.ok(rows[0].destination && rows[1].destination === rows[0].destination,
              'the request row names where its bytes went');
    // audit costs puts the bytes under the backend they went to, not the one that answered
    const c = audit(['costs', '--ledger', db, '--by', 'backend', '--format', 'json']);
    assert.equal(c.code, 0, c.err);
    const g = Object.fromEntries(JSON.parse(c.out).groups.map((x) => [x.backend, x]));
    assert.equal(g.ext.bytes_out, sent, c.out);
    assert.equal(g.ext.requests, 0, 'ext answered nothing');
    assert.equal(g.local.bytes_out, 0, c.out);
    assert.equal(g.local.requests, 1);
    const e = audit(['egress', '--ledger', db, '--format', 'json']);
    assert.equal(e.code, 0, e.err);
    const tx = JSON.parse(e.out).transmissions;
    assert.equal(tx.length, 1, e.out);
    assert.equal(tx[0].request_id, r.id);
    assert.equal(tx[0].sha256_out, sha(ext.received[0].body));
    assert.equal(audit(['verify', '--ledger', db]).code, 0);
  });
});

describe('crash safety: SIGKILL under load', () => {
  let ext, s, dir, db, cfg;
  before(async () => {
    ext = await startMock((req, body, res) => {
      const b = JSON.parse(body);
      if (b.stream) return replyStream(res, ['a', 'b', 'c', 'd'], 15);
      setTimeout(() => replyJson(res, 200, completion('ok')), 20);
    });
    dir = mkdtempSync(join(tmpdir(), 'sluice-crash-'));
    db = join(dir, 'ledger.db');
    cfg = {
      ledger: { path: db },
      backends: [apiBackend('ext', ext.url, { max_retries: 0 }),
                 { name: 'local', kind: 'local', model: LOCAL_MODEL(), threads: 1, max_batch: 4 }],
      rules: [{ name: 'to-local', when: { header: { 'x-route': 'local' } }, route: ['local'] },
              { name: 'default', route: ['ext'] }],
    };
    s = await startSluice(cfg, ENV);
  });
  after(async () => { if (s) await s.stop(); await ext.stop(); });

  test('every acknowledged request and every byte sent out is in the ledger after restart', async () => {
    const acked = [];
    let stop = false;
    const worker = async (w) => {
      for (let i = 0; !stop && i < 400; i++) {
        const stream = i % 3 === 1;
        const h = i % 4 === 3 ? { 'x-route': 'local' } : {};
        try {
          const r = await chat(s.base, userMsg(`load ${w}-${i}`, { stream, max_tokens: 6 }), h);
          const complete = r.status === 200 && (stream ? parseSSE(r.text).done : r.json?.choices?.length === 1);
          if (complete) acked.push(r.id);
        } catch { /* the process died mid-request: not acknowledged */ }
      }
    };
    const workers = Array.from({ length: 6 }, (_, w) => worker(w));
    // kill once the load is flowing (the first requests are slow to start under ASan)
    for (let t = 0; t < 200 && acked.length < 30; t++) await sleep(100);
    await sleep(300);
    s.proc.kill('SIGKILL');
    const ex = await s.exited;
    assert.equal(ex.sig, 'SIGKILL');
    stop = true;
    await Promise.all(workers);
    assert.ok(acked.length > 10, `some load ran: ${acked.length}`);
    // restart on the same ledger, with durability "commit": the rows the crash
    // left pending are committed before it serves (read before any `audit`,
    // which would commit them too)
    s = await startSluice({ ...cfg, ledger: { path: db, durability: 'commit' } }, ENV);
    const rows = sql(db, 'SELECT kind, request_id, sha256_out, bytes_out FROM requests');
    const v = audit(['verify', '--ledger', db]);
    assert.equal(v.code, 0, v.out + v.err);
    const reqIds = new Set(rows.filter((r) => r.kind === 'request').map((r) => r.request_id));
    const missing = acked.filter((id) => !reqIds.has(id));
    assert.deepEqual(missing, [], `acknowledged requests missing from the ledger (${acked.length} acked)`);
    // an egress row, or the request row that stands for it (sent once, both rows in one batch)
    const egress = new Set(rows.filter((r) => r.kind === 'egress' || (r.kind === 'request' && r.sha256_out))
      .map((r) => `${r.sha256_out}:${r.bytes_out}`));
    const unrecorded = ext.received.filter((rec) => !egress.has(`${sha(rec.body)}:${Buffer.byteLength(rec.body)}`));
    assert.deepEqual(unrecorded.map((r) => r.body), [], `bodies sent out without an egress row (of ${ext.received.length})`);
    const r = await chat(s.base, userMsg('after the crash'));
    assert.equal(r.status, 200, 'serves again');
    await s.stop();
    s = null;
    assert.equal(audit(['verify', '--ledger', db]).code, 0);
  });
});

// A client that leaves mid-answer: what was spent is still spent. The ledger row
// (client_gone) carries the tokens generated so far and their cost, for an API
// backend (estimated from the bytes: no usage came) and for the local engine
// (its busy time), so a budget cannot be dodged by hanging up.
describe('a client that leaves mid-stream is still charged', () => {
  let ext, s, db;
  before(async () => {
    // 400 pieces, 10 ms apart: the client is gone long before the end; a whole
    // answer comes after 3 s, long after its client left
    ext = await startMock((req, body, res) => {
      if (!JSON.parse(body).stream) return setTimeout(() => { if (!res.destroyed) replyJson(res, 200, completion('late')); }, 3000);
      replyStream(res, Array.from({ length: 400 }, () => 'word '), 10);
    });
    db = join(mkdtempSync(join(tmpdir(), 'sluice-ledger-gone-')), 'ledger.db');
    s = await startSluice({
      ledger: { path: db },
      backends: [apiBackend('ext', ext.url, { max_retries: 0, models: [{ name: 'mock-model', usd_per_mtok_in: 1000, usd_per_mtok_out: 1000 }] }),
                 { name: 'slow', kind: 'local', model: `${process.env.SLUICE_SHARED}/models/tiny-llama3.gguf`, threads: 1, max_batch: 1, usd_per_hour: 3600 }],
      rules: [{ name: 'to-local', when: { header: { 'x-route': 'local' } }, route: ['slow'] },
              { name: 'ext', route: ['ext'] }],
    }, ENV);
  });
  after(async () => { if (s) await s.stop(); await ext.stop(); });

  async function leaveAfterFirstChunks(headers) {
    const ac = new AbortController();
    const r = await fetch(s.base + '/v1/chat/completions', {
      method: 'POST', signal: ac.signal, headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ messages: [{ role: 'user', content: 'tell me a long story' }], max_tokens: 4000, temperature: 0, stream: true }) });
    assert.equal(r.status, 200);
    const id = r.headers.get('x-sluice-request-id');
    const rd = r.body.getReader();
    let got = '';
    while ((got.match(/"content"/g) || []).length < 5) got += new TextDecoder().decode((await rd.read()).value);
    await sleep(100);
    ac.abort();
    return id;
  }

  test('API backend and local engine: tokens and cost of the part generated are recorded', async () => {
    const a = await leaveAfterFirstChunks({});
    const b = await leaveAfterFirstChunks({ 'x-route': 'local' });
    // a whole answer left before it came: nothing of it arrived, so it is
    // charged at its bound (max_tokens), not as if nothing were generated
    const ac = new AbortController();
    const whole = fetch(s.base + '/v1/chat/completions', {
      method: 'POST', signal: ac.signal, headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ messages: [{ role: 'user', content: 'a whole answer' }], max_tokens: 1000 }) });
    await sleep(300);
    ac.abort();
    await whole.catch(() => {});
    await s.stop();
    s = null;
    for (const id of [a, b]) {
      const [row] = sql(db, `SELECT status, tokens_in, tokens_out, cost_usd, backend FROM requests WHERE request_id = '${id}' AND kind = 'request'`);
      assert.equal(row.status, 'client_gone', JSON.stringify(row));
      assert.ok(row.tokens_out >= 5, `tokens generated before the client left are counted: ${JSON.stringify(row)}`);
      assert.ok(row.tokens_in > 0, JSON.stringify(row));
      assert.ok(row.cost_usd > 0, `and cost something: ${JSON.stringify(row)}`);
    }
    const [w] = sql(db, "SELECT status, tokens_out, cost_usd FROM requests WHERE kind = 'request' AND status = 'client_gone' ORDER BY id DESC LIMIT 1");
    assert.equal(w.tokens_out, 1000, JSON.stringify(w));
    assert.ok(w.cost_usd >= 1, JSON.stringify(w)); /* 1000 tokens at $1000 per million */
  });
});

// The database held by another writer (an auditor's open write transaction):
// with durability "commit" every row waits for its commit, which fails once
// SQLite's busy wait runs out.
describe('a ledger that cannot write', () => {
  let up, dir;
  before(async () => {
    up = await startMock((req, body, res) => replyJson(res, 200, completion('an answer')));
    dir = mkdtempSync(join(tmpdir(), 'sluice-ledger-locked-'));
  });
  after(async () => { await up.stop(); });

  // Holds a write lock on db until release() (the sqlite3 shell waits for input).
  async function lockDb(db) {
    const p = spawn('sqlite3', [db], { stdio: ['pipe', 'ignore', 'ignore'] });
    p.stdin.write('BEGIN IMMEDIATE;\n');
    await sleep(300);
    return () => new Promise((resolve) => { p.on('exit', resolve); p.stdin.end('COMMIT;\n'); });
  }

  for (const onFailure of ['reject', 'continue']) {
    test(`on_failure ${onFailure}: ${onFailure === 'reject' ? 'the answer is withheld (503), not sent unrecorded'
                                                           : 'the answer goes out and a gap row records its row'}`, async () => {
      const db = join(dir, `${onFailure}.db`);
      const s = await startSluice({
        ledger: { path: db, durability: 'commit', on_failure: onFailure },
        backends: [apiBackend('int', up.url, { location: 'internal' })],
        rules: [{ name: 'default', route: ['int'] }],
      }, ENV);
      try {
        assert.equal((await chat(s.base, userMsg('before the lock'))).status, 200);
        const release = await lockDb(db);
        const [plain, streamed] = await Promise.all([
          chat(s.base, userMsg('while locked')),
          chat(s.base, userMsg('while locked, streamed', { stream: true })),
        ]);
        // readiness says the ledger cannot record where that refuses requests
        const ready = await fetch(`${s.base}/readyz`);
        assert.equal(ready.status, onFailure === 'reject' ? 503 : 200);
        if (onFailure === 'reject') assert.equal((await ready.json()).error.code, 'ledger_unavailable');
        await release();
        if (onFailure === 'reject') {
          assert.equal(plain.status, 503, plain.text);
          assert.equal(plain.json.error.type, 'ledger_unavailable');
          assert.ok(!plain.text.includes('an answer'), 'no part of the unrecorded answer');
          // the stream had begun: it ends with an error event instead of its last chunk
          assert.equal(streamed.status, 200);
          assert.match(streamed.text, /ledger_unavailable/);
          assert.ok(!streamed.text.includes('[DONE]'), streamed.text);
        } else {
          assert.equal(plain.status, 200, plain.text);
          assert.equal(plain.json.choices[0].message.content, 'an answer');
        }
        assert.equal((await chat(s.base, userMsg('after the lock'))).status, 200);
        // and ready again once a batch is written (the refusals seen within 5 s aside)
        let back = 0;
        for (let i = 0; i < 40 && back !== 200; i++, await sleep(250)) back = (await fetch(`${s.base}/readyz`)).status;
        assert.equal(back, 200);
      } finally {
        await s.stop();
      }
      const gaps = sql(db, "SELECT classification FROM requests WHERE kind = 'gap'");
      assert.equal(gaps.length, 1, JSON.stringify(gaps));
      assert.equal(JSON.parse(gaps[0].classification).unrecorded_rows, 2);
      assert.equal(audit(['verify', '--ledger', db]).code, 0);
    });
  }
});

// Egress is what left, not where the route pointed: a request whose connects
// all failed, or that the ledger refused before sending, has egress 0 and no
// transmission in `audit egress`, although its egress row was written first.
describe('ledger: egress only for bytes that left', () => {
  let up, s, dir, db;
  before(async () => {
    up = await startMock((req, body, res) => replyJson(res, 200, completion('an answer')));
    dir = mkdtempSync(join(tmpdir(), 'sluice-ledger-unsent-'));
    db = join(dir, 'ledger.db');
    s = await startSluice({
      ledger: { path: db },
      // port 1 on loopback: the connect is refused at once
      backends: [apiBackend('dead', 'http://127.0.0.1:1/v1', { max_retries: 0 }), apiBackend('ext', up.url)],
      rules: [{ name: 'dead-only', when: { header: { 'x-route': 'dead' } }, route: ['dead'] },
              { name: 'failover', when: { header: { 'x-route': 'fo' } }, route: ['dead', 'ext'] },
              { name: 'default', route: ['ext'] }],
    }, ENV);
  });
  after(async () => { if (s) await s.stop(); await up.stop(); });

  test('a refused connect sends nothing; a request that reached the upstream is its transmission', async () => {
    const dead = await chat(s.base, userMsg('to nowhere'), { 'x-route': 'dead' });
    assert.equal(dead.status, 502, dead.text);
    const ok = await chat(s.base, userMsg('to the mock'));
    assert.equal(ok.status, 200, ok.text);
    // a refused connect, then the next backend: only the second sent anything
    const fo = await chat(s.base, userMsg('over to the mock'), { 'x-route': 'fo' });
    assert.equal(fo.status, 200, fo.text);
    const sent = up.received.map((r) => Buffer.byteLength(r.body));
    // the metrics count what left, as the ledger does
    const m = await (await fetch(`${s.base}/metrics`)).text();
    assert.doesNotMatch(m, /sluice_egress_bytes_total\{backend="dead"\} [1-9]/, m);
    assert.match(m, new RegExp(`sluice_egress_bytes_total\\{backend="ext"\\} ${sent[0] + sent[1]}\\b`));
    await s.stop();
    s = null;
    const [d] = sql(db, `SELECT egress, bytes_out, destination FROM requests WHERE kind = 'request' AND request_id = '${dead.id}'`);
    assert.deepEqual(d, { egress: 0, bytes_out: 0, destination: '' });
    const [o] = sql(db, `SELECT egress, bytes_out FROM requests WHERE kind = 'request' AND request_id = '${ok.id}'`);
    assert.deepEqual(o, { egress: 1, bytes_out: Buffer.byteLength(up.received[0].body) });
    const e = audit(['egress', '--ledger', db, '--format', 'json']);
    assert.equal(e.code, 0, e.err);
    const tx = JSON.parse(e.out).transmissions;
    assert.deepEqual(tx.map((t) => t.request_id), [ok.id, fo.id], e.out);
    assert.deepEqual(tx.map((t) => t.bytes_out), sent, e.out);
    assert.equal(tx[1].destination, tx[0].destination, e.out);
    // (the connect's row is in the ledger, written before it was tried)
    assert.equal(sql(db, `SELECT count(*) AS n FROM requests WHERE kind = 'egress' AND request_id = '${fo.id}'`)[0].n, 2);
    // and audit costs agrees: the dead backend's attempt sent no byte
    const c = audit(['costs', '--ledger', db, '--by', 'backend', '--format', 'json']);
    assert.equal(c.code, 0, c.err);
    const rows = JSON.parse(c.out).groups ?? JSON.parse(c.out).rows;
    const by = Object.fromEntries(rows.map((g) => [g.backend ?? g.key ?? g.group, g.bytes_out]));
    assert.equal(by.dead ?? 0, 0, c.out);
    assert.equal(by.ext, sent[0] + sent[1], c.out);
    assert.equal(audit(['verify', '--ledger', db]).code, 0);
  });
});

// Requests in flight hold their worst case (input at the prompt's estimate,
// output at max_tokens) against the key's budget: ten sent together cannot
// pass it together, as they did when only finished requests counted.
describe('budget: concurrent requests reserve their worst case', () => {
  let ext, s, dir;
  const CONC = 'sk-concurrent-budget-key';
  before(async () => {
    // each answer takes 300 ms and reports 1000 + 500 tokens: 0.0105 USD
    ext = await startMock((req, body, res) => setTimeout(() => replyJson(res, 200, completion('ok', { pt: 1000, ct: 500 })), 300));
    dir = mkdtempSync(join(tmpdir(), 'sluice-ledger-conc-'));
    s = await startSluice({
      ledger: { path: join(dir, 'ledger.db') },
      auth: { keys: [{ id: 'conc', sha256: sha(CONC), monthly_budget_usd: 0.05 }] },
      backends: [apiBackend('ext', ext.url, { max_retries: 0, models: [{ name: 'mock-model', usd_per_mtok_in: 3, usd_per_mtok_out: 15 }] })],
      rules: [{ name: 'default', route: ['ext'] }],
    }, ENV);
  });
  after(async () => { if (s) await s.stop(); await ext.stop(); });

  test('the budget admits what it can hold; the rest get 429 until those finish', async () => {
    // worst case per request: ~0 input + 500 × 15 USD/Mtok = 0.0075 USD, so
    // seven reservations fit under 0.05 and the eighth finds it held
    const rs = await Promise.all(Array.from({ length: 10 }, (_, i) =>
      chat(s.base, userMsg(`question ${i}`, { max_tokens: 500 }), { authorization: `Bearer ${CONC}` })));
    const ok = rs.filter((r) => r.status === 200), held = rs.filter((r) => r.status === 429);
    assert.equal(ok.length, 7, rs.map((r) => r.status).join(' '));
    assert.equal(held.length, 3);
    for (const r of held) {
      assert.equal(r.json.error.code, 'budget_held_in_flight', r.text);
      assert.match(r.json.error.message, /held by its requests in flight/);
      assert.equal(r.headers.get('retry-after'), '1');
      assert.notEqual(r.headers.get('x-should-retry'), 'false', 'worth retrying when the others finish');
    }
    // settled: 7 × 0.0105 = 0.0735 spent, over the budget: now it is spent
    const after1 = await chat(s.base, userMsg('one more', { max_tokens: 500 }), { authorization: `Bearer ${CONC}` });
    assert.equal(after1.status, 429, after1.text);
    assert.equal(after1.json.error.code, 'monthly_budget_exceeded');
    assert.equal(ext.received.length, 7);
  });
});
