/**
 * Preloaded into a CLI run by tests (`node --import tsx --import test/helpers/fsyncSpy.ts …`): appends to
 * the file `$VIBESPEC_FSYNC_LOG` one line per fsync of a file handle (`sync <path it was opened by>`) and
 * per rename (`rename <from> <to>`) made through `node:fs/promises`, in order, so that a test can check
 * what a command fsyncs and when. (LevelDB's own fsyncs are native: not seen here.)
 */
import { appendFileSync } from 'node:fs';
import fsp, { type FileHandle } from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';

const logFile = process.env.VIBESPEC_FSYNC_LOG;
if (logFile === undefined) throw new Error('fsyncSpy: set VIBESPEC_FSYNC_LOG');
const record = (line: string) => appendFileSync(logFile, `${line}\n`);

const paths = new WeakMap<FileHandle, string>();
const realOpen = fsp.open;
const realRename = fsp.rename;
const probe = await realOpen(logFile, 'a');
const proto = Object.getPrototypeOf(probe) as FileHandle;
await probe.close();
const realSync = proto.sync;
proto.sync = async function (this: FileHandle) {
  await realSync.call(this);
  record(`sync ${paths.get(this) ?? '?'}`);
};
fsp.open = (async (...args: Parameters<typeof fsp.open>) => {
  const handle = await realOpen(...args);
  paths.set(handle, String(args[0]));
  return handle;
}) as typeof fsp.open;
fsp.rename = (async (from, to) => {
  await realRename(from, to);
  record(`rename ${String(from)} ${String(to)}`);
}) as typeof fsp.rename;
// The named exports (`import { open } from 'node:fs/promises'`) follow the patched functions.
syncBuiltinESMExports();
