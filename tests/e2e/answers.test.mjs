// What an upstream's answer carries reaches the client through the official
// SDKs, in either dialect: answers with no text (streamed, they still open
// once), refusals, prompt-cache usage, the upstream's own error codes and
// reasons, stop reasons without an OpenAI equivalent, and parallel tool calls
// whose deltas an OpenAI upstream interleaves; and an openai backend's
// max_tokens_param. Upstreams are mocks on loopback.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { startMock, startSluice, apiBackend, completion, replyJson } from './lib.mjs';
import { anthMessage, replyAnthStream, anthBackend, sseEvents } from './anth_mock.mjs';

let oaUp, anUp, sluice, oai, anth;

before(async () => {
  oaUp = await startMock((req, body, res) => replyJson(res, 200, completion('hi')));
  anUp = await startMock((req, body, res) => replyJson(res, 200, anthMessage('hi')));
  sluice = await startSluice({
    backends: [apiBackend('oa', oaUp.url), anthBackend('an', anUp.url),
               apiBackend('oa-reasoning', oaUp.url, { max_tokens_param: 'max_completion_tokens' })],
    rules: [
      { name: 'to-anthropic', when: { header: { 'x-route': 'anthropic' } }, route: ['an'] },
      { name: 'to-reasoning', when: { header: { 'x-route': 'reasoning' } }, route: ['oa-reasoning'] },
      { name: 'default', route: ['oa'] },
    ],
  }, { MOCK_KEY: 'sk-mock-1', MOCK_ANTH_KEY: 'sk-ant-mock-2' });
  oai = new OpenAI({ baseURL: `${sluice.base}/v1`, apiKey: 'unused', maxRetries: 0 });
  anth = new Anthropic({ baseURL: sluice.base, apiKey: 'unused', maxRetries: 0 });
});

after(async () => {
  const r = await sluice.stop();
  const log = sluice.stderr();
  assert.equal(r.code, 0, log.slice(-3000));
  assert.doesNotMatch(log, /runtime error|AddressSanitizer|LeakSanitizer/, log.slice(-3000));
  await oaUp.stop();
  await anUp.stop();
});

const toAnthropic = { headers: { 'x-route': 'anthropic' } };
const chunk = (delta, finish = null, extra = {}) =>
  `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'mock-model',
                            choices: [{ index: 0, delta, finish_reason: finish }], ...extra })}\n\n`;
const usageChunk = (u) =>
  `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'mock-model', choices: [], usage: u })}\n\n`;
// An OpenAI upstream streaming these deltas, then a finish and usage.
const streamDeltas = (deltas, finish = 'stop') => (req, body, res) => {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  res.write(chunk({ role: 'assistant', content: '' }));
  for (const d of deltas) res.write(chunk(d));
  res.write(chunk({}, finish));
  res.write(usageChunk({ prompt_tokens: 7, completion_tokens: 3, total_tokens: 10 }));
  res.end('data: [DONE]\n\n');
};

test('a streamed answer with no text opens once: both SDKs\' stream helpers finish', async () => {
  oaUp.handler = streamDeltas([]);
  const r = await sseEvents(`${sluice.base}/v1/messages`,
    { model: 'auto', max_tokens: 20, stream: true, messages: [{ role: 'user', content: 'x' }] });
  assert.deepEqual(r.events.map((e) => e.event), ['message_start', 'message_delta', 'message_stop']);
  const fin = await anth.messages.stream({ model: 'auto', max_tokens: 20, messages: [{ role: 'user', content: 'x' }] })
    .finalMessage();
  assert.deepEqual(fin.content, []);
  assert.equal(fin.stop_reason, 'end_turn');

  const s = await oai.chat.completions.create({ model: 'auto', stream: true, messages: [{ role: 'user', content: 'x' }] });
  const roles = [];
  for await (const c of s) if (c.choices[0]?.delta?.role) roles.push(c.choices[0].delta.role);
  assert.deepEqual(roles, ['assistant'], 'one opening chunk');

  // an Anthropic upstream whose answer has no text block at all
  anUp.handler = (req, body, res) => replyAnthStream(res, [], { stop_reason: 'max_tokens' });
  const fin2 = await anth.messages.stream({ model: 'auto', max_tokens: 20, messages: [{ role: 'user', content: 'x' }] },
    toAnthropic).finalMessage();
  assert.equal(fin2.stop_reason, 'max_tokens');
});

