import type { Diagnostic } from './api';

/** True when a diagnostic is about the file at `path` (rules/x.rules); those without a file are too. */
export const isOwn = (d: Diagnostic, path: string) => !d.file || d.file === path;

/**
 * Diagnostics from POST /api/rules/check: `{ diagnostics }` (the answer to `{ text, file }`: the file's own, and errors the
 * edit causes in other files, which keep their `file`), or `{ files: [{ path, diagnostics }] }` (the answer to `{ files }`).
 */
export function diagnosticsOf(response: unknown, path: string): Diagnostic[] {
  const r = response as { diagnostics?: Diagnostic[]; files?: { path: string; diagnostics: Diagnostic[] }[] };
  if (Array.isArray(r?.diagnostics)) return r.diagnostics;
  const file = r?.files?.find(f => f.path === path) ?? r?.files?.[0];
  return (file?.diagnostics ?? []).filter(d => !d.file || d.file === path);
}
