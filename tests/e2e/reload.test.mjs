// Hot reload end to end: SIGHUP, a change of the file, POST /admin/reload (admin key
// only); a broken file keeps the old policy (the reason names the JSON path, /readyz
// stays 200, routing stays old); under load, reloading between two valid policies and
// a broken one fails no request and never sends a sensitive one outside; in-flight
// requests keep the policy they started with.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync, renameSync, symlinkSync, mkdirSync, rmSync, openSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMock, apiBackend, replyJson, completion, replyStream, sleep } from './lib.mjs';
import { SENSITIVE, ALL_VALUES, chat, userMsg, assertNeverSaw, parseSSE, startSluiceAt,
         LOCAL_MODEL } from './fc_common.mjs';

const sha = (s) => createHash('sha256').update(s).digest('hex');
const ADMIN = 'sk-admin-reload-test';
const ENV = { MOCK_KEY: 'sk-mock-reload', SLUICE_MODEL: '' };
const admin = (key) => fetch(`${s.base}/admin/reload`, { method: 'POST', headers: key ? { authorization: `Bearer ${key}` } : {} });

let ext, s, dir, P;
let n = 0;
const local = () => ({ name: 'local', kind: 'local', model: LOCAL_MODEL(), threads: 1, max_batch: 4, queue_max: 256 });
const keep = (name) => ({ name, when: { sensitivity_at_least: 'confidential' }, route: ['local'], on_unavailable: 'reject' });
// A: public -> ext (rule a-default). B: no external backend at all; public -> local.
const policyA = () => ({
  auth: { admin_keys: [sha(ADMIN)] },
  backends: [local(), apiBackend('ext', ext.url, { max_retries: 0 })],
  rules: [keep('a-keep'), { name: 'a-default', route: ['ext'] }],
});
const policyB = () => ({
  auth: { admin_keys: [sha(ADMIN)] },
  backends: [local()],
  rules: [keep('b-keep'), { name: 'b-default', route: ['local'] }],
});
const broken = () => ({ ...policyA(), rules: [keep('x-keep'), { name: 'x-default', route: ['nope'] }] });

// Points the config path's directory (a symlink, current -> vN/) at a new one,
// atomically. The file watch is on the old directory's file and on that directory,
// so only SIGHUP or /admin/reload can pick this up (docs/operations.md).
function swapTo(obj) {
  const v = join(dir, `v${++n}`);
  mkdirSync(v);
  writeFileSync(join(v, 'sluice.json'), typeof obj === 'string' ? obj : JSON.stringify(obj, null, 2));
  const tmp = join(dir, `link${n}`);
  symlinkSync(v, tmp);
  renameSync(tmp, join(dir, 'current'));
}
const pub = (t, extra) => chat(s.base, userMsg(`public question ${t}`, extra));
const readyVersion = async () => { const r = await fetch(`${s.base}/readyz`); assert.equal(r.status, 200); return (await r.json()).policy_version; };
const reloadsOk = async () => Number(((await (await fetch(`${s.base}/metrics`)).text()).match(/sluice_policy_reloads_total\{result="ok"\} (\d+)/) || [0, 0])[1]);

before(async () => {
  ext = await startMock((req, body, res) => {
    const b = JSON.parse(body);
    const c = b.messages.at(-1).content;
    const slow = c.includes('slow');
    if (b.stream) return replyStream(res, Array.from({ length: slow ? 10 : 3 }, (_, i) => `p${i} `), slow ? 150 : 0);
    setTimeout(() => replyJson(res, 200, completion('ext: ' + c)), slow ? 1500 : 0);
  });
  dir = mkdtempSync(join(tmpdir(), 'sluice-reload-'));
  P = join(dir, 'current', 'sluice.json');
  mkdirSync(join(dir, 'v0'));
  writeFileSync(join(dir, 'v0', 'sluice.json'), JSON.stringify(policyA(), null, 2));
  symlinkSync(join(dir, 'v0'), join(dir, 'current'));
  s = await startSluiceAt(P, ENV);
});
after(async () => {
  const r = await s.stop();
  assert.equal(r.code, 0, s.stderr().slice(-3000));
  assert.ok(!s.stderr().includes(ADMIN), 'the admin key is never logged');
  await ext.stop();
});

