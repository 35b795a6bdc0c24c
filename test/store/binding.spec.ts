/**
 * LevelDB is loaded by the first store opened, not with the package (test/package.spec.ts checks that the
 * entry loads no native binding). A binding that cannot be loaded, as on a platform it has no build for,
 * then fails openStore as any other failure to open does: STORE_NOT_OPEN, its error the cause.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

const loadFailure = new Error('No native build was found for platform=plan9 arch=mips');
vi.mock('level', () => {
  throw loadFailure;
});

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vibespec-binding-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('a LevelDB binding that cannot be loaded', () => {
  it('leaves the package importable, the operators working, and fails openStore with STORE_NOT_OPEN', async () => {
    const { createEvent, openStore, StoreError, temporalAggregate } = await import('../../src/index.js');
    const { lastValueFrom, of, toArray } = await import('rxjs');
    const event = createEvent({ type: 'tool.used', sessionId: 's', timestamp: 1 });
    const out = await lastValueFrom(of(event).pipe(temporalAggregate(), toArray()));
    expect(out.map((e) => e.type)).toEqual(['tool.used.aggregated']);

    const path = join(dir, 'db');
    const error = await openStore({ path }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreError);
    expect((error as InstanceType<typeof StoreError>).code).toBe('STORE_NOT_OPEN');
    expect((error as Error).message).toContain(path);
    let cause: unknown = (error as Error).cause;
    while (cause instanceof Error && cause !== loadFailure) cause = cause.cause;
    expect(cause).toBe(loadFailure);
    // Nothing was taken: the next attempt fails the same way, not as STORE_LOCKED.
    expect(await openStore({ path }).catch((e: { code?: string }) => e.code)).toBe('STORE_NOT_OPEN');
  });
});
