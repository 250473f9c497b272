// Both client dialects against every backend kind, with the official SDKs:
// OpenAI client -> Anthropic backend, Anthropic client -> OpenAI backend,
// Anthropic client -> Anthropic backend, Anthropic client -> the local engine;
// streaming and not; usage and stop reasons mapped; tool calls both ways; errors
// in each dialect's shape. Upstreams are mocks on loopback that record what they
// received; a request header picks the route.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { startMock, startSluice, apiBackend, completion, replyJson, replyStream, raw, SHARED } from './lib.mjs';
import { anthMessage, anthError, replyAnthStream, anthBackend, sseEvents } from './anth_mock.mjs';

let oaUp, anUp, sluice, oai, anth;
const ANTH_KEY = 'sk-ant-mock-secret-456';
const OA_KEY = 'sk-mock-secret-123';
const to = (route) => ({ headers: { 'x-route': route } });
const lastBody = (m) => JSON.parse(m.received.at(-1).body);
const toolCompletion = (calls) => {
  const c = completion(null);
  c.choices[0].message.tool_calls = calls;
  c.choices[0].finish_reason = 'tool_calls';
  return c;
};

before(async () => {
  oaUp = await startMock((req, body, res) => replyJson(res, 200, completion('hello from openai')));
  anUp = await startMock((req, body, res) => replyJson(res, 200, anthMessage('hello from claude')));
  sluice = await startSluice({
    backends: [
      apiBackend('oa', oaUp.url),
      anthBackend('an', anUp.url),
      { name: 'local', kind: 'local', model: `${SHARED}/models/stories260K.gguf`, threads: 1, max_batch: 2,
        location: 'in-process' },
    ],
    rules: [
      { name: 'to-anthropic', when: { header: { 'x-route': 'anthropic' } }, route: ['an'] },
      { name: 'to-local', when: { header: { 'x-route': 'local' } }, route: ['local'] },
      { name: 'anthropic-then-openai', when: { header: { 'x-route': 'an-oa' } }, route: ['an', 'oa'] },
      { name: 'local-then-openai', when: { header: { 'x-route': 'local-oa' } }, route: ['local', 'oa'] },
      { name: 'default', route: ['oa'] },
    ],
  }, { MOCK_KEY: OA_KEY, MOCK_ANTH_KEY: ANTH_KEY });
  oai = new OpenAI({ baseURL: `${sluice.base}/v1`, apiKey: 'unused', maxRetries: 0 });
  anth = new Anthropic({ baseURL: sluice.base, apiKey: 'unused', maxRetries: 0 });
});

after(async () => {
  const r = await sluice.stop();
  const log = sluice.stderr();
  assert.equal(r.code, 0, 'sluice exits 0 on SIGTERM: ' + log.slice(-3000));
  assert.ok(!log.includes(ANTH_KEY) && !log.includes(OA_KEY), 'API keys never appear in logs');
  assert.doesNotMatch(log, /runtime error|AddressSanitizer|LeakSanitizer/, log.slice(-3000));
  await oaUp.stop();
  await anUp.stop();
});

// ---- OpenAI client -> Anthropic backend ----

test('OpenAI client -> Anthropic backend: request translated, answer and usage mapped', async () => {
  anUp.handler = (req, body, res) => replyJson(res, 200, anthMessage('hello from claude', { input: 21, output: 9, cache_read: 4 }));
  const { data, response } = await oai.chat.completions.create({
    model: 'auto', temperature: 0.5, stop: ['END'], user: 'u-42',
    messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'hi' },
               { role: 'assistant', content: 'hello' }, { role: 'user', content: 'again' }],
  }, to('anthropic')).withResponse();
  assert.equal(data.choices[0].message.content, 'hello from claude');
  assert.equal(data.choices[0].finish_reason, 'stop');
  assert.equal(data.usage.prompt_tokens, 25, 'input_tokens + cached input');
  assert.equal(data.usage.completion_tokens, 9);
  assert.equal(response.headers.get('x-sluice-backend'), 'an');
  const got = anUp.received.at(-1);
  assert.equal(got.url, '/v1/messages');
  assert.equal(got.headers['x-api-key'], ANTH_KEY);
  assert.equal(got.headers['anthropic-version'], '2023-06-01');
  assert.equal(got.headers.authorization, undefined);
  const b = JSON.parse(got.body);
  assert.equal(b.model, 'claude-mock');
  assert.equal(b.system, 'Be brief.');
  assert.deepEqual(b.messages.map((m) => m.role), ['user', 'assistant', 'user']);
  assert.deepEqual(b.messages[0].content, [{ type: 'text', text: 'hi' }]);
  assert.equal(b.max_tokens, 4096, 'a default when the OpenAI client gave none');
  assert.equal(b.temperature, 0.5);
  assert.deepEqual(b.stop_sequences, ['END']);
  assert.deepEqual(b.metadata, { user_id: 'u-42' });
  assert.equal(b.stream, undefined);
});

test('OpenAI client -> Anthropic backend, streaming: deltas relayed, usage and length mapped', async () => {
  anUp.handler = (req, body, res) => replyAnthStream(res, [{ text: ['Once ', 'upon ', 'a time'] }],
    { stop_reason: 'max_tokens', input: 17, output: 3, gapMs: 20 });
  const stream = await oai.chat.completions.create({
    model: 'auto', stream: true, stream_options: { include_usage: true }, max_tokens: 3,
    messages: [{ role: 'user', content: 'tell a story' }],
  }, to('anthropic'));
  let text = '', finish = null, usage = null, chunks = 0;
  for await (const c of stream) {
    if (c.choices[0]?.delta?.content) { text += c.choices[0].delta.content; chunks++; }
    if (c.choices[0]?.finish_reason) finish = c.choices[0].finish_reason;
    if (c.usage) usage = c.usage;
  }
  assert.equal(text, 'Once upon a time');
  assert.equal(chunks, 3, 'one chunk per upstream delta');
  assert.equal(finish, 'length');
  assert.deepEqual(usage, { prompt_tokens: 17, completion_tokens: 3, total_tokens: 20 });
  const b = lastBody(anUp);
  assert.equal(b.stream, true);
  assert.equal(b.max_tokens, 3);
  assert.equal(anUp.received.at(-1).headers.accept, 'text/event-stream');
});

test('OpenAI client -> Anthropic backend: a whitespace stop string (which the API refuses) is applied by sluice', async () => {
  let closed;
  const upstreamClosed = new Promise((r) => { closed = r; });
  anUp.handler = (req, body, res) => {
    res.on('close', () => closed(res.writableFinished));
    replyAnthStream(res, [{ text: ['first ', 'line\nsecond', ' line', ' and', ' more'] }], { gapMs: 150 });
  };
  const stream = await oai.chat.completions.create({
    model: 'auto', stream: true, stream_options: { include_usage: true }, stop: ['\n', 'END'],
    messages: [{ role: 'user', content: 'two lines' }],
  }, to('anthropic'));
  let text = '', finish = null, usage = null;
  for await (const c of stream) {
    text += c.choices[0]?.delta?.content ?? '';
    if (c.choices[0]?.finish_reason) finish = c.choices[0].finish_reason;
    if (c.usage) usage = c.usage;
  }
  assert.equal(text, 'first line');
  assert.equal(finish, 'stop');
  assert.ok(usage.completion_tokens > 0, 'usage estimated, not zero');
  assert.deepEqual(lastBody(anUp).stop_sequences, ['END'], 'only the stop strings the API takes are sent');
  assert.equal(await upstreamClosed, false, 'the upstream stream is ended early, not read to its end');

  anUp.handler = (req, body, res) => replyJson(res, 200, anthMessage('a\n\nb', { output: 4 }));
  const r = await oai.chat.completions.create({
    model: 'auto', stop: '\n\n', messages: [{ role: 'user', content: 'x' }],
  }, to('anthropic'));
  assert.equal(r.choices[0].message.content, 'a');
  assert.equal(r.choices[0].finish_reason, 'stop');
  assert.equal(r.usage.completion_tokens, 4, 'the upstream billed what it generated');
  assert.equal(lastBody(anUp).stop_sequences, undefined);
});