test('policy A is in force at start', async () => {
  const r = await pub('start');
  assert.equal(r.status, 200);
  assert.equal(r.rule, 'a-default');
  assert.equal(r.backend, 'ext');
});

test('(a) SIGHUP reloads', async () => {
  const v0 = await readyVersion();
  swapTo(policyB());
  await sleep(600);
  assert.equal((await pub('before hup')).rule, 'a-default', 'nothing changed before the signal');
  s.proc.kill('SIGHUP');
  let r;
  for (let i = 0; i < 50; i++) { r = await pub('after hup'); if (r.rule === 'b-default') break; await sleep(100); }
  assert.equal(r.rule, 'b-default');
  assert.equal(r.backend, 'local');
  assert.notEqual(await readyVersion(), v0);
});

test('(c) POST /admin/reload needs the admin key', async () => {
  swapTo(policyA());
  let r = await admin(null);
  assert.equal(r.status, 401, 'no credentials: 401');
  assert.equal((await r.json()).error.type, 'authentication_error');
  r = await admin('sk-wrong-key');
  assert.equal(r.status, 403);
  assert.equal((await pub('after refused reload')).rule, 'b-default', 'a refused reload changes nothing');
  r = await admin(ADMIN);
  assert.equal(r.status, 200);
  const j = await r.json();
  assert.equal(j.status, 'reloaded');
  assert.equal(j.policy_version, await readyVersion());
  assert.equal((await pub('after admin reload')).rule, 'a-default');
  assert.equal(j.warning, undefined, 'nothing read at start only changed');
});

test('a reload that changes what is read at start only applies the rest and says so', async () => {
  swapTo({ ...policyA(), listen: '127.0.0.1:1', ledger: { path: join(dir, 'moved.db') } });
  let r = await admin(ADMIN);
  assert.equal(r.status, 200);
  const j = await r.json();
  assert.match(j.warning, /^listen, ledger: read at start only, not applied until a restart$/);
  assert.match(s.stderr(), /reload of .*: listen, ledger: read at start only/);
  assert.equal((await pub('after start-only change')).rule, 'a-default', 'still served where it was');
  swapTo(policyA());
  r = await admin(ADMIN);
  assert.equal((await r.json()).warning, undefined);
});

test('a broken file keeps the old policy: the reason names the JSON path, /readyz stays 200', async () => {
  const v = await readyVersion();
  swapTo(broken());
  let r = await admin(ADMIN);
  assert.equal(r.status, 422);
  const j = await r.json();
  assert.match(j.error.message, /\$\.rules\[1\]\.route\[0\]/, j.error.message);
  assert.match(j.error.message, /nope/);
  assert.equal(await readyVersion(), v);
  r = await pub('after broken reload');
  assert.equal(r.status, 200);
  assert.equal(r.rule, 'a-default');
  // not JSON at all, by SIGHUP
  swapTo('{"backends": [');
  s.proc.kill('SIGHUP');
  await sleep(500);
  assert.equal(await readyVersion(), v);
  assert.equal((await pub('after garbage')).rule, 'a-default');
  assert.match(s.stderr(), /reload of .* refused, keeping policy/);
  // valid JSON and rules, but the local model file is missing: refused, still A
  const noModel = policyA();
  noModel.backends[0] = { ...noModel.backends[0], model: '/nonexistent/reload-missing.gguf' };
  swapTo(noModel);
  r = await admin(ADMIN);
  assert.equal(r.status, 422);
  assert.match((await r.json()).error.message, /^\$\.backends\[0\]\.model \(backend "local"\): .*reload-missing\.gguf/);
  assert.equal(await readyVersion(), v);
  assert.equal((await pub('after missing model')).rule, 'a-default');
  // and sensitive data still stays inside
  const sr = await chat(s.base, userMsg(SENSITIVE[0].content));
  assert.equal(sr.backend, 'local');
  assertNeverSaw(ext, ALL_VALUES);
});

