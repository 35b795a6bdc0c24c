/**
 * Internal to the command: how `record` appends its line to the hook log.
 */
import { type FileHandle, open } from 'node:fs/promises';

/** What `writeWhole` uses of the log's handle (opened `'a'`, O_APPEND). */
export type LogHandle = Pick<FileHandle, 'write' | 'stat'>;

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
