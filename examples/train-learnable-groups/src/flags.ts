/**
 * The recipe flags shared by the training job (`main.ts`) and the experiment harness
 * (`experiment.ts`), and their translation into a {@link JobConfig}.
 */
import type { parseArgs } from 'node:util';
import { MODEL_SIZES, PAPER_LEARNING_RATES, type JobConfig } from './pipeline';
import { intFlag, numberOf, parseCommandLine, UsageError } from './usage';

export { intFlag, readCommandLine, UsageError } from './usage';

/** `parseArgs` option table of the recipe flags. */
export const RECIPE_FLAGS = {
  steps: { type: 'string' },
  batch: { type: 'string' },
  'input-size': { type: 'string' },
  full: { type: 'boolean', default: false },
  paper: { type: 'boolean', default: false },
  groups: { type: 'string' },
  planes: { type: 'string' },
  'hourglass-features': { type: 'string' },
  stem: { type: 'string' },
  neck: { type: 'string' },
  'no-fusion': { type: 'boolean', default: false },
  'lr-rest': { type: 'string' },
  'lr-fusion': { type: 'string' },
  'lr-selector': { type: 'string' },
  'lr-beta': { type: 'string' },
  warmup: { type: 'string' },
  decay: { type: 'string' },
  'restart-every': { type: 'string' },
  'restart-peak': { type: 'string' },
  'weight-decay': { type: 'string' },
  'bn-momentum': { type: 'string' },
  'temperature-every': { type: 'string' },
  'z-weight': { type: 'string' },
  'heatmap-weight': { type: 'string' },
  'heatmap-loss': { type: 'string' },
  'scoremap-weight': { type: 'string' },
  'heatmap-sigma': { type: 'string' },
  'heatmap-sigma-final': { type: 'string' },
  ema: { type: 'string' },
  beta: { type: 'string' },
  'data-seed': { type: 'string' },
  'init-seed': { type: 'string' },
  'max-tilt': { type: 'string' },
} as const;

/**
 * Help text of {@link RECIPE_FLAGS}, the defaults those of `presets` (by name; one set of defaults, or several
 * equal, reads `default X`).
 */
export function recipeHelp(presets: Record<string, RecipePreset>): string {
  const named = Object.entries(presets);
  const d = (pick: (p: RecipePreset) => string): string => {
    const values = named.map(([name, p]) => [name, pick(p)] as const);
    return new Set(values.map(([, v]) => v)).size === 1
      ? `default ${values[0][1]}`
      : values.map(([name, v]) => `${name} ${v}`).join(', ');
  };
  const rate = (lr: number) => lr.toExponential();
  return `  --steps N             optimizer steps (${d((p) => String(p.steps))})
  --batch B             batch size (${d((p) => String(p.batch))}; --full: 1 — 2 exceeds wasm's 4 GB heap; the paper: 32)
  --input-size S        input size, a multiple of 64 (default 64; --full: 256)
  --full                the paper's model size: 256 px, planes [32, 32], 256 hourglass features
  --paper               the paper's recipe exactly: lr 1e-1 / 1e-2 / 1e-4, τ −0.1 every 1000 steps, no 2D loss
  --groups G            number of joint groups (default 3; 1: the paper's no-groups baseline)
  --no-fusion           no NDDR fusion between the branches
  --planes P            branch channels [P, P] (default 16; --full: 32)
  --hourglass-features F  features of the backbone hourglass (default 64; --full: 256)
  --stem A,B            channels of the two stem stages (default 32,64; --full: 64,128)
  --neck N              channels of the neck before the hourglass (default 64; --full: 128)
  --lr-rest LR          peak learning rate of the non-selector, non-fusion weights
                        (${d((p) => rate(p.lrRest))}; paper 1e-4)
  --lr-fusion LR        peak learning rate of the NDDR fusion (default and paper 1e-2)
  --lr-selector LR      learning rate of the selector logits (default and paper 1e-1)
  --lr-beta LR          own (peak) learning rate of the soft-argmax β (default: in the rest group)
  --warmup N            linear learning-rate warm-up over N steps (${d((p) => String(p.warmup))}; --paper 0)
  --decay KIND          'constant' or 'cosine' (to 0 at the last step) (${d((p) => p.decay)}; --paper constant)
  --restart-every N     warm restarts: a new warm-up and decay every N steps (default: one cycle)
  --restart-peak F      peak of restart cycle k as F^k × the peak (${d((p) => String(p.restartPeak ?? 1))})
  --weight-decay λ      AdamW's decoupled weight decay of the convolution kernels (default 0: Adam)
  --bn-momentum M       Keras-style batch-norm momentum (the release's 0.9 = PyTorch 0.1)
  --temperature-every N τ drops by 0.1 every N steps (default ⌊steps/45⌋, or ⌊restart-every/45⌋: τ ≤ 0.5 at
                        the end of the first cycle; paper 1000)
  --z-weight λ          weight of the depth term of the L1 loss (default 1)
  --heatmap-weight W    auxiliary 2D loss: heatmapMSE on the backbone heatmaps h₀ (Net_HG tmpOut)
                        (${d((p) => String(p.heatmapWeight))}; --paper 0)
  --heatmap-loss KIND   'mse' (default: peak-1 Gaussian targets) or 'ce' (cross-entropy of softmax(h₀))
  --scoremap-weight W   auxiliary 2D loss: cross-entropy of each branch's softmax(β·h) against the
                        normalised Gaussian (${d((p) => String(p.scoremapWeight))}; --paper 0)
  --heatmap-sigma σ     σ of the Gaussian targets in heatmap pixels (at step 0 with --heatmap-sigma-final)
                        (${d((p) => String(p.heatmapSigma))})
  --heatmap-sigma-final σ  σ at the last step (cosine schedule from --heatmap-sigma)
  --beta β              initial per-joint β of the soft-argmax layers (default: the model's 1)
  --data-seed N         seed of the training stream (default 1; not the held-out set's seed, 90210)
  --init-seed N         seed of the initial weights (default 1): the same flags give the same run
  --ema D               evaluate (and save beside the weights) a moving average of the weights, decay D
                        (e.g. 0.99; the Trainer's warm-up min(D, (1+t)/(10+t)))
  --max-tilt DEG        synthetic views: palm normal at most DEG degrees from the camera axis (default: any view)`;
}