test('in-flight requests keep the policy they started with', async () => {
  swapTo(policyA());
  assert.equal((await admin(ADMIN)).status, 200);
  const before = ext.received.length;
  const streamed = chat(s.base, userMsg('slow stream please', { stream: true }));
  const whole = chat(s.base, userMsg('slow whole please'));
  for (let i = 0; i < 50 && ext.received.length < before + 2; i++) await sleep(20);
  assert.equal(ext.received.length, before + 2, 'both started upstream');
  swapTo(policyB()); // B has no external backend at all
  assert.equal((await admin(ADMIN)).status, 200);
  assert.equal((await pub('during')).rule, 'b-default', 'new requests use B');
  const [st, wh] = await Promise.all([streamed, whole]);
  assert.equal(st.status, 200);
  assert.equal(st.rule, 'a-default');
  assert.equal(st.backend, 'ext');
  const sse = parseSSE(st.text);
  assert.equal(sse.text, Array.from({ length: 10 }, (_, i) => `p${i} `).join(''));
  assert.ok(sse.done);
  assert.equal(wh.status, 200, wh.text);
  assert.equal(wh.rule, 'a-default', 'the answer sent after the reload still carries the old rule');
  assert.equal(wh.json.choices[0].message.content, 'ext: slow whole please');
});

test('a reload that says an internal backend is external stops an in-flight keep-inside request failing over to it', async () => {
  // 'first' (internal) answers 500 after a while; the keep-inside chain goes on to 'corp'.
  const first = await startMock((req, body, res) => setTimeout(() => replyJson(res, 500, { error: { message: 'down' } }), 700));
  const corp = await startMock((req, body, res) => replyJson(res, 200, completion('corp answered')));
  const internal = { location: 'internal', max_retries: 0 };
  const policyC = (corpLocation) => ({
    auth: { admin_keys: [sha(ADMIN)] },
    backends: [local(), apiBackend('first', first.url, internal),
               apiBackend('corp', corp.url, { ...internal, location: corpLocation }), apiBackend('ext', ext.url)],
    rules: [{ name: 'c-keep', when: { sensitivity_at_least: 'confidential' }, route: ['first', 'corp'], on_unavailable: 'reject' },
            { name: 'c-default', route: ['ext'] }],
  });
  try {
    swapTo(policyC('internal'));
    assert.equal((await admin(ADMIN)).status, 200);
    const smp = SENSITIVE[1];
    // control: with corp internal the request fails over to it
    let r = await chat(s.base, userMsg(smp.content), smp.headers);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.rule, 'c-keep');
    assert.equal(r.backend, 'corp');
    assert.equal(corp.received.length, 1);
    // now corp is declared external while the request waits on 'first'
    const pending = chat(s.base, userMsg(smp.content, { stream: true }), smp.headers);
    const n0 = first.received.length;
    for (let i = 0; i < 50 && first.received.length === n0; i++) await sleep(20);
    assert.equal(first.received.length, n0 + 1, 'the request reached the first step');
    swapTo(policyC('external'));
    assert.equal((await admin(ADMIN)).status, 200);
    r = await pending;
    assert.equal(r.status, 503, r.text);
    assert.match(r.text, /kept_inside_unavailable/);
    assert.equal(r.rule, 'c-keep', 'the request kept its own policy');
    assert.equal(corp.received.length, 1, 'nothing more reached the backend now marked external');
    assert.match(s.stderr(), /refusing external step corp for a keep-inside request/);
    assertNeverSaw(ext, ALL_VALUES);
  } finally {
    await first.stop();
    await corp.stop();
  }
});

