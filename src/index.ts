// The public API of vibespec-streams. Named re-exports only: what is not listed here is internal.
// Each section is a block of its own: Biome sorts exports within a block, and a detached comment
// (one followed by a blank line) ends a block.

// Errors

export type { ErrorCode, EventIssue, HookErrorCode, HookErrorDetails } from './errors.js';
export { ConfigError, HookError, InvalidEventError, VibespecError } from './errors.js';
export type { StoreErrorCode, StoreErrorOptions } from './store/errors.js';
export { StoreError } from './store/errors.js';

// Event model

export type { Event, EventInit, NarrowedEvent } from './event.js';
export {
  createEvent,
  createEventId,
  EventSchema,
  eventFromJSON,
  eventIdTime,
  eventToJSON,
  Priority,
  PrioritySchema,
  parseEvent,
  safeParseEvent,
} from './event.js';

// Streams: the hook bridge and its sources

export type { BridgeHooksOptions, HookBridge, HookBridgeOptions } from './streams/bridge.js';
export { bridgeHooks, createHookBridge } from './streams/bridge.js';
export type { FileChange, FileWatcherOptions } from './streams/fromFileWatcher.js';
export { fromFileWatcher } from './streams/fromFileWatcher.js';
export type { HookFileMark, HookFileOptions, MarkedHookOutput } from './streams/fromHookFile.js';
export { fromHookFile, fromHookFileMarked } from './streams/fromHookFile.js';
export { fromJsonLines } from './streams/fromJsonLines.js';
export type { JsonLinesOptions } from './streams/jsonLines.js';
export type { PayloadLimits } from './streams/payload.js';
export type { BridgeOptions, HookOutput, PayloadCut, RejectedHookData } from './streams/toEvents.js';
export { KNOWN_HOOKS, MAX_TIMESTAMP, toEvents } from './streams/toEvents.js';

// Operators: event-time windows

export type { SessionWindowData, SessionWindowsConfig } from './operators/sessionWindows.js';
export { isSessionWindow, sessionWindows } from './operators/sessionWindows.js';
export type {
  AggregatedData,
  FileModifiedSummary,
  LateEventData,
  LateReason,
  NumericStats,
  PerformanceMetricSummary,
  TemporalAggregateConfig,
  ToolUsedSummary,
} from './operators/temporalAggregate.js';
export {
  DEFAULT_AGGREGATE_WINDOWS,
  isAggregated,
  isLateEvent,
  temporalAggregate,
} from './operators/temporalAggregate.js';

// Operators: correlation and patterns

export type {
  ActivityData,
  ActivityEndReason,
  CorrelateOptions,
  CorrelationErrorData,
  CorrelationEvent,
  CorrelationGroup,
  CorrelationMatch,
  CorrelationRule,
} from './operators/correlate.js';
export {
  correlate,
  DEFAULT_CORRELATION_GROUPS,
  isActivity,
  isCorrelationError,
} from './operators/correlate.js';
export type {
  EventPredicate,
  MatchStep,
  NegatedStep,
  PatternErrorData,
  PatternEvent,
  PatternMatchData,
  PatternOptions,
  PatternStep,
  PatternTimeoutData,
  PatternTimeoutReason,
} from './operators/pattern.js';
export { isPatternError, isPatternMatch, isPatternTimeout, pattern } from './operators/pattern.js';

// Operators: flow control, load and metrics

