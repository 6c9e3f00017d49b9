/**
 * The pieces of the EHPE training job, separate from the command line so that the test can use them:
 * model sizes, the two stages and the PG-only ablation as `Trainer`s (recipes of `@phalanx/ehpe`), and
 * the held-out evaluation — PA-MPJPE, MPJPE and the per-joint-class errors of the paper's Fig. 1 for the
 * TW-only, PG-only and full models.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { augment, batches, disposeBatch, type BatchOptions, type HandBatch } from '@phalanx/data';
import {
  BACKBONE_LAYERS,
  TW_STAGE_LAYERS,
  createEhpe,
  createPgOnly,
  ehpeModelInfo,
  joints25dToXyz,
  pgStageRecipe,
  pgStageTargets,
  twStageRecipe,
  twStageTargets,
  variantJoints,
  type EhpeConfig,
  type TwStageRecipeOptions,
} from '@phalanx/ehpe';
import { deriveNoiseSeed } from '@phalanx/layers';
import { JOINT_CLASS_NAMES, KeypointEvaluator, mpjpe, paMpjpe, type JointClass } from '@phalanx/pose';
import {
  seedInitialWeights,
  setFrozen,
  cosineLr,
  Trainer,
  warmRestartsLr,
  warmupLr,
  type LrSchedule,
  type TrainerConfig,
} from '@phalanx/train';

/**
 * Backbones of the small model by output stride: the basic-block ResNet's stages up to 96 channels.
 * Stride 8 (12 × 12 features at 96 px) is the default: at 96 px the torchvision stride 32 leaves a 3 × 3
 * map to upsample to the 24 × 24 heatmaps, and the TW-stage learns far slower from it (see the README,
 * "Diagnosis"). The paper's ResNet-50 at 256 px has 8 × 8. Stride 4 (one stage, 24 × 24: the heatmaps' own
 * grid) costs a stage-1 step as much as stride 8 and learns no faster (the README, "What limits it").
 */
export const SMALL_BACKBONES = {
  4: { block: 'basic', layers: [1], widths: [64], stemChannels: 16 },
  8: { block: 'basic', layers: [1, 1], widths: [32, 96], stemChannels: 16 },
  16: { block: 'basic', layers: [1, 1, 1], widths: [16, 32, 96], stemChannels: 16 },
  32: { block: 'basic', layers: [1, 1, 1, 1], widths: [16, 32, 64, 96], stemChannels: 16 },
} satisfies Record<number, EhpeConfig['backbone']>;

/** An output stride of {@link SMALL_BACKBONES}. */
export type SmallBackboneStride = keyof typeof SMALL_BACKBONES;

/** Model sizes: the paper's (`createEhpe()` defaults: ResNet-50, 256 px), the demo's, and a tiny one for tests. */
export const MODEL_SIZES = {
  full: { imageSize: 256 },
  small: {
    imageSize: 96,
    backbone: SMALL_BACKBONES[8],
    heatmapSize: 24,
    hourglassChannels: 32,
    hourglassDepth: 3,
    hourglassStacks: 1,
    refineChannels: 32,
    refineBlocks: 2,
    refinePools: 2,
    depthBins: 8,
    nodeDim: 64,
    gatHeads: 4,
    femLayers: 1,
    femHeads: 4,
    femMlpRatio: 2,
  },
  tiny: {
    imageSize: 64,
    backbone: { block: 'basic', layers: [1, 1, 1, 1], widths: [4, 4, 8, 8], stemChannels: 4 },
    heatmapSize: 16,
    hourglassChannels: 8,
    hourglassDepth: 2,
    hourglassStacks: 1,
    refineChannels: 8,
    refineBlocks: 2,
    refinePools: 1,
    depthBins: 4,
    nodeDim: 16,
    gatHeads: 2,
    femLayers: 1,
    femHeads: 2,
    femMlpRatio: 2,
    dropout: 0,
  },
} satisfies Record<string, EhpeConfig>;

/** The paper's Fig. 1: error of each joint class relative to TIP (%), "approximately", over several methods. */
export const PAPER_FIG1_RATIOS: Record<JointClass, number> = { TIP: 100, DIP: 80, PIP: 72, MCP: 59, WRIST: 40 };

/** Joint classes in the order of the paper's Fig. 1. */
export const FIG1_CLASSES: readonly JointClass[] = ['TIP', 'DIP', 'PIP', 'MCP', 'WRIST'];

