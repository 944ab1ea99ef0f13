import { describe, expect, it } from 'vitest';
import { diagnosticsOf, isOwn } from './rules';

describe('rule check answers', () => {
  const d = (file: string, line: number) => ({ severity: 'error', code: 'RF1100', message: 'x', file, line, column: 1 });
  it('reads { files: [...] } (the entry of the file) and { diagnostics } (all of them; those of other files keep their file)', () => {
    expect(diagnosticsOf({ files: [{ path: 'rules/b.rules', diagnostics: [d('rules/b.rules', 3)] }, { path: 'rules/a.rules', diagnostics: [d('rules/a.rules', 7)] }] }, 'rules/a.rules'))
      .toEqual([d('rules/a.rules', 7)]);
    expect(diagnosticsOf({ diagnostics: [d('rules/a.rules', 2), d('rules/other.rules', 4)] }, 'rules/a.rules')).toEqual([d('rules/a.rules', 2), d('rules/other.rules', 4)]);
    expect(diagnosticsOf({}, 'rules/a.rules')).toEqual([]);
    expect(isOwn(d('rules/other.rules', 1), 'rules/a.rules')).toBe(false);
    expect(isOwn({ ...d('x', 1), file: undefined }, 'rules/a.rules')).toBe(true);
  });
});
