/**
 * The public API names its types: every type that a declaration exported from src/index.ts refers to
 * (a parameter, a return type, an option's field, a base interface) is exported too, so that a user can
 * name what a function takes or returns (`HookAnswer`, the return type of a function hook's `run`, was
 * not). Members tagged `@internal` and private ones are left out, and so are the few base shapes below, whose fields reach
 * the user only through the exported types that extend them.
 */
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { filter, lastValueFrom, type Observable, of, toArray } from 'rxjs';
import ts from 'typescript';
import { afterEach, beforeEach, describe, expect, expectTypeOf, it } from 'vitest';
import {
  type ActivityData,
  type AggregatedData,
  adaptiveBatch,
  aggregateHooks,
  aimdPolicy,
  bridgeHooks,
  ConfigError,
  type CorrelateOptions,
  type CorrelationEvent,
  type CorrelationGroup,
  chainHooks,
  correlate,
  createEvent,
  createFileState,
  createFlowGate,
  createHookBridge,
  createModeSelector,
  DEFAULT_CORRELATION_GROUPS,
  DEFAULT_LOAD_THRESHOLDS,
  type ErrorCode,
  type Event,
  EventFlowMetrics,
  type EventWriter,
  type FileState,
  fileState,
  fromFileWatcher,
  fromHookFile,
  fromHookFileMarked,
  fromJsonLines,
  HookError,
  type HookErrorCode,
  type HookOutput,
  type HybridOutput,
  hookDirectory,
  hybridProcess,
  InvalidEventError,
  isActivity,
  isAggregated,
  isLateEvent,
  isPatternError,
  isPatternMatch,
  isPatternTimeout,
  isSessionWindow,
  type LateEventData,
  type MarkedHookOutput,
  measure,
  openStore,
  type PatternErrorData,
  type PatternEvent,
  type PatternMatchData,
  type PatternOptions,
  type PatternStep,
  type PatternTimeoutData,
  pattern,
  persist,
  type QueryOptions,
  type ReplayOptions,
  reconstruct,
  replay,
  reviewSummary,
  runHook,
  runHookAggregation,
  runHookChain,
  type SessionStore,
  type SessionWindowData,
  type StoredEvent,
  StoreError,
  type StoreErrorCode,
  seedPolicy,
  selectMode,
  sessionWindows,
  systemLoad$,
  tail,
  temporalAggregate,
  toEvents,
  VibespecError,
} from '../src/index.js';
import { type TempStore, tempStore } from './helpers/store.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const ENTRY = join(ROOT, 'src', 'index.ts');

/** Unexported on purpose: the exported types built on them are what a user names. */
const BASE_SHAPES = new Set([
  'EventShape', // `Event` is `Omit<EventShape, 'data'> & { data: D }`: zod's inferred shape
  'HookStepBase', // the fields every `HookStep` has (`RanStep`, `NotRunStep`, `TimedOutStep`)
  'OutcomeBase', // the fields of `HybridResult` and `HybridError`
]);

/** Not part of the type a user sees: `@internal`, or a class's private member (`private`, `#name`). */
function isHidden(node: ts.Node): boolean {
  if (ts.getJSDocTags(node).some((tag) => tag.tagName.text === 'internal')) return true;
  if (!ts.isClassElement(node)) return false;
  if (node.name !== undefined && ts.isPrivateIdentifier(node.name)) return true;
  return (
    ts.canHaveModifiers(node) &&
    (ts.getModifiers(node) ?? []).some((m) => m.kind === ts.SyntaxKind.PrivateKeyword)
  );
}

/** `name (file)` of every unexported src/ type a public declaration refers to, with who refers to it. */
function unexportedReferences(): Map<string, Set<string>> {
  const program = ts.createProgram([ENTRY], {
    strict: true,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    skipLibCheck: true,
    noEmit: true,
  });
  const checker = program.getTypeChecker();
  const entry = checker.getSymbolAtLocation(program.getSourceFile(ENTRY)!)!;
  const resolve = (symbol: ts.Symbol) =>
    symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
  const exported = new Set(checker.getExportsOfModule(entry).map(resolve));
  const src = join(ROOT, 'src');
  const missing = new Map<string, Set<string>>();
  const visit = (node: ts.Node, owner: string): void => {
    if (isHidden(node)) return;
    let name: ts.Node | undefined;
    if (ts.isTypeReferenceNode(node)) name = node.typeName;
    else if (ts.isExpressionWithTypeArguments(node)) name = node.expression;
    else if (ts.isTypeQueryNode(node)) name = node.exprName;
    const found = name === undefined ? undefined : checker.getSymbolAtLocation(name);
    if (found !== undefined) {
      const symbol = resolve(found);
      const file = symbol.declarations?.[0]?.getSourceFile().fileName;
      if (
        file?.startsWith(src) === true &&
        !(symbol.flags & ts.SymbolFlags.TypeParameter) &&
        !exported.has(symbol) &&
        !BASE_SHAPES.has(symbol.name)
      ) {
        const key = `${symbol.name} (${relative(ROOT, file)})`;
        if (!missing.has(key)) missing.set(key, new Set());
        missing.get(key)!.add(owner);
      }
    }
    // Only what the declaration shows: a function's or method's body is not part of its type.
    ts.forEachChild(node, (child) => {
      if (ts.isBlock(child)) return;
      visit(child, owner);
    });
  };
  for (const symbol of exported) {
    for (const declaration of symbol.declarations ?? []) {
      if (declaration.getSourceFile().fileName.startsWith(src)) visit(declaration, symbol.name);
    }
  }
  return missing;
}

