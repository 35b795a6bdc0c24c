/**
 * Polls `predicate` every 10 ms until it holds. The 120 s deadline only turns a hang into a failure (the
 * test's own assertion then fails): it is no threshold.
 */
export async function until(predicate: () => boolean): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (!predicate() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
}
