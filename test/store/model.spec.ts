/**
 * A model-based property test of `SessionStore` on a real LevelDB in a temp folder: random lists of
 * operations — bursts of appends (several sessions, urgent or not, several called without awaiting each
 * other), `startSession` and `deleteSession` in those bursts, close + reopen, tails — and after each the
 * reads docs/store.md offers (`query`/`entries` with time ranges, types, `fromSeq`, `limit`, `reverse`;
 * `get`; `replay`; `sessions`, `session`, `sessionContext`; `reconstruct`) are compared with a plain
 * in-memory model of what the docs promise.
 *
 * Only documented behaviour is asserted. Left out as undocumented: the order of `sessions()` (compared
 * sorted by id), `createdAt` (wall clock), and how an urgent append and a non-urgent one are ordered when
 * a write may be in flight (each kind keeping its own call order is asserted there). A tail that the
 * store's close or its session's deletion catches still reading, or with its buffer dropped, owes a
 * prefix only (docs: tail). No wall-clock assertion: waits on a tail have no timeout of their own (the
 * test's bounds them). `MODEL_RUNS=3000 npx vitest run test/store/model.spec.ts` hunts longer (each run
 * then fails after 15 s, a hang).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { firstValueFrom, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import {
  createEvent,
  type Event,
  fileState,
  openStore,
  Priority,
  type QueryOptions,
  reconstruct,
  replay,
  type SessionInfo,
  type SessionStore,
  type StoredEvent,
  type StoredPosition,
  StoreError,
  sessionState,
  tail,
} from '../../src/index.js';
import { collect, expectedQuery } from '../helpers/store.js';

// --- generated operations ------------------------------------------------------------------------

/** Session ids: `undefined` goes to DEFAULT_SESSION; one id needs escaping, one is a prefix of another. */
const SESSIONS = ['s1', 's1x', 'a\x00b', undefined, 'default', 'constructor'] as const;
const SESSION_IDS = ['s1', 's1x', 'a\x00b', 'default', 'constructor'] as const;
type SessionId = (typeof SESSION_IDS)[number];
const idOf = (s: (typeof SESSIONS)[number]): SessionId => s ?? 'default';

// Types that are property names of Object.prototype, and one with a lone surrogate (escaped in keys).
const TYPES = [
  'a',
  '__proto__',
  'constructor',
  'x\uD800',
  'file.modified',
  'agent.started',
  'workflow.started',
  'test.run',
  'session.started',
];

interface EventSpec {
  session: (typeof SESSIONS)[number];
  type: string;
  timestamp: number;
  /** Ids come from a small pool: the store does not deduplicate by id. */
  id: number;
  priority: Priority;
  v: number;
}

type Call =
  | { kind: 'append'; events: EventSpec[]; urgent: boolean }
  | { kind: 'delete'; session: SessionId }
  | { kind: 'start'; session: SessionId; meta: Record<string, number> };

type Op =
  /** `gaps[i]`: let the store work (a macrotask) before call i, so a write may be in flight. */
  /** `thenClose`: close() right after the last call, not awaiting the calls (then reopen). */
  | { kind: 'burst'; calls: Call[]; gaps: boolean[]; readDuring: boolean; thenClose: boolean }
  | { kind: 'reopen'; maxCachedSessions: number | undefined; durability: 'process' | 'os' }
  | { kind: 'read'; session: SessionId; query: QueryOptions; seq: number }
  /** `wait`: until it caught up, before the next operation; else the next ones run while it reads. */
  | { kind: 'tail'; session: SessionId; fromSeq: number; maxBuffer: number | undefined; wait: boolean };

// Few distinct times, so that equal timestamps (ordered by seq) are common; a fraction, -0 and a far future.
const timestamp = fc.oneof(
  fc.integer({ min: 0, max: 20 }),
  fc.constantFrom(-0, 7.25, 1_795_165_200_000.5, Number.MIN_VALUE, Number.MAX_VALUE),
);

const eventSpec: fc.Arbitrary<EventSpec> = fc.record({
  session: fc.constantFrom(...SESSIONS),
  type: fc.constantFrom(...TYPES),
  timestamp,
  id: fc.integer({ min: 0, max: 5 }),
  priority: fc.constantFrom(Priority.NORMAL, Priority.CRITICAL, Priority.LOW),
  v: fc.integer({ min: 0, max: 3 }),
});

