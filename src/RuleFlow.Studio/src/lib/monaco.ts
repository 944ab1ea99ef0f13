// Monaco, lean: the editor API, YAML highlighting and RuleFlow's rule language only (no TypeScript/JSON services).
import * as monaco from 'monaco-editor/editor';
import 'monaco-editor/languages/definitions/yaml/register';
import EditorWorker from 'monaco-editor/editor/editor.worker?worker';
import { ruleLanguage } from './ruleLanguage';

self.MonacoEnvironment = { getWorker: () => new EditorWorker() };

monaco.languages.register({ id: 'ruleflow', extensions: ['.rules', '.ruletest'], aliases: ['RuleFlow rules'] });
monaco.languages.setMonarchTokensProvider('ruleflow', ruleLanguage as unknown as monaco.languages.IMonarchLanguage);
monaco.languages.setLanguageConfiguration('ruleflow', {
  comments: { lineComment: '#' },
  brackets: [['{', '}'], ['[', ']'], ['(', ')']],
  autoClosingPairs: [{ open: '{', close: '}' }, { open: '[', close: ']' }, { open: '(', close: ')' }, { open: '"', close: '"' }],
});

export { monaco };
