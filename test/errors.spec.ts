import { describe, expect, it } from 'vitest';
import { HookError, InvalidEventError, VibespecError } from '../src/index.js';

describe('HookError', () => {
  it('keeps the details given, each as its own field, and has no field for one left out', () => {
    const cause = new Error('spawn failed');
    const issues = [{ code: 'custom', path: ['decision'], message: 'bad' }];
    const full = new HookError('HOOK_FAILED', 'lint failed', {
      hook: 'lint',
      exitCode: 1,
      signal: 'SIGTERM',
      stderr: 'oops',
      issues,
      cause,
    });
    expect(full).toBeInstanceOf(VibespecError);
    expect(full.name).toBe('HookError');
    expect(String(full)).toBe('HookError: lint failed');
    expect({ ...full }).toEqual({
      name: 'HookError',
      code: 'HOOK_FAILED',
      hook: 'lint',
      exitCode: 1,
      signal: 'SIGTERM',
      stderr: 'oops',
      issues,
    });
    expect(full.cause).toBe(cause);
    // Only the hook: the other details undefined (class fields, own fields all the same), and no cause.
    const bare = new HookError('HOOK_TIMEOUT', 'slow', { hook: 'slow' });
    expect([bare.exitCode, bare.signal, bare.stderr, bare.issues]).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
    expect(Object.hasOwn(bare, 'cause')).toBe(false);
    // A detail given as undefined is one left out.
    const undefinedCause = new HookError('HOOK_TIMEOUT', 'slow', { hook: 'slow', cause: undefined });
    expect(Object.hasOwn(undefinedCause, 'cause')).toBe(false);
  });
});

describe('InvalidEventError', () => {
  it("names each issue by its path, its keys joined by '.', and the issues apart by '; '", () => {
    const error = new InvalidEventError([
      { code: 'custom', path: ['data', 'files', 0], message: 'not a path' },
      { code: 'custom', path: [], message: 'no event' },
    ]);
    expect(error.message).toBe('Invalid event: data.files.0: not a path; (root): no event');
    expect(String(error)).toBe(`InvalidEventError: ${error.message}`);
  });
});