test('OpenAI client -> Anthropic backend: a json_schema response_format is answered through a forced tool, as JSON text', async () => {
  const schema = { type: 'object', properties: { city: { type: 'string' }, temp: { type: 'number' } },
                   required: ['city', 'temp'], additionalProperties: false };
  const response_format = { type: 'json_schema', json_schema: { name: 'weather', strict: true, schema } };
  anUp.handler = (req, body, res) => replyJson(res, 200, anthMessage([
    { type: 'tool_use', id: 'toolu_j', name: 'json_answer', input: { city: 'Paris', temp: 18.5 } },
  ], { stop_reason: 'tool_use' }));
  const r = await oai.chat.completions.create({
    model: 'auto', response_format, messages: [{ role: 'user', content: 'weather in Paris as JSON' }],
  }, to('anthropic'));
  assert.deepEqual(JSON.parse(r.choices[0].message.content), { city: 'Paris', temp: 18.5 });
  assert.equal(r.choices[0].finish_reason, 'stop');
  assert.equal(r.choices[0].message.tool_calls, undefined);
  const b = lastBody(anUp);
  assert.deepEqual(b.tools, [{ name: 'json_answer', description: "Give the answer as this tool's input.", input_schema: schema }]);
  assert.deepEqual(b.tool_choice, { type: 'tool', name: 'json_answer' });

  anUp.handler = (req, body, res) => replyAnthStream(res, [{ tool: { id: 'toolu_j', name: 'json_answer',
    json: ['{"city": "Pa', 'ris", "temp": 1', '8.5}'] } }], { stop_reason: 'tool_use' });
  const stream = await oai.chat.completions.create({
    model: 'auto', stream: true, response_format, messages: [{ role: 'user', content: 'again, streamed' }],
  }, to('anthropic'));
  let text = '', finish = null, tools = 0;
  for await (const c of stream) {
    text += c.choices[0]?.delta?.content ?? '';
    if (c.choices[0]?.delta?.tool_calls) tools++;
    if (c.choices[0]?.finish_reason) finish = c.choices[0].finish_reason;
  }
  assert.deepEqual(JSON.parse(text), { city: 'Paris', temp: 18.5 });
  assert.equal(finish, 'stop');
  assert.equal(tools, 0);

  // stop strings are the answer's, not the JSON's: a whitespace one (applied
  // by sluice) leaves pretty-printed JSON whole, streamed or not
  anUp.handler = (req, body, res) => replyAnthStream(res, [{ tool: { id: 'toolu_j', name: 'json_answer',
    json: ['{\n  "city": ', '"Pa ris",\n  "temp": 18.5\n}'] } }], { stop_reason: 'tool_use' });
  const s2 = oai.chat.completions.stream({ model: 'auto', response_format, stop: ['\n', ' '],
    messages: [{ role: 'user', content: 'pretty, streamed' }] }, to('anthropic'));
  const f2 = await s2.finalChatCompletion();
  assert.deepEqual(JSON.parse(f2.choices[0].message.content), { city: 'Pa ris', temp: 18.5 });
  anUp.handler = (req, body, res) => replyJson(res, 200, anthMessage([
    { type: 'tool_use', id: 'toolu_j', name: 'json_answer', input: { city: 'Pa ris', temp: 1 } }], { stop_reason: 'tool_use' }));
  const r3 = await oai.chat.completions.create({ model: 'auto', response_format, stop: [' '],
    messages: [{ role: 'user', content: 'whole' }] }, to('anthropic'));
  assert.deepEqual(JSON.parse(r3.choices[0].message.content), { city: 'Pa ris', temp: 1 });

  // a refusal answers in text, not through the tool: the client gets that text
  anUp.handler = (req, body, res) => replyJson(res, 200, anthMessage([
    { type: 'text', text: 'I cannot help with that.' }], { stop_reason: 'refusal' }));
  const r4 = await oai.chat.completions.create({ model: 'auto', response_format,
    messages: [{ role: 'user', content: 'something refused' }] }, to('anthropic'));
  assert.equal(r4.choices[0].message.content, 'I cannot help with that.');
  assert.equal(r4.choices[0].finish_reason, 'content_filter');
  anUp.handler = (req, body, res) => replyAnthStream(res, [{ text: ['I cannot ', 'help with that.'] }],
    { stop_reason: 'refusal' });
  const s5 = await oai.chat.completions.create({ model: 'auto', stream: true, response_format,
    messages: [{ role: 'user', content: 'something refused, streamed' }] }, to('anthropic'));
  let t5 = '', fin5 = null;
  for await (const c of s5) {
    t5 += c.choices[0]?.delta?.content ?? '';
    if (c.choices[0]?.finish_reason) fin5 = c.choices[0].finish_reason;
  }
  assert.equal(t5, 'I cannot help with that.');
  assert.equal(fin5, 'content_filter');
});

test("an Anthropic upstream's pause_turn reaches an Anthropic client as pause_turn (it must continue the turn), whole and streamed; an OpenAI client gets stop", async () => {
  anUp.handler = (req, body, res) => replyJson(res, 200, anthMessage('Searching', { stop_reason: 'pause_turn' }));
  const m = await anth.messages.create({ model: 'auto', max_tokens: 50, messages: [{ role: 'user', content: 'look it up' }] }, to('anthropic'));
  assert.equal(m.stop_reason, 'pause_turn');
  const o = await oai.chat.completions.create({ model: 'auto', messages: [{ role: 'user', content: 'look it up' }] }, to('anthropic'));
  assert.equal(o.choices[0].finish_reason, 'stop');
  anUp.handler = (req, body, res) => replyAnthStream(res, [{ text: ['Search', 'ing'] }], { stop_reason: 'pause_turn' });
  const f = await anth.messages.stream({ model: 'auto', max_tokens: 50, messages: [{ role: 'user', content: 'look it up' }] }, to('anthropic')).finalMessage();
  assert.equal(f.stop_reason, 'pause_turn');
  assert.equal(f.content[0].text, 'Searching');
});

test('OpenAI client -> Anthropic backend: allowed_tools cuts the tools sent and sets the choice; a schema without a type gets "object"', async () => {
  anUp.handler = (req, body, res) => replyJson(res, 200, anthMessage('ok'));
  const fn = (name, parameters) => ({ type: 'function', function: { name, ...(parameters ? { parameters } : {}) } });
  const tools = [fn('f', {}), fn('g', { properties: { a: { type: 'string' } } }), fn('h')];
  await oai.chat.completions.create({ model: 'auto', tools, messages: [{ role: 'user', content: 'x' }],
    tool_choice: { type: 'allowed_tools', allowed_tools: { mode: 'required', tools: [fn('f'), fn('h')] } } }, to('anthropic'));
  let b = lastBody(anUp);
  assert.deepEqual(b.tools.map((t) => t.name), ['f', 'h']);
  assert.deepEqual(b.tool_choice, { type: 'any' });
  assert.deepEqual(b.tools[0].input_schema, { type: 'object', properties: {} });
  await oai.chat.completions.create({ model: 'auto', tools, messages: [{ role: 'user', content: 'x' }],
    tool_choice: { type: 'allowed_tools', allowed_tools: { mode: 'auto', tools: [fn('g')] } } }, to('anthropic'));
  b = lastBody(anUp);
  assert.deepEqual(b.tools, [{ name: 'g', input_schema: { type: 'object', properties: { a: { type: 'string' } } } }]);
  assert.deepEqual(b.tool_choice, { type: 'auto' });
});

test('one tool call a turn crosses dialects: parallel_tool_calls false <-> tool_choice.disable_parallel_tool_use', async () => {
  anUp.handler = (req, body, res) => replyJson(res, 200, anthMessage('ok'));
  oaUp.handler = (req, body, res) => replyJson(res, 200, completion('ok'));
  const tools = [{ type: 'function', function: { name: 'f', parameters: { type: 'object', properties: {} } } }];
  const msgs = [{ role: 'user', content: 'x' }];
  await oai.chat.completions.create({ model: 'auto', tools, messages: msgs, parallel_tool_calls: false }, to('anthropic'));
  assert.deepEqual(lastBody(anUp).tool_choice, { type: 'auto', disable_parallel_tool_use: true });
  await oai.chat.completions.create({ model: 'auto', tools, messages: msgs, parallel_tool_calls: false,
    tool_choice: 'required' }, to('anthropic'));
  assert.deepEqual(lastBody(anUp).tool_choice, { type: 'any', disable_parallel_tool_use: true });
  await oai.chat.completions.create({ model: 'auto', tools, messages: msgs, parallel_tool_calls: true }, to('anthropic'));
  assert.equal(lastBody(anUp).tool_choice, undefined);

  const atools = [{ name: 'f', input_schema: { type: 'object', properties: {} } }];
  const one = { type: 'auto', disable_parallel_tool_use: true };
  await anth.messages.create({ model: 'auto', max_tokens: 10, tools: atools, tool_choice: one, messages: msgs });
  assert.equal(lastBody(oaUp).parallel_tool_calls, false);
  assert.equal(lastBody(oaUp).tool_choice, 'auto');
  await anth.messages.create({ model: 'auto', max_tokens: 10, tools: atools, tool_choice: one, messages: msgs }, to('anthropic'));
  assert.deepEqual(lastBody(anUp).tool_choice, one);
  await anth.messages.create({ model: 'auto', max_tokens: 10, tools: atools, tool_choice: { type: 'auto' }, messages: msgs });
  assert.equal(lastBody(oaUp).parallel_tool_calls, undefined);
  await assert.rejects(anth.messages.create({ model: 'auto', max_tokens: 10, tools: atools, messages: msgs,
    tool_choice: { type: 'auto', disable_parallel_tool_use: 'yes' } }),
  (e) => e.status === 400 && /disable_parallel_tool_use/.test(e.message));
});

test('strict tool use crosses dialects: an Anthropic tool\'s strict <-> OpenAI function.strict', async () => {
  anUp.handler = (req, body, res) => replyJson(res, 200, anthMessage('ok'));
  oaUp.handler = (req, body, res) => replyJson(res, 200, completion('ok'));
  const schema = { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false };
  const msgs = [{ role: 'user', content: 'x' }];
  const atools = [{ name: 'get_weather', strict: true, input_schema: schema }, { name: 'loose', input_schema: schema }];
  await anth.messages.create({ model: 'auto', max_tokens: 10, tools: atools, messages: msgs }, to('anthropic'));
  assert.deepEqual(lastBody(anUp).tools.map((t) => t.strict), [true, undefined]);
  await anth.messages.create({ model: 'auto', max_tokens: 10, tools: atools, messages: msgs });
  assert.deepEqual(lastBody(oaUp).tools.map((t) => t.function.strict), [true, undefined]);
  await oai.chat.completions.create({ model: 'auto', messages: msgs,
    tools: [{ type: 'function', function: { name: 'get_weather', strict: true, parameters: schema } }] }, to('anthropic'));
  assert.equal(lastBody(anUp).tools[0].strict, true);
  await assert.rejects(anth.messages.create({ model: 'auto', max_tokens: 10, messages: msgs,
    tools: [{ name: 'f', strict: 'yes', input_schema: schema }] }), (e) => e.status === 400 && /strict/.test(e.message));
});

