import { describe, expect, it } from 'vitest';
import { statusesFromJournal } from './status';

describe('step states from the journal', () => {
  it('takes the latest entry per step, in sequence order', () => {
    const j = (sequence: number, stepId: string | undefined, kind: string) => ({ sequence, at: '', stepId, kind, attempt: 1 });
    expect(statusesFromJournal([
      j(3, 'approve', 'step.waiting'), j(1, undefined, 'instance.started'), j(2, 'check', 'step.completed'),
      j(5, 'approve', 'step.rejected'), j(6, 'check', 'compensation.completed'), j(4, 'block', 'step.started'),
    ])).toEqual({ check: 'compensated', approve: 'rejected', block: 'running' });
  });
});
