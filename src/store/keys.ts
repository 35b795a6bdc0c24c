/**
 * @internal The store's key encoding (see `docs/store.md`, "Key layout"). Every key is a UTF-8 string
 * whose byte order is the order we need:
 *
 * - a session id or event type is escaped so that it never contains `\x00` (the separator) and so
 *   that the escaping is injective even for lone surrogates (which UTF-8 cannot encode);
 * - a sequence number is 16 zero-padded decimal digits (covers `Number.MAX_SAFE_INTEGER`);
 * - an event time is the IEEE 754 bits of the (non-negative) double as 16 hex digits, which sort like
 *   the numbers themselves, fractions included.
 */

/** Separates the parts of a key. Escaped strings never contain it. */
export const SEP = '\x00';
/** One past `SEP`: `prefix + SEP` ≤ every key of a part < `prefix + AFTER_SEP`. */
export const AFTER_SEP = '\x01';
/** Greater than every digit and lowercase hex letter: closes a range that ends with a time. */
const AFTER_TIME = '~';

const SEQ_WIDTH = 16;
// biome-ignore lint/suspicious/noControlCharactersInRegex: \x00 and \x01 are the separator and escape by design.
const NEEDS_ESCAPE = /[\x00\x01\uD800-\uDFFF]/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: \x00 and \x01 are the separator and escape by design.
const ESCAPES = /[\x00\x01]|[\uD800-\uDBFF][\uDC00-\uDFFF]|[\uD800-\uDFFF]/g;

function escapeChar(match: string): string {
  if (match === '\x00') return '\x01\x01';
  if (match === '\x01') return '\x01\x02';
  // A valid surrogate pair is kept; a lone surrogate becomes \x01\x03 + its code unit in hex.
  if (match.length === 2) return match;
  return `\x01\x03${match.charCodeAt(0).toString(16)}`;
}

/** Escapes a session id or type for use inside a key: no `\x00`, encodable as UTF-8, injective. */
export function escapePart(value: string): string {
  return NEEDS_ESCAPE.test(value) ? value.replace(ESCAPES, escapeChar) : value;
}

/** The inverse of `escapePart`. */
export function unescapePart(part: string): string {
  if (!part.includes('\x01')) return part;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: \x01 is the escape by design.
  return part.replace(/\x01(?:\x01|\x02|\x03([0-9a-f]{4}))/g, (match, code: string | undefined) => {
    if (code !== undefined) return String.fromCharCode(Number.parseInt(code, 16));
    return match === '\x01\x01' ? '\x00' : '\x01';
  });
}

/** A sequence number as 16 zero-padded digits. */
export function encodeSeq(seq: number): string {
  return String(seq).padStart(SEQ_WIDTH, '0');
}

/** Parses the 16 digits at the end of `key`. */
export function seqAtEnd(key: string): number {
  return Number(key.slice(-SEQ_WIDTH));
}

const timeView = new DataView(new ArrayBuffer(8));
const timeFloat = new Float64Array(1);
const timeBytes = new Uint8Array(timeFloat.buffer);
/** Byte i of the big-endian encoding is timeBytes[BYTE_ORDER[i]] on this platform. */
const BYTE_ORDER =
  new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? [7, 6, 5, 4, 3, 2, 1, 0] : [0, 1, 2, 3, 4, 5, 6, 7];
const HEX = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, '0'));

/** An event time (≥ 0) as 16 hex digits that sort in numeric order. */
export function encodeTime(timestamp: number): string {
  // `+ 0` turns -0 (valid for zod's nonnegative()) into 0, whose bits sort first.
  timeFloat[0] = timestamp + 0;
  let out = '';
  for (let i = 0; i < 8; i++) out += HEX[timeBytes[BYTE_ORDER[i]!]!];
  return out;
}

/** Decodes `encodeTime`'s output. */
export function decodeTime(hex: string): number {
  timeView.setUint32(0, Number.parseInt(hex.slice(0, 8), 16));
  timeView.setUint32(4, Number.parseInt(hex.slice(8, 16), 16));
  return timeView.getFloat64(0);
}

/** The last 32 characters of an index key: time then seq, comparable as strings. */
export function indexSuffix(key: string): string {
  return key.slice(-32);
}

/** Key in the `events` sublevel. */
export function eventKey(sessionPart: string, seq: number): string {
  return sessionPart + SEP + encodeSeq(seq);
}

/** Range of a session's keys in the `events` sublevel from `fromSeq`. */
export function eventRange(sessionPart: string, fromSeq: number): { gte: string; lt: string } {
  return { gte: sessionPart + SEP + encodeSeq(fromSeq), lt: sessionPart + AFTER_SEP };
}

/** Key in the `index` sublevel: session, type, time, seq. */
export function indexKey(sessionPart: string, typePart: string, timestamp: number, seq: number): string {
  return sessionPart + SEP + typePart + SEP + encodeTime(timestamp) + encodeSeq(seq);
}

/** Range of one type's index keys with `start ≤ time ≤ end`. */
export function indexRange(
  sessionPart: string,
  typePart: string,
  start: number | undefined,
  end: number | undefined,
): { gte: string; lt: string } {
  const prefix = sessionPart + SEP + typePart + SEP;
  return {
    gte: start === undefined ? prefix : prefix + encodeTime(start),
    lt: end === undefined ? sessionPart + SEP + typePart + AFTER_SEP : prefix + encodeTime(end) + AFTER_TIME,
  };
}

/** Range of every key of a session in a sublevel keyed `sessionPart + SEP + …`. */
export function sessionRange(sessionPart: string): { gte: string; lt: string } {
  return { gte: sessionPart + SEP, lt: sessionPart + AFTER_SEP };
}
