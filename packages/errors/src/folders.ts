import type * as NodeFsPromises from 'node:fs/promises';
import type * as NodePathModule from 'node:path';
import { PhalanxConfigError, PhalanxFileError } from './errors';

interface Node {
  fs: typeof NodeFsPromises;
  path: typeof NodePathModule;
}

async function nodeModules(): Promise<Node> {
  // Loaded lazily, so that browser bundles of the packages that import @phalanx/errors never touch Node built-ins.
  const [fs, path] = await Promise.all([import('node:fs/promises'), import('node:path')]);
  return { fs, path };
}

/**
 * Makes the folder `folder` and its missing parents, one level at a time: walks up to the nearest existing
 * folder, then creates each missing level below it with a plain `mkdir`, outermost first. Node 20's
 * `mkdir(dir, {recursive: true})` never returns for a folder under `/proc`, which refuses new entries with
 * ENOENT; this is bounded by the depth of the path. An existing folder is left as it is, and a level another
 * process makes meanwhile is fine. A level that cannot be made or inspected, or a file on the way, is a
 * `PhalanxFileError` of `folder` and `what` with the reason:
 * `/proc/x: output folder cannot be created: ENOENT: no such file or directory, mkdir '/proc/x'`.
 * A `folder` that is not a non-empty string is a `PhalanxConfigError`.
 *
 * The one folder maker of the packages that write files (`@phalanx/layers`' model saves, `@phalanx/data`'s
 * `writeFreihand`). Node only (the file system); `node:fs` is loaded when it is called.
 *
 * @param what - what the folder is, in the error; default `'folder'`.
 * @example
 * ```ts
 * import { makeFolder } from '@phalanx/errors';
 * await makeFolder('runs/pred/pictures', 'output folder'); // runs/, runs/pred/ and runs/pred/pictures/ exist now
 * ```
 */
export async function makeFolder(folder: string, what = 'folder'): Promise<void> {
  if (typeof folder !== 'string' || folder === '') {
    throw new PhalanxConfigError('makeFolder', 'folder', 'a folder path (a non-empty string)', folder);
  }
  const { fs, path } = await nodeModules();
  const fail = (reason: string) => new PhalanxFileError(folder, what, `cannot be created: ${reason}`);
  const missing: string[] = [];
  for (let level = path.resolve(folder); ; level = path.dirname(level)) {
    const found = await fs.stat(level).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw fail(error.message);
    });
    if (found !== undefined) {
      if (!found.isDirectory()) throw fail(`${level} is not a folder`);
      break;
    }
    missing.push(level);
    if (path.dirname(level) === level) break; // a root that does not exist: mkdir says why
  }
  for (const level of missing.reverse()) {
    try {
      await fs.mkdir(level);
    } catch (error) {
      const made = await fs.stat(level).catch(() => undefined);
      if (made?.isDirectory() !== true) throw fail((error as Error).message);
    }
  }
}
