// Server-sent events read with fetch streaming (so the API key travels in a header, never in a URL), parsed by hand
// per the WHATWG event-stream rules: lines end with \n, \r\n or \r; `event:`, `data:` (joined with \n), `id:`, `retry:`;
// a line starting with ':' is a comment (keep-alive); a blank line dispatches.

export interface SseMessage { event: string; data: string; id?: string }

export class SseParser {
  private buffer = '';
  private event = '';
  private data: string[] = [];
  private id: string | undefined;
  private sawCr = false;
  retry: number | undefined;

  /** Feeds a chunk of text; returns the messages it completed. */
  push(chunk: string): SseMessage[] {
    const out: SseMessage[] = [];
    let text = chunk;
    if (this.sawCr && text.startsWith('\n')) text = text.slice(1); // \r\n split across chunks
    this.sawCr = false;
    this.buffer += text;
    for (;;) {
      const match = /\r\n|\r|\n/.exec(this.buffer);
      if (!match) break;
      if (match[0] === '\r' && match.index === this.buffer.length - 1) { this.sawCr = true; }
      const line = this.buffer.slice(0, match.index);
      this.buffer = this.buffer.slice(match.index + match[0].length);
      this.line(line, out);
    }
    return out;
  }

  private line(line: string, out: SseMessage[]) {
    if (line === '') {
      if (this.data.length > 0) out.push({ event: this.event || 'message', data: this.data.join('\n'), ...(this.id !== undefined ? { id: this.id } : {}) });
      this.event = '';
      this.data = [];
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'event': this.event = value; break;
      case 'data': this.data.push(value); break;
      case 'id': if (!value.includes('\0')) this.id = value; break;
      case 'retry': if (/^\d+$/.test(value)) this.retry = Number(value); break;
    }
  }
}

export interface StreamOptions {
  url: string;
  headers: Record<string, string>;
  onMessage: (m: SseMessage) => void;
  onState?: (state: 'connecting' | 'open' | 'closed', detail?: string) => void;
  fetchImpl?: typeof fetch;
}

/**
 * Keeps one stream open: reconnects after a drop (1 s doubling to 30 s; the server's `retry:` wins), stops for good on
 * 401/403 or when the returned function is called. This is one long-lived request, not a polling loop.
 */
export function openStream(options: StreamOptions): () => void {
  const controller = new AbortController();
  const doFetch = options.fetchImpl ?? fetch;
  let delay = 1000;
  const run = async () => {
    while (!controller.signal.aborted) {
      options.onState?.('connecting');
      const parser = new SseParser();
      try {
        const response = await doFetch(options.url, { headers: { Accept: 'text/event-stream', ...options.headers }, signal: controller.signal });
        if (response.status === 401 || response.status === 403) { options.onState?.('closed', `refused (${response.status})`); return; }
        if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
        options.onState?.('open');
        delay = 1000;
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          for (const m of parser.push(value)) options.onMessage(m);
        }
      } catch (e) {
        if (controller.signal.aborted) return;
        options.onState?.('closed', (e as Error).message);
      }
      if (controller.signal.aborted) return;
      await new Promise(r => setTimeout(r, parser.retry ?? delay));
      delay = Math.min(delay * 2, 30000);
    }
  };
  void run();
  return () => controller.abort();
}