test('Anthropic client structured outputs (output_config.format): messages.parse() gets parsed_output from either backend kind', async () => {
  const schema = { type: 'object', properties: { answer: { type: 'number' } }, required: ['answer'], additionalProperties: false };
  anUp.handler = (req, body, res) => replyJson(res, 200, anthMessage([
    { type: 'tool_use', id: 'toolu_j', name: 'json_answer', input: { answer: 4 } }], { stop_reason: 'tool_use' }));
  const m = await anth.messages.parse({ model: 'auto', max_tokens: 100, messages: [{ role: 'user', content: '2+2?' }],
    output_config: { format: { type: 'json_schema', schema } } }, to('anthropic'));
  assert.deepEqual(m.parsed_output, { answer: 4 });
  assert.equal(m.stop_reason, 'end_turn');
  assert.deepEqual(lastBody(anUp).tool_choice, { type: 'tool', name: 'json_answer' });

  oaUp.handler = (req, body, res) => replyJson(res, 200, completion('{"answer": 4}'));
  const m2 = await anth.messages.parse({ model: 'auto', max_tokens: 100, messages: [{ role: 'user', content: '2+2?' }],
    output_config: { format: { type: 'json_schema', schema } } });
  assert.deepEqual(m2.parsed_output, { answer: 4 });
  assert.deepEqual(lastBody(oaUp).response_format, { type: 'json_schema', json_schema: { name: 'output', schema } });
  await assert.rejects(anth.messages.create({ model: 'auto', max_tokens: 10, messages: [{ role: 'user', content: 'x' }],
    output_config: { format: { type: 'yaml' } } }), (e) => e.status === 400 && /output_config\.format/.test(e.message));
});

test('Anthropic endpoints sluice does not serve (count_tokens) are 404s in Anthropic\'s shape', async () => {
  await assert.rejects(anth.messages.countTokens({ model: 'auto', messages: [{ role: 'user', content: 'hi' }] }),
    (e) => e instanceof Anthropic.NotFoundError && e.error?.error?.type === 'not_found_error' &&
           /count/.test(e.message));
});

test('OpenAI client with tools -> Anthropic backend answering tool_use (not streamed), and the tool result back', async () => {
  anUp.handler = (req, body, res) => replyJson(res, 200, anthMessage([
    { type: 'text', text: 'Let me look.' },
    { type: 'tool_use', id: 'toolu_01', name: 'get_weather', input: { city: 'Paris', unit: 'c' } },
  ], { stop_reason: 'tool_use', input: 50, output: 20 }));
  const tools = [{ type: 'function', function: { name: 'get_weather', description: 'Weather for a city',
    parameters: { type: 'object', properties: { city: { type: 'string' }, unit: { type: 'string' } }, required: ['city'] } } }];
  const r = await oai.chat.completions.create({
    model: 'auto', tools, tool_choice: 'required', messages: [{ role: 'user', content: 'weather in Paris?' }],
  }, to('anthropic'));
  const msg = r.choices[0].message;
  assert.equal(r.choices[0].finish_reason, 'tool_calls');
  assert.equal(msg.content, 'Let me look.');
  assert.equal(msg.tool_calls.length, 1);
  assert.equal(msg.tool_calls[0].id, 'toolu_01');
  assert.equal(msg.tool_calls[0].type, 'function');
  assert.equal(msg.tool_calls[0].function.name, 'get_weather');
  assert.deepEqual(JSON.parse(msg.tool_calls[0].function.arguments), { city: 'Paris', unit: 'c' });
  let b = lastBody(anUp);
  assert.deepEqual(b.tools, [{ name: 'get_weather', description: 'Weather for a city', input_schema: tools[0].function.parameters }]);
  assert.deepEqual(b.tool_choice, { type: 'any' });

  // second turn: the assistant's tool call and the tool's answer
  anUp.handler = (req, body, res) => replyJson(res, 200, anthMessage('It is 18 C in Paris.'));
  const r2 = await oai.chat.completions.create({
    model: 'auto', tools, tool_choice: { type: 'function', function: { name: 'get_weather' } },
    messages: [{ role: 'user', content: 'weather in Paris?' }, msg,
               { role: 'tool', tool_call_id: 'toolu_01', content: '18 C' }],
  }, to('anthropic'));
  assert.equal(r2.choices[0].message.content, 'It is 18 C in Paris.');
  b = lastBody(anUp);
  assert.deepEqual(b.tool_choice, { type: 'tool', name: 'get_weather' });
  assert.deepEqual(b.messages[1], { role: 'assistant', content: [
    { type: 'text', text: 'Let me look.' },
    { type: 'tool_use', id: 'toolu_01', name: 'get_weather', input: { city: 'Paris', unit: 'c' } }] });
  assert.deepEqual(b.messages[2], { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_01', content: '18 C' }] });
});

test('OpenAI client with tools -> Anthropic backend, streamed tool_use becomes tool_calls deltas', async () => {
  anUp.handler = (req, body, res) => replyAnthStream(res, [
    { text: ['Checking.'] },
    { tool: { id: 'toolu_A', name: 'get_weather', json: ['{"city": ', '"Paris"}'] } },
    { tool: { id: 'toolu_B', name: 'get_time', json: [] } },
  ], { stop_reason: 'tool_use', output: 30 });
  const stream = await oai.chat.completions.create({
    model: 'auto', stream: true, messages: [{ role: 'user', content: 'weather and time in Paris?' }],
    tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: {} } } },
            { type: 'function', function: { name: 'get_time', parameters: { type: 'object', properties: {} } } }],
  }, to('anthropic'));
  const calls = [];
  let text = '', finish = null;
  for await (const c of stream) {
    const d = c.choices[0]?.delta;
    if (d?.content) text += d.content;
    for (const tc of d?.tool_calls ?? []) {
      calls[tc.index] ??= { id: null, name: '', args: '' };
      if (tc.id) calls[tc.index].id = tc.id;
      if (tc.function?.name) calls[tc.index].name += tc.function.name;
      if (tc.function?.arguments) calls[tc.index].args += tc.function.arguments;
    }
    if (c.choices[0]?.finish_reason) finish = c.choices[0].finish_reason;
  }
  assert.equal(text, 'Checking.');
  assert.equal(finish, 'tool_calls');
  assert.equal(calls.length, 2);
  assert.deepEqual({ ...calls[0], args: JSON.parse(calls[0].args) }, { id: 'toolu_A', name: 'get_weather', args: { city: 'Paris' } });
  assert.deepEqual({ ...calls[1], args: JSON.parse(calls[1].args) }, { id: 'toolu_B', name: 'get_time', args: {} });
  // the SDK's own accumulator agrees
  anUp.handler = (req, body, res) => replyAnthStream(res, [{ tool: { id: 'toolu_C', name: 'get_time', json: ['{"tz":', '"CET"}'] } }], { stop_reason: 'tool_use' });
  const fin = await oai.chat.completions.stream({
    model: 'auto', messages: [{ role: 'user', content: 'time?' }],
    tools: [{ type: 'function', function: { name: 'get_time', parameters: { type: 'object', properties: {} } } }],
  }, to('anthropic')).finalChatCompletion();
  assert.equal(fin.choices[0].message.tool_calls[0].function.arguments, '{"tz":"CET"}');
  assert.equal(fin.choices[0].finish_reason, 'tool_calls');
});

test('Anthropic backend errors reach an OpenAI client: 529 overloaded fails over or is a 5xx, 400 stays 400', async () => {
  anUp.handler = (req, body, res) => anthError(res, 400, 'invalid_request_error', 'max_tokens: too large');
  await assert.rejects(oai.chat.completions.create({ model: 'auto', messages: [{ role: 'user', content: 'x' }] }, to('anthropic')),
    (e) => e instanceof OpenAI.BadRequestError && /too large/.test(e.message));
  anUp.handler = (req, body, res) => anthError(res, 529, 'overloaded_error', 'Overloaded');
  await assert.rejects(oai.chat.completions.create({ model: 'auto', messages: [{ role: 'user', content: 'x' }] }, to('anthropic')),
    (e) => e instanceof OpenAI.APIError && e.status === 503 && /Overloaded/.test(e.message)); // overloaded: 503
  anUp.handler = (req, body, res) => replyAnthStream(res, [{ text: ['a', 'b', 'c', 'd'] }], { errorAfter: 2, gapMs: 10 });
  const stream = await oai.chat.completions.create({ model: 'auto', stream: true, messages: [{ role: 'user', content: 'x' }] }, to('anthropic'));
  let text = '';
  await assert.rejects(async () => { for await (const c of stream) text += c.choices[0]?.delta?.content ?? ''; });
  assert.equal(text, 'ab', 'what came before the error event arrived');
});

test('Anthropic backend overloaded (529) with nowhere else to go: an Anthropic client gets the 529 (OverloadedError)', async () => {
  anUp.handler = (req, body, res) => { res.setHeader('retry-after', '7'); anthError(res, 529, 'overloaded_error', 'Overloaded'); };
  for (const stream of [false, true])
    await assert.rejects(anth.messages.create({ model: 'auto', max_tokens: 5, stream, messages: [{ role: 'user', content: 'x' }] },
      to('anthropic')), (e) => e instanceof Anthropic.OverloadedError && e.status === 529 &&
      (e.headers?.get ? e.headers.get('retry-after') : e.headers?.['retry-after']) === '7'); // the upstream's wait, as for a 503
});

