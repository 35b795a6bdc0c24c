/**
 * Internal: a payload over the size limit (`maxPayloadBytes`, `maxLineLength`) read with its long strings
 * cut, so that it still gives the events its hook means (a Write of a 5 MB file is still a `file.created`)
 * while what is held stays bounded.
 *
 * Why cut and not reject: the limit exists to protect memory (a 1 GB line must not be held or parsed
 * whole), not to judge the payload; what makes a real payload big is a few string values (an Edit's or a
 * Write's file content, its copies in `tool_response`, a Bash call's output), while the fields the events
 * are made of (`session_id`, `tool_name`, `file_path`, `command`) are short. So the over-limit payload is
 * read once, keeping its structure and every key, and each string value longer than `CUT_LENGTH` becomes
 * its first and last `KEEP` characters around a mark that gives its length in all. Only when what remains
 * is still over the limit (a payload of millions of short values), or is not JSON, is it rejected as before.
 */
import { cutAt } from './payload.js';

/** A string value longer than this is cut, in a payload over the size limit. */
export const CUT_LENGTH = 16_384;
/** Characters kept at each end of a cut string (both ends: a command's output ends with its summary). */
export const KEEP = 8_000;

/** How a payload over the size limit was read: its long strings cut (see `docs/bridge.md`). */
export interface PayloadCut {
  /** Which limit the payload was over, as the rejection of it would have said. */
  reason: string;
  /** How many string values were cut. */
  strings: number;
  /**
   * The UTF-8 size of each cut string's whole value, keyed by the cut string: a Write's `file.created` has
   * the `size` of the file written, not of its cut content. Two strings cut alike (same length, same ends:
   * a Write's new content and its `originalFile`, edited in the middle) keep the size of the first in the
   * text (`tool_input` comes before `tool_response`), in both readers.
   */
  sizes?: ReadonlyMap<string, number>;
}

/** The mark between the two ends kept of a cut string: its length in all, in UTF-16 units as JS counts. */
export function cutMark(length: number): string {
  return `\n…[cut: ${length} characters in all, the first and the last ${KEEP} kept]…\n`;
}

/** The mark, read where `joinCut` puts it: its first match gives the length in all. */
const MARK = /\n…\[cut: (\d+) characters in all, the first and the last \d+ kept\]…\n/y;

/**
 * The length in all of the string that `text`, a string cut by `cutString` or `JsonCutter`, was cut
 * from, as its mark gives it (a `prompt_length` is the prompt's, not the cut text's); `undefined` when
 * `text` has no mark where a cut puts one (after the first `KEEP` characters, or one fewer before an emoji).
 */
export function cutLength(text: string): number | undefined {
  for (const at of [KEEP, KEEP - 1]) {
    MARK.lastIndex = at;
    const mark = MARK.exec(text);
    if (mark !== null) return Number(mark[1]);
  }
  return undefined;
}

/** `head` + the mark + `tail`, never with half of a surrogate pair at the cuts. */
function joinCut(head: string, tail: string, length: number): string {
  const start = tail.charCodeAt(0);
  const end = start >= 0xdc00 && start <= 0xdfff ? tail.slice(1) : tail;
  return cutAt(head, KEEP) + cutMark(length) + end;
}

/** A copy of `text` that holds no reference to a larger string it was sliced from. */
function flat(text: string): string {
  return text.length === 0 ? '' : Buffer.from(text, 'utf16le').toString('utf16le');
}

/** `value`, cut when longer than `CUT_LENGTH`. */
export function cutString(value: string): string {
  if (value.length <= CUT_LENGTH) return value;
  return joinCut(value.slice(0, KEEP + 1), value.slice(value.length - KEEP), value.length);
}

/**
 * @internal A copy of the object `value` with every string value (not key) longer than `CUT_LENGTH` cut,
 * or `undefined` when the copy would still be larger than `maxSize` characters of JSON (counted as
 * `checkPayload` counts), nested deeper than `maxDepth`, or cannot be read (a getter that throws). Walks an
 * explicit stack: no recursion, whatever the depth; stops as soon as the copy is too large, so a cycle or
 * a wide shared subtree costs no more than `maxSize` steps.
 */