/** Defaults of the recipe flags: what a run does when a flag is not given. */
export interface RecipePreset {
  /** Optimizer steps. */
  steps: number;
  /** Batch size. */
  batch: number;
  /** Input size (the small model; `--full` keeps 256). */
  inputSize: number;
  /** Peak learning rate of the rest group. */
  lrRest: number;
  /** Warm-up steps (0: none). */
  warmup: number;
  /** Learning-rate decay after warm-up. */
  decay: 'constant' | 'cosine';
  /** Warm restarts every this many steps (absent: one cycle). */
  restartEvery?: number;
  /** Peak of restart cycle k as this^k × the peak (absent: 1). */
  restartPeak?: number;
  /** Weight of the backbone heatmap loss. */
  heatmapWeight: number;
  /** Weight of the branches' scoremap cross-entropy. */
  scoremapWeight: number;
  /** σ of the 2D targets (heatmap pixels). */
  heatmapSigma: number;
}

/**
 * The recipe before the study of issue 11 (the earlier `pnpm demo`): Adam at a constant 1e-3, the
 * scoremap cross-entropy × 1 with σ 1.5, 150 steps of 16 at 64 px. The experiment harness defaults to
 * it, so that its logged commands keep their meaning.
 */
export const EARLIER_DEMO: RecipePreset = {
  steps: 150,
  batch: 16,
  inputSize: 64,
  lrRest: 1e-3,
  warmup: 0,
  decay: 'constant',
  heatmapWeight: 0,
  scoremapWeight: 1,
  heatmapSigma: 1.5,
};

/** Help text of {@link RECIPE_FLAGS} with the defaults of {@link EARLIER_DEMO} (the experiment harness's). */
export const RECIPE_HELP = recipeHelp({ default: EARLIER_DEMO });

/** Values of {@link RECIPE_FLAGS} as `parseArgs` returns them. */
export type RecipeFlagValues = { [K in keyof typeof RECIPE_FLAGS]?: string | boolean };

/** A number flag ≥ 0 (or the fallback when absent). */
export function numFlag(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  const n = numberOf(value);
  if (!Number.isFinite(n) || n < 0)
    throw new UsageError(`--${name} must be a number ≥ 0, but received '${String(value)}'.`);
  return n;
}

function optionalNum(name: string, value: unknown): number | undefined {
  return value === undefined ? undefined : numFlag(name, value, 0);
}

/** A number flag > 0, or absent. */
function positiveFlag(name: string, value: unknown): number | undefined {
  const n = optionalNum(name, value);
  if (n === 0) throw new UsageError(`--${name} must be a number > 0, but received '${String(value)}'.`);
  return n;
}

/** `--ema D`: a decay in [0, 1), or absent. */
function emaFlag(value: unknown): number | undefined {
  const decay = optionalNum('ema', value);
  if (decay !== undefined && !(decay < 1))
    throw new UsageError(`--ema must be a decay in [0, 1), but received '${String(value)}'.`);
  return decay;
}

/** `parseArgs` option table (its `options`). */
export type FlagTable = NonNullable<NonNullable<Parameters<typeof parseArgs>[0]>['options']>;

/**
 * Parses a command line with the recipe flags and `extra` ones; a leading `--` (from `pnpm start -- …`) is
 * skipped. An unknown flag, a missing value or a positional argument is a {@link UsageError}.
 */
export function parseFlags(argv: string[], extra: FlagTable): Record<string, string | boolean | undefined> {
  const args = argv[0] === '--' ? argv.slice(1) : argv;
  const { values } = parseCommandLine({ args, options: { ...RECIPE_FLAGS, ...extra }, allowPositionals: false });
  return values as Record<string, string | boolean | undefined>;
}

/**
 * The {@link JobConfig} of the recipe flags over a preset of defaults; `--paper` takes the paper's values
 * (learning rates, τ every 1000 steps, no 2D loss, constant rate) before the preset's.
 */
