import { defineConfig } from 'vitest/config';
import base from './vitest.config.js';

// `npm run mutate` (Stryker) runs the tests through this config. MUTATION_TESTS, a comma-separated list of
// test files, narrows them to the ones that exercise the files being mutated: the whole suite under
// Stryker's instrumentation takes many minutes per run. One worker: Stryker runs its own in parallel.
const tests = (process.env.MUTATION_TESTS ?? '')
  .split(',')
  .map((file) => file.trim())
  .filter((file) => file !== '');

export default defineConfig({
  ...base,
  test: {
    ...base.test,
    ...(tests.length > 0 ? { include: tests } : {}),
    maxWorkers: 1,
  },
});