test('an Anthropic stream cut or ended after message_delta (before message_stop) is a whole answer; message_stop without a stop reason is no answer', async () => {
  // end: how the upstream's body ends after the events ('reset', 'clean', or
  // 'stop-only': message_stop with no message_delta before it)
  const answer = (end) => (req, body, res) => {
    const ev = (name, data) => `event: ${name}\ndata: ${JSON.stringify({ type: name, ...data })}\n\n`;
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(ev('message_start', { message: { id: 'msg_c', type: 'message', role: 'assistant', model: 'claude-x', content: [],
      stop_reason: null, stop_sequence: null, usage: { input_tokens: 9, output_tokens: 1 } } }));
    res.write(ev('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }));
    res.write(ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'whole answer' } }));
    res.write(ev('content_block_stop', { index: 0 }));
    if (end === 'stop-only') return res.end(ev('message_stop', {}));
    res.write(ev('message_delta', { delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 3 } }));
    if (end === 'clean') return res.end();
    setTimeout(() => res.socket.destroy(), 50);
  };
  for (const end of ['reset', 'clean']) {
    anUp.handler = answer(end);
    const m = await anth.messages.stream({ model: 'auto', max_tokens: 20, messages: [{ role: 'user', content: 'x' }] },
      to('anthropic')).finalMessage();
    assert.deepEqual(m.content, [{ type: 'text', text: 'whole answer' }], end);
    assert.equal(m.stop_reason, 'end_turn', end);
    assert.equal(m.usage.output_tokens, 3, end);
    const c = await oai.chat.completions.stream({ model: 'auto', messages: [{ role: 'user', content: 'x' }] },
      to('anthropic')).finalChatCompletion();
    assert.equal(c.choices[0].message.content, 'whole answer', end);
    assert.equal(c.choices[0].finish_reason, 'stop', end);
  }
  anUp.handler = answer('stop-only');
  await assert.rejects(anth.messages.stream({ model: 'auto', max_tokens: 20, messages: [{ role: 'user', content: 'x' }] },
    to('anthropic')).finalMessage(), /without a stop_reason/);
});

test('an Anthropic error body under HTTP 200 is the error it names (overloaded: 529), not a malformed message', async () => {
  anUp.handler = (req, body, res) => anthError(res, 200, 'overloaded_error', 'Overloaded right now');
  await assert.rejects(anth.messages.create({ model: 'auto', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] },
    to('anthropic')), (e) => e instanceof Anthropic.OverloadedError && /Overloaded right now/.test(e.message));
});

