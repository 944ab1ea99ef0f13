import { useEffect, useRef } from 'react';
import { monaco } from '../lib/monaco';
import type { Diagnostic } from '../lib/api';

/** A Monaco editor; `markers` become squiggles (and the gutter), `value` changes from outside replace the text. */
export function CodeEditor({ value, onChange, language, markers, label, readOnly, revealLine }: {
  value: string;
  onChange?: (text: string) => void;
  language: 'yaml' | 'ruleflow';
  markers?: Diagnostic[];
  label: string;
  readOnly?: boolean;
  revealLine?: number;
}) {
  const host = useRef<HTMLDivElement>(null);
  const editor = useRef<monaco.editor.IStandaloneCodeEditor | null>(null);
  const changeRef = useRef(onChange);
  changeRef.current = onChange;
  // The last text the editor itself reported: when `value` comes back as that text (or an older echo of it while the user
  // keeps typing), the editor already has it, and replacing its content would drop the keystrokes made in between.
  const emitted = useRef(new Set<string>());

  useEffect(() => {
    const e = monaco.editor.create(host.current!, {
      value, language, automaticLayout: true, minimap: { enabled: false }, fontSize: 13, readOnly,
      scrollBeyondLastLine: false, ariaLabel: label, tabSize: 2, insertSpaces: true, renderWhitespace: 'boundary',
      glyphMargin: true, theme: 'vs', accessibilitySupport: 'auto',
    });
    editor.current = e;
    const sub = e.onDidChangeModelContent(() => {
      const text = e.getValue();
      const seen = emitted.current;
      seen.add(text);
      if (seen.size > 64) seen.delete(seen.values().next().value!);
      changeRef.current?.(text);
    });
    return () => { sub.dispose(); e.getModel()?.dispose(); e.dispose(); };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [language]);

  useEffect(() => {
    const e = editor.current;
    if (e && !emitted.current.has(value) && e.getValue() !== value) {
      emitted.current.clear();
      const pos = e.getPosition();
      e.getModel()?.pushEditOperations([], [{ range: e.getModel()!.getFullModelRange(), text: value }], () => null);
      if (pos) e.setPosition(pos);
    }
  }, [value]);

  useEffect(() => { editor.current?.updateOptions({ readOnly }); }, [readOnly]);

  useEffect(() => {
    const model = editor.current?.getModel();
    if (!model) return;
    monaco.editor.setModelMarkers(model, 'ruleflow', (markers ?? []).filter(m => m.line).map(m => {
      const line = Math.min(Math.max(1, m.line!), model.getLineCount());
      const col = Math.max(1, m.column ?? 1);
      return {
        severity: m.severity === 'error' ? monaco.MarkerSeverity.Error : m.severity === 'warning' ? monaco.MarkerSeverity.Warning : monaco.MarkerSeverity.Info,
        message: `${m.code}: ${m.message}${m.hint ? `\n${m.hint}` : ''}`,
        code: m.code,
        startLineNumber: line, startColumn: col,
        endLineNumber: m.endLine ?? line,
        endColumn: m.endColumn ?? Math.max(col + 1, model.getLineMaxColumn(line)),
      };
    }));
  }, [markers, value]);

  useEffect(() => { if (revealLine) { editor.current?.revealLineInCenter(revealLine); editor.current?.setPosition({ lineNumber: revealLine, column: 1 }); } }, [revealLine]);

  return <div className="code-editor" ref={host} data-testid={`editor-${language}`} />;
}