test('a reload that now keeps a request inside stops its in-flight failover to an external backend', async () => {
  // 'first' (internal) answers 500 after a while; the chain goes on to 'ext'
  const first = await startMock((req, body, res) => setTimeout(() => replyJson(res, 500, { error: { message: 'down' } }), 700));
  const policyD = (keepAt) => ({
    auth: { admin_keys: [sha(ADMIN)] },
    backends: [local(), apiBackend('first', first.url, { location: 'internal', max_retries: 0 }),
               apiBackend('ext', ext.url, { max_retries: 0 })],
    rules: [{ name: 'd-keep', when: { sensitivity_at_least: keepAt }, route: ['local'], on_unavailable: 'reject' },
            { name: 'd-default', route: ['first', 'ext'] }],
  });
  const mail = 'Forward the minutes to laila.hansen@northwind-freight.com please'; // confidential
  try {
    swapTo(policyD('restricted'));
    assert.equal((await admin(ADMIN)).status, 200);
    const before = ext.received.length;
    const pending = chat(s.base, userMsg(mail));
    const n0 = first.received.length;
    for (let i = 0; i < 50 && first.received.length === n0; i++) await sleep(20);
    assert.equal(first.received.length, n0 + 1, 'the request reached the first step');
    swapTo(policyD('confidential')); // an incident: e-mail addresses now stay inside
    assert.equal((await admin(ADMIN)).status, 200);
    const r = await pending;
    assert.equal(r.status, 503, r.text);
    assert.equal(r.rule, 'd-default', 'the request kept its own rule');
    assert.equal(ext.received.length, before, 'its failover did not go out');
    assert.match(s.stderr(), /the policy reloaded since the request began keeps it inside/);
    assertNeverSaw(ext, ['northwind']);
  } finally {
    await first.stop();
  }
});

test('under load: reloads between A, B and a broken file fail no request and leak nothing', async () => {
  swapTo(policyA());
  assert.equal((await admin(ADMIN)).status, 200);
  let stop = false;
  let k = 0; // reloads so far
  const results = [];
  const worker = async (w) => {
    // at least 30 requests each, and on until 8 reloads happened (bounded)
    for (let i = 0; i < 300 && (i < 30 || k < 8); i++) {
      const smp = SENSITIVE[(w + i) % SENSITIVE.length];
      const sensitive = i % 2 === 0;
      const stream = i % 3 === 0;
      const body = userMsg(sensitive ? smp.content : `public load ${w}-${i}`, { stream });
      const r = await chat(s.base, body, sensitive ? smp.headers : {});
      results.push({ sensitive, stream, r });
    }
  };
  const reloader = async () => {
    const seq = [policyB, broken, policyA, () => '{"rules": 1', policyB, policyA];
    while (!stop) {
      swapTo(seq[k % seq.length]());
      if (k % 2) s.proc.kill('SIGHUP');
      else await admin(ADMIN);
      k++;
      await sleep(120);
    }
    return k;
  };
  const rl = reloader();
  await Promise.all(Array.from({ length: 4 }, (_, w) => worker(w)));
  stop = true;
  const reloads = await rl;
  assert.ok(reloads >= 8, `reloaded ${reloads} times`);
  assert.ok(results.length >= 100);
  for (const { sensitive, stream, r } of results) {
    assert.equal(r.status, 200, r.text);
    if (stream) assert.ok(parseSSE(r.text).done, r.text.slice(-300));
    if (sensitive) {
      assert.equal(r.backend, 'local');
      assert.match(r.rule, /^[ab]-keep$/);
    } else assert.ok(['a-default', 'b-default'].includes(r.rule), r.rule);
  }
  const rules = new Set(results.map((x) => x.r.rule));
  assert.ok(rules.has('a-default') && rules.has('b-default'), `both policies served: ${[...rules]}`);
  assertNeverSaw(ext, ALL_VALUES);
  assert.equal(await fetch(`${s.base}/readyz`).then((r) => r.status), 200);
});