test('a tool call whose whole input comes in content_block_start (no input_json_delta) keeps it, in either dialect', async () => {
  anUp.handler = (req, body, res) => replyAnthStream(res, [{ tool: { id: 'toolu_S', name: 'get_weather', input: { city: 'Oslo', n: 10000000000000001 }, json: [] } }],
    { stop_reason: 'tool_use' });
  const m = await anth.messages.stream({ model: 'auto', max_tokens: 50, messages: [{ role: 'user', content: 'x' }],
    tools: [{ name: 'get_weather', input_schema: { type: 'object' } }] }, to('anthropic')).finalMessage();
  assert.deepEqual(m.content[0].input, { city: 'Oslo', n: 10000000000000001 });
  const c = await oai.chat.completions.stream({ model: 'auto', messages: [{ role: 'user', content: 'x' }],
    tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object' } } }] }, to('anthropic')).finalChatCompletion();
  assert.deepEqual(JSON.parse(c.choices[0].message.tool_calls[0].function.arguments), { city: 'Oslo', n: 10000000000000001 });

  // numbers keep the upstream's text (JavaScript's own numbers cannot show it:
  // the mock writes them into the event's text)
  const raw = '{"big":12345678901234567890,"e":1e-7,"x":1.50}';
  anUp.handler = (req, body, res) => {
    const write = res.write.bind(res), end = res.end.bind(res);
    const fix = (t) => (typeof t === 'string' ? t.replace('"RAW_INPUT"', raw) : t);
    res.write = (t, ...a) => write(fix(t), ...a);
    res.end = (t, ...a) => end(fix(t), ...a);
    replyAnthStream(res, [{ tool: { id: 'toolu_R', name: 'get_weather', input: 'RAW_INPUT', json: [] } }], { stop_reason: 'tool_use' });
  };
  const c2 = await oai.chat.completions.stream({ model: 'auto', messages: [{ role: 'user', content: 'x' }],
    tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object' } } }] }, to('anthropic')).finalChatCompletion();
  assert.equal(c2.choices[0].message.tool_calls[0].function.arguments, raw);
});

// ---- Anthropic client -> OpenAI backend ----

test('Anthropic SDK toolRunner (message threads): sluice says it keeps none, and the SDK sends the whole conversation', async () => {
  let n = 0;
  oaUp.handler = (req, body, res) => {
    if (++n === 1) return replyJson(res, 200, toolCompletion([{ id: 'call_1', type: 'function',
      function: { name: 'add', arguments: '{"a":1,"b":2}' } }]));
    replyJson(res, 200, completion('sum is 3'));
  };
  const tools = [{ name: 'add', description: 'add', input_schema: { type: 'object', properties: { a: { type: 'number' }, b: { type: 'number' } } },
                   run: async (i) => String(i.a + i.b) }];
  const before = oaUp.received.length;
  const final = await anth.beta.messages.toolRunner({ model: 'auto', max_tokens: 100, messages: [{ role: 'user', content: 'add 1 and 2' }],
    tools }).runUntilDone();
  assert.equal(final.content[0].text, 'sum is 3');
  const second = JSON.parse(oaUp.received[before + 1].body);
  assert.equal(second.messages.length, 3, 'the whole conversation: the question, the call, its result');
  assert.equal(second.messages[2].role, 'tool');
  assert.ok(second.tools, 'and the tools');
  // the refusal itself, as the API gives it
  const r = await fetch(`${sluice.base}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
    body: JSON.stringify({ model: 'auto', max_tokens: 5, thread: { type: 'create' }, messages: [{ role: 'user', content: 'x' }] }) });
  assert.equal(r.status, 400);
  const e = await r.json();
  assert.equal(e.error.details.error_code, 'thread_unsupported_request');
});

test('an upstream tool call without an id gets one of sluice\'s (the OpenAI SDK\'s stream helpers need id and type)', async () => {
  oaUp.handler = (req, body, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(`data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0,
      delta: { role: 'assistant', tool_calls: [{ index: 0, type: 'function', function: { name: 'f', arguments: '{"a":' } }] }, finish_reason: null }] })}\n\n`);
    res.write(`data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0,
      delta: { tool_calls: [{ index: 0, function: { arguments: '1}' } }] }, finish_reason: 'tool_calls' }] })}\n\n`);
    res.end('data: [DONE]\n\n');
  };
  const tools = [{ type: 'function', function: { name: 'f', parameters: { type: 'object' } } }];
  const c = await oai.chat.completions.stream({ model: 'auto', messages: [{ role: 'user', content: 'x' }], tools }).finalChatCompletion();
  const call = c.choices[0].message.tool_calls[0];
  assert.match(call.id, /^call_sl[0-9a-f]+$/);
  assert.equal(call.type, 'function');
  assert.equal(call.function.arguments, '{"a":1}');
  oaUp.handler = (req, body, res) => replyJson(res, 200, toolCompletion([{ type: 'function', function: { name: 'f', arguments: '{}' } },
                                                                        { type: 'function', function: { name: 'f', arguments: '{}' } }]));
  const w = await oai.chat.completions.create({ model: 'auto', messages: [{ role: 'user', content: 'x' }], tools });
  const ids = w.choices[0].message.tool_calls.map((t) => t.id);
  assert.ok(ids.every((i) => /^call_sl/.test(i)) && ids[0] !== ids[1], JSON.stringify(ids));
  // and a message echoed back as an SDK dumps it (null members) is taken
  const again = await oai.chat.completions.create({ model: 'auto', tools, messages: [{ role: 'user', content: 'x' },
    { role: 'assistant', content: null, refusal: null, name: null, function_call: null, audio: null, annotations: [],
      tool_calls: [{ id: ids[0], type: 'function', function: { name: 'f', arguments: '{}' } }] },
    { role: 'tool', tool_call_id: ids[0], content: 'ok', name: null }] });
  assert.ok(again.choices[0].message);
});

test('Anthropic client -> OpenAI backend: message, usage, end_turn; request translated', async () => {
  oaUp.handler = (req, body, res) => replyJson(res, 200, completion('hello from openai', { pt: 12, ct: 5 }));
  const { data, response } = await anth.messages.create({
    model: 'auto', max_tokens: 100, temperature: 0.2, top_p: 0.9, top_k: 40, stop_sequences: ['STOP'],
    system: [{ type: 'text', text: 'You are terse.' }, { type: 'text', text: 'Answer in English.' }],
    metadata: { user_id: 'user-7' },
    messages: [{ role: 'user', content: [{ type: 'text', text: 'part one' }, { type: 'text', text: 'part two' }] },
               { role: 'assistant', content: 'ok' }, { role: 'user', content: 'go' }],
  }).withResponse();
  assert.equal(data.type, 'message');
  assert.equal(data.role, 'assistant');
  assert.match(data.id, /^msg_/);
  assert.deepEqual(data.content, [{ type: 'text', text: 'hello from openai' }]);
  assert.equal(data.stop_reason, 'end_turn');
  assert.equal(data.stop_sequence, null);
  assert.deepEqual(data.usage, { input_tokens: 12, output_tokens: 5 });
  assert.equal(data.model, 'mock-model');
  assert.equal(response.headers.get('x-sluice-backend'), 'oa');
  const b = lastBody(oaUp);
  assert.deepEqual(b.messages, [
    { role: 'system', content: 'You are terse.\nAnswer in English.' },
    { role: 'user', content: 'part one\npart two' }, { role: 'assistant', content: 'ok' }, { role: 'user', content: 'go' }]);
  assert.equal(b.max_tokens, 100);
  assert.equal(b.temperature, 0.2);
  assert.equal(b.top_p, 0.9);
  assert.equal(b.top_k, undefined, "OpenAI's API refuses top_k");
  assert.deepEqual(b.stop, ['STOP']);
  assert.equal(b.user, 'user-7');
});

test('Anthropic client -> OpenAI backend: finish_reason length is stop_reason max_tokens', async () => {
  oaUp.handler = (req, body, res) => replyJson(res, 200, completion('cut', { finish: 'length', pt: 3, ct: 1 }));
  const m = await anth.messages.create({ model: 'auto', max_tokens: 1, messages: [{ role: 'user', content: 'x' }] });
  assert.equal(m.stop_reason, 'max_tokens');
});

test('Anthropic client -> OpenAI backend, streaming: the full event sequence, text and usage', async () => {
  oaUp.handler = (req, body, res) => replyStream(res, ['Hel', 'lo', ' world'], 20);
  const body = { model: 'auto', max_tokens: 50, stream: true, messages: [{ role: 'user', content: 'hello' }] };
  const r = await sseEvents(`${sluice.base}/v1/messages`, body);
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /text\/event-stream/);
  for (const e of r.events) assert.equal(e.event, e.data.type, 'event name matches data.type');
  assert.deepEqual(r.events.map((e) => e.event), ['message_start', 'content_block_start', 'content_block_delta',
    'content_block_delta', 'content_block_delta', 'content_block_stop', 'message_delta', 'message_stop']);
  const [start, bstart, d1] = r.events;
  assert.equal(start.data.message.role, 'assistant');
  assert.ok(start.data.message.usage.input_tokens >= 0);
  assert.deepEqual(bstart.data, { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } });
  assert.deepEqual(d1.data, { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Hel' } });
  const md = r.events.at(-2).data;
  assert.equal(md.delta.stop_reason, 'end_turn');
  assert.deepEqual(md.usage, { input_tokens: 5, output_tokens: 3 });

  // and through the SDK's stream helper
  const s = anth.messages.stream({ model: 'auto', max_tokens: 50, messages: [{ role: 'user', content: 'hello' }] });
  let text = '';
  s.on('text', (t) => (text += t));
  const fin = await s.finalMessage();
  assert.equal(text, 'Hello world');
  assert.deepEqual(fin.content, [{ type: 'text', text: 'Hello world' }]);
  assert.equal(fin.stop_reason, 'end_turn');
  assert.equal(fin.usage.output_tokens, 3);
  assert.equal(fin.usage.input_tokens, 5);
  assert.equal(lastBody(oaUp).stream, true);
});

test('Anthropic client -> OpenAI backend: more stop sequences than the API takes (4); sluice applies the rest', async () => {
  const stops = ['S1', 'S2', 'S3', 'S4', '##', 'THE END'];
  let closed;
  const upstreamClosed = new Promise((r) => { closed = r; });
  oaUp.handler = (req, body, res) => {
    res.on('close', () => closed(res.writableFinished));
    replyStream(res, ['Once upon', ' a time #', '# more', ' and more', ' text'], 150);
  };
  const s = anth.messages.stream({ model: 'auto', max_tokens: 50, stop_sequences: stops,
    messages: [{ role: 'user', content: 'story' }] });
  let text = '';
  s.on('text', (t) => (text += t));
  const fin = await s.finalMessage();
  assert.equal(text, 'Once upon a time ', 'the text before the stop string, none of it');
  assert.equal(fin.stop_reason, 'stop_sequence');
  assert.equal(fin.stop_sequence, '##');
  assert.ok(fin.usage.output_tokens > 0, 'usage estimated, not zero');
  assert.deepEqual(lastBody(oaUp).stop, ['S1', 'S2', 'S3', 'S4'], 'the API gets the four it takes');
  assert.equal(await upstreamClosed, false, 'the upstream stream is ended early, not read to its end');

  // not streamed: the whole answer is cut; a stop string split by nothing else
  oaUp.handler = (req, body, res) => replyJson(res, 200, completion('alpha THE END omega', { pt: 9, ct: 6 }));
  const m = await anth.messages.create({ model: 'auto', max_tokens: 50, stop_sequences: stops,
    messages: [{ role: 'user', content: 'x' }] });
  assert.deepEqual(m.content, [{ type: 'text', text: 'alpha ' }]);
  assert.equal(m.stop_reason, 'stop_sequence');
  assert.equal(m.stop_sequence, 'THE END');
  assert.equal(m.usage.output_tokens, 6, 'the upstream billed what it generated');

  // an OpenAI client's five stop strings, and text that ends on a partial one: it is kept
  oaUp.handler = (req, body, res) => replyStream(res, ['ends with #'], 0);
  const r = await oai.chat.completions.create({ model: 'auto', stop: ['a1', 'a2', 'a3', 'a4', '##'],
    messages: [{ role: 'user', content: 'x' }] });
  assert.equal(r.choices[0].message.content, 'ends with #');
  assert.equal(r.choices[0].finish_reason, 'stop');
  assert.equal(lastBody(oaUp).stop.length, 4);
});

test('Anthropic client with tools -> OpenAI backend answering tool_calls, and tool_result back', async () => {
  oaUp.handler = (req, body, res) => replyJson(res, 200, {
    id: 'chatcmpl-t', object: 'chat.completion', created: 1, model: 'mock-model',
    choices: [{ index: 0, finish_reason: 'tool_calls', message: { role: 'assistant', content: null, tool_calls: [
      { id: 'call_1', type: 'function', function: { name: 'lookup', arguments: '{"q":"sluice"}' } }] } }],
    usage: { prompt_tokens: 30, completion_tokens: 8, total_tokens: 38 } });
  const tools = [{ name: 'lookup', description: 'Search', input_schema: { type: 'object', properties: { q: { type: 'string' } } } }];
  const m = await anth.messages.create({ model: 'auto', max_tokens: 200, tools, tool_choice: { type: 'auto' },
    messages: [{ role: 'user', content: 'find sluice' }] });
  assert.equal(m.stop_reason, 'tool_use');
  assert.deepEqual(m.content, [{ type: 'tool_use', id: 'call_1', name: 'lookup', input: { q: 'sluice' } }]);
  assert.deepEqual(m.usage, { input_tokens: 30, output_tokens: 8 });
  let b = lastBody(oaUp);
  assert.deepEqual(b.tools, [{ type: 'function', function: { name: 'lookup', description: 'Search', parameters: tools[0].input_schema } }]);
  assert.equal(b.tool_choice, 'auto');

  oaUp.handler = (req, body, res) => replyJson(res, 200, completion('sluice is a gateway'));
  const m2 = await anth.messages.create({ model: 'auto', max_tokens: 200, tools, tool_choice: { type: 'tool', name: 'lookup' },
    messages: [{ role: 'user', content: 'find sluice' }, { role: 'assistant', content: m.content },
               { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'call_1', content: [{ type: 'text', text: 'a gateway' }] },
                                         { type: 'text', text: 'summarise' }] }] });
  assert.equal(m2.content[0].text, 'sluice is a gateway');
  b = lastBody(oaUp);
  assert.deepEqual(b.tool_choice, { type: 'function', function: { name: 'lookup' } });
  assert.deepEqual(b.messages.slice(1), [
    { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'lookup', arguments: '{"q":"sluice"}' } }] },
    { role: 'tool', content: 'a gateway', tool_call_id: 'call_1' },
    { role: 'user', content: 'summarise' }]);
  // a tool that failed (is_error): the API has no flag, its text says so
  await anth.messages.create({ model: 'auto', max_tokens: 200, tools,
    messages: [{ role: 'user', content: 'find sluice' }, { role: 'assistant', content: m.content },
               { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'call_1', is_error: true, content: 'timed out' }] }] });
  assert.deepEqual(lastBody(oaUp).messages.at(-1), { role: 'tool', content: 'Error: timed out', tool_call_id: 'call_1' });
});

test('Anthropic client with tools -> OpenAI backend streaming tool_calls deltas', async () => {
  oaUp.handler = (req, body, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const chunk = (delta, finish = null) => `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'mock-model', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
    res.write(chunk({ role: 'assistant', content: null }));
    res.write(chunk({ tool_calls: [{ index: 0, id: 'call_9', type: 'function', function: { name: 'lookup', arguments: '' } }] }));
    res.write(chunk({ tool_calls: [{ index: 0, function: { arguments: '{"q":' } }] }));
    res.write(chunk({ tool_calls: [{ index: 0, function: { arguments: '"x"}' } }] }));
    res.write(chunk({}, 'tool_calls'));
    res.write(`data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'mock-model', choices: [], usage: { prompt_tokens: 9, completion_tokens: 4, total_tokens: 13 } })}\n\n`);
    res.end('data: [DONE]\n\n');
  };
  const tools = [{ name: 'lookup', input_schema: { type: 'object', properties: { q: { type: 'string' } } } }];
  const fin = await anth.messages.stream({ model: 'auto', max_tokens: 50, tools, messages: [{ role: 'user', content: 'q' }] }).finalMessage();
  assert.equal(fin.stop_reason, 'tool_use');
  assert.deepEqual(fin.content, [{ type: 'tool_use', id: 'call_9', name: 'lookup', input: { q: 'x' } }]);
  assert.deepEqual(fin.usage, { input_tokens: 9, output_tokens: 4 });
});

