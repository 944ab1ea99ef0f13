/** Pretty JSON, escaped by React (templates' output is not HTML-escaped by the server). */
export function JsonView({ value, label }: { value: unknown; label?: string }) {
  if (value === undefined || value === null) return <span className="muted">—</span>;
  return <pre className="json" aria-label={label}>{JSON.stringify(value, null, 2)}</pre>;
}

export function time(value?: string) {
  return value ? new Date(value).toLocaleString() : '—';
}
