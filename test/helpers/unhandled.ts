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