test('Anthropic client, streamed: tool arguments from an OpenAI backend that are not a JSON object reach the SDK as the whole answer has them, under _raw_arguments', async () => {
  const args = ['{"q": "x", "n": 1', '[1, 2]', '{"a": 1} trailing']; // cut short, not an object, two values
  let k = 0;
  oaUp.handler = (req, body, res) => {
    const a = args[k++ % args.length];
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const chunk = (delta, finish = null) => `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'mock-model', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
    res.write(chunk({ tool_calls: [{ index: 0, id: 'call_b', type: 'function', function: { name: 'lookup', arguments: '' } }] }));
    res.write(chunk({ tool_calls: [{ index: 0, function: { arguments: a.slice(0, 5) } }] }));
    res.write(chunk({ tool_calls: [{ index: 0, function: { arguments: a.slice(5) } }] }));
    res.write(chunk({ tool_calls: [{ index: 1, id: 'call_g', type: 'function', function: { name: 'lookup', arguments: '{"q": "ok"}' } }] }));
    res.write(chunk({}, 'tool_calls'));
    res.end('data: [DONE]\n\n');
  };
  const tools = [{ name: 'lookup', input_schema: { type: 'object', properties: { q: { type: 'string' } } } }];
  for (const a of args) {
    const stream = anth.messages.stream({ model: 'auto', max_tokens: 50, tools, messages: [{ role: 'user', content: 'q' }] });
    const fin = await stream.finalMessage();
    assert.equal(fin.stop_reason, 'tool_use');
    assert.deepEqual(fin.content, [{ type: 'tool_use', id: 'call_b', name: 'lookup', input: { _raw_arguments: a } },
                                   { type: 'tool_use', id: 'call_g', name: 'lookup', input: { q: 'ok' } }]);
  }
});

test('Anthropic SDK errors: upstream 429 -> RateLimitError, bad input -> BadRequestError, shapes', async () => {
  oaUp.handler = (req, body, res) => replyJson(res, 429, { error: { message: 'slow down', type: 'rate_limit_error' } });
  await assert.rejects(anth.messages.create({ model: 'auto', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }),
    (e) => e instanceof Anthropic.RateLimitError && e.status === 429 && e.error?.error?.type === 'rate_limit_error');
  oaUp.handler = (req, body, res) => replyJson(res, 400, { error: { message: 'bad thing', type: 'invalid_request_error' } });
  await assert.rejects(anth.messages.create({ model: 'auto', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }),
    (e) => e instanceof Anthropic.BadRequestError && /bad thing/.test(e.message));
  oaUp.handler = (req, body, res) => replyJson(res, 200, completion('fine'));
  const before = oaUp.received.length;
  await assert.rejects(anth.messages.create({ model: 'auto', max_tokens: 5, messages: [{ role: 'user', content: [
    { type: 'text', text: 'what is this?' }, { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } }] }] }),
    (e) => e instanceof Anthropic.BadRequestError && e.error?.type === 'error' &&
           e.error.error.type === 'invalid_request_error' && /messages\[0\]\.content\[1\]: image blocks are not supported/.test(e.message));
  assert.equal(oaUp.received.length, before, 'nothing was sent upstream');
  // missing max_tokens, malformed JSON: Anthropic-shaped 400s with sluice headers
  let r = await fetch(`${sluice.base}/v1/messages`, { method: 'POST', body: JSON.stringify({ model: 'auto', messages: [{ role: 'user', content: 'x' }] }) });
  assert.equal(r.status, 400);
  let j = await r.json();
  assert.deepEqual(j, { type: 'error', error: { type: 'invalid_request_error', message: 'max_tokens: field required' } });
  assert.ok(r.headers.get('x-sluice-request-id'));
  r = await fetch(`${sluice.base}/v1/messages`, { method: 'POST', body: '{"messages": [' });
  assert.equal(r.status, 400);
  j = await r.json();
  assert.equal(j.type, 'error');
  assert.equal(j.error.type, 'invalid_request_error');
  r = await fetch(`${sluice.base}/v1/messages`, { method: 'GET' });
  assert.equal(r.status, 405);
  assert.deepEqual(await r.json(), { type: 'error', error: { type: 'invalid_request_error', message: 'use POST' } });
  // a request line too long for the header limit: the 431 still names the endpoint's shape
  const long = (await raw(sluice.port, `POST /v1/messages?x=${'A'.repeat(40000)} HTTP/1.1\r\nHost: x\r\n\r\n`)).text;
  assert.match(long, /^HTTP\/1.1 431/);
  assert.match(long, /\{"type":"error","error":\{"type":"invalid_request_error"/);
  // the same with the absolute form of the target a proxy's client sends
  const abs = (await raw(sluice.port, `POST http://gw.example/v1/messages?x=${'A'.repeat(40000)} HTTP/1.1\r\nHost: x\r\n\r\n`)).text;
  assert.match(abs, /^HTTP\/1.1 431/);
  assert.match(abs, /\{"type":"error","error":\{"type":"invalid_request_error"/);
});

test('Anthropic client: an upstream failure mid-stream ends the stream with an error event', async () => {
  oaUp.handler = (req, body, res) => replyStream(res, ['a', 'b', 'c', 'd'], 30, { failAfter: 2 });
  const r = await sseEvents(`${sluice.base}/v1/messages`, { model: 'auto', max_tokens: 5, stream: true, messages: [{ role: 'user', content: 'x' }] });
  const last = r.events.at(-1);
  assert.equal(last.event, 'error');
  assert.equal(last.data.type, 'error');
  assert.equal(last.data.error.type, 'api_error');
  assert.ok(!r.events.some((e) => e.event === 'message_stop'));
  const stream = await anth.messages.create({ model: 'auto', max_tokens: 5, stream: true, messages: [{ role: 'user', content: 'x' }] });
  let text = '';
  await assert.rejects(async () => {
    for await (const ev of stream) if (ev.type === 'content_block_delta') text += ev.delta.text;
  }, (e) => e instanceof Anthropic.APIError);
  assert.ok(text.startsWith('a'), 'the part before the failure arrived');
});

// ---- Anthropic client -> Anthropic backend ----

test('Anthropic client -> Anthropic backend: stop_sequence, usage and blocks round-trip', async () => {
  anUp.handler = (req, body, res) => replyJson(res, 200, anthMessage('one, two', { stop_reason: 'stop_sequence', stop_sequence: 'three', input: 14, output: 4 }));
  const m = await anth.messages.create({ model: 'auto', max_tokens: 64, stop_sequences: ['three'], top_k: 5,
    system: 'count', messages: [{ role: 'user', content: 'count to five' }] }, to('anthropic'));
  assert.deepEqual(m.content, [{ type: 'text', text: 'one, two' }]);
  assert.equal(m.stop_reason, 'stop_sequence');
  assert.equal(m.stop_sequence, 'three');
  assert.deepEqual(m.usage, { input_tokens: 14, output_tokens: 4 });
  assert.equal(m.model, 'claude-mock');
  const b = lastBody(anUp);
  assert.equal(b.system, 'count');
  assert.equal(b.max_tokens, 64);
  assert.equal(b.top_k, 5);
  assert.deepEqual(b.stop_sequences, ['three']);
  assert.deepEqual(b.messages, [{ role: 'user', content: [{ type: 'text', text: 'count to five' }] }]);
  assert.equal(anUp.received.at(-1).headers['anthropic-beta'], undefined);
  // a failed tool's result keeps its is_error on the way to an Anthropic upstream
  anUp.handler = (req, body, res) => replyJson(res, 200, anthMessage('sorry'));
  await anth.messages.create({ model: 'auto', max_tokens: 64, tools: [{ name: 'f', input_schema: { type: 'object', properties: {} } }],
    messages: [{ role: 'user', content: 'go' }, { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'f', input: {} }] },
               { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', is_error: true, content: 'boom' }] }] }, to('anthropic'));
  assert.deepEqual(lastBody(anUp).messages.at(-1).content, [{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'boom', is_error: true }]);
});

test('Anthropic client\'s anthropic-beta features reach an Anthropic backend; a malformed list is a 400', async () => {
  anUp.handler = (req, body, res) => replyJson(res, 200, anthMessage('long'));
  const m = await anth.beta.messages.create({ model: 'auto', max_tokens: 64, betas: ['output-128k-2025-02-19', 'pdfs-2024-09-25'],
    messages: [{ role: 'user', content: 'hi' }] }, to('anthropic'));
  assert.deepEqual(m.content, [{ type: 'text', text: 'long' }]);
  assert.equal(anUp.received.at(-1).headers['anthropic-beta'], 'output-128k-2025-02-19,pdfs-2024-09-25');
  const n = anUp.received.length;
  // only feature names with their dates: free text (here a value) is refused before routing
  for (const bad of ['pdfs; x="1"', 'My SSN is 512-84-3927', 'pdfs-2024-09-25,,', 'Output-128k-2025-02-19', 'pdfs'])
    await assert.rejects(anth.messages.create({ model: 'auto', max_tokens: 64, messages: [{ role: 'user', content: 'hi' }] },
      { headers: { 'x-route': 'anthropic', 'anthropic-beta': bad } }),
      (e) => e instanceof Anthropic.BadRequestError && /anthropic-beta/.test(e.message), bad);
  assert.equal(anUp.received.length, n, 'nothing was sent');
  // two header lines are one list: each name checked, all of them sent
  const { default: http } = await import('node:http');
  const two = (second) => new Promise((resolve, reject) => {
    const body = JSON.stringify({ model: 'auto', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] });
    const u = new URL(sluice.base + '/v1/messages');
    const rq = http.request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', headers: ['host', u.host,
      'content-type', 'application/json', 'anthropic-version', '2023-06-01', 'x-route', 'anthropic',
      'anthropic-beta', 'output-128k-2025-02-19', 'anthropic-beta', second,
      'content-length', String(Buffer.byteLength(body))] }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode)); });
    rq.on('error', reject);
    rq.end(body);
  });
  assert.equal(await two('My SSN is 512-84-3927'), 400);
  assert.equal(await two('pdfs-2024-09-25'), 200);
  assert.equal(anUp.received.at(-1).headers['anthropic-beta'], 'output-128k-2025-02-19, pdfs-2024-09-25');
});