describe('the public API', () => {
  it('exports every type its declarations name (but @internal and private members, and the base shapes)', () => {
    const missing = [...unexportedReferences()].map(
      ([type, owners]) => `${type} <- ${[...owners].join(', ')}`,
    );
    expect(missing).toEqual([]);
  });
});

/** A user's event type: `data` known. */
type Edit = Event<{ file_path: string; lines: number }>;

describe('the types a user gets', () => {
  let temp: TempStore;
  let store: SessionStore;
  beforeEach(async () => {
    temp = await tempStore();
    store = temp.store;
  });
  afterEach(async () => {
    await temp.cleanup();
  });
  const writer: EventWriter = { append: async () => undefined };
  const edits$: Observable<Edit> = of(
    createEvent({ type: 'file.modified', data: { file_path: 'a.ts', lines: 3 } }),
  );

  it('keeps an event type through persist, measure and hybridProcess, as correlate and pattern add theirs to it', async () => {
    // persist was MonoTypeOperatorFunction<Event>: an Event<MyData> came out an Event, its data unknown.
    expectTypeOf(edits$.pipe(persist(store))).toEqualTypeOf<Observable<Edit>>();
    expectTypeOf(edits$.pipe(persist(writer, { maxBatch: 10 }))).toEqualTypeOf<Observable<Edit>>();
    expectTypeOf(edits$.pipe(measure(new EventFlowMetrics()))).toEqualTypeOf<Observable<Edit>>();
    expectTypeOf(edits$.pipe(persist(store), correlate())).toEqualTypeOf<
      Observable<Edit | CorrelationEvent>
    >();
    expectTypeOf(edits$.pipe(persist(store), pattern([() => true], { within: 1 }))).toEqualTypeOf<
      Observable<Edit | PatternEvent<Edit>>
    >();
    // hybridProcess: its handlers see the events as they come, and its outcomes carry them so.
    const lines$ = edits$.pipe(
      hybridProcess({
        immediate: (event) => event.data.lines,
        batch: (events) => events.map((event) => event.data.lines),
        select: (event) => (event.data.lines > 100 ? 'batched' : 'immediate'),
      }),
    );
    expectTypeOf(lines$).toEqualTypeOf<Observable<HybridOutput<number, Edit>>>();
    expectTypeOf<HybridOutput<number, Edit>['event']>().toEqualTypeOf<Edit>();
    expectTypeOf(of(createEvent({ type: 'x' })).pipe(persist(store))).toEqualTypeOf<
      Observable<Event<Record<string, unknown>>>
    >();
    // Not a type in name only: the events persist emits are the ones it was given.
    const given = createEvent({ type: 'file.modified', data: { file_path: 'a.ts', lines: 3 } });
    const emitted = await lastValueFrom(of(given).pipe(persist(writer), toArray()));
    expectTypeOf(emitted).toEqualTypeOf<Edit[]>();
    expect(emitted).toHaveLength(1);
    expect(emitted[0]).toBe(given);
  });

  it('keeps an event type through temporalAggregate and sessionWindows, in what they carry too', () => {
    // Both were OperatorFunction<Event, Event>: an Edit came out an Event, and so did the events that
    // aggregates, windows and late events carry.
    const aggregated$ = edits$.pipe(temporalAggregate({ windows: { 'file.modified': 1_000 } }));
    expectTypeOf(aggregated$).toEqualTypeOf<
      Observable<Edit | Event<AggregatedData<Edit>> | Event<LateEventData<Edit>>>
    >();
    expectTypeOf<AggregatedData<Edit>['events']>().toEqualTypeOf<Edit[] | undefined>();
    expectTypeOf<LateEventData<Edit>['event']>().toEqualTypeOf<Edit>();
    // A key that reads the user's data (data.file_path was unknown: not a string).
    const windows$ = edits$.pipe(
      sessionWindows({ key: (event) => event.data.file_path, includeEvents: true }),
    );
    expectTypeOf(windows$).toEqualTypeOf<
      Observable<Edit | Event<SessionWindowData<Edit>> | Event<LateEventData<Edit>>>
    >();
    expectTypeOf<SessionWindowData<Edit>['events']>().toEqualTypeOf<Edit[] | undefined>();
    // The defaults are the types a user named before.
    expectTypeOf<AggregatedData>().toEqualTypeOf<AggregatedData<Event>>();
    expectTypeOf<SessionWindowData>().toEqualTypeOf<SessionWindowData<Event>>();
    expectTypeOf<LateEventData>().toEqualTypeOf<LateEventData<Event>>();
  });

  it('narrows a stream of temporalAggregate<T> and sessionWindows<T> by their guards, keeping T', () => {
    // The guards took an Event and narrowed to Event<AggregatedData> (…<Event>): an Edit's aggregates
    // came out carrying Events, and Array#filter, whose guard must narrow the element type, did not narrow.
    const aggregated$ = edits$.pipe(temporalAggregate());
    expectTypeOf(aggregated$.pipe(filter(isAggregated))).toEqualTypeOf<
      Observable<Event<AggregatedData<Edit>>>
    >();
    expectTypeOf(aggregated$.pipe(filter(isLateEvent))).toEqualTypeOf<
      Observable<Event<LateEventData<Edit>>>
    >();
    const windows$ = edits$.pipe(sessionWindows());
    expectTypeOf(windows$.pipe(filter(isSessionWindow))).toEqualTypeOf<
      Observable<Event<SessionWindowData<Edit>>>
    >();
    expectTypeOf(windows$.pipe(filter(isLateEvent))).toEqualTypeOf<Observable<Event<LateEventData<Edit>>>>();
    const outputs: Array<Edit | Event<AggregatedData<Edit>> | Event<LateEventData<Edit>>> = [];
    expectTypeOf(outputs.filter(isAggregated)).toEqualTypeOf<Event<AggregatedData<Edit>>[]>();
    const output = outputs[0]!;
    if (isAggregated(output)) expectTypeOf(output).toEqualTypeOf<Event<AggregatedData<Edit>>>();
    else expectTypeOf(output).toEqualTypeOf<Edit | Event<LateEventData<Edit>>>();
    // Old forms: a stream of Event (a replay) narrows to the defaults, as before; a stream without the
    // guard's events, to them too, and a call takes any event.
    const events$: Observable<Event> = of();
    expectTypeOf(events$.pipe(filter(isAggregated))).toEqualTypeOf<Observable<Event<AggregatedData>>>();
    expectTypeOf(events$.pipe(filter(isSessionWindow))).toEqualTypeOf<Observable<Event<SessionWindowData>>>();
    expectTypeOf(events$.pipe(filter(isLateEvent))).toEqualTypeOf<Observable<Event<LateEventData>>>();
    const mixed$: Observable<Edit | Event> = of();
    expectTypeOf(mixed$.pipe(filter(isAggregated))).toEqualTypeOf<Observable<Event<AggregatedData>>>();
    expectTypeOf(edits$.pipe(filter(isAggregated))).toEqualTypeOf<Observable<Edit & Event<AggregatedData>>>();
    const event: Event = createEvent({ type: 'x' });
    if (isAggregated(event)) expectTypeOf(event).toEqualTypeOf<Event<AggregatedData>>();
    const guards: Array<(event: Event) => boolean> = [isAggregated, isSessionWindow, isLateEvent];
    expect(guards.map((guard) => guard(event))).toEqual([false, false, false]);
    // Inside a function generic in its events, the narrowed type waits on T and `filter` does not narrow
    // with the bare guard; the guard instantiated at Event does (docs/temporalAggregate.md).
    function aggregatesOf<T extends Event>(source$: Observable<T>) {
      return source$.pipe(temporalAggregate(), filter(isAggregated<Event>));
    }
    expectTypeOf(aggregatesOf(edits$)).toEqualTypeOf<Observable<Event<AggregatedData>>>();
    function windowsOf<T extends Event>(source$: Observable<T>) {
      return source$.pipe(sessionWindows(), filter(isSessionWindow<Event>));
    }
    expectTypeOf(windowsOf(edits$)).toEqualTypeOf<Observable<Event<SessionWindowData>>>();
  });

  it("types pattern's predicates, key and matches and correlate's rules by the stream's events", () => {
    // Both were typed on Event: a predicate read e.data as Record<string, unknown> (data.lines unknown),
    // a match's events were Event[], and a rule got Event[].
    const big = edits$.pipe(
      pattern([(e) => e.data.lines > 10, { match: (e) => e.data.file_path.endsWith('.ts') }], {
        within: 1_000,
        key: (e) => e.data.file_path,
      }),
    );
    expectTypeOf(big).toEqualTypeOf<Observable<Edit | PatternEvent<Edit>>>();
    expectTypeOf(big.pipe(filter(isPatternMatch))).toEqualTypeOf<Observable<Event<PatternMatchData<Edit>>>>();
    expectTypeOf(big.pipe(filter(isPatternTimeout))).toEqualTypeOf<
      Observable<Event<PatternTimeoutData<Edit>>>
    >();
    expectTypeOf(big.pipe(filter(isPatternError))).toEqualTypeOf<Observable<Event<PatternErrorData>>>();
    const edits = edits$.pipe(
      correlate([
        {
          name: 'big-edits',
          eventTypes: ['file.modified'],
          windowMs: 1_000,
          rule: (events) => ({ confidence: events.reduce((sum, e) => sum + e.data.lines, 0) > 100 ? 1 : 0 }),
        },
      ]),
    );
    expectTypeOf(edits).toEqualTypeOf<Observable<Edit | CorrelationEvent>>();
    expectTypeOf(edits.pipe(filter(isActivity))).toEqualTypeOf<Observable<Event<ActivityData>>>();
    // A predicate on a field the events do not have is a compile error.
    // @ts-expect-error no data.size on an Edit
    edits$.pipe(pattern([(e) => e.data.size > 1], { within: 1 }));
    // Old forms: steps, groups and options typed on Event still fit a stream of Edit, and keep its type.
    const steps: PatternStep[] = [(e: Event) => e.type === 'file.modified', { notFollowedBy: () => false }];
    const groups: CorrelationGroup[] = [...DEFAULT_CORRELATION_GROUPS];
    const patternOptions: PatternOptions = { within: 1, key: (e: Event) => e.sessionId };
    expectTypeOf(edits$.pipe(pattern(steps, patternOptions))).toEqualTypeOf<
      Observable<Edit | PatternEvent<Edit>>
    >();
    expectTypeOf(edits$.pipe(correlate(groups))).toEqualTypeOf<Observable<Edit | CorrelationEvent>>();
    expectTypeOf(of(createEvent({ type: 'x' })).pipe(pattern(steps, { within: 1 }))).toEqualTypeOf<
      Observable<Event | PatternEvent>
    >();
    expectTypeOf<PatternEvent>().toEqualTypeOf<PatternEvent<Event>>();
    expectTypeOf<PatternMatchData['events']>().toEqualTypeOf<Event[]>();
    expectTypeOf<CorrelationGroup>().toEqualTypeOf<CorrelationGroup<Event>>();
  });

  it('takes events whose data is an interface, as it takes a type alias: operators, guards, createEvent, append, selectMode', async () => {
    // An interface has no index signature, so an Event<ToolData> is no Event (whose data is a
    // Record<string, unknown>), and each of these took only an Event: a user's events typed by an
    // interface were refused, TS2345 at pipe(temporalAggregate()) and at append, TS2344 at createEvent.
    interface ToolData {
      tool_name: string;
      duration_ms: number;
    }
    type ToolUsed = Event<ToolData>;
    const data: ToolData = { tool_name: 'Bash', duration_ms: 5 };
    const used = createEvent<ToolData>({ type: 'tool.used', sessionId: 's', timestamp: 1, data });
    expectTypeOf(used).toEqualTypeOf<ToolUsed>();
    const used$ = of(used);
    expectTypeOf(used$.pipe(persist(store))).toEqualTypeOf<Observable<ToolUsed>>();
    expectTypeOf(used$.pipe(temporalAggregate(), filter(isAggregated))).toEqualTypeOf<
      Observable<Event<AggregatedData<ToolUsed>>>
    >();
    expectTypeOf(used$.pipe(temporalAggregate(), filter(isLateEvent))).toEqualTypeOf<
      Observable<Event<LateEventData<ToolUsed>>>
    >();
    expectTypeOf(used$.pipe(sessionWindows(), filter(isSessionWindow))).toEqualTypeOf<
      Observable<Event<SessionWindowData<ToolUsed>>>
    >();
    expectTypeOf(used$.pipe(correlate(), filter(isActivity))).toEqualTypeOf<
      Observable<Event<ActivityData>>
    >();
    expectTypeOf(used$.pipe(correlate())).toEqualTypeOf<Observable<ToolUsed | CorrelationEvent>>();
    const slow$ = used$.pipe(pattern([(e) => e.data.duration_ms > 1], { within: 10 }));
    expectTypeOf(slow$).toEqualTypeOf<Observable<ToolUsed | PatternEvent<ToolUsed>>>();
    expectTypeOf(slow$.pipe(filter(isPatternMatch))).toEqualTypeOf<
      Observable<Event<PatternMatchData<ToolUsed>>>
    >();
    const names$ = used$.pipe(
      hybridProcess({
        immediate: (e) => e.data.tool_name,
        batch: (events) => events.map((e) => e.data.tool_name),
      }),
    );
    expectTypeOf(names$).toEqualTypeOf<Observable<HybridOutput<string, ToolUsed>>>();
    // @ts-expect-error a field the interface does not have
    used$.pipe(pattern([(e) => e.data.size > 1], { within: 1 }));

    // And they run so: stored, aggregated with their data, appended, routed.
    const aggregates = await lastValueFrom(
      used$.pipe(persist(store), temporalAggregate(), filter(isAggregated), toArray()),
    );
    expect(aggregates.map((a) => a.data.events?.map((e) => e.data.tool_name))).toEqual([['Bash']]);
    const again = createEvent<ToolData>({ type: 'tool.used', sessionId: 's', timestamp: 2, data });
    expect(await store.append([again])).toEqual([{ sessionId: 's', seq: 1 }]);
    expect(selectMode(again)).toBe('batched'); // tool.used: a high-volume type
  });

  it('types pattern and correlate without their input when passThrough is false', () => {
    // It was Edit | PatternEvent (Edit | CorrelationEvent), though no Edit comes out.
    expectTypeOf(edits$.pipe(pattern([() => true], { within: 1, passThrough: false }))).toEqualTypeOf<
      Observable<PatternEvent<Edit>>
    >();
    expectTypeOf(edits$.pipe(pattern([() => true], { within: 1, passThrough: true }))).toEqualTypeOf<
      Observable<Edit | PatternEvent<Edit>>
    >();
    // A passThrough not known to be false keeps the input in the type.
    const options: PatternOptions = { within: 1, passThrough: false };
    expectTypeOf(edits$.pipe(pattern([() => true], options))).toEqualTypeOf<
      Observable<Edit | PatternEvent<Edit>>
    >();
    expectTypeOf(edits$.pipe(correlate(undefined, { passThrough: false }))).toEqualTypeOf<
      Observable<CorrelationEvent>
    >();
    expectTypeOf(edits$.pipe(correlate(undefined, { passThrough: true }))).toEqualTypeOf<
      Observable<Edit | CorrelationEvent>
    >();
    const correlateOptions: CorrelateOptions = { passThrough: false };
    expectTypeOf(edits$.pipe(correlate(undefined, correlateOptions))).toEqualTypeOf<
      Observable<Edit | CorrelationEvent>
    >();
  });

  it('types what the sources, the bridge, the store and the composition give', () => {
    expectTypeOf(fromHookFile('hooks.jsonl')).toEqualTypeOf<Observable<HookOutput>>();
    expectTypeOf(fromHookFileMarked('hooks.jsonl')).toEqualTypeOf<Observable<MarkedHookOutput>>();
    expectTypeOf(fromJsonLines([])).toEqualTypeOf<Observable<HookOutput>>();
    expectTypeOf(fromFileWatcher('.')).toEqualTypeOf<Observable<HookOutput>>();
    expectTypeOf(createHookBridge().events$).toEqualTypeOf<Observable<Event>>();
    expectTypeOf(toEvents('Stop', {})).toEqualTypeOf<Event[]>();
    expectTypeOf(replay(store, 's')).toEqualTypeOf<Observable<Event>>();
    expectTypeOf(replay(store, 's', { gate: createFlowGate(), types: ['x'] })).toEqualTypeOf<
      Observable<Event>
    >();
    expectTypeOf<ReplayOptions>().toExtend<QueryOptions>();
    expectTypeOf(tail(store, 's')).toEqualTypeOf<Observable<StoredEvent>>();
    expectTypeOf(store.query('s')).toEqualTypeOf<AsyncIterable<Event>>();
    expectTypeOf<ReturnType<typeof reconstruct<FileState>>>().toEqualTypeOf<Promise<FileState>>();
    // The README's order: persist, measure, correlate, temporalAggregate; aggregates by their guard.
    const aggregates$ = fromHookFile('hooks.jsonl').pipe(
      bridgeHooks(),
      persist(store),
      measure(new EventFlowMetrics()),
      correlate(),
      temporalAggregate(),
      filter(isAggregated),
    );
    // What temporalAggregate took: the bridge's events and correlate's.
    expectTypeOf(aggregates$).toEqualTypeOf<Observable<Event<AggregatedData<Event | CorrelationEvent>>>>();
    expectTypeOf(of(1, 2).pipe(adaptiveBatch({ policy: seedPolicy() }))).toEqualTypeOf<
      Observable<number[]>
    >();
  });

  it('refuses a misspelt option: a compile error in an object literal, and an INVALID_CONFIG when run', async () => {
    const metrics = new EventFlowMetrics();
    const chain = { name: 'c', hooks: [] };
    const calls: Array<() => unknown> = [
      // @ts-expect-error maxBatch
      () => persist(store, { maxBatchSize: 10 }),
      // @ts-expect-error windows
      () => temporalAggregate({ window: {} }),
      // @ts-expect-error gapMs
      () => sessionWindows({ gap: 10 }),
      // @ts-expect-error maxSessions
      () => correlate(undefined, { maxSession: 1 }),
      // @ts-expect-error timeouts
      () => pattern([() => true], { within: 1, timeout: true }),
      // @ts-expect-error maxSize
      () => adaptiveBatch({ maxsize: 1 }),
      // @ts-expect-error samples
      () => aimdPolicy({ targetLatencyMs: 1, sample: 1 }),
      // @ts-expect-error cooldownMs
      () => seedPolicy({ cooldown: 1 }),
      // @ts-expect-error concurrency
      () => hybridProcess({ immediate: () => 1, batch: () => [1], concurency: 1 }),
      // @ts-expect-error durability
      () => openStore({ durabilty: 'os' }),
      // @ts-expect-error follow
      () => fromHookFile('x', { folow: true }),
      // @ts-expect-error follow
      () => fromHookFileMarked('x', { folow: true }),
      // @ts-expect-error maxLineLength
      () => fromJsonLines([], { maxLine: 1 }),
      // @ts-expect-error recursive
      () => fromFileWatcher('.', { recursve: true }),
      // @ts-expect-error maxPayloadBytes
      () => bridgeHooks({ maxPayload: 1 }),
      // @ts-expect-error maxPending
      () => createHookBridge({ maxPendng: 1 }),
      // @ts-expect-error maxDepth
      () => toEvents('Stop', {}, 1, { maxDept: 1 }),
      // @ts-expect-error maxTypes
      () => new EventFlowMetrics({ maxType: 1 }),
      // @ts-expect-error type
      () => measure(metrics, { tpe: 'x' }),
      // @ts-expect-error intervalMs
      () => systemLoad$({ interval: 1 }),
      // @ts-expect-error thresholds
      () => selectMode(createEvent({ type: 'x' }), null, { threshold: {} }),
      // @ts-expect-error thresholds
      () => createModeSelector({ threshold: {} }),
      // @ts-expect-error fromSeq
      () => tail(store, 's', { from: 1 }),
      // @ts-expect-error types
      () => replay(store, 's', { type: ['x'] }),
      // @ts-expect-error gate
      () => replay(store, 's', { gate: true }),
      // @ts-expect-error types
      () => store.query('s', { type: ['x'] }),
      // @ts-expect-error types
      () => reconstruct(store, 's', fileState, { type: ['x'] }),
      // @ts-expect-error maxRecent
      () => createFileState({ maxRecents: 1 }),
      // @ts-expect-error timeoutMs
      () => runHook({ name: 'h', run: () => ({}) }, {}, { timeout: 1 }),
      // @ts-expect-error timeoutMs
      () => runHookChain(chain, {}, { timeout: 1 }),
      // @ts-expect-error concurrency
      () => chainHooks(chain, { concurency: 1 }),
      // @ts-expect-error deadlineMs
      () => runHookAggregation([], {}, reviewSummary, { deadline: 1 }),
      // @ts-expect-error deadlineMs
      () => aggregateHooks([], reviewSummary, { deadline: 1 }),
      // @ts-expect-error timeoutMs
      () => hookDirectory('.', { timeout: 1 }),
    ];
    for (const call of calls) {
      let thrown: unknown;
      try {
        await call();
      } catch (error) {
        thrown = error;
      }
      expect(thrown, String(call)).toBeInstanceOf(ConfigError);
      expect((thrown as ConfigError).code).toBe('INVALID_CONFIG');
    }
    // An event's unknown field: the same, as an InvalidEventError.
    // @ts-expect-error sessionId
    expect(() => createEvent({ type: 'x', sessionID: 's' })).toThrow(InvalidEventError);
  });

  it("narrows an error's code by its class: each class's code is the union of the codes it carries", () => {
    // ConfigError's and InvalidEventError's code was ErrorCode, every code: after instanceof ConfigError,
    // code === 'INVALID_EVENT' compiled, and a switch over it had to handle all 20. StoreError and
    // HookError already said theirs.
    expectTypeOf<VibespecError['code']>().toEqualTypeOf<ErrorCode>();
    expectTypeOf<ConfigError['code']>().toEqualTypeOf<'INVALID_CONFIG'>();
    expectTypeOf<InvalidEventError['code']>().toEqualTypeOf<'INVALID_EVENT'>();
    expectTypeOf<StoreError['code']>().toEqualTypeOf<StoreErrorCode>();
    expectTypeOf<HookError['code']>().toEqualTypeOf<HookErrorCode>();
    const codes = (error: unknown): string => {
      if (error instanceof ConfigError) {
        // @ts-expect-error a ConfigError's code is INVALID_CONFIG
        if (error.code === 'INVALID_EVENT') return 'never';
        return error.code;
      }
      if (error instanceof InvalidEventError) {
        // @ts-expect-error an InvalidEventError's code is INVALID_EVENT
        if (error.code === 'INVALID_CONFIG') return 'never';
        return error.code;
      }
      return 'other';
    };
    // And at run time, what the classes set.
    expect(codes(new ConfigError('x'))).toBe('INVALID_CONFIG');
    expect(codes(new InvalidEventError([]))).toBe('INVALID_EVENT');
    expect(codes(new StoreError('STORE_LOCKED', 'x'))).toBe('other');
    expect(codes(new HookError('HOOK_FAILED', 'x', { hook: 'h' }))).toBe('other');
    expect(new ConfigError('x')).toBeInstanceOf(VibespecError);
  });

  it('takes undefined for every optional field of an options object, as the code does, also under exactOptionalPropertyTypes', async () => {
    // With exactOptionalPropertyTypes, `resumeFrom?: number | …` refused { resumeFrom: undefined }, so the
    // README's composition (fromHookFileMarked(log, { follow: true, resumeFrom }), resumeFrom possibly
    // undefined) did not compile in such a project: TS2379. Every option reads undefined as left out.
    const probe = join(ROOT, 'src', '__options_probe__.ts');
    const program = ts.createProgram([ENTRY], {
      strict: true,
      exactOptionalPropertyTypes: true,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      target: ts.ScriptTarget.ES2022,
      skipLibCheck: true,
      noEmit: true,
    });
    const checker = program.getTypeChecker();
    const entry = checker.getSymbolAtLocation(program.getSourceFile(ENTRY)!)!;
    const optional = new Map<string, string[]>(); // an options type's optional fields
    for (const symbol of checker.getExportsOfModule(entry)) {
      const type = symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
      if (!(type.flags & ts.SymbolFlags.Type)) continue;
      if (!/(?:Options|Config)$/.test(symbol.name) && symbol.name !== 'EventInit') continue;
      const fields = checker.getPropertiesOfType(checker.getDeclaredTypeOfSymbol(type));
      optional.set(
        symbol.name,
        fields.filter((field) => field.flags & ts.SymbolFlags.Optional).map((field) => field.name),
      );
    }
    const names = [...optional.keys()];
    expect(names).toEqual(expect.arrayContaining(['HookFileOptions', 'EventInit', 'BridgeOptions']));
    expect(names.length).toBeGreaterThan(30);
    const required = new Map(
      ['HybridProcessOptions', 'MeasureOptions'].map((name) => [name, '<string>'] as const),
    );
    // Required<T>[K] keeps an `| undefined` written in the type, and only that one. The probe goes into
    // the objects that a field takes (two levels: hybridProcess's modes.thresholds, a PerLane's lanes,
    // systemLoad$'s probe, a resumeFrom mark), named by their path: `SelectModeConfig.thresholds` was a
    // Partial<LoadThresholds> and refused { cpuPercent: undefined }. A function or an array is not gone into.
    const text = [
      "import type * as V from './index.js';",
      // A record's keys are data (an env variable, an event type), no fields: an undefined there is refused.
      'type Named<T> = { [K in keyof T]-?: string extends K ? never : K }[keyof T];',
      'type OptionalKeys<T> = { [K in Named<T>]-?: {} extends Pick<T, K> ? K : never }[Named<T>];',
      'type Own<T> = { [K in OptionalKeys<T>]: undefined extends Required<T>[K] ? never : K }[OptionalKeys<T>];',
      'type Inner<V> = V extends (...args: never) => unknown ? never : V extends readonly unknown[] ? never : V extends object ? V : never;',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: TypeScript source text, a template literal type
      'type Nested<T, D extends 0[]> = D extends [0, 0] ? never : { [K in Named<T> & string]-?: [Inner<NonNullable<T[K]>>] extends [never] ? never : `${K}.${Refused<Inner<NonNullable<T[K]>>, [...D, 0]>}` }[Named<T> & string];',
      'type Refused<T, D extends 0[] = []> = T extends unknown ? Own<T> | Nested<T, D> : never;',
      // A type argument without a default: a string (the result of hybridProcess, measure's values).
      ...names.map((name) => `export type ${name} = Refused<V.${name}${required.get(name) ?? ''}>;`),
      // What a batch policy proposes and setConfig takes: the fields to change, each may be undefined.
      "export type BatchPolicyAdapt = Refused<NonNullable<ReturnType<V.BatchPolicy['adapt']>>>;",
      "export type SetConfig = Refused<Parameters<V.AdaptiveBatchOperator<string>['setConfig']>[0]>;",
      // The probe finds a field that refuses undefined, also in a nested object, but not in a function's.
      'export type Self = Refused<{ a?: number; b?: number | undefined; c: number; d?: { e?: number } | number | undefined; f: () => { g?: number } }>;',
    ].join('\n');
    const host = ts.createCompilerHost(program.getCompilerOptions());
    const getSourceFile = host.getSourceFile.bind(host);
    host.getSourceFile = (file, language) =>
      file === probe ? ts.createSourceFile(file, text, language) : getSourceFile(file, language);
    const probed = ts.createProgram([probe], program.getCompilerOptions(), host, program);
    const probeFile = probed.getSourceFile(probe)!;
    expect(ts.getPreEmitDiagnostics(probed, probeFile).map((d) => d.messageText)).toEqual([]);
    const probeChecker = probed.getTypeChecker();
    const refused: string[] = [];
    for (const statement of probeFile.statements) {
      if (!ts.isTypeAliasDeclaration(statement) || statement.modifiers === undefined) continue;
      const type = probeChecker.getTypeAtLocation(statement.name);
      const keys = type.isUnion() ? type.types : type.flags & ts.TypeFlags.Never ? [] : [type];
      for (const key of keys)
        refused.push(`${statement.name.text}.${probeChecker.typeToString(key).replace(/"/g, '')}`);
    }
    expect(refused.sort()).toEqual(['Self.a', 'Self.d.e']);

    // And at run time: each function given all its options' optional fields as undefined takes them.
    const none = (name: string, given: Record<string, unknown> = {}): never =>
      ({ ...Object.fromEntries(optional.get(name)!.map((field) => [field, undefined])), ...given }) as never;
    const metrics = new EventFlowMetrics(none('EventFlowMetricsOptions'));
    const chain = { name: 'c', hooks: [none('HookOptions', { name: 'h', run: () => ({}) })] };
    const calls: Record<string, () => unknown> = {
      EventInit: () => createEvent(none('EventInit', { type: 'x' })),
      EventFlowMetricsOptions: () => metrics,
      HookOptions: () => lastValueFrom(runHookChain(chain, {})),
      StoreOptions: async () => (await tempStore(none('StoreOptions'))).cleanup(),
      AppendOptions: () => store.append([createEvent({ type: 'x', sessionId: 's' })], none('AppendOptions')),
      QueryOptions: () => store.query('s', none('QueryOptions')),
      ReplayOptions: () => replay(store, 's', none('ReplayOptions')),
      TailOptions: () => tail(store, 's', none('TailOptions')),
      PersistOptions: () => persist(store, none('PersistOptions')),
      StoreErrorOptions: () => new StoreError('STORE_LOCKED', 'x', none('StoreErrorOptions')),
      TemporalAggregateConfig: () => temporalAggregate(none('TemporalAggregateConfig')),
      SessionWindowsConfig: () => sessionWindows(none('SessionWindowsConfig')),
      CorrelateOptions: () => correlate(undefined, none('CorrelateOptions')),
      PatternOptions: () => pattern([() => true], none('PatternOptions', { within: 1 })),
      AdaptiveBatchOptions: () => adaptiveBatch(none('AdaptiveBatchOptions')),
      AimdPolicyOptions: () => aimdPolicy(none('AimdPolicyOptions', { targetLatencyMs: 1 })),
      SeedPolicyOptions: () => seedPolicy(none('SeedPolicyOptions')),
      HybridProcessOptions: () =>
        hybridProcess(none('HybridProcessOptions', { immediate: () => 1, batch: (all: []) => all })),
      MeasureOptions: () => measure(metrics, none('MeasureOptions')),
      SelectModeConfig: () => createModeSelector(none('SelectModeConfig')),
      SystemLoadOptions: () => systemLoad$(none('SystemLoadOptions')),
      HookFileOptions: () => fromHookFile('x', none('HookFileOptions')),
      JsonLinesOptions: () => fromJsonLines([], none('JsonLinesOptions')),
      FileWatcherOptions: () => fromFileWatcher('.', none('FileWatcherOptions')),
      BridgeOptions: () => toEvents('Stop', {}, 1, none('BridgeOptions')),
      BridgeHooksOptions: () => bridgeHooks(none('BridgeHooksOptions')),
      HookBridgeOptions: () => createHookBridge(none('HookBridgeOptions')),
      FileStateOptions: () => createFileState(none('FileStateOptions')),
      HookRunOptions: () =>
        lastValueFrom(runHook({ name: 'h', run: () => ({}) }, {}, none('HookRunOptions'))),
      RunHookChainOptions: () => lastValueFrom(runHookChain(chain, {}, none('RunHookChainOptions'))),
      ChainHooksOptions: () => chainHooks(chain, none('ChainHooksOptions')),
      RunHookAggregationOptions: () =>
        lastValueFrom(runHookAggregation([], {}, reviewSummary, none('RunHookAggregationOptions'))),
      AggregateHooksOptions: () => aggregateHooks([], reviewSummary, none('AggregateHooksOptions')),
      HookDirectoryOptions: () => hookDirectory('.', none('HookDirectoryOptions')),
    };
    const withOptional = names.filter((name) => optional.get(name)!.length > 0); // not BatchConfig
    expect(withOptional.filter((name) => calls[name] === undefined)).toEqual([]);
    const thrown: string[] = [];
    for (const name of withOptional) {
      try {
        await calls[name]!();
      } catch (error) {
        thrown.push(`${name}: ${String(error)}`);
      }
    }
    expect(thrown).toEqual([]);
    // The nested fields too: an undefined lane, threshold, timestamp, dispose or proposed field is left out.
    const lanes = { immediate: undefined, batched: undefined, async: undefined };
    const thresholds = Object.fromEntries(
      Object.keys(DEFAULT_LOAD_THRESHOLDS).map((key) => [key, undefined]),
    );
    const batcher = adaptiveBatch();
    batcher.setConfig({ maxSize: undefined, timeoutMs: undefined });
    expect(batcher.config).toEqual(adaptiveBatch().config);
    const nested = [
      () => createModeSelector({ thresholds }),
      () =>
        hybridProcess({
          immediate: () => 1,
          batch: (all) => all.map(() => 1),
          concurrency: lanes,
          maxQueued: lanes,
          timeoutMs: lanes,
          modes: { thresholds },
        }),
      () => fromHookFile('x', { resumeFrom: { end: 0, ino: 1, head: '', timestamp: undefined } }),
      () =>
        systemLoad$({
          probe: { cpuPercent: async () => 1, memoryPercent: async () => 1, dispose: undefined },
        }),
    ];
    for (const call of nested) expect(call).not.toThrow();
    // The check throws where a field refuses undefined.
    expect(() => createEvent(none('EventInit'))).toThrow(InvalidEventError);
  });
});