test('an OpenAI upstream\'s refusal stays a refusal (OpenAI client) and is stop_reason refusal (Anthropic client)', async () => {
  const why = "I'm sorry, I can't help with that.";
  oaUp.handler = (req, body, res) => replyJson(res, 200, {
    id: 'chatcmpl-r', object: 'chat.completion', created: 1, model: 'mock-model',
    choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: null, refusal: why } }],
    usage: { prompt_tokens: 5, completion_tokens: 9, total_tokens: 14 } });
  const c = await oai.chat.completions.create({ model: 'auto', messages: [{ role: 'user', content: 'x' }] });
  assert.equal(c.choices[0].message.refusal, why);
  assert.equal(c.choices[0].message.content, null);
  const m = await anth.messages.create({ model: 'auto', max_tokens: 20, messages: [{ role: 'user', content: 'x' }] });
  assert.equal(m.stop_reason, 'refusal');
  assert.deepEqual(m.content, [{ type: 'text', text: why }]);

  // streamed: delta.refusal pieces; the SDK's helper assembles message.refusal
  oaUp.handler = streamDeltas([{ refusal: "I'm sorry, " }, { refusal: "I can't help with that." }]);
  const fin = await oai.chat.completions.stream({ model: 'auto', messages: [{ role: 'user', content: 'x' }] })
    .finalChatCompletion();
  assert.equal(fin.choices[0].message.refusal, why);
  assert.ok(!fin.choices[0].message.content, 'no content');
  const afin = await anth.messages.stream({ model: 'auto', max_tokens: 20, messages: [{ role: 'user', content: 'x' }] })
    .finalMessage();
  assert.equal(afin.stop_reason, 'refusal');
  assert.deepEqual(afin.content, [{ type: 'text', text: why }]);

  // and structured outputs: parse() returns the refusal instead of failing on JSON
  oaUp.handler = streamDeltas([{ refusal: why }]);
  const parsed = await oai.chat.completions.stream({ model: 'auto', messages: [{ role: 'user', content: 'x' }],
    response_format: { type: 'json_schema', json_schema: { name: 'r', schema: { type: 'object', properties: {} } } } })
    .finalChatCompletion();
  assert.equal(parsed.choices[0].message.refusal, why);
  assert.equal(parsed.choices[0].message.parsed, null);
});

test('an upstream\'s reasoning (reasoning_content or reasoning) reaches an OpenAI client, whole and streamed, before the answer; an Anthropic client gets the answer', async () => {
  const think = 'The user greets me; a short greeting back — “hi” 👋.';
  for (const field of ['reasoning_content', 'reasoning']) {
    oaUp.handler = (req, body, res) => {
      const c = completion('Hello!');
      c.choices[0].message[field] = think;
      replyJson(res, 200, c);
    };
    const c = await oai.chat.completions.create({ model: 'auto', messages: [{ role: 'user', content: 'x' }] });
    assert.equal(c.choices[0].message.reasoning_content, think, field);
    assert.equal(c.choices[0].message.content, 'Hello!');
    const m = await anth.messages.create({ model: 'auto', max_tokens: 20, messages: [{ role: 'user', content: 'x' }] });
    assert.deepEqual(m.content, [{ type: 'text', text: 'Hello!' }]);

    // streamed: the reasoning in two deltas (cut between characters), then the answer
    const cut = [...think];
    oaUp.handler = streamDeltas([{ [field]: cut.slice(0, 20).join(''), content: null },
                                 { [field]: cut.slice(20).join('') }, { content: 'Hello' }, { content: '!' }]);
    const s = await oai.chat.completions.create({ model: 'auto', stream: true, messages: [{ role: 'user', content: 'x' }] });
    const order = [];
    let r = '', t = '';
    for await (const ch of s) {
      const d = ch.choices[0]?.delta ?? {};
      if (d.reasoning_content) { r += d.reasoning_content; order.push('r'); }
      if (d.content) { t += d.content; order.push('t'); }
      assert.equal(d.reasoning, undefined, 'relayed under one name');
    }
    assert.equal(r, think);
    assert.equal(t, 'Hello!');
    assert.deepEqual(order, ['r', 'r', 't', 't'], 'reasoning first, as it came');
    const fin = await anth.messages.stream({ model: 'auto', max_tokens: 20, messages: [{ role: 'user', content: 'x' }] })
      .finalMessage();
    assert.deepEqual(fin.content, [{ type: 'text', text: 'Hello!' }]);
  }
  // content as parts (Mistral's Magistral): thinking parts are the reasoning,
  // text parts the answer; whole and streamed
  const parts = [{ type: 'thinking', thinking: [{ type: 'text', text: 'Hm, ' }, { type: 'text', text: 'a greeting.' }] },
                 { type: 'text', text: 'Hello' }, { type: 'text', text: '!' }];
  oaUp.handler = (req, body, res) => {
    const c = completion('');
    c.choices[0].message.content = parts;
    replyJson(res, 200, c);
  };
  const mc = await oai.chat.completions.create({ model: 'auto', messages: [{ role: 'user', content: 'x' }] });
  assert.equal(mc.choices[0].message.content, 'Hello!');
  assert.equal(mc.choices[0].message.reasoning_content, 'Hm, a greeting.');
  oaUp.handler = streamDeltas([{ content: parts.slice(0, 1) }, { content: parts.slice(1) }]);
  const ms = await oai.chat.completions.create({ model: 'auto', stream: true, messages: [{ role: 'user', content: 'x' }] });
  let mr = '', mt = '';
  for await (const ch of ms) {
    mr += ch.choices[0]?.delta?.reasoning_content ?? '';
    mt += ch.choices[0]?.delta?.content ?? '';
  }
  assert.deepEqual([mr, mt], ['Hm, a greeting.', 'Hello!']);

  // a server that sends both names with the same text: relayed once
  oaUp.handler = streamDeltas([{ reasoning_content: 'a', reasoning: 'a' }, { content: 'b' }]);
  const s = await oai.chat.completions.create({ model: 'auto', stream: true, messages: [{ role: 'user', content: 'x' }] });
  let r = '';
  for await (const ch of s) r += ch.choices[0]?.delta?.reasoning_content ?? '';
  assert.equal(r, 'a');
});

