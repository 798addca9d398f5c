/**
 * Atomic file output: write to `<final>.tmp-<pid>-<random>` in the same directory, fsync, rename over the final
 * name, fsync the directory. A reader (or a resumed run) therefore sees either the old file or the complete new
 * one, never a half-written file under the final name.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, promises as fsp, rmSync } from 'node:fs';
import path from 'node:path';

export function tmpPathFor(finalPath: string): string {
  return `${finalPath}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
}

export const TMP_MARK = /\.tmp-\d+-[0-9a-f]{8}$/;

/** fsync a directory so a rename inside it survives a power loss. */
export async function fsyncDir(dir: string): Promise<void> {
  const handle = await fsp.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Move a finished temp file into place durably. */
export async function commitTmp(tmpPath: string, finalPath: string): Promise<void> {
  const handle = await fsp.open(tmpPath, 'r+');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fsp.rename(tmpPath, finalPath);
  await fsyncDir(path.dirname(finalPath));
}

/** Write a whole file atomically. */
export async function writeFileAtomic(finalPath: string, data: string | Uint8Array): Promise<void> {
  await fsp.mkdir(path.dirname(finalPath), { recursive: true });
  const tmp = tmpPathFor(finalPath);
  try {
    await fsp.writeFile(tmp, data);
    await commitTmp(tmp, finalPath);
  } catch (err) {
    await fsp.rm(tmp, { force: true });
    throw err;
  }
}

/**
 * Write a file atomically through a file descriptor, for writers that emit many parts (archives, tensor files)
 * without concatenating them in memory first. `write` gets the temp file's descriptor.
 */
export async function writeFileAtomicWith(finalPath: string, write: (fd: number) => void | Promise<void>): Promise<void> {
  await fsp.mkdir(path.dirname(finalPath), { recursive: true });
  const tmp = tmpPathFor(finalPath);
  const fd = openSync(tmp, 'w');
  let open = true;
  try {
    await write(fd);
    closeSync(fd);
    open = false;
    await commitTmp(tmp, finalPath);
  } catch (err) {
    if (open) closeSync(fd);
    rmSync(tmp, { force: true });
    throw err;
  }
}

/** Remove temp files a killed run left in `dir` (only names carrying vlkit's temp mark). Returns what was removed. */
export async function sweepStaleTmp(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await fsp.readdir(dir);
  } catch {
    return [];
  }
  const stale = names.filter((n) => TMP_MARK.test(n)).map((n) => path.join(dir, n));
  await Promise.all(stale.map((p) => fsp.rm(p, { force: true })));
  return stale;
}
