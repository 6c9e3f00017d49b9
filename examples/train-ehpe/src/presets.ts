/**
 * The two ways this job is run: the short demo (a few minutes) and the long run of the model shipped in
 * `@phalanx/pretrained` (≤ 3 hours on 2 cores, resumable). Every flag overrides its preset's value.
 */

/** A preset: defaults of the recipe flags and the evaluation/checkpoint periods. */
export interface Preset {
  /** One line for `--help`. */
  describe: string;
  /** Stage-1 steps. */
  stepsTw: number;
  /** Stage-2 steps (also the PG-only ablation's). */
  stepsPg: number;
  /** Batch size. */
  batch: number;
  /** Input size (the small model; `--full` keeps 256). */
  inputSize: number;
  /** Peak Adam learning rates of the two stages. */
  lrTw: number;
  lrPg: number;
  /** Warm-up steps and decay of every stage. */
  warmup: number;
  decay: 'constant' | 'cosine';
  /** Warm restarts: a new warm-up and decay every this many steps of a stage (absent: one cycle per stage). */
  restartEvery?: number;
  /** Peak of restart cycle k as this^k × the peak (absent: 1). */
  restartPeak?: number;
  /** Weight of the stage-1 volume scoremap cross-entropy (absent: 0, the paper's objective). */
  scoremapWeight?: number;
  /** Weight of the stage-1 volume depth cross-entropy (absent: 0, the paper's objective). */
  depthMarginalWeight?: number;
  /** The PG-stage's head (absent: `'absolute'`, the release's). */
  pgOutput?: 'absolute' | 'residual';
  /** Stage-3 steps (absent: no stage 3). */
  stepsE2e?: number;
  /** Stage-3 peak Adam learning rate (absent: `LR_E2E` of the pipeline). */
  lrE2e?: number;
  /** Stage-3 weight of Δz² in the position loss (absent: 1, stage 2's loss). */
  depthWeightE2e?: number;
  /** FEM dropout (the model's default 0.1 when absent). */
  dropout?: number;
  /** Held-out evaluation period (steps). */
  evalEvery: number;
  /** Checkpoint period (steps). */
  checkpointEvery: number;
  /** Data-parallel replicas (`--replicas`; absent: 1, one process). */
  replicas?: number;
  /** Stage 3's batch size, warm-up and replicas (`--batch-e2e`, `--warmup-e2e`, `--replicas-e2e`; absent: the other stages'). */
  batchE2e?: number;
  warmupE2e?: number;
  replicasE2e?: number;
}

/** The presets by name. */
export const PRESETS = {
  demo: {
    describe: '800 + 500 (+ 500 PG-only) steps × 8 at 96 px, Adam 2e-3 constant; ≈ 6 min on 2 cores',
    stepsTw: 800,
    stepsPg: 500,
    batch: 8,
    inputSize: 96,
    lrTw: 2e-3,
    lrPg: 2e-3,
    warmup: 0,
    decay: 'constant',
    evalEvery: 200,
    checkpointEvery: 200,
  },
  pretrained: {
    describe:
      '20000 + 36000 (+ 36000 PG-only) steps × 8 in one process, then 11500 steps × 32 on 2 data-parallel ' +
      'replicas, at 96 px; Adam 2e-3 (stage 3: 3e-3), 500-step warm-up (stage 3: 125), one cosine decay per ' +
      'stage; stage 1 with the volume scoremap and depth cross-entropies × 3; residual PG-stage; stage 3 end to ' +
      'end with Δz² × 16; no dropout; evaluation every 4000 steps; ≈ 2 h 42 min to 3 h 01 min on 2 cores, + 1 h for ' +
      'the PG-only ablation (--no-pg-only skips it)',
    stepsTw: 20000,
    stepsPg: 36000,
    stepsE2e: 11500,
    lrE2e: 3e-3,
    batchE2e: 32,
    warmupE2e: 125,
    replicasE2e: 2,
    depthWeightE2e: 16,
    batch: 8,
    inputSize: 96,
    lrTw: 2e-3,
    lrPg: 2e-3,
    warmup: 500,
    decay: 'cosine',
    scoremapWeight: 3,
    depthMarginalWeight: 3,
    pgOutput: 'residual',
    dropout: 0,
    evalEvery: 4000,
    checkpointEvery: 500,
  },
} satisfies Record<string, Preset>;

/** A preset's name. */
export type PresetName = keyof typeof PRESETS;