test('prompt-cache and reasoning usage: Anthropic input_tokens leaves cached tokens out, OpenAI reports cached_tokens and reasoning_tokens', async () => {
  anUp.handler = (req, body, res) => {
    const m = anthMessage('cached');
    m.usage = { input_tokens: 10, cache_creation_input_tokens: 100, cache_read_input_tokens: 200, output_tokens: 30 };
    replyJson(res, 200, m);
  };
  const m = await anth.messages.create({ model: 'auto', max_tokens: 50, messages: [{ role: 'user', content: 'x' }] },
    toAnthropic);
  assert.deepEqual(m.usage, { input_tokens: 10, cache_creation_input_tokens: 100, cache_read_input_tokens: 200,
                              output_tokens: 30 });
  const c = await oai.chat.completions.create({ model: 'auto', messages: [{ role: 'user', content: 'x' }] }, toAnthropic);
  assert.equal(c.usage.prompt_tokens, 310, 'OpenAI counts every prompt token');
  assert.equal(c.usage.prompt_tokens_details.cached_tokens, 200);

  oaUp.handler = (req, body, res) => {
    const c = completion('cached', { pt: 100, ct: 5 });
    c.usage.prompt_tokens_details = { cached_tokens: 60 };
    replyJson(res, 200, c);
  };
  const m2 = await anth.messages.create({ model: 'auto', max_tokens: 50, messages: [{ role: 'user', content: 'x' }] });
  assert.deepEqual(m2.usage, { input_tokens: 40, cache_creation_input_tokens: 0, cache_read_input_tokens: 60,
                               output_tokens: 5 });
  const c2 = await oai.chat.completions.create({ model: 'auto', messages: [{ role: 'user', content: 'x' }] });
  assert.equal(c2.usage.prompt_tokens_details.cached_tokens, 60);
  assert.equal(c2.usage.completion_tokens_details, undefined, 'no reasoning figure the upstream did not give');
  // streamed, in the usage chunk
  oaUp.handler = (req, body, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(chunk({ role: 'assistant', content: 'ok' }, 'stop'));
    res.write(usageChunk({ prompt_tokens: 100, completion_tokens: 1, total_tokens: 101, prompt_tokens_details: { cached_tokens: 64 } }));
    res.end('data: [DONE]\n\n');
  };
  const s = await oai.chat.completions.create({ model: 'auto', stream: true, stream_options: { include_usage: true },
    messages: [{ role: 'user', content: 'x' }] });
  let usage;
  for await (const ch of s) if (ch.usage) usage = ch.usage;
  assert.equal(usage.prompt_tokens_details.cached_tokens, 64);

  // a reasoning model's thinking tokens (part of completion_tokens), whole and streamed
  oaUp.handler = (req, body, res) => {
    const c = completion('thought', { pt: 10, ct: 50 });
    c.usage.completion_tokens_details = { reasoning_tokens: 42, accepted_prediction_tokens: 0 };
    replyJson(res, 200, c);
  };
  const c3 = await oai.chat.completions.create({ model: 'auto', messages: [{ role: 'user', content: 'x' }] });
  assert.equal(c3.usage.completion_tokens_details.reasoning_tokens, 42);
  assert.equal(c3.usage.prompt_tokens_details, undefined);
  oaUp.handler = (req, body, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(chunk({ role: 'assistant', content: 'ok' }, 'stop'));
    res.write(usageChunk({ prompt_tokens: 10, completion_tokens: 50, total_tokens: 60,
                           completion_tokens_details: { reasoning_tokens: 49 } }));
    res.end('data: [DONE]\n\n');
  };
  const s2 = await oai.chat.completions.create({ model: 'auto', stream: true, stream_options: { include_usage: true },
    messages: [{ role: 'user', content: 'x' }] });
  for await (const ch of s2) if (ch.usage) usage = ch.usage;
  assert.equal(usage.completion_tokens_details.reasoning_tokens, 49);
  assert.equal(usage.total_tokens, 60);
});

