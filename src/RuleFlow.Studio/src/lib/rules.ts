import type { Diagnostic } from './api';

/** Diagnostics of one file from POST /api/rules/check (either `{ diagnostics }` or `{ files: [{ path, diagnostics }] }`). */
export function diagnosticsOf(response: unknown, path: string): Diagnostic[] {
  const r = response as { diagnostics?: Diagnostic[]; files?: { path: string; diagnostics: Diagnostic[] }[] };
  if (Array.isArray(r?.diagnostics)) return r.diagnostics.filter(d => !d.file || d.file === path);
  const file = r?.files?.find(f => f.path === path) ?? r?.files?.[0];
  return (file?.diagnostics ?? []).filter(d => !d.file || d.file === path);
}
