import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PhalanxConfigError, PhalanxFileError } from './errors';
import { makeFolder } from './folders';

const tmp = mkdtempSync(join(tmpdir(), 'phalanx-make-folder-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('makeFolder', () => {
  it('makes the missing levels and leaves an existing folder as it is', async () => {
    await makeFolder(join(tmp, 'a', 'b', 'c'));
    writeFileSync(join(tmp, 'a', 'b', 'c', 'kept'), 'x');
    await makeFolder(join(tmp, 'a', 'b', 'c')); // already there: fine
    expect(statSync(join(tmp, 'a', 'b', 'c')).isDirectory()).toBe(true);
    expect(statSync(join(tmp, 'a', 'b', 'c', 'kept')).isFile()).toBe(true);
    await Promise.all([1, 2, 3].map(() => makeFolder(join(tmp, 'racing', 'one')))); // made meanwhile: fine
    expect(statSync(join(tmp, 'racing', 'one')).isDirectory()).toBe(true);
  });

  it('a folder that cannot be made is a PhalanxFileError naming it, not a hang (under /proc as root)', async () => {
    writeFileSync(join(tmp, 'file'), 'x');
    const targets = [join(tmp, 'file'), join(tmp, 'file', 'sub')];
    // Node 20's recursive mkdir loops for ever under /proc; only root gets that far (others fail with EACCES).
    if (process.platform === 'linux' && process.getuid?.() === 0) targets.push('/proc/phalanx-no-such/folder');
    for (const target of targets) {
      const error = await makeFolder(target, 'output folder').catch((e: unknown) => e);
      expect(error, target).toBeInstanceOf(PhalanxFileError);
      expect((error as Error).message).toContain(`${target}: output folder cannot be created: `);
    }
  }, 30_000);

  it('refuses a folder that is not a non-empty string by name', async () => {
    for (const folder of ['', null, 3]) {
      await expect(makeFolder(folder as string)).rejects.toThrow(PhalanxConfigError);
    }
    await expect(makeFolder('')).rejects.toThrow(
      "makeFolder: folder must be a folder path (a non-empty string), but received ''.",
    );
  });
});
