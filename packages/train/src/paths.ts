/**
 * The path check of the functions that read or write checkpoints and logs, and the making of their folders
 * (internal: not exported from the package). A path that is not a string reached `node:path` or `node:fs` as
 * a raw `TypeError`, and an empty one silently meant the working directory; a folder that cannot be made
 * failed with Node's raw (and, on a read-only or virtual file system, misleading) `ENOENT`, or not at all.
 */
import { mkdirSync, statSync, type Stats } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { describeCompact, PhalanxConfigError, PhalanxFileError } from '@phalanx/errors';

/**
 * Returns `value` if it is a non-empty string without a NUL character (which `node:fs` refuses); throws a
 * `PhalanxConfigError` of `component` naming `argument` otherwise:
 * `readTrainerState: dir must be a folder path (a non-empty string), but received null.`
 *
 * @param what - what the path names, in the error: `'a folder path'` or `'a file path'`.
 * @example
 * const dir = checkPath('readTrainerState', 'dir', 'runs/a/step-00000100', 'a folder path');
 */
export function checkPath(
  component: string,
  argument: string,
  value: unknown,
  what: 'a folder path' | 'a file path',
): string {
  if (typeof value !== 'string' || value === '' || value.includes('\0')) {
    throw new PhalanxConfigError(component, argument, `${what} (a non-empty string)`, value, describeCompact);
  }
  return value;
}

/** Plain words for the codes of the file-system failures a checkpoint or log folder meets. */
const REASONS: Readonly<Record<string, string>> = {
  EROFS: 'the file system is read-only',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EISDIR: 'it is a folder',
  ENOTDIR: 'a part of the path is a file',
};

/**
 * Why a `node:fs` call failed, for a `PhalanxFileError`: plain words and the code for the usual codes
 * (`the file system is read-only (EROFS)`), else Node's message.
 *
 * @example
 * const error = Object.assign(new Error('EROFS: read-only file system'), { code: 'EROFS' });
 * fileSystemReason(error); // 'the file system is read-only (EROFS)'
 */
export function fileSystemReason(error: unknown): string {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  if (typeof code === 'string' && REASONS[code] !== undefined) return `${REASONS[code]} (${code})`;
  return typeof message === 'string' ? message : String(error);
}

/** `statSync(path)`, or `null` when nothing is there (a missing entry, or a file in the way: ENOTDIR). */
function statOrNull(path: string, file: string, what: string): Stats | null {
  try {
    return statSync(path);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw new PhalanxFileError(file, what, `cannot be made: ${path} cannot be read: ${fileSystemReason(error)}`);
  }
}

/**
 * Walks up from `folder` to the nearest folder that exists: returns it and the missing levels below it,
 * outermost first (none when `folder` exists). A file in the way is a `PhalanxFileError` of `file` and
 * `what` (`is a file, not a folder`; `cannot be made: <ancestor> is a file`).
 *
 * @param file - the path named in an error (the folder, or the file it is for).
 * @example
 * const { existing, missing } = nearestFolder('runs/a/checkpoints', 'runs/a/checkpoints', 'checkpoint folder');
 */
export function nearestFolder(folder: string, file: string, what: string): { existing: string; missing: string[] } {
  const target = resolve(folder);
  const missing: string[] = [];
  for (let path = target; ; path = dirname(path)) {
    const info = statOrNull(path, file, what);
    if (info !== null) {
      if (info.isDirectory()) return { existing: path, missing: missing.reverse() };
      throw new PhalanxFileError(
        file,
        what,
        path === target ? 'is a file, not a folder' : `cannot be made: ${path} is a file`,
      );
    }
    missing.push(path);
    if (dirname(path) === path) return { existing: path, missing: missing.reverse() }; // mkdir names the missing root
  }
}

/**
 * Why a `mkdir` in an existing folder failed: as {@link fileSystemReason}, except that ENOENT — the parent
 * was there a moment ago — is a folder that takes no new entries (e.g. `/proc`), not a missing one.
 */
export function mkdirReason(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'ENOENT' ? 'the file system takes no new folders there (ENOENT)' : fileSystemReason(error);
}

/**
 * Makes the folder `folder` and its missing parents, without `mkdir(…, {recursive: true})` — which in Node 20
 * loops for ever on a path under `/proc` (procfs answers ENOENT for a folder whose parent exists): walks up
 * to the nearest existing folder ({@link nearestFolder}), then makes each missing level, outermost first,
 * with a plain `mkdir`. A file in the way, or a level that cannot be made
 * (`cannot be made: mkdir <level> failed: the file system is read-only (EROFS)`), is a `PhalanxFileError` of
 * `file` and `what` (e.g. `'checkpoint folder'`). An existing folder is left as it is.
 *
 * @param file - the path named in an error (the folder, or the file it is for).
 * @example
 * makeFolder('runs/a/checkpoints', 'runs/a/checkpoints', 'checkpoint folder');
 */
export function makeFolder(folder: string, file: string, what: string): void {
  for (const level of nearestFolder(folder, file, what).missing) {
    try {
      mkdirSync(level);
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (code === 'EEXIST' && statOrNull(level, file, what)?.isDirectory()) continue; // made meanwhile
      throw new PhalanxFileError(file, what, `cannot be made: mkdir ${level} failed: ${mkdirReason(error)}`);
    }
  }
}
