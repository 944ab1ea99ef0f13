import type { KeyboardEvent } from 'react';

/**
 * The tab a key moves to in a WAI-ARIA tab list (automatic activation): ArrowRight/ArrowDown next, ArrowLeft/ArrowUp
 * previous (both wrap), Home first, End last; null for any other key.
 */
export function nextTab<T>(tabs: readonly T[], current: T, key: string): T | null {
  const index = tabs.indexOf(current);
  if (tabs.length === 0) return null;
  switch (key) {
    case 'ArrowRight':
    case 'ArrowDown':
      return tabs[(index + 1) % tabs.length];
    case 'ArrowLeft':
    case 'ArrowUp':
      return tabs[(index - 1 + tabs.length) % tabs.length];
    case 'Home':
      return tabs[0];
    case 'End':
      return tabs[tabs.length - 1];
    default:
      return null;
  }
}

/**
 * onKeyDown of an element with role="tablist": selects the tab the key leads to and moves the focus to it (its
 * buttons, in the order of `tabs`, carry role="tab"; give the selected one tabIndex 0 and the others -1).
 */
export function tabListKeyDown<T>(event: KeyboardEvent<HTMLElement>, tabs: readonly T[], current: T, select: (tab: T) => void): void {
  const target = nextTab(tabs, current, event.key);
  if (target === null) return;
  event.preventDefault();
  select(target);
  const buttons = event.currentTarget.querySelectorAll<HTMLElement>('[role="tab"]');
  buttons[tabs.indexOf(target)]?.focus();
}
