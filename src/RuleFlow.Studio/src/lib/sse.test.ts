import { describe, expect, it } from 'vitest';
import { openStream, SseParser, type SseMessage } from './sse';

describe('SSE parser', () => {
  it('parses events, multi-line data, comments and ids across arbitrary chunk boundaries', () => {
    const text = ': keep-alive\n\nevent: instance\ndata: {"id":"1",\ndata: "state":"running"}\nid: 7\n\r\nevent: step\r\ndata:{"x":1}\r\n\r\ndata: plain\n\n';
    const whole = new SseParser().push(text);
    expect(whole).toEqual([
      { event: 'instance', data: '{"id":"1",\n"state":"running"}', id: '7' },
      { event: 'step', data: '{"x":1}', id: '7' },
      { event: 'message', data: 'plain', id: '7' },
    ]);
    for (let size = 1; size < 8; size++) {
      const p = new SseParser();
      const out: SseMessage[] = [];
      for (let i = 0; i < text.length; i += size) out.push(...p.push(text.slice(i, i + size)));
      expect(out).toEqual(whole);
    }
  });

  it('ignores a message without data, unknown fields, and keeps retry', () => {
    const p = new SseParser();
    expect(p.push('event: x\n\nfoo: bar\nretry: 2500\ndata\n\n')).toEqual([{ event: 'message', data: '' }]);
    expect(p.retry).toBe(2500);
  });

  it('streams with the key in a header and stops on 401', async () => {
    const seen: { headers: Record<string, string> }[] = [];
    const messages: SseMessage[] = [];
    const states: string[] = [];
    let call = 0;
    const fetchImpl = (async (_url: string, init: RequestInit) => {
      seen.push({ headers: init.headers as Record<string, string> });
      call++;
      if (call === 1) {
        const body = new ReadableStream<Uint8Array>({
          start(c) { c.enqueue(new TextEncoder().encode('event: approval\ndata: {"id":"a"}\n\n')); c.close(); },
        });
        return new Response(body, { status: 200 });
      }
      return new Response('', { status: 401 });
    }) as unknown as typeof fetch;
    await new Promise<void>(resolve => {
      openStream({
        url: '/api/stream', headers: { 'X-Api-Key': 'k' }, fetchImpl,
        onMessage: m => messages.push(m),
        onState: (s, d) => { states.push(d ? `${s}:${d}` : s); if (d?.startsWith('refused')) resolve(); },
      });
    });
    expect(messages).toEqual([{ event: 'approval', data: '{"id":"a"}' }]);
    expect(seen[0].headers['X-Api-Key']).toBe('k');
    expect(states).toContain('open');
    expect(states[states.length - 1]).toBe('closed:refused (401)');
  }, 10000);
});