export function cutPayload(
  value: Record<string, unknown>,
  maxSize: number,
  maxDepth: number,
): { value: Record<string, unknown>; cut: Omit<PayloadCut, 'reason'> } | undefined {
  const sizes = new Map<string, number>();
  let strings = 0;
  let size = 2;
  const shell = (v: object): Record<string, unknown> | unknown[] =>
    Array.isArray(v) ? new Array<unknown>(v.length) : {};
  const root = shell(value) as Record<string, unknown>;
  // Depth first, each container's entries in order, as the line reader reads the text: a cut string's
  // size is the first one's, in both readers.
  type Frame = {
    source: object;
    target: Record<string, unknown> | unknown[];
    depth: number;
    keys: string[] | undefined; // an object's own keys (undefined for an array)
    next: number;
  };
  const frames: Frame[] = [];
  const enter = (source: object, target: Frame['target'], depth: number): boolean => {
    if (depth >= maxDepth) return false;
    const keys = Array.isArray(source) ? undefined : Object.keys(source);
    if (keys === undefined) size += (source as unknown[]).length;
    frames.push({ source, target, depth, keys, next: 0 });
    return true;
  };
  try {
    if (!enter(value, root, 0)) return undefined;
    while (frames.length > 0 && size <= maxSize) {
      const frame = frames[frames.length - 1]!;
      const { source, target, keys } = frame;
      if (frame.next >= (keys === undefined ? (source as unknown[]).length : keys.length)) {
        frames.pop();
        continue;
      }
      const at = frame.next++;
      const key = keys === undefined ? at : keys[at]!;
      if (typeof key === 'string') size += key.length + 4;
      let child = (source as Record<string | number, unknown>)[key];
      if (typeof child === 'string') {
        const kept = cutString(child);
        if (kept !== child) {
          if (!sizes.has(kept)) sizes.set(kept, Buffer.byteLength(child));
          strings++;
        }
        size += kept.length + 2;
        child = kept;
      } else if (typeof child === 'object' && child !== null) {
        const copy = shell(child);
        size += 2;
        if (!enter(child, copy, frame.depth + 1)) return undefined;
        child = copy;
      } else if (typeof child === 'number') {
        size += 8;
      } else if (typeof child === 'boolean') {
        size += 5;
      } else if (child === null) {
        size += 4;
      }
      if (typeof key === 'number') (target as unknown[])[key] = child;
      // `__proto__` as an own field, as JSON.parse makes it (an assignment would set the prototype).
      else
        Object.defineProperty(target, key, {
          value: child,
          enumerable: true,
          writable: true,
          configurable: true,
        });
    }
    if (size > maxSize) return undefined;
  } catch {
    return undefined;
  }
  return { value: root, cut: { strings, sizes } };
}

