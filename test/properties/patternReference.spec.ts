/**
 * pattern, property: the operator against a brute-force reference. For a short stream of one session
 * (distinct, increasing times) and a random pattern of required and optional steps, with notFollowedBy
 * steps between required ones, the reference lists every valid match that ends at each event and picks
 * one by the rule docs/pattern.md states; the operator, which keeps one partial match per step, must
 * emit the same matches, in the same order.
 *
 * A valid match: each step's event is the next one after the previous step's that the partial match
 * waiting there takes (others may come between; an optional step may be skipped); no event a
 * notFollowedBy accepts between the two steps around it (the later step's event included); every
 * required step taken; all of it within `within`, from its first event to its last; after the event
 * that completed the previous match. Which one (the rule): the one that was waiting at the later step
 * before its last event (further along); then the later first required event; then the later leading
 * optional events, compared from the last one back, and with those alike, more of them.
 */
import fc from 'fast-check';
import { from } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { type Event, type PatternMatchData, type PatternStep, Priority, pattern } from '../../src/index.js';

const T0 = 1_800_000_000_000;
const MIN = 60_000;
const WITHIN = 10;

interface Step {
  readonly type: string;
  readonly optional: boolean;
}
interface Shape {
  /** The positive steps; step q accepts the events of type `steps[q].type` only (one step per type). */
  readonly steps: readonly Step[];
  /** `negatives[q]`: the types a notFollowedBy between steps q - 1 and q forbids (q ≥ 1). */
  readonly negatives: ReadonlyArray<readonly string[]>;
}
interface Input {
  readonly id: string;
  readonly type: string;
  /** Minutes. */
  readonly t: number;
}

const TYPES = ['a', 'b', 'c', 'd', 'e'];

const shape: fc.Arbitrary<Shape> = fc
  .record({
    optional: fc.array(fc.boolean(), { minLength: 1, maxLength: 5 }),
    negations: fc.array(fc.option(fc.constantFrom('a', 'b', 'c', 'd', 'e', 'x'), { nil: undefined }), {
      minLength: 5,
      maxLength: 5,
    }),
  })
  .map(({ optional, negations }) => {
    // The last step is required; a notFollowedBy stands only between two required steps.
    const steps = optional.map((o, q) => ({ type: TYPES[q]!, optional: q < optional.length - 1 && o }));
    const negatives = steps.map((step, q) => {
      const type = negations[q];
      return q > 0 && type !== undefined && !step.optional && !steps[q - 1]!.optional ? [type] : [];
    });
    return { steps, negatives };
  });

/** A stream of the types the pattern names, mostly, and others (`x`), at distinct increasing minutes. */
const inputsOf = ({ steps }: Shape): fc.Arbitrary<Input[]> =>
  fc
    .array(
      fc.record({
        type: fc.oneof(
          { weight: 4, arbitrary: fc.constantFrom(...steps.map((step) => step.type)) },
          { weight: 1, arbitrary: fc.constantFrom(...TYPES, 'x') },
        ),
        gap: fc.integer({ min: 1, max: 6 }),
      }),
      { maxLength: 12 },
    )
    .map((specs) => {
      let t = 0;
      return specs.map(({ type, gap }, i) => {
        t += gap;
        return { id: `${type}${i}`, type, t };
      });
    });

function toSteps({ steps, negatives }: Shape): PatternStep[] {
  const is = (type: string) => (e: Event) => e.type === type;
  const out: PatternStep[] = [];
  steps.forEach((step, q) => {
    for (const type of negatives[q]!) out.push({ notFollowedBy: is(type), name: `not ${type}` });
    out.push(
      step.optional
        ? { match: is(step.type), optional: true, name: step.type }
        : { match: is(step.type), name: step.type },
    );
  });
  return out;
}

function operator(shape: Shape, events: readonly Input[]): string[] {
  const out: string[] = [];
  from(
    events.map(
      (e): Event => ({
        id: e.id,
        type: e.type,
        timestamp: T0 + e.t * MIN,
        priority: Priority.NORMAL,
        data: {},
        sessionId: 'A',
      }),
    ),
  )
    .pipe(pattern(toSteps(shape), { within: WITHIN * MIN, passThrough: false, timeouts: false }))
    .subscribe((event) => out.push((event.data as PatternMatchData).events.map((e) => e.id).join(',')));
  return out;
}

