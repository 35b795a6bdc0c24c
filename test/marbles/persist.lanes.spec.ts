import { of, Subject } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { type Event, persist } from '../../src/index.js';
import { marbles } from '../helpers/marbles.js';
import { E, errorAsValue, letter, writer } from '../helpers/persistWriter.js';

// Both lanes in flight when the source ends or the subscriber leaves (review of the priority lane).
// Lower-case letters are NORMAL events, upper-case ones CRITICAL (test/helpers/persistWriter.ts).

describe('persist: both lanes in flight', () => {
  it(
    'forwards a source error only after both writes in flight are emitted',
    marbles((m) => {
      const { target, batches } = writer([() => m.cold('----|')]);
      const source = m.cold('  -aD#', E, new Error('boom'));
      const expected = '       -----a(D#)';
      m.expect(source.pipe(persist(target, { scheduler: m.scheduler }))).toBeObservable(
        expected,
        E,
        new Error('boom'),
      );
      m.flush();
      expect(batches).toEqual(['a', 'D!']);
    }),
  );

  it(
    'on complete, writes the events still waiting once the NORMAL write in flight is done, then completes',
    marbles((m) => {
      const { target, batches } = writer([() => m.cold('----|')]);
      const source = m.cold('  -aDb|', E);
      const expected = '       -----aD--(b|)';
      m.expect(source.pipe(persist(target, { scheduler: m.scheduler }))).toBeObservable(expected, E);
      m.flush();
      expect(batches).toEqual(['a', 'D!', 'b']);
    }),
  );

  it(
    'does not write again the events in flight when the subscriber leaves (nothing waiting)',
    marbles((m) => {
      const { target, batches } = writer([() => m.cold('----|')]);
      const source = m.cold('  -aD', E);
      m.expect(source.pipe(persist(target, { scheduler: m.scheduler })), '----!').toBeObservable('----');
      m.flush();
      expect(batches).toEqual(['a', 'D!']);
    }),
  );

  it(
    'with maxBatch 1, writes a burst of CRITICAL events one at a time, in order',
    marbles((m) => {
      const { target, batches } = writer([() => m.cold('--|')]);
      const source = m.cold('  -(ABC)|', E);
      const expected = '       ---A-B-(C|)';
      m.expect(source.pipe(persist(target, { maxBatch: 1, scheduler: m.scheduler }))).toBeObservable(
        expected,
        E,
      );
      m.flush();
      expect(batches).toEqual(['A!', 'B!', 'C!']);
    }),
  );

  it(
    'reports the failed NORMAL batch, the waiting events and the failed CRITICAL one, in order received',
    marbles((m) => {
      // a's write fails at 3 (the source stops there: c never arrives), D's at 5.
      const { target } = writer([() => m.cold('--#'), () => m.cold('---#')]);
      const source = m.cold('  -aDb-c', E);
      const subs = '           ^--!';
      const expected = '       -----(x|)';
      m.expect(source.pipe(persist(target, { scheduler: m.scheduler }), errorAsValue)).toBeObservable(
        expected,
        { x: 'STORE_WRITE_FAILED:aDb' },
      );
      m.expect(source).toHaveSubscriptions(subs);
    }),
  );
});

describe('persist: the subscriber leaves after a write failed, while the other lane is in flight', () => {
  // The failed batch (a) is nobody's to report any more: the teardown writes it again, before b.
  it(
    'writes the failed batch again with the waiting events, in the order received',
    marbles((m) => {
      const { target, batches } = writer([() => m.cold('---#'), () => m.cold('-----|'), () => m.cold('|')]);
      // a's write fails at 4; D's is in flight until 7; b waits; the subscriber leaves at 5.
      const source = m.cold('  -aDb', E);
      m.expect(source.pipe(persist(target, { scheduler: m.scheduler })), '-----!').toBeObservable('-----');
      m.flush();
      expect(batches).toEqual(['a', 'D!', 'ab']);
    }),
  );

  it(
    'writes the failed batch again also when no event waits',
    marbles((m) => {
      const { target, batches } = writer([() => m.cold('---#'), () => m.cold('-----|'), () => m.cold('|')]);
      // a's write fails at 4; D's is in flight until 7; the subscriber leaves at 5.
      const source = m.cold('  -aD', E);
      m.expect(source.pipe(persist(target, { scheduler: m.scheduler })), '-----!').toBeObservable('-----');
      m.flush();
      expect(batches).toEqual(['a', 'D!', 'a']);
    }),
  );
});

describe('persist: re-entrancy with a synchronous writer', () => {
  it('writes and emits a CRITICAL event pushed by the subscriber while a batch is being emitted', () => {
    const { target, batches } = writer([() => of(true)]);
    const source = new Subject<Event>();
    const seen: string[] = [];
    // maxBatch 1: each NORMAL event is written (synchronously) as it arrives.
    source.pipe(persist(target, { maxBatch: 1 })).subscribe((event) => {
      seen.push(letter(event));
      if (letter(event) === 'a') source.next(E.D!);
    });
    source.next(E.a!);
    source.next(E.b!);
    source.complete();
    expect(seen).toEqual(['a', 'D', 'b']);
    expect(batches).toEqual(['a', 'D!', 'b']);
  });
});