const call: fc.Arbitrary<Call> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('append' as const),
      events: fc.array(eventSpec, { minLength: 1, maxLength: 6 }),
      urgent: fc.boolean(),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('delete' as const), session: fc.constantFrom(...SESSION_IDS) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('start' as const),
      session: fc.constantFrom(...SESSION_IDS),
      meta: fc.dictionary(fc.constantFrom('x', 'y', 'z'), fc.integer({ min: 0, max: 9 }), { maxKeys: 2 }),
    }),
  },
);

const query: fc.Arbitrary<QueryOptions> = fc.record(
  {
    // Duplicates too: a type listed twice matches as once.
    types: fc.array(fc.constantFrom(...TYPES, 'zz'), { maxLength: 4 }),
    start: fc.oneof(timestamp, fc.constant(-3)),
    end: fc.oneof(timestamp, fc.constant(Infinity), fc.constant(-3)),
    fromSeq: fc.integer({ min: 0, max: 12 }),
    limit: fc.oneof(fc.integer({ min: 0, max: 12 }), fc.constant(Infinity)),
    reverse: fc.boolean(),
  },
  { requiredKeys: [] },
);

const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      kind: fc.constant('burst' as const),
      calls: fc.array(call, { minLength: 1, maxLength: 4 }),
      gaps: fc.array(fc.boolean(), { maxLength: 4 }),
      readDuring: fc.boolean(),
      thenClose: fc.boolean(),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('reopen' as const),
      maxCachedSessions: fc.constantFrom(1, 2, undefined),
      durability: fc.constantFrom('process' as const, 'os' as const),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('read' as const),
      session: fc.constantFrom(...SESSION_IDS),
      query,
      seq: fc.integer({ min: 0, max: 12 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('tail' as const),
      session: fc.constantFrom(...SESSION_IDS),
      fromSeq: fc.integer({ min: 0, max: 6 }),
      maxBuffer: fc.constantFrom(1, 2, undefined),
      wait: fc.boolean(),
    }),
  },
);

// --- the model -----------------------------------------------------------------------------------

interface ModelSession {
  /** The stored events, at their seq (seq = index: seqs start at 0 and never skip). */
  events: Event[];
  meta: Record<string, unknown>;
}

interface TailRecord {
  session: SessionId;
  fromSeq: number;
  /** The session's events as of the tail's start, then every one appended until it completes. */
  expected: () => Event[];
  received: StoredEvent[];
  /** Ended by a deletion or a close: it must complete, owed what `expected` says now. */
  freeze(): void;
  frozen: boolean;
  /**
   * It had emitted every event of its session, none appended since, when it was frozen. Else a prefix is
   * all it owes: one still reading the stored events when the store closes, or that dropped its buffer
   * (more than `maxBuffer` live events) when the store closes or the session is deleted, completes with
   * what it emitted (docs: tail; resume from its last seq + 1).
   */
  caughtUp: boolean;
  done: boolean;
  checked: boolean;
  error: unknown;
  waiters: Array<() => void>;
  unsubscribe: () => void;
}

let eventCounter = 0;

function toEvent(spec: EventSpec): Event {
  const data: Record<string, unknown> = { v: spec.v, n: eventCounter++ };
  if (spec.type === 'file.modified') data.file_path = `f${spec.v}`;
  if (spec.type === 'agent.started') data.agent = `agent${spec.v}`;
  if (spec.type === 'workflow.started') data.workflow = `w${spec.v}`;
  if (spec.type === 'test.run') data.passed = spec.v % 2 === 0;
  return createEvent({
    type: spec.type,
    timestamp: spec.timestamp,
    id: `id-${spec.id}`,
    priority: spec.priority,
    data,
    ...(spec.session === undefined ? {} : { sessionId: spec.session }),
  });
}

/** A session's events as stored: each with its seq, in append order. */
function storedOf(events: readonly Event[]): StoredEvent[] {
  return events.map((event, seq) => ({ seq, event }));
}

function expectedInfo(id: string, s: ModelSession): Omit<SessionInfo, 'createdAt'> {
  const typeCounts = Object.create(null) as Record<string, number>;
  for (const event of s.events) typeCounts[event.type] = (typeCounts[event.type] ?? 0) + 1;
  const times = s.events.map((event) => event.timestamp);
  return {
    sessionId: id,
    startTime: times.length === 0 ? undefined : Math.min(...times),
    lastEventTime: times.length === 0 ? undefined : Math.max(...times),
    eventCount: s.events.length,
    nextSeq: s.events.length,
    typeCounts,
    meta: s.meta,
  };
}