const SIMPLE_ESCAPES: Record<string, string> = {
  '"': '"',
  '\\': '\\',
  '/': '/',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
};
/** In a string: where its plain run ends (a quote, a backslash, or a control character, which is no JSON). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: a control character in a string is what it finds
const STRING_STOP = /["\\\u0000-\u001f]/g;
/** Out of strings: a run of a literal's or a number's characters. */
const LITERAL = /[^ \t\n\r"{}[\],:]+/y;
const HEX4 = /^[0-9a-fA-F]{4}$/;

/**
 * @internal Reads a JSON text pushed in pieces (one over-long line) and keeps it with each string value
 * longer than `CUT_LENGTH` cut, and blanks between tokens made one space. Holds at most `maxLength`
 * characters of the text kept, and of a string being read the first `CUT_LENGTH` + 1 and, once it is
 * longer, its last 2 × `KEEP`: past `maxLength` it gives up and holds nothing more. Does not check that
 * the text is JSON: parse what `end()` gives (a control character in a string or a bad escape fail it here).
 */
export class JsonCutter {
  private parts: string[] = [];
  private length = 0;
  private failed = false;
  private readonly containers: number[] = []; // 1 for an object, 0 for an array
  private expectKey = false;
  private space = false; // the last thing kept is a space
  // The string being read.
  private inString = false;
  private isKey = false;
  private whole = ''; // its characters while it is not longer than CUT_LENGTH (a key's, whatever its length)
  private head = '';
  private tail = '';
  private stringLength = 0;
  private bytes = 0;
  private lastHigh = false; // its last character is the first half of a surrogate pair
  private escape = ''; // an escape read in part
  private strings = 0;
  private readonly sizes = new Map<string, number>();

  constructor(private readonly maxLength: number) {}

  /** Characters held: the text kept, and the parts of the string being read. */
  get held(): number {
    return this.length + this.whole.length + this.head.length + this.tail.length + this.escape.length;
  }

  push(text: string): void {
    let i = 0;
    const n = text.length;
    while (i < n && !this.failed) {
      if (this.inString) {
        if (this.escape !== '') {
          i = this.readEscape(text, i);
          continue;
        }
        STRING_STOP.lastIndex = i;
        const stop = STRING_STOP.exec(text);
        const end = stop === null ? n : stop.index;
        if (end > i) this.add(text.slice(i, end));
        if (stop === null || this.failed) break;
        const c = text[end];
        if (c === '"') this.closeString();
        else if (c === '\\') this.escape = '\\';
        else this.fail(); // a control character: not JSON
        i = end + 1;
        continue;
      }
      const c = text[i]!;
      if (c === '"') {
        this.inString = true;
        this.isKey = this.expectKey && this.containers[this.containers.length - 1] === 1;
        this.space = false;
        i++;
      } else if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
        if (!this.space) this.keep(' ');
        this.space = true;
        i++;
      } else {
        if (c === '{' || c === '[') {
          this.containers.push(c === '{' ? 1 : 0);
          this.expectKey = c === '{';
        } else if (c === '}' || c === ']') {
          this.containers.pop();
          this.expectKey = false;
        } else if (c === ',') {
          this.expectKey = this.containers[this.containers.length - 1] === 1;
        } else if (c === ':') {
          this.expectKey = false;
        } else {
          LITERAL.lastIndex = i;
          LITERAL.test(text);
          this.keep(text.slice(i, LITERAL.lastIndex));
          this.space = false;
          i = LITERAL.lastIndex;
          continue;
        }
        this.keep(c);
        this.space = false;
        i++;
      }
    }
    // What is held after this push must not keep the pushed text alive (a slice of it would).
    if (this.inString) {
      this.whole = flat(this.whole);
      this.head = flat(this.head);
      this.tail = flat(this.tail);
    }
  }

  /**
   * The text kept, how many strings were cut and the UTF-8 size of each one's whole value (keyed by the cut
   * string); `undefined` when it gave up (over `maxLength`, a control character in a string, a bad escape).
   */
  end(): { text: string; strings: number; sizes: ReadonlyMap<string, number> } | undefined {
    if (this.failed) return undefined;
    if (this.inString) return undefined; // a line cut inside a string: not JSON
    return { text: this.parts.join(''), strings: this.strings, sizes: this.sizes };
  }

  private fail(): void {
    this.failed = true;
    this.parts = [];
    this.length = 0;
    this.whole = '';
    this.head = '';
    this.tail = '';
  }

  private keep(text: string): void {
    this.length += text.length;
    if (this.length > this.maxLength) {
      this.fail();
      return;
    }
    this.parts.push(text);
  }

  private readEscape(text: string, from: number): number {
    let i = from;
    while (i < text.length) {
      this.escape += text[i++];
      const need = this.escape[1] === 'u' ? 6 : 2;
      if (this.escape.length < need) continue;
      let decoded: string | undefined;
      if (need === 2) decoded = SIMPLE_ESCAPES[this.escape[1]!];
      else if (HEX4.test(this.escape.slice(2)))
        decoded = String.fromCharCode(Number.parseInt(this.escape.slice(2), 16));
      this.escape = '';
      if (decoded === undefined) this.fail();
      else this.add(decoded);
      break;
    }
    return i;
  }

  /** Adds characters of the string being read. */
  private add(text: string): void {
    const first = text.charCodeAt(0);
    this.bytes += Buffer.byteLength(text);
    // A surrogate pair split between two pieces: 3 + 3 bytes counted for its 4.
    if (this.lastHigh && first >= 0xdc00 && first <= 0xdfff) this.bytes -= 2;
    const last = text.charCodeAt(text.length - 1);
    this.lastHigh = last >= 0xd800 && last <= 0xdbff;
    this.stringLength += text.length;
    if (this.isKey || this.stringLength <= CUT_LENGTH) {
      this.whole += text;
      if (this.isKey && this.length + this.whole.length > this.maxLength) this.fail();
      return;
    }
    if (this.head === '') {
      // Just past CUT_LENGTH: keep its start, and go on with its end only.
      const all = this.whole + text;
      this.head = flat(all.slice(0, KEEP + 1));
      this.tail = flat(all.slice(-KEEP));
      this.whole = '';
      return;
    }
    this.tail += text.length > KEEP ? text.slice(-KEEP) : text;
    if (this.tail.length > 2 * KEEP) this.tail = flat(this.tail.slice(-KEEP));
  }

  private closeString(): void {
    let value: string;
    if (this.head === '') {
      value = this.whole;
    } else {
      value = joinCut(this.head, this.tail.slice(-KEEP), this.stringLength);
      if (!this.sizes.has(value)) this.sizes.set(value, this.bytes);
      this.strings++;
    }
    this.inString = false;
    this.whole = '';
    this.head = '';
    this.tail = '';
    this.stringLength = 0;
    this.bytes = 0;
    this.lastHigh = false;
    this.keep(JSON.stringify(value));
  }
}