test('an upstream\'s error reason and code reach the client, whatever shape the server uses', async () => {
  oaUp.handler = (req, body, res) => replyJson(res, 400, { error: {
    message: "This model's maximum context length is 8192 tokens.", type: 'invalid_request_error',
    param: 'messages', code: 'context_length_exceeded' } });
  await assert.rejects(oai.chat.completions.create({ model: 'auto', messages: [{ role: 'user', content: 'x' }] }),
    (e) => e instanceof OpenAI.BadRequestError && e.code === 'context_length_exceeded' &&
           e.param === 'messages' && /maximum context length/.test(e.message));
  // vLLM: the error object at the top level
  oaUp.handler = (req, body, res) => replyJson(res, 400, { object: 'error', message: 'temperature must be >= 0',
    type: 'BadRequestError', param: null, code: 400 });
  await assert.rejects(oai.chat.completions.create({ model: 'auto', messages: [{ role: 'user', content: 'x' }] }),
    (e) => e.status === 400 && /temperature must be >= 0/.test(e.message) && e.type === 'invalid_request_error');
  // FastAPI validation errors
  oaUp.handler = (req, body, res) => replyJson(res, 422, { detail: [{ loc: ['body', 'top_k'], msg: 'value is not a valid integer' }] });
  await assert.rejects(oai.chat.completions.create({ model: 'auto', messages: [{ role: 'user', content: 'x' }] }),
    (e) => e.status === 422 && /not a valid integer/.test(e.message));
  // a plain-text answer from something in between
  oaUp.handler = (req, body, res) => { res.writeHead(400, { 'content-type': 'text/plain' }); res.end('Bad Request:\n  unknown field "foo"\n'); };
  await assert.rejects(anth.messages.create({ model: 'auto', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }),
    (e) => e instanceof Anthropic.BadRequestError && /upstream answered HTTP 400: Bad Request: unknown field/.test(e.message));
  // an error inside a stream answered 200, before any output: the status it names
  for (const [error, status] of [[{ message: 'Rate limit reached', type: 'requests', code: 'rate_limit_exceeded' }, 429],
                                 [{ message: 'bad temperature', code: 400 }, 400]]) {
    oaUp.handler = (req, body, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end(`data: ${JSON.stringify({ error })}\n\n`);
    };
    await assert.rejects((async () => {
      for await (const c of await oai.chat.completions.create({ model: 'auto', stream: true, messages: [{ role: 'user', content: 'x' }] })) void c;
    })(), (e) => e.status === status && e.message.includes(error.message));
  }
});

test('Anthropic stop reason model_context_window_exceeded is finish_reason length', async () => {
  anUp.handler = (req, body, res) => replyJson(res, 200, anthMessage('cut', { stop_reason: 'model_context_window_exceeded' }));
  const c = await oai.chat.completions.create({ model: 'auto', messages: [{ role: 'user', content: 'x' }] }, toAnthropic);
  assert.equal(c.choices[0].finish_reason, 'length');
});

