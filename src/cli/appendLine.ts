/**
 * Internal to the command: how `record` appends its line to the hook log.
 */
import { constants } from 'node:fs';
import { type FileHandle, open, stat } from 'node:fs/promises';

/** What `writeWhole` uses of the log's handle (opened `'a'`, O_APPEND). */
export type LogHandle = Pick<FileHandle, 'write' | 'stat'>;

const NEWLINE = 0x0a;

/**
 * Opens `path` to append with `flags` (O_APPEND, maybe O_CREAT or O_EXCL), and to read too when it can, for
 * `afterLastLine`: a log that is not a regular file (a FIFO: opened O_RDWR, it never waits for a reader, and
 * a line written with none is lost when it is closed), or one that cannot be read (mode 0200: O_RDWR fails
 * with EACCES, where the hook recorded before), is opened to write only, as before that check, and its last
 * byte is not looked at.
 */
export async function openToAppend(path: string, flags: number): Promise<FileHandle> {
  const info = await stat(path).catch(() => undefined);
  if (info !== undefined && !info.isFile()) return open(path, flags | constants.O_WRONLY);
  try {
    return await open(path, flags | constants.O_RDWR);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EACCES' && code !== 'EPERM') throw error;
    return open(path, flags | constants.O_WRONLY);
  }
}

/**
 * `line`, or `line` after a newline when the log does not end with one: a log whose last line was torn (a
 * crash of the machine in the middle of a write, which can leave a part of a line, or NULs) would take this
 * line with it, the reader seeing one line of both, not JSON, and this hook's event lost with the torn one.
 * `file` is the log opened to append and read (`openToAppend`), or to append only (then `line` as it is).
 * Another hook's line still being written when its last byte is read may be taken for a torn one: the
 * blank line that then comes between the two is skipped by the reader. Only a regular file is looked at (a
 * FIFO or a terminal has no last byte).
 */
export async function afterLastLine(file: Pick<FileHandle, 'stat' | 'read'>, line: Buffer): Promise<Buffer> {
  const info = await file.stat();
  if (!info.isFile() || info.size === 0) return line;
  const last = Buffer.alloc(1);
  let bytesRead: number;
  try {
    ({ bytesRead } = await file.read(last, 0, 1, info.size - 1));
  } catch (error) {
    // Opened to write only (see `openToAppend`): its last byte is not known.
    if ((error as NodeJS.ErrnoException).code === 'EBADF') return line;
    throw error;
  }
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
