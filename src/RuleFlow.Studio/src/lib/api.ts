// The server's HTTP API (docs/operations.md, /openapi/v1.json). The key lives in sessionStorage (gone when the tab
// closes) and travels in the X-Api-Key header only.

const KEY = 'ruleflow.apiKey';

export const apiKey = {
  get: (): string | null => sessionStorage.getItem(KEY),
  set: (key: string) => sessionStorage.setItem(KEY, key),
  clear: () => sessionStorage.removeItem(KEY),
};

export interface Diagnostic {
  severity: 'error' | 'warning' | string;
  code: string;
  message: string;
  line?: number;
  column?: number;
  endLine?: number;
  endColumn?: number;
  path?: string;
  stepId?: string;
  file?: string;
  hint?: string;
}

export class ApiError extends Error {
  constructor(public status: number, public code: string | undefined, message: string, public body: Record<string, unknown> | undefined) {
    super(message);
  }
  get diagnostics(): Diagnostic[] {
    return Array.isArray(this.body?.diagnostics) ? (this.body!.diagnostics as Diagnostic[]) : [];
  }
}

export function authHeaders(): Record<string, string> {
  const key = apiKey.get();
  return key ? { 'X-Api-Key': key } : {};
}

let onUnauthorized: (() => void) | undefined;
export function setUnauthorizedHandler(handler: () => void) { onUnauthorized = handler; }

export async function request<T>(method: string, path: string, body?: unknown, options: { key?: string; quiet401?: boolean } = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json', ...authHeaders() };
  if (options.key !== undefined) headers['X-Api-Key'] = options.key;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  let json: unknown;
  try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
  if (!response.ok) {
    const problem = (json && typeof json === 'object' ? json : undefined) as Record<string, unknown> | undefined;
    if (response.status === 401 && !options.quiet401) onUnauthorized?.();
    const message = (problem?.detail as string) ?? (problem?.title as string) ?? (text || response.statusText || `HTTP ${response.status}`);
    const code = problem?.code as string | undefined;
    throw new ApiError(response.status, code, response.status === 403 && !problem?.detail
      ? 'refused: your roles do not allow this (403)' : `${code ? code + ': ' : ''}${message}`, problem);
  }
  return json as T;
}

export const api = {
  get: <T>(path: string) => request<T>('GET', path),
  post: <T>(path: string, body?: unknown) => request<T>('POST', path, body ?? {}),
  put: <T>(path: string, body?: unknown) => request<T>('PUT', path, body),
};

// Shapes (the parts the Studio reads)
export interface Me { user: string; roles: string[]; authMode: 'development' | 'configured' }
export interface WorkflowSummary { id: string; version: number; contentHash?: string; description?: string; source?: string; steps?: number }
export interface WorkflowDefinitionResponse { id: string; version: number; file: string; yaml: string; definition?: unknown }
export interface InstanceSummary { id: string; workflow: string; version: number; state: string; correlationKey?: string; createdAt: string; updatedAt: string }
export interface JournalEntry { sequence: number; at: string; stepId?: string; kind: string; attempt: number; data?: Record<string, unknown> | null }
export interface Approval {
  id: string; instanceId: string; workflow: string; stepId: string; state: string; assignees: string[]; message: string;
  createdAt: string; dueAt?: string; decidedBy?: string; decidedAt?: string; comment?: string; required?: number;
  decisions?: { by: string; at: string; outcome: string; comment?: string; via: string }[];
}
export interface Incident { id: string; instanceId: string; stepId?: string; kind: string; message: string; createdAt: string; resolvedAt?: string }
export interface InstanceDetails extends InstanceSummary {
  input: unknown; currentStep?: string; waitingFor?: string; variables?: unknown; error?: unknown; lineage?: Record<string, unknown> | null;
  journal: JournalEntry[]; approvals: Approval[]; output?: unknown; parentInstanceId?: string; incidents?: Incident[];
  messages?: { id: string; stepId?: string; exchange: string; routingKey: string; createdAt: string; sentAt?: string; attempts: number }[];
}

/** What the roles allow (the server decides; this only hides what would be refused). */
export const can = {
  author: (me: Me | null) => !!me && me.roles.some(r => r === 'author' || r === 'admin'),
  operate: (me: Me | null) => !!me && me.roles.some(r => r === 'operator' || r === 'admin'),
};
