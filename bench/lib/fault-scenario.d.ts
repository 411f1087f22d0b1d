// Types of fault-scenario.js, for test/faults.e2e-spec.ts.

export interface FaultInstance {
  url: string;
  logs(): string;
  /** SIGKILL; resolves once the process has exited. */
  kill(): Promise<unknown>;
  stop(): Promise<unknown>;
  running(): boolean;
}

export interface FaultParts {
  sandbox: { url: string; requests(): Promise<any[]>; callbacks(): Promise<any[]>; tasks(): Promise<any[]> };
  database: { url: string; query(sql: string, params?: unknown[]): Promise<any[]>; stop(): Promise<void>; start(): Promise<void> };
  startService(options: { name: string; port: number }): Promise<FaultInstance>;
  freePort(): Promise<number>;
  clientKey: string;
  tasks: number;
  /** How long every task may take to be final after the database restart; default 60000. */
  timeoutMs?: number;
  log?: (line: string) => void;
}

export interface FaultObservations {
  runId: string;
  tasks: number;
  submitted: { id: string; prompt: string; via: string }[];
  timeline: Record<string, any>;
  rows: any[];
  variants: any[];
  receipts: any[];
  requests: any[];
  callbacks: any[];
  sandboxTasks: any[];
  events: { instance: string; taskId: string; name: string; at: number }[];
  alive: { name: string; running: boolean }[];
  logTails: Record<string, string>;
}

export interface FaultCheck {
  id: 'final' | 'creates' | 'truth' | 'events-once' | 'events-present' | 'forged' | 'genuine' | 'no-5xx' | 'alive';
  name: string;
  ok: boolean;
  failures: string[];
  failureCount: number;
  detail: string;
}

export function runFaultScenario(parts: FaultParts): Promise<FaultObservations>;
export function checkFaultRun(observations: FaultObservations): FaultCheck[];
export function figuresOf(observations: FaultObservations): Record<string, any>;
export function eventsIn(logs: string, instance: string): FaultObservations['events'];
export function callbacksSettled(callbacks: any[], tasks: any[]): boolean;
