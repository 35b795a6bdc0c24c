/**
 * Schedulers that users pass but that are no clock, for the guards against them.
 */
import { type SchedulerAction, type SchedulerLike, Subscription } from 'rxjs';

/**
 * A user scheduler that runs every action at once, whatever its delay, from a queue it drains inside
 * the outermost `schedule()` (as `queueScheduler` does for a zero delay): a periodic timer on it loops.
 * Past `limit` actions it throws `'looped'` rather than hang the test (so a missing guard fails it).
 * `ran()` counts the actions run.
 */
export function atOnceScheduler(limit = 1_000): SchedulerLike & { ran: () => number } {
  const queue: Array<() => void> = [];
  let draining = false;
  let ran = 0;
  const scheduler = {
    now: () => Date.now(),
    ran: () => ran,
    schedule<T>(
      work: (this: SchedulerAction<T>, state?: T) => void,
      _delay?: number,
      state?: T,
    ): Subscription {
      const action = new Subscription() as Subscription & { schedule: (s?: T, d?: number) => Subscription };
      action.schedule = (next?: T, delay?: number) => scheduler.schedule(work, delay, next);
      queue.push(() => {
        if (action.closed) return;
        if (++ran > limit) throw new Error('looped');
        work.call(action as unknown as SchedulerAction<T>, state);
      });
      if (!draining) {
        draining = true;
        try {
          while (queue.length > 0) queue.shift()!();
        } finally {
          draining = false;
          queue.length = 0;
        }
      }
      return action;
    },
  };
  return scheduler;
}

/**
 * A user scheduler wrapping `inner` that calls the work plainly, `work(state)`, without its action as
 * `this` (as a plain object written by hand often does): a timer that re-arms with `this.schedule` fails
 * on it. `pending()` counts the actions scheduled and not yet run nor cancelled.
 */
export function thislessScheduler(inner: SchedulerLike): SchedulerLike & { pending: () => number } {
  let pending = 0;
  const scheduler = {
    now: () => inner.now(),
    pending: () => pending,
    schedule<T>(work: (state?: T) => void, delay?: number, state?: T): Subscription {
      pending++;
      let settled = false;
      const settle = () => {
        if (!settled) pending--;
        settled = true;
      };
      const action = inner.schedule(() => {
        settle();
        work(state);
      }, delay);
      return new Subscription(() => {
        settle();
        action.unsubscribe();
      });
    },
  };
  return scheduler as SchedulerLike & { pending: () => number };
}

/**
 * A user scheduler whose `now()` is `now` (a clock that is no number, or goes backwards), its actions run
 * on `inner`. Past `limit` actions scheduled it throws `'looped'` rather than hang the test (a due time
 * of `NaN` re-armed a timer for ever).
 */
export function skewedScheduler(now: () => unknown, inner: SchedulerLike, limit = 1_000): SchedulerLike {
  let scheduled = 0;
  return {
    now: now as () => number,
    schedule<T>(
      work: (this: SchedulerAction<T>, state?: T) => void,
      delay?: number,
      state?: T,
    ): Subscription {
      if (++scheduled > limit) throw new Error('looped');
      return inner.schedule(work, delay, state);
    },
  };
}
