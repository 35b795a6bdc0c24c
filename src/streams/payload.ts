/**
 * Internal: limits on incoming hook payloads and a bounded JSON preview of rejected input.
 * Both walk a value without recursion on its depth, so a hostile payload cannot overflow the stack.
 */

/** Limits applied to every hook payload before it is mapped. */
export interface PayloadLimits {
  /**
   * Largest accepted payload, in characters of its JSON text (an estimate computed while walking the
   * value: strings, keys and punctuation). Default 16 MiB (16,777,216): an Edit's or a Write's payload
   * carries the whole file it changed (`tool_response.originalFile`, a Write's `content` too), so a
   * payload is about twice the file — 1 MiB rejected the edits of a 0.5 MB lockfile. A larger payload is
   * mapped with each string value longer than 16,384 characters cut (see `cut.ts`, `docs/bridge.md`), its
   * events marked `context.payload_cut`; it is rejected only when it is still too large once cut.
   */
  maxPayloadBytes: number;
  /** Deepest accepted nesting of objects and arrays. Default 64. */
  maxDepth: number;
  /**
   * A rejected input's raw value is kept as JSON text cut to this many characters (one fewer when the cut
   * would split an emoji: never half of a surrogate pair). Default 16,384.
   */
  maxRawLength: number;
}

export const DEFAULT_LIMITS: PayloadLimits = {
  maxPayloadBytes: 16_777_216,
  maxDepth: 64,
  maxRawLength: 16_384,
};

/** Deepest `maxDepth` for which the fast, recursive check runs (its recursion is bounded by it). */
const FAST_CHECK_MAX_DEPTH = 512;

/**
 * Checks a payload against the limits. Returns the reason it is unacceptable, or `undefined`.
 * Cycles are caught by the depth limit (a cycle is infinitely deep). Throws what a getter or a Proxy
 * trap of `value` throws (the bridge rejects such a payload as `payload unreadable: …`).
 *
 * Almost every payload is acceptable, so a fast recursive walk (`fits`) answers first; only when it
 * finds a problem (or cannot answer) does the stack-based walk, which never recurses, name it — so the
 * reason given is the same as if the stack-based walk had run alone.
 */
export function checkPayload(value: unknown, limits: PayloadLimits): string | undefined {
  if (limits.maxDepth <= FAST_CHECK_MAX_DEPTH) {
    try {
      const size = fits(value, 0, 0, limits);
      if (size >= 0 && size <= limits.maxPayloadBytes) return undefined;
    } catch {
      // A throwing getter or a Proxy trap: the walk below meets it again and behaves as it always has.
    }
  }
  return findProblem(value, limits);
}

/**
 * The JSON size estimate of `value` added to `size`, or -1 when the payload breaks a limit (too big,
 * too deep, a bigint or a non-finite number). Counts exactly as `findProblem` does.
 */
function fits(value: unknown, depth: number, size: number, limits: PayloadLimits): number {
  switch (typeof value) {
    case 'string':
      return size + value.length + 2;
    case 'number':
      return Number.isFinite(value) ? size + 8 : -1;
    case 'boolean':
      return size + 5;
    case 'bigint':
      return -1;
    case 'object': {
      if (value === null) return size + 4;
      if (depth >= limits.maxDepth) return -1;
      const max = limits.maxPayloadBytes;
      let total = size + 2;
      if (Array.isArray(value)) {
        total += value.length;
        for (let i = 0; i < value.length; i++) {
          const child: unknown = value[i];
          if (typeof child === 'string') total += child.length + 2;
          else total = fits(child, depth + 1, total, limits);
          if (total < 0 || total > max) return -1;
        }
      } else {
        for (const key in value) {
          if (!Object.hasOwn(value, key)) continue;
          const child = (value as Record<string, unknown>)[key];
          // Strings, most of a payload, are counted here rather than in a call of their own.
          if (typeof child === 'string') total += key.length + child.length + 6;
          else total = fits(child, depth + 1, total + key.length + 4, limits);
          if (total < 0 || total > max) return -1;
        }
      }
      return total > max ? -1 : total;
    }
    default:
      return size;
  }
}

/**
 * @internal The reason a payload breaks a limit, found by a walk on an explicit stack (no recursion,
 * whatever the depth), or `undefined`. `checkPayload` gives the same answer, faster.
 */