/** Everything the job needs to know. */
export interface JobConfig {
  /** Model configuration (`createEhpe`), without `tipWristJoints` (from `variant`). */
  model: EhpeConfig;
  /** The TW-stage's share of the joints (Table 4), e.g. `'W+T'`. */
  variant: string;
  /** Optimizer steps of stage 1 (TW-stage) and stage 2 (PG-stage; also the PG-only ablation). */
  stepsTw: number;
  stepsPg: number;
  /**
   * Optimizer steps of stage 3 (not in the paper): after stage 2, the PG-stage's loss through the whole
   * network, nothing frozen ({@link stage3Trainer}). Absent or 0: no stage 3.
   */
  stepsE2e?: number;
  /** Peak Adam learning rate of stage 3. Default {@link LR_E2E}. */
  lrE2e?: number;
  /**
   * Stage 3's `depthWeight` of `pgStageLoss` (w_z: Δz² weighed w_z, z in depth bins, x and y in input
   * pixels). Default 1, stage 2's loss.
   */
  depthWeightE2e?: number;
  /**
   * Batch size of stage 3 (absent: {@link JobConfig.batchSize}). With `--replicas-e2e`, stage 3 can train on
   * more replicas, and a larger batch, than stages 1 and 2 (see {@link stage3View}).
   */
  batchSizeE2e?: number;
  /** Warm-up steps of stage 3's schedule (absent: `schedule.warmup`, every stage's). */
  warmupE2e?: number;
  /** Batch size of stages 1 and 2, the PG-only ablation and, unless `batchSizeE2e` is given, stage 3. */
  batchSize: number;
  /** Adam learning rates of the two stages. */
  lrTw: number;
  lrPg: number;
  /** Relative depth range of the depth bins (mm). */
  depthRange: number;
  /** Seed of the training data stream (the held-out set uses another seed). */
  dataSeed: number;
  /**
   * Hand crops as the release's input (`datasets/interhand2p6m.py`: the ground-truth joints' box, ×1.25):
   * each rendered image is cropped to the hand's keypoint box with a 12.5 % margin per side and the
   * default `augment` jitter (zoom, ±30° roll, shift, colour). `false`: the whole rendered image.
   * Default `true`.
   */
  handCrop?: boolean;
  /** Further stage-1 options (loss weights, heatmap scale, …) over the recipe's defaults. */
  tw?: Omit<TwStageRecipeOptions, 'lr' | 'depthRange'>;
  /**
   * Learning-rate schedule of every stage: a linear warm-up over `warmup` steps, then the peak rate
   * (`'constant'`) or a cosine decay to 0 at the stage's last step. Default: the constant rate.
   * With `restartEvery` = R, a stage longer than R steps is cut into cycles of R steps (the last one
   * shorter), each a schedule of its own (`warmRestartsLr` of `@phalanx/train`), cycle k at
   * `restartPeak`^k × the peak (default 1).
   */
  schedule?: { warmup: number; decay: 'constant' | 'cosine'; restartEvery?: number; restartPeak?: number };
  /**
   * Seed of the weight initialisation (the full model; the PG-only model with `seed + 1`) and of the
   * dropout masks (`dropoutSeed` `deriveNoiseSeed(seed, 0)` for the full model, `deriveNoiseSeed(seed, 1)`
   * for the PG-only one, unless `model.dropoutSeed` is given): two runs with the same seed and flags
   * start from the same weights and draw the same masks. Default: unseeded.
   */
  seed?: number;
}

/** Which of the job's models: the full one (stages 1 and 2) or the PG-only ablation. */
const MODEL_INDEX = { full: 0, pgOnly: 1 } as const;

/**
 * `config.model` for one of the job's models, its dropout masks seeded from `config.seed` (see
 * {@link JobConfig.seed}). Data-parallel replica r > 0 draws its masks from streams of its own
 * (`deriveNoiseSeed(seed, index + 2r)`), so that the replicas' shards do not share masks; replica 0's are
 * those of a single process.
 */
function modelConfig(config: JobConfig, which: keyof typeof MODEL_INDEX, replica = 0): EhpeConfig {
  const model: EhpeConfig = { ...config.model, tipWristJoints: variantJoints(config.variant) };
  if (model.dropoutSeed === undefined && config.seed !== undefined) {
    model.dropoutSeed = deriveNoiseSeed(config.seed, MODEL_INDEX[which] + 2 * replica);
  }
  return model;
}

