/**
 * `--init FILE`: start from PyTorch weights — a `.pth`/`.pt` checkpoint read directly (no Python, e.g. the
 * release's `RHD_final.pth`) or a `.safetensors` file — loaded into the network by PyTorch names.
 */
import { readFileSync } from 'node:fs';
import type * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { PhalanxConfigError, PhalanxFileError } from '@phalanx/errors';
import { parseSafetensors, parseTorchCheckpoint } from '@phalanx/layers';
import { importTorchStateDict } from '@phalanx/learnable-groups';

/** A state dict and the selector temperature stored beside it (the release: `ckpt['Temperature']`). */
export interface Checkpoint {
  /** PyTorch name → tensor, PyTorch layout (the caller disposes them). */
  tensors: Record<string, tf.Tensor>;
  /** The Concrete selector's temperature τ, when the file stores one. */
  temperature?: number;
}

/** A checkpoint file read and its container parsed, its tensors not made yet (no tfjs backend needed). */
export interface OpenedCheckpoint {
  /** Makes the tensors of the state dict (PyTorch name → tensor; the caller disposes them). */
  tensors(): Record<string, tf.Tensor>;
  /** The Concrete selector's temperature τ, when the file stores one. */
  temperature?: number;
}

/** Parses a `.safetensors` file (temperature from `__metadata__.Temperature`) or a PyTorch checkpoint. */
export function openCheckpoint(bytes: Uint8Array, name: string): OpenedCheckpoint {
  if (name.endsWith('.safetensors')) {
    const file = parseSafetensors(bytes);
    const t = Number(file.metadata.Temperature);
    return { tensors: () => file.tensors(), temperature: Number.isFinite(t) ? t : undefined };
  }
  const ckpt = parseTorchCheckpoint(bytes, { file: name });
  const t = ckpt.root instanceof Map ? ckpt.root.get('Temperature') : undefined;
  return { tensors: () => ckpt.stateDict(), temperature: typeof t === 'number' ? t : undefined };
}

/** Reads a `.safetensors` file (temperature from `__metadata__.Temperature`) or a PyTorch checkpoint. */
export function readCheckpoint(bytes: Uint8Array, name: string): Checkpoint {
  const opened = openCheckpoint(bytes, name);
  return { tensors: opened.tensors(), temperature: opened.temperature };
}

/**
 * Reads and parses the checkpoint file `path`. A file that cannot be read (missing, a folder) or parsed (empty,
 * truncated, not a checkpoint) is a `PhalanxFileError` naming `path`.
 */
export function openCheckpointFile(path: string): OpenedCheckpoint {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(path));
  } catch (error) {
    throw new PhalanxFileError(path, '--init file', `cannot be read: ${(error as Error).message}`);
  }
  try {
    return openCheckpoint(bytes, path);
  } catch (error) {
    // The safetensors reader names its function, not the file.
    if (error instanceof PhalanxConfigError)
      throw new PhalanxFileError(path, 'safetensors', `is damaged: ${error.message}`);
    throw error;
  }
}

/**
 * Loads the weights of `source` (a file path, or a checkpoint {@link openCheckpointFile} opened) into `model`
 * (strictly: every missing or unexpected key is an error naming it, before any weight is written) and returns how
 * many tensors were loaded and the temperature set.
 */
export function initFromCheckpoint(
  model: tfl.LayersModel,
  source: string | OpenedCheckpoint,
): { loaded: number; temperature?: number } {
  const opened = typeof source === 'string' ? openCheckpointFile(source) : source;
  const { temperature } = opened;
  const tensors = opened.tensors();
  try {
    const report = importTorchStateDict(model, tensors, temperature === undefined ? {} : { temperature });
    return { loaded: report.loaded.length, temperature };
  } finally {
    for (const t of Object.values(tensors)) t.dispose();
  }
}