describe('(b) file watch: a Kubernetes ConfigMap volume (symlinked directory swapped, old one deleted)', () => {
  let s3, d;
  let gen = 0;
  // d/sluice.json -> ..data/sluice.json, ..data -> ..gen_N/ ; an update writes ..gen_N+1,
  // swaps ..data atomically and deletes the old directory, as the kubelet does
  const publish = (obj) => {
    const g = join(d, `..gen_${++gen}`);
    mkdirSync(g);
    writeFileSync(join(g, 'sluice.json'), JSON.stringify(obj, null, 2));
    symlinkSync(`..gen_${gen}`, join(d, '..data_tmp'));
    renameSync(join(d, '..data_tmp'), join(d, '..data'));
    if (gen > 1) rmSync(join(d, `..gen_${gen - 1}`), { recursive: true });
  };
  before(async () => {
    d = mkdtempSync(join(tmpdir(), 'sluice-cm-'));
    publish(policyA());
    symlinkSync('..data/sluice.json', join(d, 'sluice.json'));
    s3 = await startSluiceAt(join(d, 'sluice.json'), ENV);
  });
  after(async () => { const r = await s3.stop(); assert.equal(r.code, 0); });
  const until = async (rule) => {
    let r;
    for (let i = 0; i < 60; i++) {
      try { r = await chat(s3.base, userMsg('public cm')); } catch (e) {
        throw new Error(`${e.message} (${e.cause?.code}); sluice exit ${s3.proc.exitCode} ${s3.proc.signalCode}:\n${s3.stderr().slice(-4000)}`);
      }
      if (r.rule === rule) return r;
      await sleep(100);
    }
    return r;
  };
  test('every update is picked up without a signal', async () => {
    assert.equal((await until('a-default')).rule, 'a-default');
    publish(policyB());
    assert.equal((await until('b-default')).rule, 'b-default', 'first update');
    publish(policyA());
    assert.equal((await until('a-default')).rule, 'a-default', 'second update');
    publish(policyB());
    assert.equal((await until('b-default')).rule, 'b-default', 'third update');
  });
});

