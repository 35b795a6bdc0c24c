import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.spec.ts', 'test/**/*.test.ts'],
    // Deadlines that turn a hang into a failure, no more: tests that start CLI processes (each loads tsx)
    // took 30–60 s each on the shared 2-core machine at a load of ~30, and timed out at 60 s.
    testTimeout: 180_000,
    hookTimeout: 180_000,
    // LevelDB tests fork child processes and open real databases; two workers match the two cores here.
    pool: 'forks',
    maxWorkers: 2,
    // Fails a test after which RxJS reported an unhandled error (a throw at teardown): see the file.
    setupFiles: ['test/helpers/unhandledSetup.ts'],
  },
});
