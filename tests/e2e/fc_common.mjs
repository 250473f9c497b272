// Shared by failclosed/reload/ledger tests: sensitive samples (checked against
// `sluice classify`), a plain HTTP chat helper, echoing mocks and the assertion
// that a mock never received a sensitive value anywhere (URL, headers, body).
import assert from 'node:assert/strict';
import { replyJson, replyStream, completion } from './lib.mjs';

// Each sample: the user text, the strings that must never leave, extra headers.
// Values are realistic, not vendors' documented test values (the SSN is valid, the
// card passes Luhn and is no well-known test number).
export const SENSITIVE = [
  { name: 'email', content: 'Please email maria.keller@acme-logistics.com about the invoice',
    values: ['maria.keller@acme-logistics.com', 'maria.keller'] },
  { name: 'us_ssn', content: 'My SSN is 512-84-3927, please check it',
    values: ['512-84-3927', '512843927'] },
  { name: 'credit_card', content: 'Charge card 4556 7375 8689 9855 for the order',
    values: ['4556 7375 8689 9855', '4556737586899855'] },
  { name: 'person_address', content: 'Laila Hansen lives at 42 Birchwood Lane, Springfield, IL 62704.',
    values: ['Laila Hansen', 'Birchwood Lane'] },
  { name: 'github_token', content: 'use token ghp_R8x2Kq9LmT4vWz7YpN3bC6dF1hJ5sA0eGu2i for the repo',
    values: ['ghp_R8x2Kq9LmT4vWz7YpN3bC6dF1hJ5sA0eGu2i', 'R8x2Kq9LmT4vWz7YpN3bC6dF1hJ5sA0eGu2i'] },
  // a caller's declaration can raise the level, never lower it
  { name: 'ssn_declared_public', content: 'Employee record: SSN 431-72-9045, start date next week',
    values: ['431-72-9045', '431729045'], headers: { 'x-sluice-data-class': 'public' } },
  // innocuous text, declared restricted by the caller: the marker must not leave
  { name: 'declared_restricted', content: 'What is the capital of France? ref QX7-declared-marker',
    values: ['QX7-declared-marker'], headers: { 'x-sluice-data-class': 'restricted' } },
  // a class sluice does not know is read as the highest level (fail closed)
  { name: 'declared_unknown_class', content: 'Summarise the quarterly plan, ref QX8-unknown-class-marker',
    values: ['QX8-unknown-class-marker'], headers: { 'x-sluice-data-class': 'top-secret-eyes-only' } },
];

export const ALL_VALUES = SENSITIVE.flatMap((s) => s.values);

export async function chat(base, body, headers = {}, path = '/v1/chat/completions') {
  const r = await fetch(base + path, {
    method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body),
  });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* SSE or empty */ }
  return { status: r.status, text, json, headers: r.headers, id: r.headers.get('x-sluice-request-id'),
           backend: r.headers.get('x-sluice-backend'), rule: r.headers.get('x-sluice-rule') };
}

export const userMsg = (content, extra = {}) => ({ messages: [{ role: 'user', content }], temperature: 0, max_tokens: 8, ...extra });

// Everything a mock received, as one list of strings to search.
function receivedText(m) {
  return m.received.map((r) => `${r.method} ${r.url}\n${JSON.stringify(r.headers)}\n${r.body}`);
}

export function assertNeverSaw(mock, values, what = 'the external mock') {
  for (const t of receivedText(mock))
    for (const v of values)
      assert.ok(!t.includes(v), `${what} received the sensitive value ${JSON.stringify(v)}:\n${t.slice(0, 600)}`);
}

// Echo mock: answers "echo: <last user content>", streamed in 3-byte pieces when asked
// (so placeholders are split across chunks). Optional per-request delay.
export function echoHandler(opts = {}) {
  return (req, body, res) => {
    let b = {};
    try { b = JSON.parse(body); } catch { return replyJson(res, 400, { error: { message: 'bad json' } }); }
    const last = [...(b.messages || [])].reverse().find((m) => m.role === 'user');
    const content = typeof last?.content === 'string' ? last.content : JSON.stringify(last?.content ?? '');
    const text = 'echo: ' + content;
    const go = () => {
      if (b.stream) {
        const pieces = [];
        for (let i = 0; i < text.length; i += 3) pieces.push(text.slice(i, i + 3));
        return replyStream(res, pieces, opts.gapMs ?? 0);
      }
      replyJson(res, 200, completion(text, { pt: opts.pt, ct: opts.ct }));
    };
    if (opts.delayMs) setTimeout(go, opts.delayMs); else go();
  };
}

// Reads an SSE body (as text) into {text, error, done}.
export function parseSSE(text) {
  let out = '';
  let error = null;
  let done = false;
  for (const line of text.split('\n')) {
    if (!line.startsWith('data: ')) continue;
    const d = line.slice(6).trim();
    if (d === '[DONE]') { done = true; continue; }
    try {
      const j = JSON.parse(d);
      if (j.error) error = j.error;
      out += j.choices?.[0]?.delta?.content ?? '';
    } catch { /* ignore */ }
  }
  return { text: out, error, done };
}

export const LOCAL_MODEL = () => `${process.env.SLUICE_SHARED}/models/stories260K.gguf`;
// A random-weight model with a 2048 context that rarely stops by itself: slow enough
// under ASan (~150 tokens/s) to fill a queue and to time out.
export const BIG_MODEL = () => `${process.env.SLUICE_SHARED}/models/tiny-llama3.gguf`;

// Like lib.mjs's startSluice, but for a config file the test manages itself (so it
// can be a symlink, be rewritten, renamed over, ...).
import { spawn } from 'node:child_process';
export async function startSluiceAt(path, env = {}, args = []) {
  const proc = spawn(process.env.SLUICE_BIN, ['serve', '--config', path, '--listen', '127.0.0.1:0', ...args], {
    env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  proc.stderr.on('data', (d) => (stderr += d));
  const port = await new Promise((resolve, reject) => {
    let out = '';
    const t = setTimeout(() => reject(new Error('sluice did not start: ' + stderr)), 60000);
    proc.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/listening (\d+)/);
      if (m) { clearTimeout(t); resolve(Number(m[1])); }
    });
    proc.on('exit', (code) => { clearTimeout(t); reject(new Error(`sluice exited ${code}: ${stderr}`)); });
  });
  const s = { proc, port, path, base: `http://127.0.0.1:${port}`, stderr: () => stderr };
  s.exited = new Promise((r) => proc.on('exit', (code, sig) => r({ code, sig })));
  s.stop = async () => { if (proc.exitCode === null) proc.kill('SIGTERM'); return s.exited; };
  return s;
}