export function findProblem(value: unknown, limits: PayloadLimits): string | undefined {
  let size = 0;
  const values: unknown[] = [value];
  const depths: number[] = [0];
  while (values.length > 0) {
    const current = values.pop();
    const depth = depths.pop()!;
    switch (typeof current) {
      case 'string':
        size += current.length + 2;
        break;
      case 'number':
        if (!Number.isFinite(current)) return 'contains a non-finite number, which JSON cannot represent';
        size += 8;
        break;
      case 'boolean':
        size += 5;
        break;
      case 'bigint':
        return 'contains a bigint, which JSON cannot represent';
      case 'object': {
        if (current === null) {
          size += 4;
          break;
        }
        if (depth >= limits.maxDepth) {
          return `nested deeper than maxDepth (${limits.maxDepth})`;
        }
        size += 2;
        if (Array.isArray(current)) {
          for (let i = 0; i < current.length; i++) {
            values.push(current[i]);
            depths.push(depth + 1);
          }
          size += current.length;
        } else {
          for (const key in current) {
            if (!Object.hasOwn(current, key)) continue;
            size += key.length + 4;
            values.push((current as Record<string, unknown>)[key]);
            depths.push(depth + 1);
          }
        }
        break;
      }
      default:
        // undefined, functions and symbols are dropped by JSON.stringify inside objects; harmless.
        break;
    }
    if (size > limits.maxPayloadBytes) {
      return `larger than maxPayloadBytes (${limits.maxPayloadBytes} characters of JSON)`;
    }
  }
  return undefined;
}

/**
 * JSON text of `value`, cut to `maxLength` characters. Never throws: values JSON cannot hold are
 * written as strings, nesting beyond 32 levels as `"[…]"`, and the walk stops once the budget is spent.
 */
export function previewJson(value: unknown, maxLength: number): { text: string; truncated: boolean } {
  if (typeof value === 'string') {
    return value.length > maxLength
      ? { text: cutAt(value, maxLength), truncated: true }
      : { text: value, truncated: false };
  }
  const parts: string[] = [];
  let length = 0;
  let full = false;
  let cut = false; // a subtree was replaced by "[…]"
  const push = (s: string) => {
    if (full) return;
    parts.push(s);
    length += s.length;
    if (length > maxLength) full = true;
  };
  const visit = (v: unknown, depth: number): void => {
    if (full) return;
    switch (typeof v) {
      case 'string':
        push(JSON.stringify(v));
        return;
      case 'number':
        push(Number.isFinite(v) ? String(v) : 'null');
        return;
      case 'boolean':
        push(String(v));
        return;
      case 'bigint':
        push(JSON.stringify(`${v}n`));
        return;
      case 'undefined':
      case 'function':
      case 'symbol':
        push('null');
        return;
      default:
        break;
    }
    if (v === null) {
      push('null');
      return;
    }
    if (depth >= 32) {
      cut = true;
      push('"[…]"');
      return;
    }
    // Reading an object can throw (a getter, a Proxy's traps): what cannot be read is written as
    // "[unreadable]", so a preview never throws.
    const mark = parts.length;
    const markLength = length;
    try {
      if (Array.isArray(v)) {
        push('[');
        for (let i = 0; i < v.length && !full; i++) {
          if (i > 0) push(',');
          visit(v[i], depth + 1);
        }
        push(']');
        return;
      }
      push('{');
      let first = true;
      for (const key in v as object) {
        if (full) break;
        if (!Object.hasOwn(v as object, key)) continue;
        if (!first) push(',');
        first = false;
        push(`${JSON.stringify(key)}:`);
        let child: unknown;
        try {
          child = (v as Record<string, unknown>)[key];
        } catch {
          child = '[unreadable]'; // a throwing getter
        }
        visit(child, depth + 1);
      }
      push('}');
    } catch {
      parts.length = mark;
      length = markLength;
      full = false;
      cut = true;
      push('"[unreadable]"');
    }
  };
  visit(value, 0);
  const text = parts.join('');
  return text.length > maxLength || full || cut
    ? { text: cutAt(text, maxLength), truncated: true }
    : { text, truncated: false };
}

/**
 * The first `maxLength` UTF-16 units of `text`, one fewer when the last would be the first half of a
 * surrogate pair (an emoji): a cut never leaves a lone half, which is not text (it prints as U+FFFD).
 */
export function cutAt(text: string, maxLength: number): string {
  if (text.length <= maxLength) return text;
  const last = text.charCodeAt(maxLength - 1);
  return text.slice(0, last >= 0xd800 && last <= 0xdbff ? maxLength - 1 : maxLength);
}

/** A plain JSON object (not null, not an array). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * @internal A record whose entries are its own fields: not null, an array, a `Map` or a `Set` (their
 * entries are no own fields: read as a record, a Map or a Set has none). `process.env`, whose prototype is
 * not `Object.prototype`, is one.
 */