function withoutCreatedAt(info: SessionInfo | undefined): Omit<SessionInfo, 'createdAt'> | undefined {
  if (info === undefined) return undefined;
  expect(typeof info.createdAt).toBe('number');
  const { createdAt: _, ...rest } = info;
  return { ...rest, typeCounts: { ...rest.typeCounts } };
}

function fold<S>(
  reducer: { initial: S; reduce: (state: S, event: Event) => S },
  events: readonly Event[],
): S {
  return events.reduce(reducer.reduce, reducer.initial);
}

// --- the run -------------------------------------------------------------------------------------

class Run {
  readonly model = new Map<SessionId, ModelSession>();
  readonly tails: TailRecord[] = [];
  store!: SessionStore;

  constructor(readonly path: string) {}

  async burst(
    calls: readonly Call[],
    gaps: readonly boolean[] = [],
    readDuring = false,
    thenClose = false,
  ): Promise<void> {
    // None awaited before the next is made: the store's queue orders them. Without gaps, all are made in
    // one tick, on an idle store (the previous burst was awaited).
    const promises: Array<Promise<unknown>> = [];
    const writtenBefore = this.store.stats().eventsWritten;
    for (const [i, c] of calls.entries()) {
      if (i > 0 && gaps[i] === true) await new Promise((resolve) => setImmediate(resolve));
      if (c.kind === 'append') {
        const events = c.events.map(toEvent);
        promises.push(
          this.store.append(events, { urgent: c.urgent }).then((positions) => ({ events, positions })),
        );
      } else if (c.kind === 'delete') promises.push(this.store.deleteSession(c.session));
      else promises.push(this.store.startSession(c.session, c.meta));
    }
    // Reads made while the burst is written: each reads a consistent snapshot (docs: query, session).
    // A read that close() catches still reading fails with STORE_NOT_OPEN (docs: close), never another.
    const during = readDuring
      ? SESSION_IDS.map((id) =>
          Promise.all([collect(this.store.entries(id)), this.store.session(id)]).catch((error: unknown) => {
            expect(thenClose).toBe(true);
            expect(error).toBeInstanceOf(StoreError);
            expect((error as StoreError).code).toBe('STORE_NOT_OPEN');
            return undefined;
          }),
        )
      : [];
    // close() waits for the queued writes (docs: close): every call made before it still succeeds.
    const closing = thenClose ? this.store.close() : undefined;
    const results = await Promise.all(promises);
    /** The events each session had when a delete of the burst removed them. */
    const deleted = new Map<SessionId, Event[][]>();
    // stats(): every event appended is counted once as written (docs: stats).
    const appended = calls.reduce((sum, c) => sum + (c.kind === 'append' ? c.events.length : 0), 0);
    expect(this.store.stats().eventsWritten - writtenBefore).toBe(appended);
    // Queued together on an idle store: between two starts or deletes, the urgent appends overtake the
    // others (docs: an urgent append waits for the write in progress, not for the queue, and never
    // overtakes a start or delete queued before it).
    const segmentOf = calls.map((_, i) => calls.slice(0, i + 1).filter((c) => c.kind !== 'append').length);
    if (!gaps.slice(1).includes(true)) {
      for (let u = 0; u < calls.length; u++) {
        const urgentCall = calls[u]!;
        if (urgentCall.kind !== 'append' || !urgentCall.urgent) continue;
        for (let k = 0; k < calls.length; k++) {
          const other = calls[k]!;
          if (other.kind !== 'append' || other.urgent || segmentOf[k] !== segmentOf[u]) continue;
          const { positions: up } = results[u] as { positions: StoredPosition[] };
          const { positions: op } = results[k] as { positions: StoredPosition[] };
          for (const a of up) {
            for (const b of op) {
              if (a.sessionId === b.sessionId) {
                expect(a.seq, `urgent call ${u} before call ${k} queued with it`).toBeLessThan(b.seq);
              }
            }
          }
        }
      }
    }

    // Segments between starts and deletes: an append never overtakes one queued before it, and none
    // queued after it goes before it. Within a segment, appends of each kind keep their call order.
    let segment: Array<{ urgent: boolean; events: Event[]; positions: StoredPosition[] }> = [];
    const closeSegment = () => {
      this.applySegment(segment);
      segment = [];
    };
    calls.forEach((c, i) => {
      const result = results[i]!;
      if (c.kind === 'append') {
        const { events, positions } = result as { events: Event[]; positions: StoredPosition[] };
        segment.push({ urgent: c.urgent, events, positions });
        return;
      }
      closeSegment();
      if (c.kind === 'delete') {
        expect(result, `deleteSession(${c.session}) says whether it existed`).toBe(this.model.has(c.session));
        // Its tails complete (docs: tail), each owed the events stored until the deletion.
        for (const t of this.tails) if (t.session === c.session && !t.frozen) t.freeze();
        deleted.set(c.session, [...(deleted.get(c.session) ?? []), this.model.get(c.session)?.events ?? []]);
        this.model.delete(c.session);
      } else {
        const s = this.sessionOf(c.session);
        s.meta = { ...s.meta, ...c.meta };
        // The session as of the call's place among the writes (docs: startSession).
        expect(withoutCreatedAt(result as SessionInfo)).toEqual(expectedInfo(c.session, s));
      }
    });
    closeSegment();
    if (closing !== undefined) {
      // Its tails complete, each with everything stored (a prefix for one still reading).
      for (const t of this.tails) if (!t.frozen) t.freeze();
      await closing;
      await this.checkTails();
      this.store = await openStore({ path: this.path });
    }
    // Seqs follow the writes, so a snapshot holds a prefix of each session's events, and metadata that
    // counts exactly such a prefix.
    // A session deleted in the burst reads as it was before (a prefix), or as absent, or as its next
    // incarnation (a prefix): never partly deleted (docs: deleteSession).
    const seen = await Promise.all(during);
    seen.forEach((read, k) => {
      if (read === undefined) return;
      const [entries, info] = read;
      const id = SESSION_IDS[k]!;
      const lives = [...(deleted.get(id) ?? []), this.model.get(id)?.events ?? []];
      const isPrefix = (events: Event[]) =>
        entries.length <= events.length &&
        entries.every((entry, seq) => entry.seq === seq && isDeepStrictEqual(entry.event, events[seq]));
      expect(lives.some(isPrefix), `entries of ${id} read during the burst: ${JSON.stringify(entries)}`).toBe(
        true,
      );
      if (info !== undefined) {
        const matches = lives.some((events) => {
          if (info.eventCount > events.length) return false;
          const prefix = { events: events.slice(0, info.eventCount), meta: info.meta };
          return isDeepStrictEqual(
            { ...withoutCreatedAt(info), typeCounts: { ...info.typeCounts } },
            { ...expectedInfo(id, prefix), typeCounts: { ...expectedInfo(id, prefix).typeCounts } },
          );
        });
        expect(matches, `session(${id}) read during the burst: ${JSON.stringify(info)}`).toBe(true);
      }
    });
  }

