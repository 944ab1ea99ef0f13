// Monarch tokenizer for RuleFlow's rule language (docs/rules-language.md; keywords are the contextual keywords the
// parser in src/RuleFlow.Rules/Language recognises). Kept free of Monaco imports so it can be unit tested.

export const RULE_KEYWORDS = [
  'after', 'and', 'at', 'by', 'contains', 'dedup', 'description', 'disabled', 'enabled', 'end', 'endswith', 'event', 'every',
  'exchange', 'exists', 'fact', 'fields', 'for', 'forall', 'from', 'group', 'headers', 'import', 'in', 'key', 'last',
  'matches', 'namespace', 'no', 'not', 'once', 'or', 'owner', 'per', 'priority', 'routing', 'rule', 'runbook', 'startswith',
  'tags', 'template', 'then', 'throttle', 'time', 'wait', 'when', 'with', 'within',
  // actions and aggregates
  'start', 'workflow', 'signal', 'to', 'publish', 'insert', 'retract', 'script', 'log', 'count', 'sum', 'avg', 'min', 'max', 'distinct',
];

export const ruleLanguage = {
  defaultToken: '',
  keywords: RULE_KEYWORDS,
  constants: ['true', 'false', 'null'],
  operators: ['==', '!=', '>=', '<=', '>', '<', '&&', '||', '!', '+', '-', '*', '/', '%', '=~'],
  symbols: /[=><!~?:&|+\-*/^%]+/,
  tokenizer: {
    root: [
      [/#.*$/, 'comment'],
      [/\/\/.*$/, 'comment'],
      [/"""/, { token: 'string', next: '@rawString' }],
      [/"/, { token: 'string.quote', next: '@string' }],
      // a regex literal after `matches`
      [/(matches)(\s+)(\/)/, ['keyword', '', { token: 'regexp', next: '@regexp' }]],
      [/\d+(\.\d+)?(ms|s|m|h|d)\b/, 'number.duration'],
      [/\d[\d_]*(\.\d+)?/, 'number'],
      [/[A-Za-z_][\w]*(?=\s*\()/, { cases: { '@keywords': 'keyword', '@default': 'type' } }],
      [/[A-Za-z_][\w.-]*/, { cases: { '@keywords': 'keyword', '@constants': 'constant', '@default': 'identifier' } }],
      [/[{}()[\]]/, '@brackets'],
      [/@symbols/, { cases: { '@operators': 'operator', '@default': '' } }],
      [/[,:;]/, 'delimiter'],
    ],
    string: [
      [/[^\\"]+/, 'string'],
      [/\\./, 'string.escape'],
      [/"/, { token: 'string.quote', next: '@pop' }],
    ],
    rawString: [
      [/"""/, { token: 'string', next: '@pop' }],
      [/[^"]+/, 'string'],
      [/"/, 'string'],
    ],
    regexp: [
      [/[^\\/]+/, 'regexp'],
      [/\\./, 'regexp.escape'],
      [/\//, { token: 'regexp', next: '@pop' }],
    ],
  },
};