export function jobConfigFromFlags(flags: RecipeFlagValues, defaults: RecipePreset = EARLIER_DEMO): JobConfig {
  const paper = flags.paper === true;
  const size = flags.full ? MODEL_SIZES.full : MODEL_SIZES.small;
  const inputSize = intFlag('input-size', flags['input-size'], flags.full ? size.inputSize : defaults.inputSize);
  if (inputSize % 64 !== 0) {
    throw new UsageError(`--input-size must be a multiple of 64, but received '${String(flags['input-size'])}'.`);
  }
  const numGroups = intFlag('groups', flags.groups, 3);
  if (numGroups > 21) throw new UsageError(`--groups must be an integer in [1, 21], but received '${numGroups}'.`);
  const steps = intFlag('steps', flags.steps, defaults.steps);
  const decay = flags.decay ?? (paper ? 'constant' : defaults.decay);
  if (decay !== 'constant' && decay !== 'cosine') {
    throw new UsageError(`--decay must be 'constant' or 'cosine', but received '${String(decay)}'.`);
  }
  const heatmapLoss = flags['heatmap-loss'] ?? 'mse';
  if (heatmapLoss !== 'mse' && heatmapLoss !== 'ce') {
    throw new UsageError(`--heatmap-loss must be 'mse' or 'ce', but received '${String(heatmapLoss)}'.`);
  }
  const planes = intFlag('planes', flags.planes, size.planes[0]);
  const stemFlag = (text: unknown, fallback: [number, number]): [number, number] => {
    if (text === undefined) return fallback;
    const parts = String(text).split(',');
    if (parts.length !== 2)
      throw new UsageError(`--stem must be two channel counts 'A,B', but received '${String(text)}'.`);
    return [intFlag('stem', parts[0], 1), intFlag('stem', parts[1], 1)];
  };
  const tilt = optionalNum('max-tilt', flags['max-tilt']);
  const warmup = intFlag('warmup', flags.warmup, paper ? 0 : defaults.warmup, 0);
  const restartEvery =
    flags['restart-every'] === undefined
      ? defaults.restartEvery
      : intFlag('restart-every', flags['restart-every'], 0, 2);
  const restartPeak = optionalNum('restart-peak', flags['restart-peak']) ?? defaults.restartPeak;
  const momentum = optionalNum('bn-momentum', flags['bn-momentum']);
  if (momentum !== undefined && momentum >= 1)
    throw new UsageError(`--bn-momentum must be < 1, but received ${momentum}.`);
  return {
    model: {
      ...size,
      inputSize,
      numGroups,
      planes: [planes, planes],
      hourglassFeatures: intFlag('hourglass-features', flags['hourglass-features'], size.hourglassFeatures),
      stemChannels: stemFlag(flags.stem, size.stemChannels),
      neckChannels: intFlag('neck', flags.neck, size.neckChannels),
      fusion: flags['no-fusion'] !== true,
    },
    steps,
    // At the paper's size a batch of 2 already exceeds the 4 GB wasm heap (bench/results/models.md).
    batchSize: intFlag('batch', flags.batch, flags.full ? 1 : defaults.batch),
    lr: {
      selector: numFlag('lr-selector', flags['lr-selector'], PAPER_LEARNING_RATES.selector),
      fusion: numFlag('lr-fusion', flags['lr-fusion'], PAPER_LEARNING_RATES.fusion),
      rest: numFlag('lr-rest', flags['lr-rest'], paper ? PAPER_LEARNING_RATES.rest : defaults.lrRest),
      beta: optionalNum('lr-beta', flags['lr-beta']),
    },
    lrSchedule:
      warmup > 0 || decay !== 'constant' || restartEvery !== undefined
        ? { warmupSteps: warmup, decay, restartEvery, restartPeak }
        : undefined,
    weightDecay: optionalNum('weight-decay', flags['weight-decay']),
    batchNormMomentum: momentum,
    temperatureEvery: intFlag(
      'temperature-every',
      flags['temperature-every'],
      paper ? 1000 : Math.max(1, Math.floor(Math.min(steps, restartEvery ?? steps) / 45)),
    ),
    zWeight: numFlag('z-weight', flags['z-weight'], 1),
    dataSeed: intFlag('data-seed', flags['data-seed'], 1, 0),
    initSeed: intFlag('init-seed', flags['init-seed'], 1, 0),
    heatmapLoss,
    heatmapWeight: numFlag('heatmap-weight', flags['heatmap-weight'], paper ? 0 : defaults.heatmapWeight),
    scoremapWeight: numFlag('scoremap-weight', flags['scoremap-weight'], paper ? 0 : defaults.scoremapWeight),
    heatmapSigma: positiveFlag('heatmap-sigma', flags['heatmap-sigma']) ?? defaults.heatmapSigma,
    heatmapSigmaFinal: positiveFlag('heatmap-sigma-final', flags['heatmap-sigma-final']),
    emaDecay: emaFlag(flags.ema),
    initialBeta: optionalNum('beta', flags.beta),
    synthetic: tilt === undefined ? undefined : { maxTilt: (Math.min(tilt, 90) * Math.PI) / 180 },
  };
}
