/**
 * Reads the marble diagrams of the docs and the JSDoc, so that a test runs the diagram as it is written:
 * an edit of the diagram that the code does not follow fails the test.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

/** One line of a diagram, `label: marble  note`: the marble is the first word after the label. */
export interface DiagramLine {
  readonly label: string;
  readonly marble: string;
  /** The marble's column in the paragraph (JSDoc's ` * ` taken off), to compare starting times. */
  readonly column: number;
}

export interface Diagram {
  /** The diagram's text, line by line (JSDoc's ` * ` taken off). */
  readonly rows: readonly string[];
  /** Every line with a label, in order (a note's continuation line has none and is left out). */
  readonly lines: readonly DiagramLine[];
  /**
   * The numbers written under the letters of the line labelled `label` (the times row of the line after
   * it): for each value of its marble, in order, the number starting at the value's column.
   */
  timesUnder(label: string): number[];
  /** The marble of the `nth` (0-based) line labelled `label`; throws if there is none. */
  marble(label: string, nth?: number): string;
  /** The column where the marble of the `nth` line labelled `label` starts: the difference of two is frames. */
  column(label: string, nth?: number): number;
}

const LINE = /^([A-Za-z][\w $]*?):(\s+)(\S+)/;

/**
 * The diagram of `file` (relative to the repository) holding `anchor`: the paragraph (lines between
 * blank lines) of a fenced block that contains it. In a `.ts` file, the block is read from the JSDoc.
 */
export function readDiagram(file: string, anchor: string): Diagram {
  const text = readFileSync(resolve(import.meta.dirname, '../..', file), 'utf8');
  const raw = text.split('\n');
  const lines = file.endsWith('.ts') ? raw.map((line) => line.replace(/^\s*\* ?/, '')) : raw;
  const paragraphs: string[][] = [];
  let inBlock = false;
  let paragraph: string[] = [];
  for (const line of lines) {
    if (/^\s*```/.test(line)) {
      if (paragraph.length > 0) paragraphs.push(paragraph);
      paragraph = [];
      inBlock = !inBlock;
    } else if (inBlock && line.trim() === '') {
      if (paragraph.length > 0) paragraphs.push(paragraph);
      paragraph = [];
    } else if (inBlock) {
      paragraph.push(line);
    }
  }
  const found = paragraphs.filter((p) => p.some((line) => line.includes(anchor)));
  if (found.length !== 1)
    throw new Error(`${found.length} diagrams of ${file} hold ${JSON.stringify(anchor)}`);
  const rows = found[0]!;
  const parsed: DiagramLine[] = [];
  for (const line of rows) {
    const match = LINE.exec(line);
    if (match === null) continue;
    parsed.push({ label: match[1]!, marble: match[3]!, column: match[1]!.length + 1 + match[2]!.length });
  }
  const line = (label: string, nth: number): DiagramLine => {
    const all = parsed.filter((l) => l.label === label);
    const picked = all[nth];
    if (picked === undefined) throw new Error(`no line ${nth} labelled ${label} in the diagram of ${file}`);
    return picked;
  };
  return {
    rows,
    lines: parsed,
    marble: (label, nth = 0) => line(label, nth).marble,
    column: (label, nth = 0) => line(label, nth).column,
    timesUnder(label) {
      const { marble, column } = line(label, 0);
      const under = rows[rows.findIndex((row) => LINE.exec(row)?.[1] === label) + 1] ?? '';
      const times: number[] = [];
      [...marble].forEach((c, i) => {
        if (/[-()|#^!\s]/.test(c)) return;
        const time = /^\d+/.exec(under.slice(column + i));
        if (time === null)
          throw new Error(`no time under ${c} at column ${column + i} in the diagram of ${file}`);
        times.push(Number(time[0]));
      });
      return times;
    },
  };
}
