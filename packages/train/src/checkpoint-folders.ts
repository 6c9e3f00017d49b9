/**
 * Checkpoint folders on disk, safe against kills: a checkpoint is written into a temporary sibling
 * folder and renamed into place, so `step-N/` and `best/` are always complete; rotation keeps the newest
 * finite checkpoint; leftovers of killed writers are cleaned up.
 */
import { mkdir, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { checkInteger, PhalanxFileError } from '@phalanx/errors';
import { basename, dirname, join } from 'node:path';
import { checkPath, fileSystemReason, mkdirReason, nearestFolder } from './paths';
import { parseTrainerState } from './trainer-state';

/** The file whose presence marks a complete checkpoint folder. */
const STATE_FILE = 'trainer-state.json';
const TEMPORARY = /\.(tmp|old|del)-(\d+)-[a-z0-9-]+$/;

/** A checkpoint folder under a checkpoint root. */
export interface CheckpointEntry {
  /** The step it was written at (from the folder name `step-N`). */
  step: number;
  /** Its path. */
  dir: string;
}

/** A name no other writer uses at the same time: `<pid>-<time>-<random>`. */
export function uniqueSuffix(): string {
  return `${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

/** The folder name of the checkpoint at `step` (an integer ≥ 0, else a `PhalanxConfigError`): `step-00001200`. */
export function checkpointName(step: number): string {
  checkInteger('checkpointName', 'step', step, 0);
  return `step-${String(step).padStart(8, '0')}`;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/**
 * Moves the complete folder `staged` to `target`. A new target appears in one rename. An existing one is
 * first renamed aside to `<target>.old-<id>` and deleted after: a kill between the two renames leaves
 * that folder, which {@link recoverCheckpointFolder} puts back. Paths that are not non-empty strings are a
 * `PhalanxConfigError`.
 */
export async function replaceFolder(staged: string, target: string): Promise<void> {
  checkPath('replaceFolder', 'staged', staged, 'a folder path');
  checkPath('replaceFolder', 'target', target, 'a folder path');
  const current = await stat(target).catch(() => null);
  if (current !== null && !current.isDirectory()) {
    // A file of a checkpoint's name is not ours to delete.
    throw new PhalanxFileError(target, 'checkpoint folder', 'is a file, not a folder: move it away');
  }
  if (!(await exists(target))) {
    await rename(staged, target);
    return;
  }
  const aside = `${target}.old-${uniqueSuffix()}`;
  await rename(target, aside);
  await rename(staged, target);
  await rm(aside, { recursive: true, force: true });
}

/**
 * Checks, before any training step, that checkpoints can be written under the root `dir`, without leaving
 * anything behind: it and its nearest existing ancestor must be folders, and a folder must be makeable in
 * the nearest existing one (`dir` itself, or the ancestor its missing levels would be made in) — a probe
 * `.write-check.tmp-<id>` made and removed at once. A file in the way, a read-only file system, or one that
 * takes no new folders (`/sys`, `/proc`) is a `PhalanxFileError` naming `dir`, raised before training
 * rather than after its first steps (the folders themselves are made with the first checkpoint, one level at
 * a time: see `writeCheckpoint`). A `dir` that is not a non-empty string is a `PhalanxConfigError`.
 *
 * @example
 * await checkCheckpointRoot('runs/a');
 */
export async function checkCheckpointRoot(dir: string): Promise<void> {
  checkPath('checkCheckpointRoot', 'dir', dir, 'a folder path');
  const { existing, missing } = nearestFolder(dir, dir, 'checkpoint folder');
  // Named like a writer's temporary folder: in the root, a probe left by a kill goes with removeStaleTemporaries.
  const probe = join(existing, `.write-check.tmp-${uniqueSuffix()}`);
  try {
    await mkdir(probe);
  } catch (error) {
    const problem =
      missing.length === 0
        ? `cannot be written: ${fileSystemReason(error)}`
        : `cannot be made: no folder can be made in ${existing}: ${mkdirReason(error)}`;
    throw new PhalanxFileError(dir, 'checkpoint folder', problem);
  }
  await rm(probe, { recursive: true, force: true });
}

/**
 * When `target` (e.g. `best/`) is missing because a replacement was killed between its two renames,
 * renames the complete folder that was set aside back to `target`. Returns `target` if it now holds a
 * checkpoint, else `null`. A `target` that is not a non-empty string is a `PhalanxConfigError`.
 */
export async function recoverCheckpointFolder(target: string): Promise<string | null> {
  checkPath('recoverCheckpointFolder', 'target', target, 'a folder path');
  if (await exists(join(target, STATE_FILE))) return target;
  const parent = dirname(target);
  const prefix = `${basename(target)}.old-`;
  const names = await readdir(parent).catch(() => [] as string[]);
  for (const name of names
    .filter((n) => n.startsWith(prefix))
    .sort()
    .reverse()) {
    if (!(await exists(join(parent, name, STATE_FILE)))) continue;
    await rm(target, { recursive: true, force: true });
    await rename(join(parent, name), target);
    return target;
  }
  return null;
}

function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as { code?: string }).code === 'EPERM';
  }
}

/**
 * Deletes the temporary folders (`*.tmp-<pid>-…`, `*.old-<pid>-…`, `*.del-<pid>-…`) under `root` left by
 * writers that are no longer running. A set-aside folder whose target is missing is recovered first. A
 * `root` that is not a non-empty string is a `PhalanxConfigError`.
 */
export async function removeStaleTemporaries(root: string): Promise<void> {
  checkPath('removeStaleTemporaries', 'root', root, 'a folder path');
  const names = await readdir(root).catch(() => [] as string[]);
  for (const name of names) {
    const m = TEMPORARY.exec(name);
    if (!m || processAlive(Number(m[2]))) continue;
    if (m[1] === 'old') await recoverCheckpointFolder(join(root, name.slice(0, m.index)));
    await rm(join(root, name), { recursive: true, force: true });
  }
}

/**
 * The complete checkpoints under `root` (folders `step-N` holding `trainer-state.json`), oldest first; none
 * when `root` does not exist. A `root` that is not a non-empty string is a `PhalanxConfigError` (it read as
 * "no checkpoints").
 *
 * @example
 * const all = await listCheckpoints('runs/lg/checkpoints'); // [{ step: 800, dir: '…/step-00000800' }, …]
 */
export async function listCheckpoints(root: string): Promise<CheckpointEntry[]> {
  checkPath('listCheckpoints', 'root', root, 'a folder path');
  const names = await readdir(root).catch(() => [] as string[]);
  const found: CheckpointEntry[] = [];
  for (const name of names) {
    const m = /^step-(\d+)$/.exec(name);
    if (m && (await exists(join(root, name, STATE_FILE)))) found.push({ step: Number(m[1]), dir: join(root, name) });
  }
  return found.sort((a, b) => a.step - b.step);
}

/**
 * The newest complete checkpoint folder under `root`, or `null`. A `root` that is not a non-empty string is
 * a `PhalanxConfigError`.
 *
 * @example
 * const dir = await latestCheckpoint('runs/lg/checkpoints');
 */
export async function latestCheckpoint(root: string): Promise<string | null> {
  checkPath('latestCheckpoint', 'root', root, 'a folder path');
  const all = await listCheckpoints(root);
  return all.length ? all[all.length - 1].dir : null;
}

/** Whether a checkpoint's state says it is finite (unreadable states count as not finite). */
async function isFinite(dir: string): Promise<boolean> {
  try {
    const file = join(dir, STATE_FILE);
    return parseTrainerState(await readFile(file, 'utf8'), file).finite !== false;
  } catch {
    return false;
  }
}

/**
 * Deletes all but the newest `keep` `step-N` checkpoints under `root` — except the newest finite one,
 * which is always kept, so non-finite checkpoints never push the last good one out. Each is renamed aside
 * before it is deleted, so a kill during a deletion never leaves a half-deleted `step-N/`. Returns the
 * folders deleted. A `root` that is not a non-empty string and a `keep` that is not an integer ≥ 0 are a
 * `PhalanxConfigError`, checked before anything is deleted.
 *
 * @example
 * await rotateCheckpoints('runs/lg/checkpoints', 2);
 */
export async function rotateCheckpoints(root: string, keep: number): Promise<string[]> {
  checkPath('rotateCheckpoints', 'root', root, 'a folder path');
  checkInteger('rotateCheckpoints', 'keep', keep, 0);
  const all = await listCheckpoints(root);
  const kept = new Set(all.slice(Math.max(0, all.length - keep)).map((c) => c.dir));
  for (const c of [...all].reverse()) {
    if (await isFinite(c.dir)) {
      kept.add(c.dir);
      break;
    }
  }
  const deleted = all.filter((c) => !kept.has(c.dir)).map((c) => c.dir);
  for (const dir of deleted) await removeFolder(dir);
  return deleted;
}

/**
 * Deletes a checkpoint folder so that a kill at any moment never leaves a half-deleted `step-N/` that still
 * looks complete: it is renamed to `<dir>.del-<id>` (one step) and deleted there; a leftover is removed by
 * {@link removeStaleTemporaries}.
 */
async function removeFolder(dir: string): Promise<void> {
  const doomed = `${dir}.del-${uniqueSuffix()}`;
  await rename(dir, doomed);
  await rm(doomed, { recursive: true, force: true });
}
