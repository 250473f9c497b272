// The OpenAI Responses API (POST /v1/responses) end to end: the official
// `openai` SDK's responses.create / responses.stream against sluice in front of
// a mock OpenAI-compatible (Chat Completions) upstream, which must see the
// request the Responses body stands for.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startMock, startSluice, apiBackend, completion, replyJson, replyStream } from './lib.mjs';

let mock, sluice, client;
let mode = 'ok';

const chunk = (delta, finish = null) =>
  `data: ${JSON.stringify({ id: 'chatcmpl-mock', object: 'chat.completion.chunk', created: 1, model: 'mock-model', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;

function toolCallAnswer(b, res) {
  const args = '{"city":"Oslo"}';
  if (!b.stream)
    return replyJson(res, 200, {
      id: 'chatcmpl-mock', object: 'chat.completion', created: 1, model: 'mock-model',
      choices: [{ index: 0, finish_reason: 'tool_calls', message: { role: 'assistant', content: null, tool_calls: [{ id: 'call_abc', type: 'function', function: { name: 'get_weather', arguments: args } }] } }],
      usage: { prompt_tokens: 30, completion_tokens: 9, total_tokens: 39 },
    });
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  res.write(chunk({ role: 'assistant', content: null, tool_calls: [{ index: 0, id: 'call_abc', type: 'function', function: { name: 'get_weather', arguments: '' } }] }));
  res.write(chunk({ tool_calls: [{ index: 0, function: { arguments: args.slice(0, 6) } }] }));
  res.write(chunk({ tool_calls: [{ index: 0, function: { arguments: args.slice(6) } }] }));
  res.write(chunk({}, 'tool_calls'));
  res.write(`data: ${JSON.stringify({ id: 'chatcmpl-mock', object: 'chat.completion.chunk', created: 1, model: 'mock-model', choices: [], usage: { prompt_tokens: 30, completion_tokens: 9, total_tokens: 39 } })}\n\n`);
  res.end('data: [DONE]\n\n');
}

before(async () => {
  mock = await startMock((req, body, res) => {
    const b = JSON.parse(body);
    const last = b.messages[b.messages.length - 1];
    if (mode === '500') return replyJson(res, 500, { error: { message: 'boom', type: 'server_error' } });
    if (last.role === 'tool') return replyJson(res, 200, completion(`It is ${JSON.parse(last.content).temp} degrees.`));
    if (b.tools && !String(last.content).includes('no tool')) return toolCallAnswer(b, res);
    if (b.stream) return replyStream(res, ['Hel', 'lo ', 'from ', 'the ', 'stream'], 150, mode === 'break' ? { failAfter: 2 } : {});
    if (b.max_completion_tokens === 3) return replyJson(res, 200, completion('Once upon', { finish: 'length', ct: 3 }));
    replyJson(res, 200, completion('Hello from mock'));
  });
  sluice = await startSluice({
    backends: [apiBackend('primary', mock.url)],
    rules: [{ name: 'default', route: ['primary'] }],
  });
  client = new OpenAI({ baseURL: `${sluice.base}/v1`, apiKey: 'unused', maxRetries: 0 });
});

after(async () => {
  const r = await sluice.stop();
  assert.equal(r.code, 0, sluice.stderr().slice(-2000));
  await mock.stop();
});

const lastBody = () => JSON.parse(mock.received[mock.received.length - 1].body);

test('responses.create: instructions and input become system and user messages; output_text and usage come back', async () => {
  const { data: r, response } = await client.responses
    .create({ model: 'auto', instructions: 'Be brief.', input: 'Say hi', temperature: 0.2, max_output_tokens: 50 })
    .withResponse();
  assert.equal(r.object, 'response');
  assert.match(r.id, /^resp_/);
  assert.equal(r.status, 'completed');
  assert.equal(r.output_text, 'Hello from mock');
  assert.equal(r.output.length, 1);
  assert.equal(r.output[0].type, 'message');
  assert.equal(r.output[0].role, 'assistant');
  assert.deepEqual(r.usage, { input_tokens: 11, input_tokens_details: { cached_tokens: 0 }, output_tokens: 7,
                              output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 18 });
  // the request's options, repeated as the API does
  assert.equal(r.instructions, 'Be brief.');
  assert.equal(r.temperature, 0.2);
  assert.equal(r.max_output_tokens, 50);
  assert.deepEqual(r.tools, []);
  assert.equal(r.tool_choice, 'auto');
  assert.ok(response.headers.get('x-sluice-request-id'));
  assert.equal(response.headers.get('x-sluice-backend'), 'primary');
  const b = lastBody();
  assert.deepEqual(b.messages, [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Say hi' }]);
  assert.equal(b.temperature, 0.2);
  assert.equal(b.max_completion_tokens, 50);
  assert.equal(b.input, undefined, 'the upstream gets a Chat Completions body');
});

test('input items: messages with content parts, developer role, and earlier assistant turns', async () => {
  const r = await client.responses.create({
    model: 'auto',
    input: [
      { role: 'developer', content: 'Answer in English.' },
      { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'First part.' }, { type: 'input_text', text: 'Second part.' }] },
      { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Noted.' }] },
      { role: 'user', content: 'Go on.' },
    ],
  });
  assert.equal(r.output_text, 'Hello from mock');
  assert.deepEqual(lastBody().messages, [
    { role: 'system', content: 'Answer in English.' }, // (as the OpenAI dialect passes developer on)
    { role: 'user', content: 'First part.\nSecond part.' },
    { role: 'assistant', content: 'Noted.' },
    { role: 'user', content: 'Go on.' },
  ]);
});

test('responses.stream: events arrive as the upstream streams, in order, and finalResponse holds the whole answer', async () => {
  const t0 = Date.now();
  const stream = client.responses.stream({ model: 'auto', input: 'tell me' });
  const types = [];
  const seqs = [];
  let firstDelta = 0, lastDelta = 0, text = '';
  for await (const ev of stream) {
    types.push(ev.type);
    seqs.push(ev.sequence_number);
    if (ev.type === 'response.output_text.delta') {
      if (!firstDelta) firstDelta = Date.now() - t0;
      lastDelta = Date.now() - t0;
      text += ev.delta;
    }
  }
  const final = await stream.finalResponse();
  assert.equal(text, 'Hello from the stream');
  assert.equal(final.output_text, 'Hello from the stream');
  assert.equal(final.status, 'completed');
  assert.equal(final.usage.output_tokens, 5);
  assert.ok(lastDelta - firstDelta > 300, `deltas spread over the stream (${firstDelta} .. ${lastDelta} ms)`);
  assert.deepEqual(seqs, seqs.map((_, i) => i), 'sequence numbers count from 0');
  const distinct = types.filter((t, i) => t !== types[i - 1]);
  assert.deepEqual(distinct, ['response.created', 'response.in_progress', 'response.output_item.added',
    'response.content_part.added', 'response.output_text.delta', 'response.output_text.done',
    'response.content_part.done', 'response.output_item.done', 'response.completed']);
  assert.equal(lastBody().stream_options.include_usage, true);
});

test('function tools: a function_call item comes back, and its output goes on as a tool message', async () => {
  const tools = [{ type: 'function', name: 'get_weather', description: 'Weather for a city', strict: true,
                   parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false } }];
  const input = [{ role: 'user', content: 'Weather in Oslo?' }];
  const r1 = await client.responses.create({ model: 'auto', input, tools, tool_choice: 'auto' });
  const b1 = lastBody();
  assert.deepEqual(b1.tools, [{ type: 'function', function: { name: 'get_weather', description: 'Weather for a city', parameters: tools[0].parameters, strict: true } }]);
  assert.equal(b1.tool_choice, 'auto');
  assert.equal(r1.output.length, 1);
  const call = r1.output[0];
  assert.equal(call.type, 'function_call');
  assert.equal(call.call_id, 'call_abc');
  assert.equal(call.name, 'get_weather');
  assert.deepEqual(JSON.parse(call.arguments), { city: 'Oslo' });
  assert.equal(r1.status, 'completed');

  const r2 = await client.responses.create({
    model: 'auto', tools,
    input: [...input, ...r1.output, { type: 'function_call_output', call_id: call.call_id, output: '{"temp":21}' }],
  });
  assert.equal(r2.output_text, 'It is 21 degrees.');
  const b2 = lastBody();
  assert.deepEqual(b2.messages.slice(1), [
    { role: 'assistant', content: null, tool_calls: [{ id: 'call_abc', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } }] },
    { role: 'tool', tool_call_id: 'call_abc', content: '{"temp":21}' },
  ]);
});

test('function tools streamed: arguments delta and done events, and the call in finalResponse', async () => {
  const tools = [{ type: 'function', name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } }];
  const stream = client.responses.stream({ model: 'auto', input: 'Weather in Oslo?', tools, tool_choice: { type: 'function', name: 'get_weather' } });
  let args = '', done = null;
  for await (const ev of stream) {
    if (ev.type === 'response.function_call_arguments.delta') args += ev.delta;
    if (ev.type === 'response.function_call_arguments.done') done = ev.arguments;
  }
  const final = await stream.finalResponse();
  assert.deepEqual(lastBody().tool_choice, { type: 'function', function: { name: 'get_weather' } });
  assert.equal(args, '{"city":"Oslo"}');
  assert.equal(done, args);
  assert.equal(final.output[0].type, 'function_call');
  assert.equal(final.output[0].call_id, 'call_abc');
  assert.equal(final.output[0].arguments, args);
  assert.equal(final.usage.input_tokens, 30);
});

test('text.format json_schema becomes response_format; reasoning.effort becomes reasoning_effort', async () => {
  const schema = { type: 'object', properties: { name: { type: 'string' } }, required: ['name'], additionalProperties: false };
  await client.responses.create({ model: 'auto', input: 'A name, as JSON.', reasoning: { effort: 'low' },
                                  text: { format: { type: 'json_schema', name: 'person', schema, strict: true } } });
  const b = lastBody();
  assert.deepEqual(b.response_format, { type: 'json_schema', json_schema: { name: 'person', schema, strict: true } });
  assert.equal(b.reasoning_effort, 'low');
});

test('an answer cut at max_output_tokens is status incomplete with its reason', async () => {
  const r = await client.responses.create({ model: 'auto', input: 'A story.', max_output_tokens: 3 });
  assert.equal(r.status, 'incomplete');
  assert.deepEqual(r.incomplete_details, { reason: 'max_output_tokens' });
  assert.equal(r.output_text, 'Once upon');
});

test("item references to items sluice produced (the AI SDK's store default) are resolved; unknown ones are a 400", async () => {
  const r1 = await client.responses.create({ model: 'auto', input: 'Say hi' });
  const stream = client.responses.stream({ model: 'auto', input: 'tell me' });
  for await (const ev of stream) void ev;
  const r2 = await stream.finalResponse();
  await client.responses.create({
    model: 'auto',
    input: [{ role: 'user', content: 'Say hi' }, { type: 'item_reference', id: r1.output[0].id },
            { role: 'user', content: 'tell me' }, { type: 'item_reference', id: r2.output[0].id },
            { role: 'user', content: 'and now?' }],
  });
  assert.deepEqual(lastBody().messages, [
    { role: 'user', content: 'Say hi' }, { role: 'assistant', content: 'Hello from mock' },
    { role: 'user', content: 'tell me' }, { role: 'assistant', content: 'Hello from the stream' },
    { role: 'user', content: 'and now?' }]);
  // an answer asked not to be stored is not kept
  const r3 = await client.responses.create({ model: 'auto', input: 'Say hi', store: false });
  await assert.rejects(client.responses.create({ model: 'auto', input: [{ type: 'item_reference', id: r3.output[0].id }] }),
    (e) => e.status === 400 && /no item with this id/.test(e.message));
  await assert.rejects(client.responses.create({ model: 'auto', input: [{ type: 'item_reference', id: 'msg_nobody_0' }] }), (e) => {
    assert.equal(e.status, 400);
    assert.match(e.message, /input\[0\]: no item with this id/);
    return true;
  });
});

test('/v1/explain reads a Responses body as the endpoint does (instructions and input items)', async () => {
  const r = await fetch(`${sluice.base}/v1/explain`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ instructions: 'be brief', input: [{ role: 'user', content: 'Email jane.doe@example.com the report' }] }),
  });
  assert.equal(r.status, 200);
  const j = await r.json();
  assert.ok(JSON.stringify(j).includes('EMAIL_ADDRESS'), JSON.stringify(j));
});

test('server-side state, unsupported items and bad fields are 400s naming the field', async () => {
  await assert.rejects(client.responses.create({ model: 'auto', input: 'hi', previous_response_id: 'resp_123' }), (e) => {
    assert.equal(e.status, 400);
    assert.match(e.message, /previous_response_id.*keeps none/);
    return true;
  });
  await assert.rejects(client.responses.create({ model: 'auto', input: [{ role: 'user', content: [{ type: 'input_text', text: 'look' }, { type: 'input_image', image_url: 'https://x/y.png' }] }] }), (e) => {
    assert.equal(e.status, 400);
    assert.match(e.message, /input\[0\]\.content\[1\]: input_image parts are not supported/);
    assert.equal(e.param, 'input[0].content[1]');
    return true;
  });
  await assert.rejects(client.responses.create({ model: 'auto', input: 'hi', tools: [{ type: 'web_search' }] }), (e) => {
    assert.equal(e.status, 400);
    assert.match(e.message, /tools\[0\]: type 'web_search' is not supported/);
    return true;
  });
  await assert.rejects(client.responses.create({ model: 'auto' }), (e) => e.status === 400 && /input is required/.test(e.message));
  const r = await fetch(`${sluice.base}/v1/responses/resp_123`);
  assert.equal(r.status, 404);
  assert.match((await r.json()).error.message, /stores no responses/);
});

test('upstream failures: a whole answer is an APIError, a broken stream ends with an error event the SDK raises', async () => {
  mode = '500';
  try {
    await assert.rejects(client.responses.create({ model: 'auto', input: 'hi' }), (e) => e.status >= 500);
  } finally {
    mode = 'ok';
  }
  mode = 'break';
  try {
    const stream = await client.responses.create({ model: 'auto', input: 'tell me', stream: true });
    let text = '';
    await assert.rejects((async () => {
      for await (const ev of stream) if (ev.type === 'response.output_text.delta') text += ev.delta;
    })(), (e) => e instanceof OpenAI.APIError);
    // (the mock cuts its connection right after writing its second piece)
    assert.ok(text === 'Hel' || text === 'Hello ', `what streamed before the break reached the client: ${text}`);
  } finally {
    mode = 'ok';
  }
});
