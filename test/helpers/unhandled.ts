import { config } from 'rxjs';

/**
 * Runs `body` and returns the reasons of the promise rejections left unhandled while it ran, or in the
 * 10 ms after it (Node tells them once the microtasks have run).
 */
export async function unhandledRejections(body: () => unknown): Promise<unknown[]> {
  const unhandled: unknown[] = [];
  const listener = (reason: unknown) => unhandled.push(reason);
  process.on('unhandledRejection', listener);
  try {
    await body();
    await new Promise((resolve) => setTimeout(resolve, 10));
  } finally {
    process.off('unhandledRejection', listener);
  }
  return unhandled;
}

/**
 * Runs `body` and returns the errors RxJS reported as unhandled (`config.onUnhandledError`) while it ran,
 * or in the 10 ms after: RxJS reports them on a later task (a `setTimeout`), so a check made right after
 * `body` would see none.
 */
export async function rxjsUnhandled(body: () => unknown): Promise<unknown[]> {
  const unhandled: unknown[] = [];
  const previous = config.onUnhandledError;
  config.onUnhandledError = (error) => unhandled.push(error);
  try {
    await body();
    await new Promise((resolve) => setTimeout(resolve, 10));
  } finally {
    config.onUnhandledError = previous;
  }
  return unhandled;
}