/** A candidate match: its events' indices and the step each took, in order. */
type Chain = ReadonlyArray<readonly [index: number, step: number]>;

function reference({ steps, negatives }: Shape, events: readonly Input[]): string[] {
  const last = steps.length - 1;
  const firstRequired = steps.findIndex((step) => !step.optional);
  /** The step by which the partial match waiting at `from` takes an event of `type`, or -1. */
  const takes = (from: number, type: string): number => {
    for (let q = from; q < steps.length; q++) {
      if (steps[q]!.type === type) return q;
      if (!steps[q]!.optional) return -1;
    }
    return -1;
  };
  const out: string[] = [];
  let boundary = 0;
  for (let end = 0; end < events.length; end++) {
    if (events[end]!.type !== steps[last]!.type) continue;
    const candidates: Chain[] = [];
    const grow = (chain: Chain): void => {
      const [i, s] = chain[0]!;
      if (events[end]!.t - events[i]!.t > WITHIN) return;
      if (steps.slice(0, s).every((step) => step.optional)) candidates.push(chain);
      for (let j = i - 1; j >= boundary; j--) {
        for (let sp = 0; sp < s; sp++) {
          if (events[j]!.type !== steps[sp]!.type || takes(sp + 1, events[i]!.type) !== s) continue;
          let valid = true;
          for (let k = j + 1; k < i; k++) if (takes(sp + 1, events[k]!.type) >= 0) valid = false;
          for (let k = j + 1; k <= i; k++) if (negatives[sp + 1]!.includes(events[k]!.type)) valid = false;
          if (valid) grow([[j, sp], ...chain]);
        }
      }
    };
    grow([[end, last]]);
    if (candidates.length === 0) continue;
    const rank = (chain: Chain) => ({
      further: chain.length > 1 ? chain.at(-2)![1] + 1 : 0,
      anchor: events[chain.find(([, s]) => s >= firstRequired)![0]]!.t,
      lead: chain.filter(([, s]) => s < firstRequired).map(([i]) => events[i]!.t),
    });
    /** > 0 when `a` is preferred, 0 on a tie. */
    const compare = (a: Chain, b: Chain): number => {
      const x = rank(a);
      const y = rank(b);
      if (x.further !== y.further) return x.further - y.further;
      if (x.anchor !== y.anchor) return x.anchor - y.anchor;
      for (let p = x.lead.length - 1, q = y.lead.length - 1; ; p--, q--) {
        if (p < 0 || q < 0) return p - q;
        if (x.lead[p] !== y.lead[q]) return x.lead[p]! - y.lead[q]!;
      }
    };
    let best = candidates[0]!;
    for (const candidate of candidates.slice(1)) if (compare(candidate, best) > 0) best = candidate;
    // The rule leaves no tie between two different matches (times are distinct).
    for (const candidate of candidates) {
      if (candidate !== best && compare(candidate, best) === 0) expect(candidate).toEqual(best);
    }
    out.push(best.map(([i]) => events[i]!.id).join(','));
    boundary = end + 1;
  }
  return out;
}

describe('pattern against a brute-force reference', () => {
  it('emits the matches the documented rule picks among all valid ones', () => {
    fc.assert(
      fc.property(
        shape.chain((s) => fc.tuple(fc.constant(s), inputsOf(s))),
        ([s, events]) => {
          expect(operator(s, events)).toEqual(reference(s, events));
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('the reference, on the cases of docs/pattern.md', () => {
    const leading: Shape = {
      steps: [
        { type: 'a', optional: true },
        { type: 'b', optional: false },
        { type: 'c', optional: false },
      ],
      negatives: [[], [], []],
    };
    const at = (spec: string) =>
      spec.split(' ').map((token, i) => {
        const [type, t] = token.split('@');
        return { id: `${type}${i}`, type: type!, t: Number(t) };
      });
    // The leading optional event is kept; the latest of two; left out when the match would not fit.
    expect(reference(leading, at('a@0 b@1 c@2'))).toEqual(['a0,b1,c2']);
    expect(reference(leading, at('a@0 a@1 b@2 c@3'))).toEqual(['a1,b2,c3']);
    expect(reference(leading, at('a@0 b@5 c@12'))).toEqual(['b1,c2']);
  });
});
