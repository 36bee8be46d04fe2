import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isLightproofError } from '../core/errors.js';
import {
  MAX_SSE_EVENT_BYTES,
  priceForUsage,
  type Usage,
  UsageSniffer,
  usageFromJson,
  usageFromResponse,
} from './usage.js';

const enc = new TextEncoder();
const bytes = (s: string): Uint8Array => enc.encode(s);
const usage = (
  inputTokens: number,
  outputTokens: number,
  totalTokens = inputTokens + outputTokens,
): Usage => ({
  inputTokens,
  outputTokens,
  totalTokens,
});

// Samples in the shapes OpenAI documents, trimmed of nothing that matters to usage.
const chatCompletion = JSON.stringify({
  id: 'chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT',
  object: 'chat.completion',
  created: 1741569952,
  model: 'gpt-4.1-2025-04-14',
  choices: [
    {
      index: 0,
      message: { role: 'assistant', content: 'Hello! How can I help?', refusal: null, annotations: [] },
      logprobs: null,
      finish_reason: 'stop',
    },
  ],
  usage: {
    prompt_tokens: 19,
    completion_tokens: 10,
    total_tokens: 29,
    prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0 },
  },
  service_tier: 'default',
});
const completion = JSON.stringify({
  id: 'cmpl-uqkvlQyYK7bGYrRHQ0eXlWi7',
  object: 'text_completion',
  created: 1589478378,
  model: 'gpt-3.5-turbo-instruct',
  choices: [{ text: '\n\nThis is indeed a test', index: 0, logprobs: null, finish_reason: 'length' }],
  usage: { prompt_tokens: 5, completion_tokens: 7, total_tokens: 12 },
});
const embeddings = JSON.stringify({
  object: 'list',
  data: [{ object: 'embedding', embedding: [0.0023064255, -0.009327292, -0.0028842222], index: 0 }],
  model: 'text-embedding-3-small',
  usage: { prompt_tokens: 8, total_tokens: 8 },
});
const responsesUsage = {
  input_tokens: 36,
  input_tokens_details: { cached_tokens: 0 },
  output_tokens: 87,
  output_tokens_details: { reasoning_tokens: 0 },
  total_tokens: 123,
};
const response = JSON.stringify({
  id: 'resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b',
  object: 'response',
  created_at: 1741476542,
  status: 'completed',
  model: 'gpt-4.1-2025-04-14',
  output: [
    {
      type: 'message',
      id: 'msg_67ccd2bf17f0819081ff3bb2cf6508e6',
      role: 'assistant',
      content: [{ type: 'output_text', text: 'In a peaceful grove…', annotations: [] }],
    },
  ],
  usage: responsesUsage,
});

const chunk = (delta: object, extra: object = { usage: null }): string =>
  `data: ${JSON.stringify({
    id: 'chatcmpl-123',
    object: 'chat.completion.chunk',
    created: 1694268190,
    model: 'gpt-4o-mini',
    choices: [{ index: 0, delta, logprobs: null, finish_reason: null }],
    ...extra,
  })}\n\n`;
const chatStream =
  ': ping\n\n' +
  chunk({ role: 'assistant', content: '' }) +
  chunk({ content: 'Hello' }) +
  ': keep-alive comment\n' +
  chunk({ content: ' there, 世界' }) +
  chunk({}, { choices: [], usage: { prompt_tokens: 9, completion_tokens: 12, total_tokens: 21 } }) +
  'data: [DONE]\n\n';

const responsesStream = [
  [
    'response.created',
    { type: 'response.created', sequence_number: 0, response: { id: 'resp_1', usage: null } },
  ],
  [
    'response.output_text.delta',
    { type: 'response.output_text.delta', sequence_number: 4, item_id: 'msg_1', delta: 'Hi' },
  ],
  [
    'response.completed',
    { type: 'response.completed', sequence_number: 9, response: { id: 'resp_1', usage: responsesUsage } },
  ],
]
  .map(([event, data]) => `event: ${String(event)}\ndata: ${JSON.stringify(data)}\n\n`)
  .join('');

function sniff(...chunks: (string | Uint8Array)[]): Usage | null {
  const s = new UsageSniffer();
  for (const c of chunks) s.push(typeof c === 'string' ? bytes(c) : c);
  return s.finish();
}

/** Every way of cutting the stream in two, and one byte at a time. */
function everySplit(stream: string, expected: Usage | null): void {
  const all = bytes(stream);
  for (let i = 0; i <= all.length; i++) {
    assert.deepEqual(sniff(all.subarray(0, i), all.subarray(i)), expected, `split at byte ${i}`);
  }
  assert.deepEqual(sniff(...[...all].map((b) => new Uint8Array([b]))), expected, 'one byte at a time');
}

