// Helpers for the Anthropic side of the dialect tests: an upstream speaking the
// Messages API (whole `message` objects and the real streaming event sequence),
// a backend config entry for it, and a raw SSE reader for checking the exact
// events sluice sends an Anthropic client.

// A whole Messages API answer. `content`: a string (one text block) or blocks.
export function anthMessage(content, opts = {}) {
  return {
    id: 'msg_mock', type: 'message', role: 'assistant', model: opts.model || 'claude-mock',
    content: typeof content === 'string' ? [{ type: 'text', text: content }] : content,
    stop_reason: opts.stop_reason || 'end_turn', stop_sequence: opts.stop_sequence ?? null,
    usage: { input_tokens: opts.input ?? 21, output_tokens: opts.output ?? 9,
             ...(opts.cache_read ? { cache_read_input_tokens: opts.cache_read } : {}) },
  };
}

export function anthError(res, status, type, message) {
  const s = JSON.stringify({ type: 'error', error: { type, message } });
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(s) });
  res.end(s);
}

const ev = (name, data) => `event: ${name}\ndata: ${JSON.stringify({ type: name, ...data })}\n\n`;

// Streams a Messages answer as the API does. `blocks`: [{text: [pieces]} |
// {tool: {id, name, json: [pieces]}}]. opts: gapMs between events, stop_reason,
// stop_sequence, input/output usage (cacheRead, cacheWrite: the prompt
// cache's, in message_start), failAfter (destroy the socket after that
// many deltas), errorAfter (send an `event: error` after that many deltas).
export function replyAnthStream(res, blocks, opts = {}) {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  const events = [ev('message_start', { message: { id: 'msg_mock', type: 'message', role: 'assistant',
    model: opts.model || 'claude-mock', content: [], stop_reason: null, stop_sequence: null,
    usage: { input_tokens: opts.input ?? 17, output_tokens: 1,
             ...(opts.cacheRead !== undefined ? { cache_creation_input_tokens: opts.cacheWrite ?? 0, cache_read_input_tokens: opts.cacheRead } : {}) } } }),
    'event: ping\ndata: {"type": "ping"}\n\n'];
  let deltas = 0;
  const marks = [];
  blocks.forEach((b, index) => {
    if (b.text) {
      events.push(ev('content_block_start', { index, content_block: { type: 'text', text: '' } }));
      for (const t of b.text) { events.push(ev('content_block_delta', { index, delta: { type: 'text_delta', text: t } })); marks.push(events.length); deltas++; }
    } else {
      events.push(ev('content_block_start', { index, content_block: { type: 'tool_use', id: b.tool.id, name: b.tool.name,
                                                                      input: b.tool.input ?? {} } }));
      events.push(ev('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: '' } }));
      for (const j of b.tool.json) { events.push(ev('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: j } })); marks.push(events.length); deltas++; }
    }
    events.push(ev('content_block_stop', { index }));
  });
  events.push(ev('message_delta', { delta: { stop_reason: opts.stop_reason || 'end_turn', stop_sequence: opts.stop_sequence ?? null },
                                    usage: { output_tokens: opts.output ?? deltas } }));
  events.push(ev('message_stop', {}));
  let cut = events.length;
  if (opts.failAfter !== undefined) cut = marks[opts.failAfter - 1];
  if (opts.errorAfter !== undefined) {
    cut = marks[opts.errorAfter - 1];
    events.splice(cut, 0, ev('error', { error: { type: 'overloaded_error', message: 'Overloaded' } }));
    cut++;
  }
  let i = 0;
  const next = () => {
    if (res.destroyed) return;
    if (i >= cut) { if (opts.failAfter !== undefined) res.destroy(); else res.end(); return; }
    res.write(events[i++]);
    setTimeout(next, opts.gapMs ?? 0);
  };
  next();
}

export function anthBackend(name, url, extra = {}) {
  return { name, kind: 'anthropic', base_url: url, api_key_env: 'MOCK_ANTH_KEY', location: 'external',
           models: [{ name: 'claude-mock', usd_per_mtok_in: 3, usd_per_mtok_out: 15 }],
           connect_timeout_ms: 1000, first_byte_timeout_ms: 5000, ...extra };
}

// POSTs `body` and returns the SSE events as [{event, data}] (data parsed).
export async function sseEvents(url, body, headers = {}) {
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const text = await r.text();
  const events = [];
  for (const chunk of text.split('\n\n')) {
    if (!chunk.trim()) continue;
    const e = { event: null, data: null };
    for (const line of chunk.split('\n')) {
      if (line.startsWith('event: ')) e.event = line.slice(7);
      else if (line.startsWith('data: ')) e.data = JSON.parse(line.slice(6));
    }
    events.push(e);
  }
  return { status: r.status, headers: r.headers, events, text };
}
