import { describe, expect, it } from 'vitest';
import { nextTab } from './tabs';

describe('nextTab', () => {
  const tabs = ['properties', 'yaml', 'problems'] as const;
  it('moves with the arrow keys and wraps', () => {
    expect(nextTab(tabs, 'properties', 'ArrowRight')).toBe('yaml');
    expect(nextTab(tabs, 'problems', 'ArrowRight')).toBe('properties');
    expect(nextTab(tabs, 'properties', 'ArrowLeft')).toBe('problems');
    expect(nextTab(tabs, 'yaml', 'ArrowUp')).toBe('properties');
    expect(nextTab(tabs, 'yaml', 'ArrowDown')).toBe('problems');
  });
  it('jumps with Home and End and ignores other keys', () => {
    expect(nextTab(tabs, 'yaml', 'Home')).toBe('properties');
    expect(nextTab(tabs, 'yaml', 'End')).toBe('problems');
    expect(nextTab(tabs, 'yaml', 'Enter')).toBeNull();
    expect(nextTab(tabs, 'yaml', 'a')).toBeNull();
  });
});