describe('usage: whole JSON bodies', () => {
  it('reads chat completions, completions, embeddings and the Responses API', () => {
    assert.deepEqual(usageFromJson(bytes(chatCompletion)), usage(19, 10, 29));
    assert.deepEqual(usageFromJson(bytes(completion)), usage(5, 7, 12));
    assert.deepEqual(usageFromJson(bytes(embeddings)), usage(8, 0, 8));
    assert.deepEqual(usageFromJson(bytes(response)), usage(36, 87, 123));
    assert.deepEqual(usageFromJson(bytes('{"usage":{"input_tokens":3,"output_tokens":4}}')), usage(3, 4));
  });

  it('returns null for bodies without readable usage', () => {
    const bad = [
      '',
      'not json',
      '[]',
      '42',
      'null',
      '{"usage":null}',
      '{"usage":[1,2]}',
      '{"data":[]}',
      '{"usage":{}}',
      '{"usage":{"prompt_tokens":"12","completion_tokens":3}}',
      '{"usage":{"prompt_tokens":-1,"completion_tokens":3}}',
      '{"usage":{"prompt_tokens":1.5,"completion_tokens":3}}',
      '{"usage":{"prompt_tokens":1e300,"completion_tokens":3}}',
      '{"usage":{"prompt_tokens":9007199254740992,"completion_tokens":3}}',
      '{"usage":{"prompt_tokens":9007199254740991,"completion_tokens":9007199254740991}}',
      '{"usage":{"prompt_tokens":1.5,"completion_tokens":1.5}}',
      '{"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":2.5}}',
      '{"usage":{"prompt_tokens":1,"completion_tokens":null}}',
      '{"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":"3"}}',
      '{"usage":{"input_tokens":1}}',
      '{"usage":{"input_tokens":1,"output_tokens":-2}}',
      '{"usage":{"completion_tokens":5,"total_tokens":5}}',
    ];
    for (const body of bad) assert.equal(usageFromJson(bytes(body)), null, body);
    assert.equal(usageFromJson(new Uint8Array([0xff, 0x7b, 0x7d])), null);
  });

  it('picks JSON or an event stream by Content-Type', () => {
    assert.deepEqual(usageFromResponse('application/json', bytes(chatCompletion)), usage(19, 10, 29));
    assert.deepEqual(
      usageFromResponse('Application/JSON; charset=utf-8', bytes(response)),
      usage(36, 87, 123),
    );
    assert.deepEqual(usageFromResponse('application/vnd.api+json', bytes(completion)), usage(5, 7, 12));
    assert.deepEqual(usageFromResponse('text/event-stream; charset=utf-8', bytes(chatStream)), usage(9, 12));
    assert.deepEqual(usageFromResponse('TEXT/EVENT-STREAM', bytes(responsesStream)), usage(36, 87, 123));
    assert.equal(usageFromResponse('text/plain', bytes(chatCompletion)), null);
    assert.equal(usageFromResponse(undefined, bytes(chatCompletion)), null);
    assert.equal(usageFromResponse('application/json', bytes(chatStream)), null);
  });
});

