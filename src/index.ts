// The public API of vibespec-streams. Named re-exports only: what is not listed here is internal.

// Errors
export type { ErrorCode, EventIssue } from './errors.js';
export { ConfigError, InvalidEventError, VibespecError } from './errors.js';

// Event model
export type { Event, EventInit } from './event.js';
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
export type { HookFileOptions } from './streams/fromHookFile.js';
export { fromHookFile } from './streams/fromHookFile.js';
export { fromJsonLines } from './streams/fromJsonLines.js';
export type { JsonLinesOptions } from './streams/jsonLines.js';
export type { BridgeOptions, HookOutput, RejectedHookData } from './streams/toEvents.js';
export { KNOWN_HOOKS, toEvents } from './streams/toEvents.js';

// Operators: event-time windows
// (a detached comment: Biome sorts exports within a chunk, and this keeps the block a chunk of its own)

export type { SessionWindowData, SessionWindowsConfig } from './operators/sessionWindows.js';
export { sessionWindows } from './operators/sessionWindows.js';
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
export { DEFAULT_AGGREGATE_WINDOWS, temporalAggregate } from './operators/temporalAggregate.js';
