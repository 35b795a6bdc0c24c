import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  createEvent,
  createModeSelector,
  isProcessingMode,
  type LoadSnapshot,
  Priority,
  ProcessingMode,
  type SelectModeConfig,
  selectMode,
} from '../../src/index.js';

const { IMMEDIATE, BATCHED, ASYNC } = ProcessingMode;
const { LOW, NORMAL, HIGH, CRITICAL } = Priority;

const calm: LoadSnapshot = { cpuPercent: 10, memoryPercent: 20, queueDepth: 3, avgLatencyMs: 5 };
const loaded: LoadSnapshot = { cpuPercent: 81, memoryPercent: 86 };

interface Row {
  rule: string;
  type: string;
  priority: Priority;
  load: LoadSnapshot;
  expected: ProcessingMode;
  config?: SelectModeConfig;
}

// biome-ignore format: an aligned table reads better
const rows: Row[] = [
  // 1. CRITICAL → IMMEDIATE, whatever the load or type
  { rule: '1 critical',                      type: 'tool.used',          priority: CRITICAL, load: calm,   expected: IMMEDIATE },
  { rule: '1 critical beats high load',      type: 'file.modified',      priority: CRITICAL, load: loaded, expected: IMMEDIATE },
  { rule: '1 critical beats background',     type: 'x.aggregated',       priority: CRITICAL, load: calm,   expected: IMMEDIATE },
  // 2. two or more high-load indicators → BATCHED
  { rule: '2 cpu + memory',                  type: 'git.commit',         priority: HIGH,     load: loaded, expected: BATCHED },
  { rule: '2 queue + latency',               type: 'agent.completed',    priority: NORMAL,   load: { queueDepth: 1001, avgLatencyMs: 201 }, expected: BATCHED },
  { rule: '2 cpu + queue',                   type: 'session.started',    priority: HIGH,     load: { cpuPercent: 90, queueDepth: 5000 }, expected: BATCHED },
  { rule: '2 event loop delay + utilisation', type: 'git.commit',        priority: NORMAL,   load: { eventLoopDelayMs: 150, eventLoopUtilization: 0.95 }, expected: BATCHED },
  { rule: '2 beats low → async',             type: 'message.displayed',  priority: LOW,      load: loaded, expected: BATCHED },
  { rule: '2 one indicator is not enough',   type: 'git.commit',         priority: NORMAL,   load: { cpuPercent: 99 }, expected: IMMEDIATE },
  { rule: '2 thresholds are strict (>)',     type: 'git.commit',         priority: NORMAL,   load: { cpuPercent: 80, memoryPercent: 85, queueDepth: 1000, avgLatencyMs: 200 }, expected: IMMEDIATE },
  { rule: '2 missing figures are not high',  type: 'git.commit',         priority: NORMAL,   load: {}, expected: IMMEDIATE },
  { rule: '2 NaN figures are not high',      type: 'git.commit',         priority: NORMAL,   load: { cpuPercent: Number.NaN, memoryPercent: Number.NaN }, expected: IMMEDIATE },
  { rule: '2 figures no number are not high', type: 'git.commit',        priority: NORMAL,   load: { cpuPercent: '99', memoryPercent: '99', queueDepth: [5000] } as unknown as LoadSnapshot, expected: IMMEDIATE },
  // 3. user-blocking types → IMMEDIATE
  { rule: '3 git.commit',                    type: 'git.commit',         priority: NORMAL,   load: calm,   expected: IMMEDIATE },
  { rule: '3 agent.completed',               type: 'agent.completed',    priority: NORMAL,   load: calm,   expected: IMMEDIATE },
  { rule: '3 workflow.failed, even LOW',     type: 'workflow.failed',    priority: LOW,      load: calm,   expected: IMMEDIATE },
  // 4. high-volume types → BATCHED
  { rule: '4 file.modified',                 type: 'file.modified',      priority: NORMAL,   load: calm,   expected: BATCHED },
  { rule: '4 tool.used',                     type: 'tool.used',          priority: NORMAL,   load: calm,   expected: BATCHED },
  { rule: '4 performance.metric, even HIGH', type: 'performance.metric', priority: HIGH,     load: calm,   expected: BATCHED },
  { rule: '4 high volume beats LOW → async', type: 'tool.used',          priority: LOW,      load: calm,   expected: BATCHED },
  // 5. HIGH → IMMEDIATE
  { rule: '5 high',                          type: 'hook.rejected',      priority: HIGH,     load: calm,   expected: IMMEDIATE },
  { rule: '5 high beats background',         type: 'x.aggregated',       priority: HIGH,     load: calm,   expected: IMMEDIATE },
  // 6. background types → ASYNC
  { rule: '6 *.aggregated',                  type: 'file.modified.aggregated', priority: NORMAL, load: calm, expected: ASYNC },
  { rule: '6 custom background type',        type: 'audit.logged',       priority: NORMAL,   load: calm,   expected: ASYNC, config: { backgroundTypes: ['audit.*'] } },
  { rule: '6 disabled',                      type: 'x.aggregated',       priority: NORMAL,   load: calm,   expected: BATCHED, config: { backgroundTypes: [] } },
  // 7. LOW → ASYNC (or BATCHED, as in the seed)
  { rule: '7 low',                           type: 'message.displayed',  priority: LOW,      load: calm,   expected: ASYNC },
  { rule: '7 low batched like the seed',     type: 'message.displayed',  priority: LOW,      load: calm,   expected: BATCHED, config: { lowPriority: 'batched' } },
  // 8. otherwise → BATCHED
  { rule: '8 normal',                        type: 'session.started',    priority: NORMAL,   load: calm,   expected: BATCHED },
  { rule: '8 normal, no load given',         type: 'file.created',       priority: NORMAL,   load: {},     expected: BATCHED },
  // configuration
  { rule: 'cfg custom threshold',            type: 'git.commit',         priority: NORMAL,   load: { cpuPercent: 51, memoryPercent: 86 }, expected: BATCHED, config: { thresholds: { cpuPercent: 50 } } },
  { rule: 'cfg Infinity disables',           type: 'git.commit',         priority: NORMAL,   load: loaded, expected: IMMEDIATE, config: { thresholds: { cpuPercent: Number.POSITIVE_INFINITY } } },
  { rule: 'cfg one indicator suffices',      type: 'git.commit',         priority: NORMAL,   load: { queueDepth: 2000 }, expected: BATCHED, config: { minHighLoadIndicators: 1 } },
  { rule: 'cfg custom user-blocking glob',   type: 'deploy.started',     priority: NORMAL,   load: calm,   expected: IMMEDIATE, config: { userBlockingTypes: ['deploy.*'] } },
  { rule: 'cfg replacing user-blocking',     type: 'git.commit',         priority: NORMAL,   load: calm,   expected: BATCHED, config: { userBlockingTypes: [] } },
  { rule: 'cfg custom high volume',          type: 'log.line',           priority: HIGH,     load: calm,   expected: BATCHED, config: { highVolumeTypes: ['log.line'] } },
];

