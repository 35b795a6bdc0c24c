/**
 * Lists the fsyncs and renames a command makes, in order: one line per fsync of a file handle (`sync <path
 * it was opened by>`) and per rename (`rename <from> <to>`) made through `node:fs/promises`, so that a
 * test can check what a command fsyncs and when. (LevelDB's own fsyncs are native: not seen here.)
 *
 * In process, `spyOnFsyncs`. Preloaded into a CLI run (`node --import tsx --import
 * test/helpers/fsyncSpy.ts …` with `VIBESPEC_FSYNC_LOG` set), it appends those lines to that file.
 */
import { appendFileSync } from 'node:fs';
import fsp, { type FileHandle } from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
import { fileURLToPath } from 'node:url';

/** Spies until the returned function is called: `record` gets each line. */
export async function spyOnFsyncs(record: (line: string) => void): Promise<() => void> {
  const paths = new WeakMap<FileHandle, string>();
  const realOpen = fsp.open;
  const realRename = fsp.rename;
  const probe = await realOpen(fileURLToPath(import.meta.url), 'r');
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
  return () => {
    proto.sync = realSync;
    fsp.open = realOpen;
    fsp.rename = realRename;
    syncBuiltinESMExports();
  };
}

const logFile = process.env.VIBESPEC_FSYNC_LOG;
if (logFile !== undefined) await spyOnFsyncs((line) => appendFileSync(logFile, `${line}\n`));
