/**
 * Checkpoints during `fit` as a trainer callback: periodic `step-N/` folders with rotation, one at the
 * end (or on interrupt), and `best/` whenever the monitored metric improves.
 */
import { join } from 'node:path';
import { checkInteger, checkOptions } from '@phalanx/errors';
import { checkPath } from '../paths';
import {
  checkpointName,
  recoverCheckpointFolder,
  removeStaleTemporaries,
  rotateCheckpoints,
} from '../checkpoint-folders';
import type {
  CheckpointReason,
  EvaluateInfo,
  LoopEndInfo,
  StepResult,
  TrainBeginInfo,
  TrainerCallbacks,
  TrainerHandle,
} from './callback';

/** The folder of the best checkpoint under a checkpoint root. */
export const BEST_CHECKPOINT = 'best';

/** Options of {@link Checkpointing}. */
export interface CheckpointingOptions {
  /** The checkpoint root: `step-N/` and `best/` go there. Required. */
  dir: string;
  /** Write a checkpoint every this many steps (integer ≥ 1), and at the end. Default: only at the end. */
  every?: number;
  /** Number of `step-N` checkpoints kept (integer ≥ 1), plus the newest finite one if it is older. Default 2. */
  keep?: number;
}

/** The keys of {@link CheckpointingOptions}: any other key is a named error. */
const CHECKPOINTING_KEYS = { dir: true, every: true, keep: true } satisfies Record<keyof CheckpointingOptions, true>;

/**
 * Writes `dir/step-N/` every `every` steps and when the loop ends (reason `'end'`, or `'interrupt'`
 * after a stop), never twice for one step; keeps the newest `keep` of them and always the newest finite
 * one; writes `dir/best/` after an evaluation that improved the monitored metric. Every folder is
 * written to a temporary name and renamed into place (see `writeCheckpoint`). At the start of a run it
 * cleans up after killed writers and puts back a `best/` whose replacement was killed half-way.
 * Dispatches `onCheckpoint` after each.
 *
 * @example
 * const checkpointing = new Checkpointing({ dir: 'runs/lg/checkpoints', every: 200, keep: 3 });
 */
export class Checkpointing implements TrainerCallbacks {
  /** The checkpoint root. */
  readonly dir: string;
  /** Steps between checkpoints, `null` for only at the end. */
  readonly every: number | null;
  /** Number of `step-N` checkpoints kept. */
  readonly keep: number;
  private lastStep = -1;

  constructor(options: CheckpointingOptions) {
    const name = 'Checkpointing';
    checkOptions(name, 'options', options, CHECKPOINTING_KEYS, 'an object {dir, every?, keep?}');
    this.dir = checkPath(name, 'dir', options.dir, 'a folder path');
    this.every = options.every === undefined ? null : checkInteger(name, 'every', options.every, 1);
    this.keep = checkInteger(name, 'keep', options.keep ?? 2, 1);
  }

  /** Cleans up after killed writers; a resumed run does not write its starting step again. */
  async onTrainBegin(info: TrainBeginInfo): Promise<void> {
    await removeStaleTemporaries(this.dir);
    await recoverCheckpointFolder(join(this.dir, BEST_CHECKPOINT));
    this.lastStep = info.resumedFrom === null ? -1 : info.step;
  }

  /** The periodic checkpoint. */
  async onStepEnd(info: StepResult, trainer: TrainerHandle): Promise<void> {
    if (this.every !== null && info.step % this.every === 0) await this.save(trainer, 'periodic');
  }

  /** `best/` when the monitored metric improved. */
  async onEvaluate(info: EvaluateInfo, trainer: TrainerHandle): Promise<void> {
    if (!info.improved) return;
    const dir = join(this.dir, BEST_CHECKPOINT);
    const { finite } = await trainer.saveCheckpoint(dir);
    await trainer.emit('onCheckpoint', { step: trainer.step, dir, reason: 'best', finite });
  }

  /** The last checkpoint of the run. */
  async onLoopEnd(info: LoopEndInfo, trainer: TrainerHandle): Promise<void> {
    await this.save(trainer, info.interrupted ? 'interrupt' : 'end');
  }

  private async save(trainer: TrainerHandle, reason: Exclude<CheckpointReason, 'best'>): Promise<void> {
    if (this.lastStep === trainer.step) return;
    const dir = join(this.dir, checkpointName(trainer.step));
    const { finite } = await trainer.saveCheckpoint(dir);
    this.lastStep = trainer.step;
    await rotateCheckpoints(this.dir, this.keep);
    await trainer.emit('onCheckpoint', { step: trainer.step, dir, reason, finite });
  }
}
