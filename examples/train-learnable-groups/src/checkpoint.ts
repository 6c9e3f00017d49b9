/**
 * `--init FILE`: start from PyTorch weights — a `.pth`/`.pt` checkpoint read directly (no Python, e.g. the
 * release's `RHD_final.pth`) or a `.safetensors` file — loaded into the network by PyTorch names.
 */
import { readFileSync } from 'node:fs';
import type * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { parseSafetensors, parseTorchCheckpoint } from '@phalanx/layers';
import { importTorchStateDict } from '@phalanx/learnable-groups';

/** A state dict and the selector temperature stored beside it (the release: `ckpt['Temperature']`). */
export interface Checkpoint {
  /** PyTorch name → tensor, PyTorch layout (the caller disposes them). */
  tensors: Record<string, tf.Tensor>;
  /** The Concrete selector's temperature τ, when the file stores one. */
  temperature?: number;
}

/** Reads a `.safetensors` file (temperature from `__metadata__.Temperature`) or a PyTorch checkpoint. */
export function readCheckpoint(bytes: Uint8Array, name: string): Checkpoint {
  if (name.endsWith('.safetensors')) {
    const file = parseSafetensors(bytes);
    const t = Number(file.metadata.Temperature);
    return { tensors: file.tensors(), temperature: Number.isFinite(t) ? t : undefined };
  }
  const ckpt = parseTorchCheckpoint(bytes, { file: name });
  const t = ckpt.root instanceof Map ? ckpt.root.get('Temperature') : undefined;
  return { tensors: ckpt.stateDict(), temperature: typeof t === 'number' ? t : undefined };
}

/**
 * Loads the weights of `path` into `model` (strictly: every missing or unexpected key is an error naming
 * it, before any weight is written) and returns how many tensors were loaded and the temperature set.
 */
export function initFromCheckpoint(model: tfl.LayersModel, path: string): { loaded: number; temperature?: number } {
  const { tensors, temperature } = readCheckpoint(new Uint8Array(readFileSync(path)), path);
  try {
    const report = importTorchStateDict(model, tensors, temperature === undefined ? {} : { temperature });
    return { loaded: report.loaded.length, temperature };
  } finally {
    for (const t of Object.values(tensors)) t.dispose();
  }
}