export function isFieldRecord(value: unknown): value is Record<string, unknown> {
  return isRecord(value) && !(value instanceof Map) && !(value instanceof Set);
}

/** What `leadingFields` finds at the start of a JSON text that could not be parsed. */
export interface LeadingFields {
  /** The top-level `hook` (a `record` envelope's). */
  hook?: string;
  /** The top-level `timestamp`, a number (a `record` envelope's). */
  timestamp?: number;
  /** `hook_event_name`, top-level or in the `output` / `payload` object. */
  hookEventName?: string;
  /** `session_id`, top-level (a bare payload) or in the `output` / `payload` object (an envelope, a capture). */
  sessionId?: string;
}

/** How far into a text `leadingFields` reads: the fields it looks for come first in what Claude Code sends. */
const LEADING_SCAN = 65_536;
const NUMBER = /-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

/**
 * @internal The fields of the JSON object text `text` that a line that could not be parsed (cut short, torn
 * by a crash, or longer than `maxLineLength`) still shows at its start, up to its first 65,536 characters:
 * the top-level `hook`, `timestamp`, `hook_event_name` and `session_id`, and `hook_event_name` and
 * `session_id` of the object under its top-level `output` or `payload` key (as `record` and the captures
 * write a payload) — the first value of each, read as the JSON says, not a key's name inside a string nor a
 * field of a deeper object (a `tool_input`'s `session_id`). Linear; never throws.
 */
export function leadingFields(text: string): LeadingFields {
  const found: LeadingFields = {};
  const end = Math.min(text.length, LEADING_SCAN);
  let depth = 0;
  let inner = false; // the object being read at depth 2 is the one under `output` or `payload`
  let key: string | undefined; // the key whose value comes next, at the current depth
  let i = 0;
  while (i < end) {
    const c = text[i];
    if (c === '"') {
      let close = i + 1;
      while (close < end && text[close] !== '"') close += text[close] === '\\' ? 2 : 1;
      if (close >= end) break;
      let value: string;
      try {
        value = JSON.parse(text.slice(i, close + 1)) as string;
      } catch {
        break;
      }
      i = skipBlanks(text, close + 1, end);
      if (text[i] === ':') {
        key = value;
        i++;
      } else {
        // A value ends at a `,`, `}` or `]`: anything else is another text run into a line torn there
        // (the first text's string cut short, closed by the next one's quote), whose value it is not.
        if (i < end && !endsValue(text[i])) break;
        if (key !== undefined) take(found, depth, inner, key, value);
        key = undefined;
      }
    } else if (c === '{' || c === '[') {
      if (depth === 0 && c !== '{') break;
      if (depth === 1) inner = c === '{' && (key === 'output' || key === 'payload');
      depth++;
      key = undefined;
      i++;
    } else if (c === '}' || c === ']') {
      depth--;
      if (depth <= 1) inner = false;
      if (depth <= 0) break;
      key = undefined;
      i++;
    } else if (key !== undefined && (c === '-' || (c! >= '0' && c! <= '9'))) {
      NUMBER.lastIndex = i;
      // A number the text ends in may be cut short.
      if (!NUMBER.test(text) || NUMBER.lastIndex >= end) break;
      // And so is one followed by anything but a `,`, `}` or `]` (a line torn inside its number, then the
      // next text): `"timestamp":17{"hook":…` is no time 17.
      const next = skipBlanks(text, NUMBER.lastIndex, end);
      if (next >= end || !endsValue(text[next])) break;
      take(found, depth, inner, key, Number(text.slice(i, NUMBER.lastIndex)));
      key = undefined;
      i = next;
    } else {
      if (c === ',') key = undefined;
      i++;
    }
  }
  return found;
}

function skipBlanks(text: string, from: number, end: number): number {
  let i = from;
  while (i < end && (text[i] === ' ' || text[i] === '\t' || text[i] === '\r' || text[i] === '\n')) i++;
  return i;
}

function endsValue(c: string | undefined): boolean {
  return c === ',' || c === '}' || c === ']';
}

function take(
  found: LeadingFields,
  depth: number,
  inner: boolean,
  key: string,
  value: string | number,
): void {
  if (depth !== 1 && !(depth === 2 && inner)) return;
  if (typeof value === 'number') {
    if (depth === 1 && key === 'timestamp' && found.timestamp === undefined) found.timestamp = value;
    return;
  }
  if (key === 'session_id') found.sessionId ??= value;
  else if (key === 'hook_event_name') found.hookEventName ??= value;
  else if (depth === 1 && key === 'hook') found.hook ??= value;
}
