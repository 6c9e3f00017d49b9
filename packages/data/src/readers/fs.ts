/** File access for the readers, loaded lazily so that the package stays importable in browsers. */
import type * as FsPromises from 'node:fs/promises';
import { PhalanxFileError } from '@phalanx/errors';

type Fs = typeof FsPromises;
let fsModule: Fs | undefined;

async function fs(): Promise<Fs> {
  fsModule ??= await import('node:fs/promises');
  return fsModule;
}

/** Reads a whole file; a missing file fails with a message naming it and `what` it should hold. */
export async function readBytes(path: string, what: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await (await fs()).readFile(path));
  } catch (e) {
    const code = (e as { code?: string }).code;
    throw new PhalanxFileError(
      path,
      what,
      code === 'ENOENT' ? 'is missing (file not found)' : `cannot be read: ${(e as Error).message}`,
    );
  }
}

/** `true` when `path` exists. */
export async function exists(path: string): Promise<boolean> {
  try {
    await (await fs()).access(path);
    return true;
  } catch {
    return false;
  }
}

/** Joins path segments with `/` (Node accepts it on every platform). */
export function joinPath(...parts: string[]): string {
  return parts
    .filter((p) => p.length > 0)
    .map((p, i) => (i === 0 ? p.replace(/\/+$/, '') : p.replace(/^\/+|\/+$/g, '')))
    .join('/');
}