test('Anthropic client -> Anthropic backend, streaming text and tool_use', async () => {
  anUp.handler = (req, body, res) => replyAnthStream(res, [
    { text: ['I will ', 'check.'] }, { tool: { id: 'toolu_X', name: 'lookup', json: ['{"q":', '"y"}'] } }],
    { stop_reason: 'tool_use', input: 40, output: 12, gapMs: 5 });
  const tools = [{ name: 'lookup', input_schema: { type: 'object', properties: { q: { type: 'string' } } } }];
  const s = anth.messages.stream({ model: 'auto', max_tokens: 64, tools, messages: [{ role: 'user', content: 'look up y' }] }, to('anthropic'));
  const fin = await s.finalMessage();
  assert.deepEqual(fin.content, [{ type: 'text', text: 'I will check.' }, { type: 'tool_use', id: 'toolu_X', name: 'lookup', input: { q: 'y' } }]);
  assert.equal(fin.stop_reason, 'tool_use');
  assert.deepEqual(fin.usage, { input_tokens: 40, output_tokens: 12 });
  const b = lastBody(anUp);
  assert.equal(b.stream, true);
  assert.deepEqual(b.tools, [{ name: 'lookup', input_schema: tools[0].input_schema }]);
  // a streamed stop sequence comes back as one
  anUp.handler = (req, body, res) => replyAnthStream(res, [{ text: ['1 2'] }], { stop_reason: 'stop_sequence', stop_sequence: ' 3' });
  const fin2 = await anth.messages.stream({ model: 'auto', max_tokens: 64, stop_sequences: [' 3'], messages: [{ role: 'user', content: 'count' }] }, to('anthropic')).finalMessage();
  assert.equal(fin2.stop_reason, 'stop_sequence');
  assert.equal(fin2.stop_sequence, ' 3');
  // message_start carries the upstream's own prompt and cache counts, not an
  // estimate (LangChain and hand-written loops take the input count from it)
  anUp.handler = (req, body, res) => replyAnthStream(res, [{ text: ['cached'] }], { input: 1234, cacheRead: 5000, cacheWrite: 7 });
  const s3 = anth.messages.stream({ model: 'auto', max_tokens: 64, messages: [{ role: 'user', content: 'again' }] }, to('anthropic'));
  let start;
  s3.on('streamEvent', (e) => { if (e.type === 'message_start') start = { ...e.message.usage }; }); // (the SDK then updates it)
  const fin3 = await s3.finalMessage();
  assert.deepEqual(start, { input_tokens: 1234, cache_creation_input_tokens: 7, cache_read_input_tokens: 5000, output_tokens: 0 });
  assert.equal(fin3.usage.cache_read_input_tokens, 5000);
});

test('Anthropic backend overloaded (529) before output: the route fails over to the next backend', async () => {
  anUp.handler = (req, body, res) => anthError(res, 529, 'overloaded_error', 'Overloaded');
  oaUp.handler = (req, body, res) => replyJson(res, 200, completion('served by openai'));
  const before = anUp.received.length;
  const { data, response } = await anth.messages.create({ model: 'auto', max_tokens: 5,
    messages: [{ role: 'user', content: 'x' }] }, to('an-oa')).withResponse();
  assert.equal(data.content[0].text, 'served by openai');
  assert.equal(response.headers.get('x-sluice-backend'), 'oa');
  assert.equal(anUp.received.length, before + 1, 'the anthropic backend was tried first');
});

test('an error event before any output fails as its HTTP form: overloaded fails over, a rate limit is a 429', async () => {
  const errorEvent = (type, message) => (req, body, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.end(`event: message_start\ndata: ${JSON.stringify({ type: 'message_start', message: { id: 'msg_e', type: 'message',
      role: 'assistant', model: 'claude-mock', content: [], stop_reason: null, usage: { input_tokens: 3, output_tokens: 1 } } })}\n\n` +
      'event: ping\ndata: {"type": "ping"}\n\n' +
      `event: error\ndata: ${JSON.stringify({ type: 'error', error: { type, message } })}\n\n`);
  };
  anUp.handler = errorEvent('overloaded_error', 'Overloaded');
  oaUp.handler = (req, body, res) => replyJson(res, 200, completion('served by openai'));
  const { data, response } = await anth.messages.create({ model: 'auto', max_tokens: 5,
    messages: [{ role: 'user', content: 'x' }] }, to('an-oa')).withResponse();
  assert.equal(data.content[0].text, 'served by openai');
  assert.equal(response.headers.get('x-sluice-backend'), 'oa');
  anUp.handler = errorEvent('rate_limit_error', 'Number of request tokens has exceeded your per-minute rate limit');
  await assert.rejects(anth.messages.create({ model: 'auto', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] },
    to('anthropic')), (e) => e instanceof Anthropic.RateLimitError && e.error?.error?.type === 'rate_limit_error');
  // to an OpenAI client, the code OpenAI gives a rate limit (Anthropic's errors name none)
  await assert.rejects(oai.chat.completions.create({ model: 'auto', messages: [{ role: 'user', content: 'x' }] },
    to('anthropic')), (e) => e instanceof OpenAI.RateLimitError && e.code === 'rate_limit_exceeded');
});

test('Anthropic client -> Anthropic backend: an upstream error event mid-stream keeps its type', async () => {
  anUp.handler = (req, body, res) => replyAnthStream(res, [{ text: ['a', 'b', 'c'] }], { errorAfter: 1, gapMs: 10 });
  const r = await sseEvents(`${sluice.base}/v1/messages`, { model: 'auto', max_tokens: 5, stream: true,
    messages: [{ role: 'user', content: 'x' }] }, { 'x-route': 'anthropic' });
  assert.deepEqual(r.events.map((e) => e.event), ['message_start', 'content_block_start', 'content_block_delta', 'error']);
  assert.equal(r.events.at(-1).data.error.type, 'overloaded_error');
  assert.match(r.events.at(-1).data.error.message, /Overloaded/);
});

// ---- the local engine ----

test('Anthropic client -> local engine: text streams, usage and stop_reason are right', async () => {
  const events = [];
  const s = anth.messages.stream({ model: 'auto', max_tokens: 8, temperature: 0,
    messages: [{ role: 'user', content: 'Once upon a time' }] }, to('local'));
  let startInput = -1;
  s.on('streamEvent', (e) => {
    events.push(e.type);
    if (e.type === 'message_start') startInput = e.message.usage.input_tokens;
  });
  let text = '';
  s.on('text', (t) => (text += t));
  const fin = await s.finalMessage();
  assert.ok(text.length > 0, 'some text streamed');
  assert.equal(startInput, fin.usage.input_tokens, 'message_start counts the prompt as the engine did');
  assert.equal(fin.content[0].text, text);
  assert.equal(events[0], 'message_start');
  assert.equal(events.at(-1), 'message_stop');
  assert.ok(events.includes('content_block_delta'));
  assert.ok(fin.usage.input_tokens > 0);
  assert.ok(fin.usage.output_tokens > 0 && fin.usage.output_tokens <= 8, `output_tokens ${fin.usage.output_tokens}`);
  assert.equal(fin.stop_reason, fin.usage.output_tokens === 8 ? 'max_tokens' : 'end_turn');
  // not streamed, greedy: the same answer
  const { data, response } = await anth.messages.create({ model: 'auto', max_tokens: 8, temperature: 0,
    messages: [{ role: 'user', content: 'Once upon a time' }] }, to('local')).withResponse();
  assert.equal(response.headers.get('x-sluice-backend'), 'local');
  assert.equal(data.content[0].text, text);
  assert.deepEqual(data.usage, fin.usage);
  assert.equal(data.stop_reason, fin.stop_reason);
});