/** `model` with its initial weights drawn from `seed` (`seedInitialWeights`), or as built when `seed` is absent. */
async function seeded(model: tfl.LayersModel, seed: number | undefined): Promise<tfl.LayersModel> {
  if (seed !== undefined) await seedInitialWeights(model, seed);
  return model;
}

/**
 * Builds the full model of a job (TW joints from the variant), its initial weights and dropout masks seeded
 * by `config.seed`; in data-parallel replica `replica`, the same weights and that replica's masks.
 */
export async function buildModel(config: JobConfig, replica = 0): Promise<tfl.LayersModel> {
  return seeded(createEhpe(modelConfig(config, 'full', replica)), config.seed);
}

/** A stage's learning rate: `peak`, or the schedule of {@link JobConfig.schedule} over `steps` steps. */
export function stageLr(config: JobConfig, peak: number, steps: number): number | LrSchedule {
  const s = config.schedule;
  if (!s || (s.warmup === 0 && s.decay === 'constant')) return peak;
  const cycle = (length: number): number | LrSchedule => {
    const after = s.decay === 'cosine' ? cosineLr({ initial: peak, steps: Math.max(1, length) }) : peak;
    return s.warmup > 0 ? warmupLr({ steps: s.warmup, after }) : after;
  };
  if (s.restartEvery === undefined || s.restartEvery >= steps) return cycle(steps);
  return warmRestartsLr({ every: s.restartEvery, steps, factor: s.restartPeak ?? 1, cycle });
}

/** Margin of the hand crop per side: the release's box × 1.25. */
export const CROP_MARGIN = 0.125;

/**
 * Batches of synthetic hands (`seed`, samples `start…start+count−1`) at `size` px: hand crops
 * (the default, see {@link JobConfig.handCrop}) or whole rendered images. Each sample's crop and jitter
 * are a pure function of (seed, index).
 */
export function handBatches(o: {
  seed: number;
  size: number;
  batchSize: number;
  start?: number;
  count?: number;
  handCrop?: boolean;
}) {
  const start = o.start ?? 0;
  const options: BatchOptions = { seed: o.seed, size: o.size, start, batchSize: o.batchSize };
  if (o.count !== undefined) options.count = o.count;
  if (o.handCrop ?? true) {
    options.transform = (s, i) =>
      augment(s, { seed: o.seed * 1_000_003 + start + i, outputSize: o.size, margin: CROP_MARGIN });
  }
  return batches(options);
}

/** Training batches of the synthetic hands at the model's input size, starting at `batchesSeen`. */
export function trainingData(config: JobConfig) {
  const size = config.model.imageSize ?? 256;
  return ({ batchesSeen }: { batchesSeen: number }) =>
    handBatches({
      seed: config.dataSeed,
      size,
      start: batchesSeen * config.batchSize,
      batchSize: config.batchSize,
      handCrop: config.handCrop,
    });
}

/**
 * What a stage's trainer takes besides its recipe: the progress display, callbacks and, in a data-parallel
 * replica (`--replicas`), the gradient exchange and the global batch's sample count.
 */
export type TrainerOptions = Pick<TrainerConfig<HandBatch>, 'progress' | 'callbacks' | 'reduceGradients' | 'batchSize'>;

/** Stage 1: backbone + TW-stage on `3·heatmapMSE + 1e-2·squaredDistance + 1e-10·Σ|W|` (Adam, `lrTw`). */
export function stage1Trainer(model: tfl.LayersModel, config: JobConfig, options: TrainerOptions = {}) {
  return new Trainer<HandBatch>({
    ...twStageRecipe<HandBatch>(model, {
      ...config.tw,
      lr: stageLr(config, config.lrTw, config.stepsTw),
      depthRange: config.depthRange,
    }),
    disposeBatch,
    ...options,
  });
}

/** Stage 2: backbone and TW-stage frozen, the PG-stage on `2e-2·squaredDistance + 2e-1·edgeStability` (Adam, `lrPg`). */
export function stage2Trainer(model: tfl.LayersModel, config: JobConfig, options: TrainerOptions = {}) {
  return new Trainer<HandBatch>({
    ...pgStageRecipe<HandBatch>(model, {
      lr: stageLr(config, config.lrPg, config.stepsPg),
      depthRange: config.depthRange,
    }),
    disposeBatch,
    ...options,
  });
}