  sessionOf(id: SessionId): ModelSession {
    let s = this.model.get(id);
    if (s === undefined) {
      s = { events: [], meta: {} };
      this.model.set(id, s);
    }
    return s;
  }

  /**
   * Checks the positions a segment's appends got against the docs, then stores their events in the
   * model at those positions.
   */
  applySegment(segment: Array<{ urgent: boolean; events: Event[]; positions: StoredPosition[] }>): void {
    if (segment.length === 0) return;
    const before = new Map<SessionId, number>();
    for (const { events } of segment) {
      for (const event of events) {
        const id = idOf(event.sessionId as SessionId | undefined);
        if (!before.has(id)) before.set(id, this.model.get(id)?.events.length ?? 0);
      }
    }
    const placed = new Map<SessionId, Map<number, Event>>();
    for (const { events, positions } of segment) {
      expect(positions.length).toBe(events.length);
      const lastOfCall = new Map<SessionId, number>();
      events.forEach((event, i) => {
        const id = idOf(event.sessionId as SessionId | undefined);
        const { sessionId, seq } = positions[i]!;
        expect(sessionId).toBe(id);
        // One call is one batch: its events of a session take consecutive seqs, in the order given.
        const last = lastOfCall.get(id);
        if (last !== undefined) expect(seq).toBe(last + 1);
        lastOfCall.set(id, seq);
        let map = placed.get(id);
        if (map === undefined) {
          map = new Map();
          placed.set(id, map);
        }
        expect(map.has(seq), `seq ${seq} of ${id} given twice`).toBe(false);
        map.set(seq, event);
      });
    }
    // No gap, no reuse: the segment's events of a session take exactly the next seqs.
    for (const [id, map] of placed) {
      const from = before.get(id)!;
      expect([...map.keys()].sort((a, b) => a - b)).toEqual(
        Array.from({ length: map.size }, (_, k) => from + k),
      );
    }
    // Each kind keeps its call order (per session: the first seq of a later call is after the earlier's).
    for (const urgent of [false, true]) {
      const calls = segment.filter((c) => c.urgent === urgent);
      for (let j = 1; j < calls.length; j++) {
        for (let k = 0; k < j; k++) {
          for (const pos of calls[j]!.positions) {
            for (const earlier of calls[k]!.positions) {
              if (earlier.sessionId === pos.sessionId) expect(earlier.seq).toBeLessThan(pos.seq);
            }
          }
        }
      }
    }
    for (const [id, map] of placed) {
      for (const t of this.tails) if (t.session === id && !t.frozen) t.caughtUp = false;
      const s = this.sessionOf(id);
      for (const seq of [...map.keys()].sort((a, b) => a - b)) s.events.push(map.get(seq)!);
    }
    for (const t of this.tails) {
      if (!t.done) for (const wake of t.waiters.splice(0)) wake();
    }
  }

