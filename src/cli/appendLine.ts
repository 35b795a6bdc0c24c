/**
 * Internal to the command: how `record` appends its line to the hook log.
 */
import { type FileHandle, open } from 'node:fs/promises';

/** What `writeWhole` uses of the log's handle (opened `'a'`, O_APPEND). */
export type LogHandle = Pick<FileHandle, 'write' | 'stat'>;

const NEWLINE = 0x0a;

/**
 * `line`, or `line` after a newline when the log does not end with one: a log whose last line was torn (a
 * crash of the machine in the middle of a write, which can leave a part of a line, or NULs) would take this
 * line with it, the reader seeing one line of both, not JSON, and this hook's event lost with the torn one.
 * `file` is the log opened to append and read (`'a+'`, O_APPEND | O_RDWR). Another hook's line still being
 * written when its last byte is read may be taken for a torn one: the blank line that then comes between the
 * two is skipped by the reader. Only a regular file is looked at (a FIFO or a terminal has no last byte).
 */
export async function afterLastLine(file: Pick<FileHandle, 'stat' | 'read'>, line: Buffer): Promise<Buffer> {
  const info = await file.stat();
  if (!info.isFile() || info.size === 0) return line;
  const last = Buffer.alloc(1);
  const { bytesRead } = await file.read(last, 0, 1, info.size - 1);
  return bytesRead === 1 && last[0] !== NEWLINE ? Buffer.concat([Buffer.of(NEWLINE), line]) : line;
}

/**
 * Writes `line` (one JSON line, ending with its newline) to `file`, the log at `path` opened with
 * O_APPEND, in one `write` (so that concurrent hooks' lines stay whole), and checks that all of it was
 * written. A short write (a full disk, a file size limit) is an error; no second write of the rest (another
 * hook's line may already follow the cut one). The cut line would take the next line with it (the reader
 * would see one line of both, not JSON), so its last byte is replaced by a newline: an overwrite, which
 * needs no more space on a full disk. That is done only when the end of the file is the cut line (another
 * hook's line written after it cannot be told apart): the error says whether it was.
 */
export async function writeWhole(file: LogHandle, line: Uint8Array, path: string): Promise<void> {
  const { bytesWritten } = await file.write(line, 0, line.length);
  if (bytesWritten === line.length) return;
  let ended = bytesWritten === 0;
  if (!ended) {
    try {
      ended = await endCutLine(file, line.subarray(0, bytesWritten), path);
    } catch {
      // Reported as not ended, below.
    }
  }
  const cut = ended ? '' : ': the cut line could not be ended, and makes the line after it unreadable';
  throw new Error(`short write: ${bytesWritten} of ${line.length} bytes written${cut}`);
}

/** Replaces the last byte of `written` by a newline, if the file ends with it. */
async function endCutLine(file: LogHandle, written: Uint8Array, path: string): Promise<boolean> {
  const { size, ino } = await file.stat();
  if (size < written.length) return false;
  // A second handle, positioned: a write through the O_APPEND one goes to the end of the file, whatever
  // the position asked for.
  const overwrite = await open(path, 'r+');
  try {
    if ((await overwrite.stat()).ino !== ino) return false; // the path is another file now
    const tail = Buffer.alloc(written.length);
    const { bytesRead } = await overwrite.read(tail, 0, tail.length, size - written.length);
    if (bytesRead !== tail.length || !tail.equals(written)) return false;
    return (await overwrite.write(Buffer.from('\n'), 0, 1, size - 1)).bytesWritten === 1;
  } finally {
    await overwrite.close();
  }
}
