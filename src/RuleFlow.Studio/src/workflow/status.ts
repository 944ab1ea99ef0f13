import type { JournalEntry } from '../lib/api';

/** Each step's latest state from an instance journal (docs/workflows.md, "Journal"). */
export function statusesFromJournal(journal: JournalEntry[]): Record<string, string> {
  const out: Record<string, string> = {};
  const sorted = [...journal].sort((a, b) => a.sequence - b.sequence);
  for (const e of sorted) {
    if (!e.stepId) continue;
    const s = stepStatusOf(e.kind);
    if (s) out[e.stepId] = s;
  }
  return out;
}

export function stepStatusOf(kind: string): string | undefined {
  switch (kind) {
    case 'step.started': return 'running';
    case 'step.completed': return 'completed';
    case 'step.failed': return 'failed';
    case 'step.waiting': return 'waiting';
    case 'step.rejected': return 'rejected';
    case 'compensation.started': return 'compensating';
    case 'compensation.completed': return 'compensated';
    case 'compensation.failed': return 'failed';
    case 'compensation.skipped': return 'compensated';
    default: return undefined;
  }
}

/** The status a live `step` event (`{ status: started|completed|failed|compensated }`) gives. */
export function stepStatusFromEvent(status: string): string {
  return status === 'started' ? 'running' : status;
}