/** Stage 3's default peak learning rate: a quarter of the stages' 2e-3, as the weights start trained. */
export const LR_E2E = 5e-4;

/**
 * Stage 3 (not in the paper): the whole network — backbone, TW-stage and PG-stage, batch norms in training
 * mode — on stage 2's loss (`2e-2·squaredDistance + 2e-1·edgeStability` of the 21 joints), Adam at
 * `lrE2e`. Stage 2 samples features a backbone trained only for the wrist and the tips; here the backbone
 * learns what the other 15 joints need too.
 */
export function stage3Trainer(model: tfl.LayersModel, config: JobConfig, options: TrainerOptions = {}) {
  // What stage 2's trainer froze in the same model, thawed before the trainer collects its weights.
  setFrozen(model, TW_STAGE_LAYERS, false);
  return new Trainer<HandBatch>({
    ...pgStageRecipe<HandBatch>(model, {
      lr: stageLr(stage3View(config), config.lrE2e ?? LR_E2E, config.stepsE2e ?? 0),
      depthRange: config.depthRange,
      freeze: [],
      depthWeight: config.depthWeightE2e ?? 1,
    }),
    disposeBatch,
    ...options,
  });
}

/**
 * The job as stage 3 sees it: `batchSize` = `batchSizeE2e` and the schedule's warm-up `warmupE2e`, where
 * given (otherwise `config` itself). Its batches, samples seen and learning rate are this view's.
 *
 * @example
 * ```ts
 * stage3View({ ...config, batchSize: 8, batchSizeE2e: 16 }).batchSize; // 16
 * ```
 */
export function stage3View(config: JobConfig): JobConfig {
  const { batchSizeE2e, warmupE2e, schedule } = config;
  return {
    ...config,
    batchSize: batchSizeE2e ?? config.batchSize,
    ...(warmupE2e !== undefined ? { schedule: { ...(schedule ?? { decay: 'constant' }), warmup: warmupE2e } } : {}),
  };
}

/**
 * Stage 3's first batch (of {@link stage3View}'s size) in the training stream: the first whose samples
 * neither stage 1 nor stage 2 read, `⌈max(stepsTw, stepsPg) · B / B₃⌉` for B₃ < B and
 * `max(stepsTw, stepsPg)` otherwise (a larger stage-3 batch starts further on, as runs before
 * `batchSizeE2e` did).
 */
export function stage3FirstBatch(config: JobConfig): number {
  const earlier = Math.max(config.stepsTw, config.stepsPg);
  const b3 = stage3View(config).batchSize;
  return b3 >= config.batchSize ? earlier : Math.ceil((earlier * config.batchSize) / b3);
}

/**
 * The mean of the PG targets (x, y input pixels, z bins) over `count` training samples: the neutral
 * layout the PG-only model starts from.
 */
export async function meanLayout(config: JobConfig, count = 256): Promise<tf.Tensor2D> {
  const depthBins = config.model.depthBins ?? 8;
  let sum: tf.Tensor = tf.zeros([21, 3]);
  let n = 0;
  for await (const b of handBatches({
    seed: config.dataSeed + 7,
    size: config.model.imageSize ?? 256,
    count,
    batchSize: 32,
    handCrop: config.handCrop,
  })) {
    const next = tf.tidy(() => tf.add(sum, tf.sum(pgStageTargets(b, { depthBins, depthRange: config.depthRange }), 0)));
    sum.dispose();
    sum = next;
    n += b.images.shape[0];
    disposeBatch(b);
  }
  const mean = tf.div(sum, n) as tf.Tensor2D;
  sum.dispose();
  return mean;
}

/**
 * The "PG-stage only" ablation (paper Table 3): `createPgOnly` with the backbone (and `img_token_proj`
 * initialisation) taken by name from the stage-1 model and frozen, the PG-stage trained from scratch
 * on a constant mean layout — the same stage 2 as the full model, without the TW-stage's guidance. In
 * data-parallel replica `replica`, the same weights and that replica's dropout masks.
 */
export async function buildPgOnly(config: JobConfig, trained: tfl.LayersModel, replica = 0): Promise<tfl.LayersModel> {
  const pgOnly = await seeded(
    createPgOnly(modelConfig(config, 'pgOnly', replica)),
    config.seed === undefined ? undefined : config.seed + 1,
  );
  const byName = new Map(trained.weights.map((w) => [w.originalName, w]));
  for (const w of pgOnly.weights) {
    if (BACKBONE_LAYERS.test(w.originalName)) w.write(byName.get(w.originalName)!.read());
  }
  return pgOnly;
}

