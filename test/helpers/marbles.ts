/**
 * rxjs-marbles wired to vitest: rxjs-marbles has no vitest adapter, so its framework-agnostic
 * `configure()` is given vitest's `expect`. Every marble test imports `marbles` from here.
 */
import { configure } from 'rxjs-marbles';
import { expect } from 'vitest';

export const { marbles } = configure({
  assertDeepEqual: (actual: unknown, expected: unknown) => expect(actual).toStrictEqual(expected),
  frameworkMatcher: true,
});