test('Anthropic client -> local engine: a stop sequence that ends the answer is named (stop_reason stop_sequence)', async () => {
  const req = { model: 'auto', max_tokens: 40, temperature: 0, messages: [{ role: 'user', content: 'Once upon a time' }] };
  const full = await anth.messages.create(req, to('local'));
  const words = full.content[0].text.trim().split(/\s+/);
  const stop = words[Math.min(3, words.length - 1)];
  const m = await anth.messages.create({ ...req, stop_sequences: ['zzzq', stop] }, to('local'));
  assert.equal(m.stop_reason, 'stop_sequence');
  assert.equal(m.stop_sequence, stop);
  assert.equal(m.content[0].text, full.content[0].text.slice(0, full.content[0].text.indexOf(stop)));
  const st = await anth.messages.stream({ ...req, stop_sequences: [stop] }, to('local')).finalMessage();
  assert.equal(st.stop_reason, 'stop_sequence');
  assert.equal(st.stop_sequence, stop);
  // a stop at the answer's very start: no text, and the stream opens only at
  // its end; message_start still counts the prompt as the engine did
  const first = full.content[0].text.slice(0, 2);
  const s0 = anth.messages.stream({ ...req, stop_sequences: [first] }, to('local'));
  let startInput = -1;
  s0.on('streamEvent', (e) => { if (e.type === 'message_start') startInput = e.message.usage.input_tokens; });
  const f0 = await s0.finalMessage();
  assert.equal(f0.stop_reason, 'stop_sequence');
  assert.deepEqual(f0.content, []);
  assert.equal(startInput, full.usage.input_tokens);
  assert.equal(f0.usage.input_tokens, full.usage.input_tokens);
  // the same answer whole has the same (empty) content, as Anthropic sends it
  const w0 = await anth.messages.create({ ...req, stop_sequences: [first] }, to('local'));
  assert.equal(w0.stop_reason, 'stop_sequence');
  assert.deepEqual(w0.content, []);
});

test('tools on the local engine, which cannot do them: a clear 400 in either dialect', async () => {
  await assert.rejects(anth.messages.create({ model: 'auto', max_tokens: 8,
    tools: [{ name: 'lookup', input_schema: { type: 'object', properties: {} } }],
    messages: [{ role: 'user', content: 'hi' }] }, to('local')),
  (e) => e instanceof Anthropic.BadRequestError && /tools/.test(e.message));
  await assert.rejects(oai.chat.completions.create({ model: 'auto',
    tools: [{ type: 'function', function: { name: 'lookup', parameters: { type: 'object', properties: {} } } }],
    messages: [{ role: 'user', content: 'hi' }] }, to('local')),
  (e) => e instanceof OpenAI.BadRequestError && /tools/.test(e.message));
});

test('a request the decoder refuses names its field in the error (the SDK\'s err.param); nothing is sent', async () => {
  const n = oaUp.received.length;
  const cases = [
    [{ tools: [{ type: 'function', function: { description: 'no name' } }] }, 'tools[0].function.name'],
    [{ temperature: 5 }, 'temperature', /between 0 and 2/],
    [{ max_tokens: 0 }, 'max_tokens', /between 1 and 10000000/],
  ];
  for (const [extra, param, re] of cases)
    await assert.rejects(oai.chat.completions.create({ model: 'auto', messages: [{ role: 'user', content: 'hi' }], ...extra }),
      (e) => e instanceof OpenAI.BadRequestError && e.param === param && (!re || re.test(e.message)), param);
  assert.equal(oaUp.received.length, n);
});

test('tools on a route with the local engine first: the next backend, which can do them, serves', async () => {
  oaUp.handler = (req, body, res) => replyJson(res, 200, completion('tools ok'));
  const { data, response } = await anth.messages.create({ model: 'auto', max_tokens: 8,
    tools: [{ name: 'lookup', input_schema: { type: 'object', properties: {} } }],
    messages: [{ role: 'user', content: 'hi' }] }, to('local-oa')).withResponse();
  assert.equal(data.content[0].text, 'tools ok');
  assert.equal(response.headers.get('x-sluice-backend'), 'oa');
  // without tools the same route stays on the local engine
  const r2 = await anth.messages.create({ model: 'auto', max_tokens: 4, temperature: 0,
    messages: [{ role: 'user', content: 'hi' }] }, to('local-oa')).withResponse();
  assert.equal(r2.response.headers.get('x-sluice-backend'), 'local');
});

// ---- OpenAI client -> OpenAI backend tool calls (pass-through) ----

test('OpenAI client with tools -> OpenAI backend: tools passed through, streamed tool_calls relayed', async () => {
  oaUp.handler = (req, body, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const chunk = (delta, finish = null) => `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'mock-model', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
    res.write(chunk({ role: 'assistant', content: null }));
    res.write(chunk({ tool_calls: [{ index: 0, id: 'call_a', type: 'function', function: { name: 'f', arguments: '' } }] }));
    res.write(chunk({ tool_calls: [{ index: 0, function: { arguments: '{"a":1}' } }] }));
    res.write(chunk({ tool_calls: [{ index: 1, id: 'call_b', type: 'function', function: { name: 'g', arguments: '{}' } }] }));
    res.write(chunk({}, 'tool_calls'));
    res.end('data: [DONE]\n\n');
  };
  const tools = [{ type: 'function', function: { name: 'f', parameters: { type: 'object', properties: { a: { type: 'number' } } } } },
                 { type: 'function', function: { name: 'g', parameters: { type: 'object', properties: {} } } }];
  const fin = await oai.chat.completions.stream({ model: 'auto', tools, parallel_tool_calls: true,
    messages: [{ role: 'user', content: 'call both' }] }).finalChatCompletion();
  const tc = fin.choices[0].message.tool_calls;
  assert.deepEqual(tc.map((t) => [t.id, t.function.name, t.function.arguments]), [['call_a', 'f', '{"a":1}'], ['call_b', 'g', '{}']]);
  assert.equal(fin.choices[0].finish_reason, 'tool_calls');
  assert.deepEqual(lastBody(oaUp).tools, tools);
});

// ---- keys: the Anthropic SDK sends x-api-key ----

test('with keys configured, the Anthropic SDK authenticates by x-api-key; a wrong key is an AuthenticationError', async () => {
  const { createHash } = await import('node:crypto');
  const key = 'sk-sluice-team-a';
  const s = await startSluice({
    auth: { keys: [{ id: 'team-a', sha256: createHash('sha256').update(key).digest('hex'), tenant: 'team-a' }] },
    backends: [apiBackend('oa', oaUp.url)], rules: [{ name: 'default', route: ['oa'] }],
  }, { MOCK_KEY: OA_KEY });
  try {
    oaUp.handler = (req, body, res) => replyJson(res, 200, completion('authorised'));
    const ok = new Anthropic({ baseURL: s.base, apiKey: key, maxRetries: 0 });
    const m = await ok.messages.create({ model: 'auto', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] });
    assert.equal(m.content[0].text, 'authorised');
    const bad = new Anthropic({ baseURL: s.base, apiKey: 'sk-wrong', maxRetries: 0 });
    await assert.rejects(bad.messages.create({ model: 'auto', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }),
      (e) => e instanceof Anthropic.AuthenticationError && e.error?.error?.type === 'authentication_error');
    // the model list and explain answer to a key too (explain would show anyone the rules)
    assert.equal((await ok.models.list()).data[0].id, 'auto');
    await assert.rejects(bad.models.list(), (e) => e instanceof Anthropic.AuthenticationError);
    const ex = (h) => fetch(`${s.base}/v1/explain`, { method: 'POST', headers: { 'content-type': 'application/json', ...h },
      body: JSON.stringify({ messages: [{ role: 'user', content: 'hi' }] }) });
    const r401 = await ex({});
    assert.equal(r401.status, 401);
    assert.equal(r401.headers.get('www-authenticate'), 'Bearer');
    assert.equal((await ex({ authorization: `Bearer ${key}` })).status, 200);
    assert.equal((await ex({ authorization: `Bearer \t ${key}` })).status, 200); // any run of spaces and tabs
  } finally {
    const r = await s.stop();
    assert.equal(r.code, 0);
    assert.ok(!s.stderr().includes(key));
  }
});

test('the Anthropic SDK lists and retrieves models in its own shape', async () => {
  const page = await anth.models.list();
  const ids = page.data.map((m) => m.id);
  assert.ok(ids.includes('auto') && ids.includes('local'), ids.join(','));
  assert.ok(page.data.every((m) => m.type === 'model' && m.display_name && m.created_at));
  const all = [];
  for await (const m of anth.models.list()) all.push(m.id); // pagination ends (has_more false)
  assert.deepEqual(all, ids);
  assert.equal((await anth.models.retrieve('local')).id, 'local');
  await assert.rejects(anth.models.retrieve('no-such-model'), (e) => {
    assert.ok(e instanceof Anthropic.NotFoundError, String(e));
    assert.equal(e.error?.error?.type, 'not_found_error');
    return true;
  });
});

test('/v1/explain names the member a refused body is wrong about, as the chat endpoint does', async () => {
  const body = { model: 'auto', max_tokens: -5, messages: [{ role: 'user', content: 'hi' }] };
  for (const path of ['/v1/explain', '/v1/chat/completions']) {
    const r = await fetch(`${sluice.base}${path}`, { method: 'POST',
      headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    assert.equal(r.status, 400, path);
    const e = await r.json();
    assert.equal(e.error.param, 'max_tokens', `${path}: ${JSON.stringify(e)}`);
    assert.equal(e.error.type, 'invalid_request_error');
  }
});

test('/v1/explain reads an Anthropic body as one: its system prompt is classified too', async () => {
  const body = { model: 'auto', max_tokens: 5, system: 'Customer card: 4111 1111 1111 1111',
                 messages: [{ role: 'user', content: 'hi' }] };
  for (const headers of [{}, { 'anthropic-version': '2023-06-01' }]) {
    const r = await fetch(`${sluice.base}/v1/explain`, { method: 'POST',
      headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
    assert.equal(r.status, 200);
    const ex = await r.json();
    assert.equal(ex.sensitivity.level, 'restricted', JSON.stringify(ex));
    assert.ok(ex.sensitivity.entities.some((e) => e.type === 'CREDIT_CARD'));
  }
});