/** Trainer of the PG-only ablation: backbone frozen, the rest on the PG-stage loss with `layout` as the start. */
export function pgOnlyTrainer(
  pgOnly: tfl.LayersModel,
  layout: tf.Tensor2D,
  config: JobConfig,
  options: TrainerOptions = {},
) {
  const depthBins = config.model.depthBins ?? 8;
  return new Trainer<HandBatch>({
    ...pgStageRecipe<HandBatch>(pgOnly, {
      lr: stageLr(config, config.lrPg, config.stepsPg),
      layout,
      depthBins,
      depthRange: config.depthRange,
      freeze: [BACKBONE_LAYERS],
    }),
    disposeBatch,
    ...options,
  });
}

/** A held-out set: `count` synthetic hands of another seed, as batches kept in memory. */
export async function heldOutSet(
  size: number,
  count: number,
  batchSize: number,
  seed = 90210,
  handCrop = true,
): Promise<HandBatch[]> {
  const out: HandBatch[] = [];
  for await (const b of handBatches({ seed, size, count, batchSize, handCrop })) out.push(b);
  return out;
}

/** Held-out measures of one model. */
export interface ModelReport {
  /** PA-MPJPE (mm), FreiHAND's alignment, all 21 joints. */
  paMpjpe: number;
  /** MPJPE (mm) of the 3D joints lifted with the ground-truth wrist depth. */
  mpjpe: number;
  /** Mean 3D error (mm) of each joint class (TIP, DIP, PIP, MCP, WRIST). */
  classMm: Record<JointClass, number>;
  /** Each class's error relative to TIP (%), as the paper's Fig. 1. */
  classRatio: Record<JointClass, number>;
  /** Mean 3D error (mm) of each of the 21 joints. */
  perJointMm: number[];
  /** Mean 2D error (input pixels) over all 21 joints of every sample. */
  epe2dPx: number;
}

/** The evaluation of a run: the three models of the Fig. 1 analysis. */
export interface Evaluation {
  /** The TW-stage alone: the initial 21-joint layout built from its joints (`init21`). */
  twOnly: ModelReport;
  /** The PG-stage without TW guidance (constant mean layout), if trained. */
  pgOnly: ModelReport | null;
  /** The full EHPE model (PG-stage on the TW-stage's layout). */
  full: ModelReport;
  /** The baseline: the same mean layout (of training samples) predicted for every image, if given. */
  meanHand: ModelReport | null;
  /**
   * The TW-stage's own joints: mean 2D error (input pixels), mean squared distance in the stage-1
   * loss's units (heatmap px² + bins², the `distance` part of `log-tw.jsonl`) and mean depth error (mm),
   * and the same three for the mean layout's TW joints (if a layout is given).
   */
  twJoints: {
    px: number;
    distance: number;
    /** Mean absolute error of the TW joints' root-relative depths (mm; bins × range/(D − 1)). */
    depthMm: number;
    meanHandPx: number | null;
    meanHandDistance: number | null;
    meanHandDepthMm: number | null;
  };
  /**
   * The hand-centre baseline: every joint at the centroid of the sample's 21 ground-truth joints (2D,
   * input pixels); mean error over all 21 joints (`px`) and over the TW joints (`twPx`).
   */
  handCentre: { px: number; twPx: number };
  /** Held-out samples. */
  samples: number;
}

/** Mean 2D distance over the chosen joints (default all) of every sample: `a`, `b` `[N][21][≥2]`. */
export function meanDistance2d(a: number[][][], b: number[][][], joints?: readonly number[]): number {
  let sum = 0;
  let count = 0;
  a.forEach((hand, i) =>
    (joints ?? hand.map((_, j) => j)).forEach((j) => {
      sum += Math.hypot(hand[j][0] - b[i][j][0], hand[j][1] - b[i][j][1]);
      count++;
    }),
  );
  return sum / count;
}

/** Each sample's 21 joints all at the centroid of its `uv` `[N][21][2]`. */
export function handCentres(uv: number[][][]): number[][][] {
  return uv.map((hand) => {
    const c = [0, 1].map((k) => hand.reduce((a, p) => a + p[k], 0) / hand.length);
    return hand.map(() => c);
  });
}

