import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.spec.ts', 'test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // LevelDB tests fork child processes and open real databases; two workers match the two cores here.
    pool: 'forks',
    maxWorkers: 2,
  },
});
