import { config } from 'rxjs';
import { afterEach, beforeEach } from 'vitest';

// Setup file of vitest.config.ts (every run: `npm test` and Stryker's, whose config extends it). RxJS
// reports an error it cannot deliver (a consumer's or a teardown's throw, an UnsubscriptionError) on a later
// task, a setTimeout: plain vitest sees it as an "Uncaught Exception" only while its test file is still
// running, and then not as the failure of the test that caused it; after a file's last test it was not seen
// at all. Stryker runs only the tests that cover a mutant, so such an error came after the file had ended,
// and even when it came in time its runner did not count it: a mutant whose only effect was such an error
// was reported as survived. Here each error RxJS reports during a test, or on the task after it, fails that
// test; so does a promise rejection left unhandled then.

// Taken before any test can install fake timers: the wait below must not depend on them.
const realSetTimeout = globalThis.setTimeout;
let reported: unknown[] = [];
const onRejection = (reason: unknown) => reported.push(reason);

beforeEach(() => {
  reported = [];
  // A test that sets its own handler (test/helpers/unhandled.ts) sees its errors, and puts this one back.
  config.onUnhandledError = (error) => reported.push(error);
  process.on('unhandledRejection', onRejection);
});

afterEach(async () => {
  // One task later: RxJS's report (a setTimeout of 0) queued during the test has run.
  await new Promise((resolve) => realSetTimeout(resolve, 1));
  config.onUnhandledError = null;
  process.off('unhandledRejection', onRejection);
  if (reported.length > 0) {
    const first = reported[0];
    const text = first instanceof Error ? `${first.name}: ${first.message}` : String(first);
    throw new Error(`${reported.length} error(s) reported as unhandled after this test, the first: ${text}`, {
      cause: first,
    });
  }
});
