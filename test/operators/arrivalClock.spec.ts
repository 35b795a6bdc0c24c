import { asapScheduler, asyncScheduler, queueScheduler, type SchedulerLike, Subject } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type Event, sessionWindows, temporalAggregate } from '../../src/index.js';
import { ev, label } from '../helpers/windows.js';

/** Two windows of one session, far apart on a (fake) real clock: the idle rule must close each. */
async function sessionRuns(scheduler: SchedulerLike): Promise<string[]> {
  const source = new Subject<Event>();
  const out: string[] = [];
  source
    .pipe(sessionWindows({ gapMs: 3, allowedLatenessMs: 0, idleFlushMs: 10, scheduler }))
    .subscribe((e) => out.push(label(e)));
  source.next(ev('x', 1, 's1'));
  await vi.advanceTimersByTimeAsync(100);
  source.next(ev('x', 1000, 's1'));
  await vi.advanceTimersByTimeAsync(100);
  return out;
}

async function aggregateRuns(scheduler: SchedulerLike): Promise<string[]> {
  const source = new Subject<Event>();
  const out: string[] = [];
  source
    .pipe(
      temporalAggregate({ windows: { 'tool.used': 5 }, allowedLatenessMs: 0, idleFlushMs: 10, scheduler }),
    )
    .subscribe((e) => out.push(label(e)));
  source.next(ev('tool.used', 1, 's1', { tool: 'a' }));
  await vi.advanceTimersByTimeAsync(100);
  source.next(ev('tool.used', 1000, 's1', { tool: 'a' }));
  await vi.advanceTimersByTimeAsync(100);
  return out;
}

const SESSION = ['session.window s1 [1,1] n=1', 'session.window s1 [1000,1000] n=1'];
const AGGREGATE = ['tool.used.aggregated s1 [1,6) n=1', 'tool.used.aggregated s1 [1000,1005) n=1'];

describe('arrival times read once per run (ArrivalClock), on the real schedulers', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  for (const [name, scheduler] of [
    ['asyncScheduler', asyncScheduler],
    ['asapScheduler', asapScheduler],
  ] as const) {
    it(`${name}: the idle rule closes every window of a live stream`, async () => {
      expect(await sessionRuns(scheduler)).toEqual(SESSION);
      expect(await aggregateRuns(scheduler)).toEqual(AGGREGATE);
    });
  }

  // queueScheduler runs a zero-delay action at once when none of its actions is running (the usual case
  // for a live source): the clock must not keep such a spent action, or no later run would be settled.
  it('queueScheduler: sessionWindows closes every window of a live stream by the idle rule', async () => {
    expect(await sessionRuns(queueScheduler)).toEqual(SESSION);
  });

  it('queueScheduler: temporalAggregate closes every window of a live stream by the idle rule', async () => {
    expect(await aggregateRuns(queueScheduler)).toEqual(AGGREGATE);
  });
});
