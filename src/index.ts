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

// Store
export type { StoreErrorCode, StoreErrorOptions } from './store/errors.js';
export { StoreError } from './store/errors.js';
export type { EventWriter, PersistOptions } from './store/persist.js';
export { persist } from './store/persist.js';
export type {
  AgentInfo,
  AgentState,
  FileChangeEntry,
  FileInfo,
  FileState,
  FileStateOptions,
  RunningAgent,
  SessionState,
  StateReducer,
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
export type { TailOptions } from './store/replay.js';
export { replay, tail } from './store/replay.js';
export type {
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