function report(gt: number[][][], pred: number[][][], gtUv: number[][][], pred2d: number[][][]): ModelReport {
  const ev = new KeypointEvaluator({ numJoints: 21 });
  ev.feed(gt, pred);
  const m = ev.measures({ min: 0, max: 50, steps: 20, units: 'mm' });
  const classMm = Object.fromEntries(JOINT_CLASS_NAMES.map((c) => [c, m.perClass![c].epeMean ?? Number.NaN])) as Record<
    JointClass,
    number
  >;
  const classRatio = Object.fromEntries(JOINT_CLASS_NAMES.map((c) => [c, (100 * classMm[c]) / classMm.TIP])) as Record<
    JointClass,
    number
  >;
  return {
    paMpjpe: paMpjpe(gt, pred),
    mpjpe: mpjpe(gt, pred),
    classMm,
    classRatio,
    perJointMm: m.perJoint.map((j) => j.epeMean ?? Number.NaN),
    epe2dPx: meanDistance2d(gtUv, pred2d),
  };
}

/**
 * Evaluates on held-out batches (inference mode): the full model's 21 joints, its `init21` layout
 * (TW-only), and the PG-only model's joints on the mean layout — each lifted to 3D mm with the
 * ground-truth wrist depth (`joints25dToXyz`), then PA-MPJPE, MPJPE and per-class errors over all joints.
 */
export async function evaluate(
  model: tfl.LayersModel,
  set: HandBatch[],
  config: JobConfig,
  pgOnly?: { model: tfl.LayersModel; layout: tf.Tensor2D },
  meanLayout?: tf.Tensor2D,
): Promise<Evaluation> {
  const { depthBins, imageSize, heatmapSize, tipWristJoints } = ehpeModelInfo(model);
  const view = tfl.model({
    inputs: model.inputs,
    outputs: [model.getLayer('init21').output as tfl.SymbolicTensor, model.outputs[2], model.outputs[1]],
  });
  const toHm = (heatmapSize - 1) / (imageSize - 1);
  const twIndex = tf.tensor1d(tipWristJoints, 'int32');
  // Σ over samples of the mean (over TW joints) 2D error in input px and squared 2.5D distance in TW units.
  const mmPerBin = config.depthRange / (depthBins - 1);
  const twErrors = (coords: tf.Tensor, target: tf.Tensor): [number, number, number] =>
    tf.tidy(() => {
      const d = tf.sub(coords, target); // x, y heatmap px, z bins
      const px = tf.div(tf.sqrt(tf.sum(tf.square(tf.slice(d, [0, 0, 0], [-1, -1, 2])), 2)), toHm);
      const sq = tf.sum(tf.square(d), 2);
      const dz = tf.mul(tf.abs(tf.slice(d, [0, 0, 2], [-1, -1, 1])), mmPerBin);
      const sums = [tf.mean(px, 1), tf.mean(sq, 1), tf.mean(dz, [1, 2])].map((t) => tf.sum(t).dataSync()[0]);
      return [sums[0], sums[1], sums[2]];
    });
  const tw25 = { px: 0, distance: 0, depthMm: 0, meanPx: 0, meanDistance: 0, meanDepthMm: 0 };
  const mh: number[][][] = [];
  const binning = { depthBins, depthRange: config.depthRange };
  const gt: number[][][] = [];
  const tw: number[][][] = [];
  const full: number[][][] = [];
  const pg: number[][][] = [];
  // The same in 2D (input pixels): ground truth, init21 layout, full, PG-only, mean hand.
  const two: Record<'gt' | 'tw' | 'full' | 'pg' | 'mean', number[][][]> = {
    gt: [],
    tw: [],
    full: [],
    pg: [],
    mean: [],
  };
  for (const b of set) {
    const n = b.images.shape[0];
    const r = tf.tidy(() => {
      const [layout, joints, coords] = view.predict(b.images) as tf.Tensor[];
      const target = twStageTargets(b, {
        tipWristJoints,
        inputSize: imageSize,
        heatmapSize,
        depthBins,
        depthRange: config.depthRange,
      }).coords25d;
      const out: Record<string, tf.Tensor> = {
        layout: joints25dToXyz(layout, b.xyz, b.K, binning),
        full: joints25dToXyz(joints, b.xyz, b.K, binning),
        layout2d: tf.slice(layout, [0, 0, 0], [-1, -1, 2]),
        full2d: tf.slice(joints, [0, 0, 0], [-1, -1, 2]),
        coords,
        target,
      };
      if (pgOnly) {
        const [j] = pgOnly.model.predict([
          b.images,
          tf.tile(tf.expandDims(pgOnly.layout, 0), [n, 1, 1]),
        ]) as tf.Tensor[];
        out.pg = joints25dToXyz(j, b.xyz, b.K, binning);
        out.pg2d = tf.slice(j, [0, 0, 0], [-1, -1, 2]);
      }
      if (meanLayout) {
        const tiled = tf.tile(tf.expandDims(meanLayout, 0), [n, 1, 1]);
        out.mean = joints25dToXyz(tiled, b.xyz, b.K, binning);
        out.mean2d = tf.slice(tiled, [0, 0, 0], [-1, -1, 2]);
        const m = tf.gather(tiled, twIndex, 1); // input px, bins → heatmap px, bins
        out.meanTw = tf.concat(
          [tf.mul(tf.slice(m, [0, 0, 0], [-1, -1, 2]), toHm), tf.slice(m, [0, 0, 2], [-1, -1, 1])],
          2,
        );
      }
      return out;
    });
    const read = async (t: tf.Tensor | undefined, into: number[][][]) => {
      if (t) into.push(...((await t.array()) as number[][][]));
    };
    await read(b.xyz, gt);
    await read(b.uv, two.gt);
    await read(r.layout, tw);
    await read(r.full, full);
    await read(r.pg, pg);
    await read(r.mean, mh);
    await read(r.layout2d, two.tw);
    await read(r.full2d, two.full);
    await read(r.pg2d, two.pg);
    await read(r.mean2d, two.mean);
    const [px, sq, dz] = twErrors(r.coords, r.target);
    tw25.px += px;
    tw25.distance += sq;
    tw25.depthMm += dz;
    if (r.meanTw) {
      const [mpx, msq, mdz] = twErrors(r.meanTw, r.target);
      tw25.meanPx += mpx;
      tw25.meanDistance += msq;
      tw25.meanDepthMm += mdz;
    }
    tf.dispose(Object.values(r));
  }
  twIndex.dispose();
  const count = gt.length;
  const centres = handCentres(two.gt);
  return {
    twOnly: report(gt, tw, two.gt, two.tw),
    pgOnly: pgOnly ? report(gt, pg, two.gt, two.pg) : null,
    full: report(gt, full, two.gt, two.full),
    meanHand: meanLayout ? report(gt, mh, two.gt, two.mean) : null,
    handCentre: { px: meanDistance2d(two.gt, centres), twPx: meanDistance2d(two.gt, centres, tipWristJoints) },
    twJoints: {
      px: tw25.px / count,
      distance: tw25.distance / count,
      depthMm: tw25.depthMm / count,
      meanHandPx: meanLayout ? tw25.meanPx / count : null,
      meanHandDistance: meanLayout ? tw25.meanDistance / count : null,
      meanHandDepthMm: meanLayout ? tw25.meanDepthMm / count : null,
    },
    samples: gt.length,
  };
}