describe('selectMode', () => {
  it.each(rows)('rule $rule: $type/$priority → $expected', ({ type, priority, load, expected, config }) => {
    const event = createEvent({ type, priority });
    expect(selectMode(event, load, config)).toBe(expected);
    expect(createModeSelector(config)(event, load)).toBe(expected);
  });

  it('is the seed exactly with ASYNC and the event-loop indicators switched off', () => {
    // A literal port of the seed's ProcessingModeSelector.select_mode.
    const seedSelect = (type: string, priority: Priority, load: LoadSnapshot): ProcessingMode => {
      if (priority === CRITICAL) return IMMEDIATE;
      let high = 0;
      if ((load.cpuPercent ?? 0) > 80) high++;
      if ((load.memoryPercent ?? 0) > 85) high++;
      if ((load.queueDepth ?? 0) > 1000) high++;
      if ((load.avgLatencyMs ?? 0) > 200) high++;
      if (high >= 2) return BATCHED;
      if (['git.commit', 'agent.completed', 'workflow.failed'].includes(type)) return IMMEDIATE;
      if (['file.modified', 'tool.used', 'performance.metric'].includes(type)) return BATCHED;
      return priority === HIGH ? IMMEDIATE : BATCHED;
    };
    const seed: SelectModeConfig = {
      backgroundTypes: [],
      lowPriority: 'batched',
      thresholds: {
        eventLoopDelayMs: Number.POSITIVE_INFINITY,
        eventLoopUtilization: Number.POSITIVE_INFINITY,
      },
    };
    const types = [
      'git.commit',
      'agent.completed',
      'tool.used',
      'performance.metric',
      'x.aggregated',
      'other',
    ];
    const loads: LoadSnapshot[] = [];
    for (const cpuPercent of [0, 80, 81])
      for (const memoryPercent of [0, 86])
        for (const queueDepth of [0, 1001])
          for (const avgLatencyMs of [0, 201])
            loads.push({ cpuPercent, memoryPercent, queueDepth, avgLatencyMs, eventLoopDelayMs: 1e6 });
    let cases = 0;
    for (const type of types) {
      for (const priority of [LOW, NORMAL, HIGH, CRITICAL] as Priority[]) {
        for (const load of loads) {
          expect(selectMode(createEvent({ type, priority }), load, seed)).toBe(
            seedSelect(type, priority, load),
          );
          cases++;
        }
      }
    }
    expect(cases).toBe(6 * 4 * 24);
  });

  it('defaults the load to empty', () => {
    expect(selectMode(createEvent({ type: 'git.commit' }))).toBe(IMMEDIATE);
  });

  it('reads a null load as no load, in selectMode and a compiled selector', () => {
    // It was a TypeError (null.cpuPercent) instead of a mode.
    const select = createModeSelector({ minHighLoadIndicators: 1 });
    for (const [type, priority, expected] of [
      ['git.commit', NORMAL, IMMEDIATE],
      ['tool.used', NORMAL, BATCHED],
      ['message.displayed', LOW, ASYNC],
    ] as const) {
      const event = createEvent({ type, priority });
      expect(selectMode(event, null)).toBe(expected);
      expect(selectMode(event, null, { minHighLoadIndicators: 1 })).toBe(expected);
      expect(select(event, null)).toBe(expected);
      // The same as no load, and unlike a loaded one for a user-blocking type.
      expect(select(event, null)).toBe(select(event));
    }
    expect(select(createEvent({ type: 'git.commit' }), { cpuPercent: 99 })).toBe(BATCHED);
  });

  it('is pure: same inputs, same mode, inputs untouched', () => {
    const event = createEvent({ type: 'tool.used' });
    const load = { ...loaded };
    const before = JSON.stringify([event, load]);
    expect(selectMode(event, load)).toBe(selectMode(event, load));
    expect(JSON.stringify([event, load])).toBe(before);
  });

  it('rejects invalid configs with ConfigError', () => {
    const event = createEvent({ type: 'x' });
    const bad: SelectModeConfig[] = [
      { minHighLoadIndicators: 0 },
      { minHighLoadIndicators: 1.5 },
      { thresholds: { cpuPercent: Number.NaN } },
      { thresholds: { queueDepth: Number.NEGATIVE_INFINITY } },
      { thresholds: { nope: 1 } as never },
      { userBlockingTypes: [''] },
      // A TypeError (p.includes) otherwise.
      { backgroundTypes: [5 as never] },
      { highVolumeTypes: 'tool.used' as never },
      { lowPriority: 'later' as never },
    ];
    for (const config of bad) {
      expect(() => createModeSelector(config)).toThrow(ConfigError);
      expect(() => selectMode(event, {}, config)).toThrow(ConfigError);
    }
  });

  it('refuses more minHighLoadIndicators than there are indicators (the system never loaded), and names a bad type list', () => {
    // 7 was taken: no load could reach it, so the load rule was off without a word.
    expect(createModeSelector({ minHighLoadIndicators: 6 })).toBeTypeOf('function');
    expect(() => createModeSelector({ minHighLoadIndicators: 7 })).toThrow(
      /minHighLoadIndicators must be an integer from 1 to 6 \(the number of indicators\), got 7; to turn the load rule off, set the thresholds to Infinity/,
    );
    const all = createModeSelector({ minHighLoadIndicators: 6 });
    const high = {
      cpuPercent: 99,
      memoryPercent: 99,
      queueDepth: 1e6,
      avgLatencyMs: 1e6,
      eventLoopDelayMs: 1e6,
      eventLoopUtilization: 1,
    };
    const event = createEvent({ type: 'git.commit' });
    expect(all(event, high)).toBe(BATCHED);
    expect(all(event, { ...high, eventLoopUtilization: 0 })).toBe(IMMEDIATE);
    expect(() => createModeSelector({ highVolumeTypes: 'tool.used' as never })).toThrow(
      /highVolumeTypes must be an array of non-empty strings, got 'tool.used'/,
    );
    expect(() => createModeSelector({ lowPriority: 'later' as never })).toThrow(
      /^selectMode: lowPriority must be 'async' or 'batched', got 'later'$/,
    );
  });

  it('takes Infinity as a threshold (the indicator off) and refuses -Infinity, which made it always high', () => {
    // -Infinity was accepted: its figure counted as high whatever its value.
    expect(() => createModeSelector({ thresholds: { cpuPercent: Number.NEGATIVE_INFINITY } })).toThrow(
      /threshold cpuPercent must be a non-negative number or Infinity, got -Infinity/,
    );
    const off = createModeSelector({ thresholds: { cpuPercent: Number.POSITIVE_INFINITY } });
    const event = createEvent({ type: 'git.commit' });
    expect(off(event, { cpuPercent: 1e308, memoryPercent: 99 })).toBe(IMMEDIATE);
    expect(off(event, { queueDepth: 5000, memoryPercent: 99 })).toBe(BATCHED);
  });

  it('refuses a negative threshold: every figure is >= 0, so the indicator would always be high', () => {
    // A negative threshold was accepted: cpuPercent: -1 made a 0 % CPU a high-load indicator.
    for (const key of [
      'cpuPercent',
      'memoryPercent',
      'queueDepth',
      'avgLatencyMs',
      'eventLoopDelayMs',
      'eventLoopUtilization',
    ] as const) {
      expect(() => createModeSelector({ thresholds: { [key]: -1 } })).toThrow(ConfigError);
      expect(() => createModeSelector({ thresholds: { [key]: -0.001 } })).toThrow(
        new RegExp(`threshold ${key} must be a non-negative number or Infinity, got -0.001`),
      );
      expect(() => selectMode(createEvent({ type: 'x' }), {}, { thresholds: { [key]: -5 } })).toThrow(
        ConfigError,
      );
    }
    // 0 is a threshold: any figure above it counts, an idle 0 does not.
    const zero = createModeSelector({ thresholds: { cpuPercent: 0, queueDepth: 0 } });
    const event = createEvent({ type: 'git.commit' });
    expect(zero(event, { cpuPercent: 0, queueDepth: 0 })).toBe(IMMEDIATE);
    expect(zero(event, { cpuPercent: 0.5, queueDepth: 1 })).toBe(BATCHED);
  });

  it('rejects a config or thresholds that is not an object with a ConfigError that says so', () => {
    const event = createEvent({ type: 'x' });
    // null was a TypeError; a string was read as thresholds named "0", "1", …
    const bad: Array<[unknown, RegExp]> = [
      [null, /the config must be an object, got null/],
      [{ thresholds: 'high' }, /thresholds must be an object/],
      [{ thresholds: [90] }, /thresholds must be an object/],
    ];
    for (const [config, message] of bad) {
      expect(() => createModeSelector(config as never)).toThrow(ConfigError);
      expect(() => createModeSelector(config as never)).toThrow(message);
      expect(() => selectMode(event, {}, config as never)).toThrow(ConfigError);
    }
  });

  it('counts every indicator only strictly above its threshold', () => {
    // One figure clearly high, the other exactly at its threshold: one indicator, not loaded.
    const event = createEvent({ type: 'git.commit' });
    const atThreshold: LoadSnapshot[] = [
      { cpuPercent: 99, memoryPercent: 85 },
      { cpuPercent: 99, queueDepth: 1000 },
      { cpuPercent: 99, avgLatencyMs: 200 },
      { cpuPercent: 99, eventLoopDelayMs: 100 },
      { cpuPercent: 99, eventLoopUtilization: 0.9 },
      { memoryPercent: 99, cpuPercent: 80 },
    ];
    for (const load of atThreshold) expect(selectMode(event, load), JSON.stringify(load)).toBe(IMMEDIATE);
    // Just above it, two indicators: loaded.
    const above: LoadSnapshot[] = [
      { cpuPercent: 99, memoryPercent: 85.1 },
      { cpuPercent: 99, queueDepth: 1001 },
      { cpuPercent: 99, avgLatencyMs: 200.1 },
      { cpuPercent: 99, eventLoopDelayMs: 100.1 },
      { cpuPercent: 99, eventLoopUtilization: 0.91 },
      { memoryPercent: 99, cpuPercent: 80.1 },
    ];
    for (const load of above) expect(selectMode(event, load), JSON.stringify(load)).toBe(BATCHED);
  });

  it('refuses a threshold that is not a number, and keeps the default of one given as undefined', () => {
    // A string was compared by coercion ('90' accepted as 90); undefined is a missing key.
    expect(() => createModeSelector({ thresholds: { cpuPercent: '90' as never } })).toThrow(ConfigError);
    expect(() => createModeSelector({ thresholds: { queueDepth: null as never } })).toThrow(ConfigError);
    const select = createModeSelector({ thresholds: { cpuPercent: undefined, memoryPercent: 50 } });
    const event = createEvent({ type: 'git.commit' });
    expect(select(event, { cpuPercent: 80, memoryPercent: 60 })).toBe(IMMEDIATE);
    expect(select(event, { cpuPercent: 81, memoryPercent: 60 })).toBe(BATCHED);
  });

  it('matches a type against every glob of a list, any one of them sufficing', () => {
    const select = createModeSelector({ backgroundTypes: ['audit.*', '*.aggregated', 'trace.seen'] });
    expect(select(createEvent({ type: 'audit.logged' }))).toBe(ASYNC);
    expect(select(createEvent({ type: 'x.aggregated' }))).toBe(ASYNC);
    expect(select(createEvent({ type: 'trace.seen' }))).toBe(ASYNC);
    expect(select(createEvent({ type: 'trace.other' }))).toBe(BATCHED);
  });

  it('matches globs whole, not as substrings, and escapes dots', () => {
    const select = createModeSelector({ backgroundTypes: ['a.*'] });
    expect(select(createEvent({ type: 'a.b' }))).toBe(ASYNC);
    expect(select(createEvent({ type: 'xa.b' }))).toBe(BATCHED);
    expect(select(createEvent({ type: 'aXb' }))).toBe(BATCHED);
  });

  it('matches a * glob over any characters, line breaks and lone surrogates included', () => {
    // A type with a newline (or \r, U+2028, U+2029) was no background type: `.` stops at line breaks.
    const select = createModeSelector({ backgroundTypes: ['*.aggregated'] });
    for (const type of ['a\nb.aggregated', '\r.aggregated', 'x\u2028\u2029.aggregated', '\uD800.aggregated'])
      expect(select(createEvent({ type })), JSON.stringify(type)).toBe(ASYNC);
    expect(select(createEvent({ type: 'a.aggregated\n' }))).toBe(BATCHED);
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary' }),
        fc.string({ unit: 'binary', minLength: 1 }),
        (prefix, rest) => {
          const glob = createModeSelector({ backgroundTypes: [`${prefix}*`] });
          expect(glob(createEvent({ type: prefix + rest }))).toBe(ASYNC);
          // Exact names match only themselves.
          const exact = createModeSelector({ backgroundTypes: [prefix + rest] });
          expect(exact(createEvent({ type: `${prefix + rest}.` }))).toBe(BATCHED);
        },
      ),
    );
  });

  it('compiles a config passed to selectMode once per object: its options are read at the first call only', () => {
    let reads = 0;
    const config: SelectModeConfig = {
      get lowPriority() {
        reads++;
        return 'batched' as const;
      },
    };
    const low = createEvent({ type: 'message.displayed', priority: LOW });
    for (let i = 0; i < 3; i++) expect(selectMode(low, {}, config)).toBe(BATCHED);
    expect(reads).toBe(1);
    // Another object is another config, compiled in turn.
    expect(selectMode(low, {}, { lowPriority: 'async' })).toBe(ASYNC);
  });

  it('tells the three modes from anything else (isProcessingMode)', () => {
    for (const mode of [IMMEDIATE, BATCHED, ASYNC]) expect(isProcessingMode(mode)).toBe(true);
    const others = ['IMMEDIATE', 'Batched', 'sync', '', undefined, null, 0, {}, [ASYNC], ProcessingMode];
    for (const value of others) expect(isProcessingMode(value), String(value)).toBe(false);
  });
});