describe('usage: event streams', () => {
  it('reads the final usage chunk of a chat stream, however the bytes are split', () => {
    everySplit(chatStream, usage(9, 12, 21));
  });

  it('reads the response.completed event of a Responses API stream', () => {
    everySplit(responsesStream, usage(36, 87, 123));
  });

  it('reads CRLF and CR line endings, and data split over several lines, at every split', () => {
    const multiLine =
      'event: message\r\nid: 7\r\nretry: 1000\r\n' +
      'data: {"choices":[],\r\ndata:"usage":{"prompt_tokens":4,\r\ndata:  "completion_tokens":5}}\r\n\r\n' +
      'data: [DONE]\r\n\r\n';
    everySplit(multiLine, usage(4, 5));
    everySplit(multiLine.replaceAll('\r\n', '\r'), usage(4, 5));
    everySplit(chatStream.replaceAll('\n', '\r\n'), usage(9, 12, 21));
  });

  it('keeps the usage of the last event that carries one', () => {
    const s = new UsageSniffer();
    s.push(bytes('data: {"usage":{"prompt_tokens":1,"completion_tokens":1}}\n\n'));
    assert.deepEqual(s.finish(), usage(1, 1));
    s.push(bytes('data: {"usage":{"prompt_tokens":2,"completion_tokens":3}}\n\ndata: {"usage":null}\n\n'));
    s.push(bytes('data: {"usage":{"prompt_tokens":"x"}}\n\ndata: [DONE]\n\n'));
    assert.deepEqual(s.finish(), usage(2, 3));
  });

  it('returns null when no event carries usage', () => {
    assert.equal(sniff(''), null);
    assert.equal(sniff(': ping\n\n'), null);
    assert.equal(sniff(chunk({ content: 'hi' }), 'data: [DONE]\n\n'), null);
    assert.equal(sniff(chatStream.replace(/"usage":\{[^}]*\}/, '"usage":null')), null);
  });

  it('ignores events that are not JSON, fields other than data, and an unfinished last event', () => {
    const stream =
      'data: {not json\n\n' +
      'event: {"usage":{"prompt_tokens":50,"completion_tokens":50}}\n\n' +
      ':{"usage":{"prompt_tokens":60,"completion_tokens":60}}\n\n' +
      'data:{"usage":{"prompt_tokens":7,"completion_tokens":8}}\n\n' +
      'data: {"usage":{"prompt_tokens":99,"completion_tokens":99}}\n';
    assert.deepEqual(sniff(stream), usage(7, 8));
  });

  it('skips an event over the size cap without keeping it, and reads the next one', () => {
    const s = new UsageSniffer();
    const mib = new Uint8Array(64 * 1024).fill(0x61);
    s.push(bytes('data: {"usage":{"prompt_tokens":1,"completion_tokens":2}}\n\ndata: "'));
    for (let sent = 0; sent <= MAX_SSE_EVENT_BYTES; sent += mib.length) s.push(mib);
    s.push(bytes('", "usage":{"prompt_tokens":1000,"completion_tokens":1000}}\n\n'));
    assert.deepEqual(s.finish(), usage(1, 2), 'the oversized event is skipped');
    s.push(bytes('data: {"usage":{"prompt_tokens":3,"completion_tokens":4}}\n\n'));
    assert.deepEqual(s.finish(), usage(3, 4), 'the next event is read');

    const event = 'data: {"usage":{"prompt_tokens":5,"completion_tokens":6}}';
    const capped = (max: number): Usage | null => {
      const t = new UsageSniffer({ maxEventBytes: max });
      t.push(bytes(`${event}\n\n`));
      return t.finish();
    };
    assert.deepEqual(capped(bytes(event).length), usage(5, 6));
    assert.equal(capped(bytes(event).length - 1), null);

    // The cap holds for an event made of many short lines, too.
    const many = new UsageSniffer({ maxEventBytes: 200 });
    many.push(
      bytes(`data: {"usage":\n${'data: \n'.repeat(40)}data: {"prompt_tokens":1,"completion_tokens":1}}\n\n`),
    );
    assert.equal(many.finish(), null);
  });

  it('keeps its own copy of a partial line, so the caller may reuse its buffer', () => {
    const s = new UsageSniffer();
    const buf = bytes('data: {"usage":{"prompt_tokens":1,');
    s.push(buf);
    buf.fill(0x20);
    s.push(bytes('"completion_tokens":2}}\n\n'));
    assert.deepEqual(s.finish(), usage(1, 2));
  });
});

describe('usage: price', () => {
  const rates = { inputMsatPerMillion: 1n, outputMsatPerMillion: 1n };

  it('rounds up to the msat, once, on the total', () => {
    assert.equal(priceForUsage(usage(1, 0), rates), 1n);
    assert.equal(priceForUsage(usage(0, 0), rates), 0n);
    assert.equal(priceForUsage(usage(1_000_000, 0), rates), 1n);
    assert.equal(priceForUsage(usage(1_000_001, 0), rates), 2n);
    const half = { inputMsatPerMillion: 500_000n, outputMsatPerMillion: 500_000n };
    assert.equal(priceForUsage(usage(1, 1), half), 1n);
    const chat = { inputMsatPerMillion: 150_000_000n, outputMsatPerMillion: 600_000_000n };
    assert.equal(priceForUsage(usage(19, 10), chat), 8_850n);
  });

  it('charges at least the minimum', () => {
    assert.equal(priceForUsage(usage(0, 0), { ...rates, minimumMsat: 1_000n }), 1_000n);
    assert.equal(priceForUsage(usage(3_000_000_000, 0), { ...rates, minimumMsat: 1_000n }), 3_000n);
  });

  it('is exact for big numbers', () => {
    const max = Number.MAX_SAFE_INTEGER;
    assert.equal(
      priceForUsage(usage(max, 0), { ...rates, inputMsatPerMillion: 1_000_000n }),
      9007199254740991n,
    );
    const odd = { inputMsatPerMillion: 123_456_789n, outputMsatPerMillion: 987_654_321n };
    const expected = (9_007_199_254n * 123_456_789n + 3n * 987_654_321n + 999_999n) / 1_000_000n;
    assert.equal(priceForUsage(usage(9_007_199_254, 3), odd), expected);
    assert.equal(expected, 1_111_999_900_745n, 'the intermediate product is past 2^53');
  });

  it('refuses negative rates and prices beyond all bitcoin', () => {
    const code = (fn: () => unknown, expected: string): void =>
      assert.throws(fn, (e: unknown) => isLightproofError(e, expected));
    code(() => priceForUsage(usage(1, 1), { ...rates, outputMsatPerMillion: -1n }), 'LP_USAGE_BAD_RATE');
    code(() => priceForUsage(usage(1, 1), { ...rates, minimumMsat: -1n }), 'LP_USAGE_BAD_RATE');
    const huge = { inputMsatPerMillion: 10n ** 30n, outputMsatPerMillion: 0n };
    code(() => priceForUsage(usage(1, 0), huge), 'LP_BAD_AMOUNT');
  });
});