/** The per-class table as Markdown: mm and % of TIP per model, and the paper's Fig. 1 ratios. */
export function classTable(e: Evaluation): string {
  const rows: [string, ModelReport | null][] = [
    ['mean hand (baseline)', e.meanHand],
    ['TW-only (init21 from TW joints)', e.twOnly],
    ['PG-only (mean layout)', e.pgOnly],
    ['EHPE (TW → PG)', e.full],
  ];
  const head = `| model | PA-MPJPE | MPJPE | ${FIG1_CLASSES.join(' | ')} |`;
  const sep = `| --- | ---: | ---: | ${FIG1_CLASSES.map(() => '---:').join(' | ')} |`;
  const lines = rows
    .filter((r): r is [string, ModelReport] => r[1] !== null)
    .map(
      ([name, r]) =>
        `| ${name} | ${r.paMpjpe.toFixed(1)} | ${r.mpjpe.toFixed(1)} | ` +
        FIG1_CLASSES.map((c) => `${r.classMm[c].toFixed(1)} (${r.classRatio[c].toFixed(0)}%)`).join(' | ') +
        ' |',
    );
  const paper = `| paper Fig. 1 (other methods) | | | ${FIG1_CLASSES.map((c) => `(${PAPER_FIG1_RATIOS[c]}%)`).join(' | ')} |`;
  return [head, sep, ...lines, paper].join('\n');
}