  /** Resolves once the tail has received `count` entries, or ended. */
  tailReached(t: TailRecord, count: number): Promise<void> {
    return new Promise((resolve) => {
      const check = () => {
        if (t.done || t.error !== undefined || t.received.length >= count) resolve();
        else t.waiters.push(check);
      };
      check();
    });
  }

  async startTail(
    session: SessionId,
    fromSeq: number,
    maxBuffer: number | undefined,
    wait: boolean,
  ): Promise<void> {
    const owed = () => (this.model.get(session)?.events ?? []).slice(fromSeq);
    let snapshot: Event[] | undefined;
    const t: TailRecord = {
      session,
      fromSeq,
      expected: () => snapshot ?? owed(),
      received: [],
      freeze: () => {
        snapshot = owed();
        t.frozen = true;
      },
      frozen: false,
      caughtUp: false,
      done: false,
      checked: false,
      error: undefined,
      waiters: [],
      unsubscribe: () => {},
    };
    const options = maxBuffer === undefined ? { fromSeq } : { fromSeq, maxBuffer };
    const subscription = tail(this.store, session, options).subscribe({
      next: (entry) => {
        t.received.push(entry);
        for (const wake of t.waiters.splice(0)) wake();
      },
      error: (error: unknown) => {
        t.error = error;
        for (const wake of t.waiters.splice(0)) wake();
      },
      complete: () => {
        t.done = true;
        for (const wake of t.waiters.splice(0)) wake();
      },
    });
    t.unsubscribe = () => subscription.unsubscribe();
    this.tails.push(t);
    if (!wait) return;
    // Caught up: every event stored now, from fromSeq (no wall clock: the test's timeout bounds it).
    await this.tailReached(t, owed().length);
    t.caughtUp = true;
    this.checkTail(t);
  }

  checkTail(t: TailRecord): void {
    expect(t.error).toBeUndefined();
    let expected = t.expected();
    // Never a gap or a duplicate, even when a prefix is all it owes.
    if (t.frozen && !t.caughtUp) expected = expected.slice(0, t.received.length);
    expect(t.received.map((entry) => entry.seq)).toEqual(expected.map((_, k) => t.fromSeq + k));
    expect(t.received.map((entry) => entry.event)).toEqual(expected);
  }

  async checkTails(): Promise<void> {
    for (const t of this.tails) {
      if (t.done && t.checked) continue;
      // A frozen one must complete: wait for that (received.length alone could be reached first).
      await this.tailReached(t, t.frozen ? Infinity : t.expected().length);
      // It completes only when its session is deleted or the store closes, and then must.
      expect(t.done).toBe(t.frozen);
      if (!t.frozen) t.caughtUp = true;
      this.checkTail(t);
      if (t.done) t.checked = true;
    }
  }

  async reopen(
    maxCachedSessions: number | undefined,
    durability: 'process' | 'os' = 'process',
  ): Promise<void> {
    // Every tail caught up first: closing while one reads completes it with a prefix (docs: tail).
    await this.checkTails();
    for (const t of this.tails) if (!t.frozen) t.freeze();
    await this.store.close();
    // close() completes the live tails, each with everything it was owed.
    await this.checkTails();
    this.store = await openStore({
      path: this.path,
      durability,
      ...(maxCachedSessions === undefined ? {} : { maxCachedSessions }),
    });
  }

