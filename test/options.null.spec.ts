import { describe, expect, it } from 'vitest';
import {
  adaptiveBatch,
  bridgeHooks,
  ConfigError,
  createFileState,
  createHookBridge,
  createModeSelector,
  fromFileWatcher,
  fromHookFile,
  fromHookFileMarked,
  fromJsonLines,
  hybridProcess,
  selectMode,
  sessionWindows,
  toEvents,
} from '../src/index.js';

// The library's rule (docs/errors.md, "Options"): an option left out, or undefined, takes its default;
// null is refused. Each option below read null as absent (`options.x ?? default`) and used the default
// without a word; every other option already refused it with its own message.
const lanes = { immediate: () => 1, batch: () => 1 };
const cases: [string, readonly string[], (options: Record<string, unknown>) => unknown][] = [
  [
    'adaptiveBatch',
    ['minSize', 'maxSize', 'maxSizeLimit', 'timeoutMs', 'minTimeoutMs', 'maxTimeoutMs', 'policy'],
    (o) => adaptiveBatch(o),
  ],
  ['sessionWindows', ['key'], (o) => sessionWindows(o)],
  [
    'selectMode',
    ['minHighLoadIndicators', 'userBlockingTypes', 'highVolumeTypes', 'backgroundTypes', 'lowPriority'],
    (o) => createModeSelector(o),
  ],
  ['fromFileWatcher', ['debounceMs'], (o) => fromFileWatcher('.', o)],
  ['fromJsonLines', ['hook', 'maxLineLength'], (o) => fromJsonLines([], o)],
  ['fromHookFile', ['hook', 'maxLineLength', 'pollIntervalMs'], (o) => fromHookFile('x.jsonl', o)],
  [
    'fromHookFileMarked',
    ['hook', 'maxLineLength', 'pollIntervalMs'],
    (o) => fromHookFileMarked('x.jsonl', o),
  ],
  ['bridgeHooks', ['maxPayloadBytes', 'maxDepth', 'maxRawLength', 'maxAheadMs'], (o) => bridgeHooks(o)],
  [
    'createHookBridge',
    ['maxPayloadBytes', 'maxDepth', 'maxRawLength', 'maxAheadMs', 'maxPending'],
    (o) => createHookBridge(o),
  ],
  [
    'toEvents',
    ['maxPayloadBytes', 'maxDepth', 'maxRawLength', 'maxAheadMs'],
    (o) => toEvents('Stop', { session_id: 's' }, 1, o),
  ],
  ['createFileState', ['recentWindowMs', 'maxRecent'], (o) => createFileState(o)],
  ['hybridProcess', ['background', 'overflow'], (o) => hybridProcess({ ...lanes, ...o } as never)],
];

describe('an option set to null is a ConfigError naming it (null is not "use the default")', () => {
  for (const [where, keys, call] of cases) {
    it.each(keys)(`${where}: %s: null`, (key) => {
      expect(() => call({ [key]: null })).toThrow(ConfigError);
      expect(() => call({ [key]: null })).toThrow(
        `${where}: ${key} must not be null (leave it out, or undefined, for its default), got null`,
      );
      // Left out or undefined, it takes its default as before.
      expect(() => call({ [key]: undefined })).not.toThrow();
      expect(() => call({})).not.toThrow();
    });
  }

  it('selectMode called directly refuses a null option as createModeSelector does', () => {
    expect(() => selectMode(createEventForSelect(), {}, { lowPriority: null } as never)).toThrow(
      'selectMode: lowPriority must not be null',
    );
  });
});

function createEventForSelect() {
  return { id: 'e', type: 'x', timestamp: 1, sessionId: 's', data: {} } as never;
}