export type {
  AdaptiveBatchOperator,
  AdaptiveBatchOptions,
  AimdPolicyOptions,
  BatchConfig,
  BatchLimits,
  BatchPolicy,
  BatchPolicyContext,
  BatchReport,
  BatchSample,
  SeedPolicyOptions,
} from './operators/adaptiveBatch.js';
export { adaptiveBatch, aimdPolicy, fixedPolicy, seedPolicy } from './operators/adaptiveBatch.js';
export type {
  EventsDroppedData,
  HandlerResult,
  HybridDropped,
  HybridError,
  HybridOutput,
  HybridProcessOptions,
  HybridResult,
  OverflowPolicy,
  PerLane,
} from './operators/hybridProcess.js';
export { hybridProcess } from './operators/hybridProcess.js';
export type {
  EventFlowMetricsOptions,
  FlowSummary,
  MeasureOptions,
  PipelineLoad,
  TypeFlowSummary,
} from './operators/metrics.js';
export { EventFlowMetrics, measure, OTHER_TYPE } from './operators/metrics.js';
export type { LoadThresholds, ModeSelector, SelectModeConfig } from './operators/selectMode.js';
export {
  createModeSelector,
  DEFAULT_LOAD_THRESHOLDS,
  isProcessingMode,
  ProcessingMode,
  selectMode,
} from './operators/selectMode.js';
export type { FlowGate } from './streams/pullFrom.js';
export { createFlowGate, pullFrom } from './streams/pullFrom.js';
export type { LoadSnapshot, OsProbe, SystemLoad, SystemLoadOptions } from './streams/systemLoad.js';
export { systemLoad$ } from './streams/systemLoad.js';

// Hooks: chains, aggregation, command hooks

export type { AggregateHooksOptions, RunHookAggregationOptions } from './hooks/aggregateHooks.js';
export { aggregateHooks, runHookAggregation } from './hooks/aggregateHooks.js';
export type { HookShortfall, ReviewSummary, ValidationResult } from './hooks/aggregators.js';
export { reviewSummary, validationResult } from './hooks/aggregators.js';
export type { ChainHooksOptions } from './hooks/chainHooks.js';
export { chainHooks } from './hooks/chainHooks.js';
export type {
  HookAggregationDefinition,
  HookChainDefinition,
  HookDirectoryOptions,
  HookResolver,
} from './hooks/chains.js';
export {
  BUILTIN_AGGREGATIONS,
  BUILTIN_CHAINS,
  hookDirectory,
  resolveChain,
  resolveHooks,
} from './hooks/chains.js';
export { hookEvents } from './hooks/hookEvents.js';
export { runHook } from './hooks/runHook.js';
export type { RunHookChainOptions } from './hooks/runHookChain.js';
export { runHookChain } from './hooks/runHookChain.js';
export type {
  AggregatedStep,
  BlockedStep,
  ChainOutcome,
  CommandDetail,
  CommandHook,
  CompletedStep,
  ErrorPolicy,
  FailedStep,
  FunctionHook,
  Hook,
  HookAggregationOutput,
  HookAggregationResult,
  HookAggregator,
  HookAnswer,
  HookChain,
  HookChainOutput,
  HookChainResult,
  HookContext,
  HookEvent,
  HookEventData,
  HookEventType,
  HookOptions,
  HookOverflowData,
  HookOverflowEvent,
  HookResult,
  HookRunInfo,
  HookRunOptions,
  HookStatus,
  HookStep,
  NotRunStep,
  TimedOutStep,
} from './hooks/types.js';
export { HookResultSchema } from './hooks/types.js';

// Store: LevelDB sessions, persist, replay, state

export type { EventWriter, PersistOptions } from './store/persist.js';
export { persist } from './store/persist.js';
export type {
  AgentHistoryEntry,
  AgentInfo,
  AgentState,
  EndedRun,
  FileChangeEntry,
  FileInfo,
  FileState,
  FileStateOptions,
  RunningAgent,
  SessionState,
  StateReducer,
  UnmatchedEnd,
  WorkflowInfo,
  WorkflowState,
} from './store/reducers.js';
export {
  agentState,
  createFileState,
  fileState,
  reconstruct,
  sessionState,
  workflowState,
} from './store/reducers.js';
export type { ReplayOptions, TailOptions } from './store/replay.js';
export { replay, tail } from './store/replay.js';
export type {
  AppendOptions,
  CorruptRecord,
  Durability,
  QueryOptions,
  SessionContext,
  SessionInfo,
  SessionStore,
  StoredEvent,
  StoredPosition,
  StoreOptions,
  StoreStats,
} from './store/SessionStore.js';
export { DEFAULT_SESSION, DEFAULT_STORE_PATH, openStore } from './store/SessionStore.js';