  async read(id: SessionId, q: QueryOptions, seq: number): Promise<void> {
    const s = this.model.get(id);
    const events = s?.events ?? [];
    const want = expectedQuery(storedOf(events), q);
    expect(await collect(this.store.entries(id, q))).toEqual(want);
    expect(await collect(this.store.query(id, q))).toEqual(want.map((e) => e.event));
    expect(await firstValueFrom(replay(this.store, id, q).pipe(toArray()))).toEqual(want.map((e) => e.event));
    // Without options: every event, in seq order.
    expect(await collect(this.store.query(id))).toEqual(events);
    expect(await this.store.get(id, seq)).toEqual(events[seq]);
    expect(withoutCreatedAt(await this.store.session(id))).toEqual(
      s === undefined ? undefined : expectedInfo(id, s),
    );
    // Reducers: reconstruct is the fold of the reducer over the stored events (of the query, if given),
    // oldest first: `reverse` (with `limit`) only picks them.
    expect(await reconstruct(this.store, id, sessionState)).toEqual(fold(sessionState, events));
    const picked = want.map((e) => e.event);
    expect(await reconstruct(this.store, id, fileState, q)).toEqual(
      fold(fileState, q.reverse === true ? picked.reverse() : picked),
    );
    // sessionContext: counts and span from the metadata; files, agents, workflows in time order of first
    // appearance.
    const byTime = expectedQuery(storedOf(events), { types: TYPES });
    const firsts = (prefix: string, field: string) => [
      ...new Set(
        byTime.filter((e) => e.event.type.startsWith(prefix)).map((e) => e.event.data[field] as string),
      ),
    ];
    const info = s === undefined ? undefined : expectedInfo(id, s);
    const context = await this.store.sessionContext(id);
    expect({ ...context, activitySummary: { ...context.activitySummary } }).toEqual({
      sessionId: id,
      eventCount: events.length,
      timeSpan:
        info?.startTime === undefined ? undefined : { start: info.startTime, end: info.lastEventTime },
      activitySummary: info?.typeCounts ?? {},
      filesModified: firsts('file.', 'file_path'),
      agentsUsed: firsts('agent.', 'agent'),
      workflowsExecuted: firsts('workflow.', 'workflow'),
    });
  }

  async checkAll(): Promise<void> {
    const listed = (await this.store.sessions()).map(withoutCreatedAt);
    const want = [...this.model].map(([id, s]) => expectedInfo(id, s));
    const byId = (a: { sessionId: string } | undefined, b: { sessionId: string } | undefined) =>
      a!.sessionId < b!.sessionId ? -1 : a!.sessionId > b!.sessionId ? 1 : 0;
    expect(listed.sort(byId)).toEqual(want.sort(byId));
    for (const id of SESSION_IDS) {
      const events = this.model.get(id)?.events ?? [];
      expect(await collect(this.store.entries(id))).toEqual(events.map((event, seq) => ({ seq, event })));
    }
    await this.checkTails();
  }
}

describe('SessionStore against an in-memory model (real LevelDB)', () => {
  it(
    'every read agrees with the model after random appends, deletes, starts, reopens and tails',
    async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 25, size: 'max' }), async (ops) => {
          const dir = await mkdtemp(join(tmpdir(), 'vibespec-model-'));
          const run = new Run(join(dir, 'db'));
          run.store = await openStore({ path: run.path });
          try {
            for (const o of ops) {
              if (o.kind === 'burst') await run.burst(o.calls, o.gaps, o.readDuring, o.thenClose);
              else if (o.kind === 'reopen') await run.reopen(o.maxCachedSessions, o.durability);
              else if (o.kind === 'read') await run.read(o.session, o.query, o.seq);
              else await run.startTail(o.session, o.fromSeq, o.maxBuffer, o.wait);
            }
            await run.checkAll();
            // Closed and opened again: everything written is still there, and seqs go on from there.
            await run.reopen(undefined);
            await run.checkAll();
            await run.burst([
              {
                kind: 'append',
                urgent: false,
                events: SESSIONS.map((session) => ({
                  session,
                  type: 'a',
                  timestamp: 1,
                  id: 0,
                  priority: Priority.NORMAL,
                  v: 0,
                })),
              },
            ]);
            await run.checkAll();
          } finally {
            for (const t of run.tails) t.unsubscribe();
            await run.store.close();
            await rm(dir, { recursive: true, force: true });
          }
        }),
        {
          numRuns: Number(process.env.MODEL_RUNS ?? 35),
          ...(process.env.MODEL_RUNS ? { timeout: 15_000 } : {}),
        },
      );
    },
    process.env.MODEL_RUNS ? 3_600_000 : undefined,
  );
});
