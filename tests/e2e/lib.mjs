// Shared helpers for end-to-end tests: a scriptable mock OpenAI-compatible
// upstream that records everything it receives, and a sluice process started on
// loopback with a generated config.
import http from 'node:http';
import net from 'node:net';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const BIN = process.env.SLUICE_BIN;
export const SHARED = process.env.SLUICE_SHARED;

// A mock upstream. `handler(req, body, res)` decides each answer; every request
// (method, url, headers, body) is recorded in `received`, and `closed` counts
// responses whose client went away before the end.
export async function startMock(handler) {
  const m = { received: [], closed: 0, handler };
  m.server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      m.received.push({ method: req.method, url: req.url, headers: req.headers, body });
      res.on('close', () => { if (!res.writableFinished) m.closed++; });
      m.handler(req, body, res);
    });
  });
  await new Promise((r) => m.server.listen(0, '127.0.0.1', r));
  m.port = m.server.address().port;
  m.url = `http://127.0.0.1:${m.port}/v1`;
  m.stop = () => new Promise((r) => { m.server.closeAllConnections?.(); m.server.close(r); });
  return m;
}

export function completion(text, opts = {}) {
  return {
    id: 'chatcmpl-mock', object: 'chat.completion', created: 1, model: opts.model || 'mock-model',
    choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: opts.finish || 'stop' }],
    usage: { prompt_tokens: opts.pt ?? 11, completion_tokens: opts.ct ?? 7, total_tokens: (opts.pt ?? 11) + (opts.ct ?? 7) },
  };
}

export function replyJson(res, status, obj) {
  const s = JSON.stringify(obj);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(s) });
  res.end(s);
}

// Streams `pieces` as SSE chunks, `gapMs` apart, then usage and [DONE].
export function replyStream(res, pieces, gapMs = 0, opts = {}) {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  const chunk = (delta, finish = null) => `data: ${JSON.stringify({ id: 'chatcmpl-mock', object: 'chat.completion.chunk', created: 1, model: 'mock-model', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
  res.write(chunk({ role: 'assistant', content: '' }));
  let i = 0;
  const next = () => {
    if (res.destroyed) return;
    if (i < pieces.length) {
      res.write(chunk({ content: pieces[i++] }));
      if (opts.failAfter !== undefined && i >= opts.failAfter) { res.destroy(); return; }
      setTimeout(next, gapMs);
      return;
    }
    res.write(chunk({}, 'stop'));
    res.write(`data: ${JSON.stringify({ id: 'chatcmpl-mock', object: 'chat.completion.chunk', created: 1, model: 'mock-model', choices: [], usage: { prompt_tokens: 5, completion_tokens: pieces.length, total_tokens: 5 + pieces.length } })}\n\n`);
    res.end('data: [DONE]\n\n');
  };
  next();
}

// Starts sluice with `config` (an object) on an ephemeral port.
export async function startSluice(config, env = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-e2e-'));
  const path = join(dir, 'sluice.json');
  writeFileSync(path, JSON.stringify(config, null, 2));
  const proc = spawn(BIN, ['serve', '--config', path, '--listen', '127.0.0.1:0'], {
    // the mocks' key variables set (sluice sends nothing to a backend whose key
    // is not set); a test's env names its own values
    env: { MOCK_KEY: 'sk-mock-default', MOCK_ANTH_KEY: 'sk-ant-mock-default', ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  proc.stderr.on('data', (d) => (stderr += d));
  const port = await new Promise((resolve, reject) => {
    let out = '';
    const t = setTimeout(() => reject(new Error('sluice did not start: ' + stderr)), 180000);
    proc.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/listening (\d+)/);
      if (m) { clearTimeout(t); resolve(Number(m[1])); }
    });
    proc.on('exit', (code) => { clearTimeout(t); reject(new Error(`sluice exited ${code}: ${stderr}`)); });
  });
  const s = { proc, port, dir, path, base: `http://127.0.0.1:${port}`, stderr: () => stderr };
  s.exited = new Promise((r) => proc.on('exit', (code, sig) => r({ code, sig })));
  s.stop = async () => { if (proc.exitCode === null) proc.kill('SIGTERM'); return s.exited; };
  return s;
}

export function apiBackend(name, url, extra = {}) {
  return { name, kind: 'openai', base_url: url, api_key_env: 'MOCK_KEY', location: 'external',
           models: [{ name: 'mock-model', usd_per_mtok_in: 1, usd_per_mtok_out: 2 }],
           connect_timeout_ms: 1000, first_byte_timeout_ms: 5000, ...extra };
}

// One raw HTTP exchange over a socket: writes `data` (string or array of
// [delayMs, string]) and collects everything until the server closes or `waitMs`.
export function raw(port, data, waitMs = 2000) {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    let got = '';
    let done = false;
    const finish = () => { if (!done) { done = true; sock.destroy(); resolve({ text: got, closed: sock.readableEnded }); } };
    sock.on('data', (d) => (got += d));
    sock.on('end', () => { setTimeout(finish, 10); });
    sock.on('error', finish);
    setTimeout(finish, waitMs);
    sock.on('connect', async () => {
      const parts = Array.isArray(data) ? data : [[0, data]];
      for (const [delay, s] of parts) {
        if (delay) await new Promise((r) => setTimeout(r, delay));
        if (!sock.destroyed) sock.write(s);
      }
    });
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A chat request as raw HTTP/1.1 bytes (for sockets driven by hand: paused,
// read slowly); `close` adds Connection: close.
export function chatRequest(request, close = false) {
  const body = JSON.stringify(request);
  return `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\n${close ? 'Connection: close\r\n' : ''}\r\n${body}`;
}
