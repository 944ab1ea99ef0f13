import { useEffect, useId, useState } from 'react';
import { parseField, toText, type FieldSpec } from '../lib/schemaForm';

/**
 * One generated input. It keeps its own text while the user types; a value that parses and passes the field's checks
 * goes to `onValue` (undefined for an emptied optional field); a bad one shows its error inline and is not applied.
 */
export function FieldInput({ field, value, onValue, serverError, idPrefix }: {
  field: FieldSpec;
  value: unknown;
  onValue: (value: unknown) => void;
  serverError?: string;
  idPrefix?: string;
}) {
  const auto = useId();
  const id = `${idPrefix ?? auto}-${field.name}`;
  const [text, setText] = useState(() => toText(field, value));
  const [error, setError] = useState<string>();
  useEffect(() => {
    // An outside change (YAML edit, another selection) replaces the text unless it means the same value.
    const outside = toText(field, value);
    setText(current => (parseField(field, current).value !== undefined && toText(field, parseField(field, current).value) === outside ? current : outside));
    setError(undefined);
  }, [value, field]);

  const change = (next: string) => {
    setText(next);
    const parsed = parseField(field, next);
    setError(parsed.error);
    if (!parsed.error) onValue(parsed.empty ? undefined : parsed.value);
  };
  const shown = error ?? serverError;
  const describedBy = [shown ? `${id}-error` : '', field.description ? `${id}-help` : ''].filter(Boolean).join(' ') || undefined;
  const common = {
    id, 'aria-invalid': !!shown || undefined, 'aria-describedby': describedBy, 'aria-required': field.required || undefined,
    name: field.name,
  };
  let input;
  switch (field.widget) {
    case 'checkbox':
      input = <input type="checkbox" {...common} checked={text === 'true'} onChange={e => change(e.target.checked ? 'true' : 'false')} />;
      break;
    case 'select':
      input = (
        <select {...common} value={text} onChange={e => change(e.target.value)}>
          <option value="">{field.required ? '— choose —' : '(default)'}</option>
          {field.options!.map(o => <option key={o} value={o}>{o}</option>)}
        </select>
      );
      break;
    case 'textarea':
    case 'yaml':
      input = <textarea {...common} value={text} rows={field.widget === 'yaml' ? Math.min(10, Math.max(3, text.split('\n').length + 1)) : 4}
        spellCheck={false} className={field.widget === 'yaml' ? 'mono' : ''} onChange={e => change(e.target.value)} />;
      break;
    case 'integer':
    case 'number':
      input = <input type="number" {...common} value={text} step={field.widget === 'integer' ? 1 : 'any'} min={field.minimum} max={field.maximum} onChange={e => change(e.target.value)} />;
      break;
    default:
      input = <input type="text" {...common} value={text} onChange={e => change(e.target.value)} placeholder={field.widget === 'list' ? 'comma-separated' : undefined} />;
  }
  return (
    <div className={`field ${field.widget === 'checkbox' ? 'checkbox' : ''}`}>
      <label htmlFor={id}>{field.label}{field.required && <span aria-hidden className="req"> *</span>}
        {field.widget === 'yaml' && <small className="muted"> (YAML)</small>}</label>
      {input}
      {field.description && <small id={`${id}-help`} className="help">{field.description}</small>}
      {shown && <small id={`${id}-error`} className="field-error" role="alert">{shown}</small>}
    </div>
  );
}
