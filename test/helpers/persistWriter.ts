/**
 * Fixtures of persist's marble tests: one event per letter (lower case NORMAL, upper case CRITICAL) and
 * a writer that records the batches it is given, by letter.
 */
import { catchError, type Observable, of } from 'rxjs';
import { createEvent, type Event, type EventWriter, Priority, StoreError } from '../../src/index.js';

/** `a`–`h`: NORMAL events of session `s`; `A`–`D`: CRITICAL `workflow.failed` events. */
export const E: Record<string, Event> = Object.fromEntries(
  [...'abcdefgh'].map((l, i) => [
    l,
    createEvent({ id: `id-${l}`, type: `t.${l}`, timestamp: i, sessionId: 's' }),
  ]),
);
for (const [i, l] of [...'ABCD'].entries()) {
  E[l] = createEvent({
    id: `id-${l}`,
    type: 'workflow.failed',
    timestamp: 10 + i,
    sessionId: 's',
    priority: Priority.CRITICAL,
  });
}

/** The letter of one of `E`'s events. */
export const letter = (event: Event) => event.id.slice(3);

/**
 * A writer whose n-th write takes the n-th marble (the last one for every later write). It records the
 * batches by letter, with a `!` for an urgent write.
 */
export function writer(durations: Array<() => Observable<unknown>>) {
  const batches: string[] = [];
  const target: EventWriter = {
    append(events, options) {
      batches.push(events.map(letter).join('') + (options?.urgent ? '!' : ''));
      return durations[Math.min(batches.length, durations.length) - 1]!();
    },
  };
  return { target, batches };
}

/** `CODE:letters of its events` for a `StoreError`, else its text. */
const errorText = (error: unknown) =>
  error instanceof StoreError
    ? `${error.code}:${error.events.map((e) => (e.id.startsWith('id-') ? letter(e) : '?')).join('')}`
    : String(error);

/** Maps an error to `CODE:letters of its events`, so the marble can show it as a value. */
export const errorAsValue = catchError((error: unknown) => of(errorText(error)));

/** `errorAsValue`, also keeping the error in `seen.error`, for the test to read its cause after the flush. */
export const keepError = (seen: { error?: StoreError }) =>
  catchError((error: unknown) => {
    seen.error = error as StoreError;
    return of(errorText(error));
  });