describe('(b) file watch', () => {
  let s2, f;
  before(async () => {
    const d = mkdtempSync(join(tmpdir(), 'sluice-watch-'));
    f = join(d, 'sluice.json');
    writeFileSync(f, JSON.stringify(policyA(), null, 2));
    s2 = await startSluiceAt(f, ENV);
  });
  after(async () => { const r = await s2.stop(); assert.equal(r.code, 0); });
  // asks srv (s2 unless given) until `rule` answers, for up to 6 s
  const until = async (rule, srv = s2) => {
    let r;
    for (let i = 0; i < 60; i++) {
      r = await chat(srv.base, userMsg('public watch'));
      if (r.rule === rule) return r;
      await sleep(100);
    }
    return r;
  };

  test('rewriting the file in place reloads it', async () => {
    writeFileSync(f, JSON.stringify(policyB(), null, 2));
    assert.equal((await until('b-default')).rule, 'b-default');
    writeFileSync(f, JSON.stringify(broken(), null, 2));
    await sleep(800);
    assert.equal((await until('b-default')).rule, 'b-default', 'a broken write keeps B');
    writeFileSync(f, JSON.stringify(policyA(), null, 2));
    assert.equal((await until('a-default')).rule, 'a-default');
  });

  test('a file written in place in two steps is not a refused reload; a broken one still is, once', async () => {
    const refused = async () => Number(((await (await fetch(`${s2.base}/metrics`)).text()).match(/sluice_policy_reloads_total\{result="error"\} (\d+)/) || [0, 0])[1]);
    const before = await refused();
    for (const [pol, rule] of [[policyB(), 'b-default'], [policyA(), 'a-default']]) {
      const text = JSON.stringify(pol, null, 2), half = text.length >> 1;
      const fd = openSync(f, 'w'); // truncates: the watch fires on the half-written file
      writeSync(fd, text.slice(0, half));
      await sleep(400); // longer than the 200 ms the watch waits for writes to settle
      writeSync(fd, text.slice(half));
      closeSync(fd);
      assert.equal((await until(rule)).rule, rule);
    }
    await sleep(1500);
    assert.equal(await refused(), before, 'no refused reload counted for a file being written');
    writeFileSync(f, JSON.stringify(broken(), null, 2));
    for (let i = 0; i < 40 && await refused() === before; i++) await sleep(100);
    assert.equal(await refused(), before + 1, 'a broken file is refused (after a second, once)');
    await sleep(1500);
    assert.equal(await refused(), before + 1, 'and counted once');
    writeFileSync(f, JSON.stringify(policyA(), null, 2));
    assert.equal((await until('a-default')).rule, 'a-default');
  });

  test('an editor-style save (write a temp file, rename it over) reloads, and later edits still do', async () => {
    const tmp = f + '.tmp';
    writeFileSync(tmp, JSON.stringify(policyB(), null, 2));
    renameSync(tmp, f);
    assert.equal((await until('b-default')).rule, 'b-default');
    writeFileSync(tmp, JSON.stringify(policyA(), null, 2));
    renameSync(tmp, f);
    assert.equal((await until('a-default')).rule, 'a-default', 'the second atomic save is seen too');
    writeFileSync(f, JSON.stringify(policyB(), null, 2));
    assert.equal((await until('b-default')).rule, 'b-default', 'an in-place edit after a rename is seen');
  });

  test('the config path as a symlink repointed to another file (release directories) reloads', async () => {
    const d = mkdtempSync(join(tmpdir(), 'sluice-rel-'));
    for (const [rel, pol] of [['rel1', policyA()], ['rel2', policyB()]]) {
      mkdirSync(join(d, rel));
      writeFileSync(join(d, rel, 'sluice.json'), JSON.stringify(pol, null, 2));
    }
    const link = join(d, 'sluice.json');
    symlinkSync('rel1/sluice.json', link);
    const s4 = await startSluiceAt(link, ENV);
    try {
      const ask = (rule) => until(rule, s4);
      assert.equal((await ask('a-default')).rule, 'a-default');
      for (const [rel, rule] of [['rel2', 'b-default'], ['rel1', 'a-default']]) {
        symlinkSync(`${rel}/sluice.json`, join(d, 'link.tmp')); // ln -sfn: a new link renamed over
        renameSync(join(d, 'link.tmp'), link);
        assert.equal((await ask(rule)).rule, rule, `repointed to ${rel}`);
      }
    } finally {
      const r = await s4.stop();
      assert.equal(r.code, 0);
    }
  });

  test('the config directory replaced by another (mv cfg.new cfg) reloads, and edits of the new file are seen', async () => {
    const d = mkdtempSync(join(tmpdir(), 'sluice-swap-'));
    mkdirSync(join(d, 'cfg'));
    const path = join(d, 'cfg', 'sluice.json');
    writeFileSync(path, JSON.stringify(policyA(), null, 2));
    const s5 = await startSluiceAt(path, ENV);
    try {
      const ask = (rule) => until(rule, s5);
      assert.equal((await ask('a-default')).rule, 'a-default');
      mkdirSync(join(d, 'cfg.new'));
      writeFileSync(join(d, 'cfg.new', 'sluice.json'), JSON.stringify(policyB(), null, 2));
      renameSync(join(d, 'cfg'), join(d, 'cfg.old'));
      renameSync(join(d, 'cfg.new'), join(d, 'cfg'));
      assert.equal((await ask('b-default')).rule, 'b-default', 'the new directory\'s file is in force');
      writeFileSync(path, JSON.stringify(policyA(), null, 2));
      assert.equal((await ask('a-default')).rule, 'a-default', 'an edit of the new file is seen');
      writeFileSync(join(d, 'cfg.old', 'sluice.json'), JSON.stringify(policyB(), null, 2));
      await sleep(700);
      assert.equal((await ask('a-default')).rule, 'a-default', 'the old directory no longer counts');
    } finally {
      const r = await s5.stop();
      assert.equal(r.code, 0);
    }
  });
});
