import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import openapiTS, { astToString } from 'openapi-typescript';
import request from 'supertest';
import ts from 'typescript';
import { useLyricsApp } from './support/lyrics-client';

/** A client as its author would write it against the generated types: a typed request body, a typed task. */
const CLIENT = `
import type { components, paths } from './lyrics-api';

export type CreateLyricsBody = paths['/lyrics']['post']['requestBody']['content']['application/json'];
export type LyricsTask = components['schemas']['LyricsTaskDto'];

export function createLyricsBody(prompt: string, customerRef: string): CreateLyricsBody {
  return { prompt, metadata: { customerRef }, webhookUrl: 'https://client.example/hooks/lyrics' };
}

/** Exhaustive over the generated status union: it compiles only if the document lists the statuses, not a string. */
export function isFinal(task: LyricsTask): boolean {
  switch (task.status) {
    case 'queued':
    case 'submitted':
      return false;
    case 'succeeded':
    case 'failed':
    case 'cancelled':
      return true;
    default: {
      const unknownStatus: never = task.status;
      throw new Error('status ' + String(unknownStatus));
    }
  }
}
`;

/** The same client with a mistake each the types must catch: a prompt that is not a string, a status the API has not. */
const WRONG_CLIENT = `
import type { components, paths } from './lyrics-api';

export const body: paths['/lyrics']['post']['requestBody']['content']['application/json'] = { prompt: 42 };
export const isDone = (task: components['schemas']['LyricsTaskDto']) => task.status === 'done';
`;

/** The type errors of each file under `folder`, as the TypeScript compiler reports them (file: message). */
function typeErrors(folder: string, files: string[]): string[] {
  const program = ts.createProgram(
    files.map((file) => join(folder, file)),
    // skipLibCheck: the lib files are TypeScript's, not the generated types under test.
    { strict: true, noEmit: true, skipLibCheck: true, target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.CommonJS, types: [] },
  );
  return ts
    .getPreEmitDiagnostics(program)
    .map(
      (d) =>
        `${d.file ? d.file.fileName.slice(folder.length + 1) : ''}: TS${d.code} ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`,
    );
}

describe('A client compiled against types generated from the OpenAPI document', () => {
  const ctx = useLyricsApp();
  let folder: string;

  beforeAll(async () => {
    const { body: document } = await request(ctx.url).get('/docs-json').expect(200);
    folder = mkdtempSync(join(tmpdir(), 'lyrics-openapi-client-'));
    writeFileSync(join(folder, 'lyrics-api.ts'), astToString(await openapiTS(document)));
    writeFileSync(join(folder, 'client.ts'), CLIENT);
    writeFileSync(join(folder, 'wrong-client.ts'), WRONG_CLIENT);
  });

  afterAll(() => rmSync(folder, { recursive: true, force: true }));

  it('type-checks with no diagnostic', () => {
    expect(typeErrors(folder, ['lyrics-api.ts', 'client.ts'])).toEqual([]);
  });

  it('rejects a client that sends a wrong field type or reads a status the API does not have', () => {
    const errors = typeErrors(folder, ['wrong-client.ts']);
    expect(errors).toEqual([
      expect.stringMatching(/^wrong-client\.ts: TS2322 Type 'number' is not assignable to type 'string'/),
      expect.stringMatching(/^wrong-client\.ts: TS2367 .*'"done"'/),
    ]);
  });
});