test('parallel tool calls an OpenAI upstream interleaves reach an Anthropic client as whole tool_use blocks', async () => {
  oaUp.handler = (req, body, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(chunk({ role: 'assistant', content: null }));
    res.write(chunk({ content: 'Looking both up.' }));
    res.write(chunk({ tool_calls: [{ index: 0, id: 'call_a', type: 'function', function: { name: 'weather', arguments: '' } }] }));
    res.write(chunk({ tool_calls: [{ index: 1, id: 'call_b', type: 'function', function: { name: 'weather', arguments: '' } }] }));
    res.write(chunk({ tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] }));
    res.write(chunk({ tool_calls: [{ index: 1, function: { arguments: '{"city":"Paris"}' } }] }));
    res.write(chunk({ tool_calls: [{ index: 0, function: { arguments: '"Oslo"}' } }] }));
    res.write(chunk({}, 'tool_calls'));
    res.write(usageChunk({ prompt_tokens: 9, completion_tokens: 4, total_tokens: 13 }));
    res.end('data: [DONE]\n\n');
  };
  const tools = [{ name: 'weather', input_schema: { type: 'object', properties: { city: { type: 'string' } } } }];
  const fin = await anth.messages.stream({ model: 'auto', max_tokens: 50, tools, messages: [{ role: 'user', content: 'q' }] })
    .finalMessage();
  assert.equal(fin.stop_reason, 'tool_use');
  assert.deepEqual(fin.content, [
    { type: 'text', text: 'Looking both up.' },
    { type: 'tool_use', id: 'call_a', name: 'weather', input: { city: 'Oslo' } },
    { type: 'tool_use', id: 'call_b', name: 'weather', input: { city: 'Paris' } }]);
  // the OpenAI client gets the deltas as they came, and its helper assembles both
  const ofin = await oai.chat.completions.stream({ model: 'auto', messages: [{ role: 'user', content: 'q' }],
    tools: [{ type: 'function', function: { name: 'weather', parameters: tools[0].input_schema } }] }).finalChatCompletion();
  assert.deepEqual(ofin.choices[0].message.tool_calls.map((t) => [t.id, t.function.arguments]),
    [['call_a', '{"city":"Oslo"}'], ['call_b', '{"city":"Paris"}']]);
});

test('streamed tool calls without an index (Gemini\'s endpoint) are told apart by their ids', async () => {
  oaUp.handler = (req, body, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(chunk({ role: 'assistant', content: null }));
    res.write(chunk({ tool_calls: [{ id: 'call_a', type: 'function', function: { name: 'get_weather', arguments: '{"city":' } }] }));
    res.write(chunk({ tool_calls: [{ function: { arguments: '"Paris"}' } }] }));
    res.write(chunk({ tool_calls: [{ id: 'call_b', type: 'function', function: { name: 'get_time', arguments: '{"tz":"CET"}' } }] }));
    res.write(chunk({}, 'tool_calls'));
    res.end('data: [DONE]\n\n');
  };
  const params = { type: 'object', properties: {} };
  const ofin = await oai.chat.completions.stream({ model: 'auto', messages: [{ role: 'user', content: 'q' }],
    tools: [{ type: 'function', function: { name: 'get_weather', parameters: params } },
            { type: 'function', function: { name: 'get_time', parameters: params } }] }).finalChatCompletion();
  assert.deepEqual(ofin.choices[0].message.tool_calls.map((t) => [t.id, t.function.name, t.function.arguments]),
    [['call_a', 'get_weather', '{"city":"Paris"}'], ['call_b', 'get_time', '{"tz":"CET"}']]);
  assert.equal(ofin.choices[0].message.content, null, 'an answer of tool calls only has no content, as OpenAI\'s');
  const fin = await anth.messages.stream({ model: 'auto', max_tokens: 50, messages: [{ role: 'user', content: 'q' }],
    tools: [{ name: 'get_weather', input_schema: params }, { name: 'get_time', input_schema: params }] }).finalMessage();
  assert.deepEqual(fin.content.map((b) => [b.id, b.name, b.input]),
    [['call_a', 'get_weather', { city: 'Paris' }], ['call_b', 'get_time', { tz: 'CET' }]]);
});

test('an openai backend with max_tokens_param gets max_completion_tokens from any client', async () => {
  oaUp.handler = (req, body, res) => replyJson(res, 200, completion('ok'));
  const body = () => JSON.parse(oaUp.received.at(-1).body);
  await anth.messages.create({ model: 'auto', max_tokens: 33, messages: [{ role: 'user', content: 'x' }] },
    { headers: { 'x-route': 'reasoning' } });
  assert.equal(body().max_completion_tokens, 33);
  assert.equal(body().max_tokens, undefined);
  await oai.chat.completions.create({ model: 'auto', max_tokens: 44, messages: [{ role: 'user', content: 'x' }] },
    { headers: { 'x-route': 'reasoning' } });
  assert.equal(body().max_completion_tokens, 44);
  // without it, the name the client used
  await anth.messages.create({ model: 'auto', max_tokens: 55, messages: [{ role: 'user', content: 'x' }] });
  assert.equal(body().max_tokens, 55);
});
