/**
 * The flags that size the small model — `--backbone-layers`, `--backbone-widths`, `--hourglass-channels`,
 * `--hourglass-stacks`, `--node-dim`, `--fem-layers` — each overriding `MODEL_SIZES.small` (with the backbone `--backbone-stride` picks).
 * They land in the job's `model` configuration, so `config.json` records them (`config.model.backbone.layers`,
 * `config.model.hourglassChannels`, …) and `--resume` refuses other values; without them the configuration is
 * exactly the one runs had before these flags existed, so older runs resume as they are.
 */
import type { EhpeConfig } from '@phalanx/ehpe';
import { PhalanxConfigError } from '@phalanx/errors';
import { MODEL_SIZES, SMALL_BACKBONES, type SmallBackboneStride } from './pipeline';

/** The flags of this module, as `parseArgs` names them. */
export const SIZE_FLAGS = [
  'backbone-layers',
  'backbone-widths',
  'hourglass-channels',
  'hourglass-stacks',
  'node-dim',
  'fem-layers',
] as const;

/** The raw values of the sizing flags (absent: the model's own). */
export type SizeFlags = Partial<Record<(typeof SIZE_FLAGS)[number], string | undefined>>;

/** The component named by the flags' errors. */
const COMPONENT = 'train-ehpe';

/**
 * A comma-separated list of integers ≥ 1 with exactly `count` items (one per backbone stage; `stride` is
 * that backbone's output stride, for the message). Empty items, non-integers, zero, negatives and another
 * count are a `PhalanxConfigError` naming the flag.
 */
function stageList(name: string, value: string, count: number, stride: number): number[] {
  const items = value.split(',');
  const numbers = items.map((item) => (item.trim() === '' ? Number.NaN : Number(item)));
  if (!numbers.every((n) => Number.isInteger(n) && n >= 1)) {
    throw new PhalanxConfigError(
      COMPONENT,
      `--${name}`,
      "a comma-separated list of integers ≥ 1 without empty items, e.g. '1,1'",
      value,
    );
  }
  if (numbers.length !== count) {
    throw new PhalanxConfigError(
      COMPONENT,
      `--${name}`,
      `a list of ${count} items, one per stage of the stride-${stride} backbone ` +
        `(--backbone-stride sets the number of stages: ${Object.entries(SMALL_BACKBONES)
          .map(([s, b]) => `${s} → ${b.layers.length}`)
          .join(', ')})`,
      value,
    );
  }
  return numbers;
}

/** An integer flag ≥ `min` (and even, with `even`), as a `PhalanxConfigError` naming the flag otherwise. */
function intValue(name: string, value: string, min: number, even = false): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < min || (even && n % 2 !== 0)) {
    throw new PhalanxConfigError(COMPONENT, `--${name}`, `${even ? 'an even integer' : 'an integer'} ≥ ${min}`, value);
  }
  return n;
}

/**
 * `base` with the sizing flags applied: `--backbone-layers` and `--backbone-widths` replace the blocks and
 * the channels of each stage of `base.backbone` and must keep its number of stages (and so its output
 * stride); `--hourglass-channels` (even, ≥ 2, as `createEhpe` requires) and `--hourglass-stacks` (≥ 1) set the
 * TW-stage's hourglass. Absent flags keep `base`'s values, so with no flag the result equals `base`.
 *
 * @example
 * sizedModel(MODEL_SIZES.small, { 'backbone-layers': '2,2', 'hourglass-channels': '64' });
 * // backbone { …, layers: [2, 2], widths: [32, 96] }, hourglassChannels 64
 */
export function sizedModel(base: EhpeConfig, flags: SizeFlags): EhpeConfig {
  const layersFlag = flags['backbone-layers'];
  const widthsFlag = flags['backbone-widths'];
  const channels = flags['hourglass-channels'];
  const stacks = flags['hourglass-stacks'];
  const nodeDim = flags['node-dim'];
  const femLayers = flags['fem-layers'];
  let backbone = base.backbone;
  if (layersFlag !== undefined || widthsFlag !== undefined) {
    const stages = backbone?.layers?.length;
    if (backbone === undefined || stages === undefined) {
      throw new PhalanxConfigError(COMPONENT, 'base.backbone', 'a backbone with its layers listed', backbone);
    }
    const stride = 4 * 2 ** (stages - 1); // resolveResNet's output stride
    backbone = {
      ...backbone,
      ...(layersFlag !== undefined ? { layers: stageList('backbone-layers', layersFlag, stages, stride) } : {}),
      ...(widthsFlag !== undefined ? { widths: stageList('backbone-widths', widthsFlag, stages, stride) } : {}),
    };
  }
  return {
    ...base,
    ...(backbone !== undefined ? { backbone } : {}),
    ...(channels !== undefined ? { hourglassChannels: intValue('hourglass-channels', channels, 2, true) } : {}),
    ...(stacks !== undefined ? { hourglassStacks: intValue('hourglass-stacks', stacks, 1) } : {}),
    ...(nodeDim !== undefined ? { nodeDim: intValue('node-dim', nodeDim, 1) } : {}),
    ...(femLayers !== undefined ? { femLayers: intValue('fem-layers', femLayers, 1) } : {}),
  };
}

/**
 * The model size of the command line: with `full`, `MODEL_SIZES.full` (any sizing flag is then a
 * `PhalanxConfigError`: they size the small model); otherwise `MODEL_SIZES.small` with the backbone of
 * `--backbone-stride` (`SMALL_BACKBONES[stride]`) and the sizing flags over it ({@link sizedModel}).
 */
export function modelSize(full: boolean, stride: SmallBackboneStride, flags: SizeFlags): EhpeConfig {
  if (full) {
    const given = SIZE_FLAGS.find((k) => flags[k] !== undefined);
    if (given !== undefined) {
      throw new PhalanxConfigError(
        COMPONENT,
        `--${given}`,
        'absent with --full (it sizes the small model)',
        flags[given],
      );
    }
    return MODEL_SIZES.full;
  }
  return sizedModel({ ...MODEL_SIZES.small, backbone: SMALL_BACKBONES[stride] }, flags);
}
