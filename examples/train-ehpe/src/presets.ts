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
  /** FEM dropout (the model's default 0.1 when absent). */
  dropout?: number;
  /** Held-out evaluation period (steps). */
  evalEvery: number;
  /** Checkpoint period (steps). */
  checkpointEvery: number;
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
      '30000 + 72000 (+ 72000 PG-only) steps × 8 at 96 px, Adam 2e-3, 500-step warm-up, one cosine decay per stage; ' +
      'stage 1 with the volume scoremap and depth cross-entropies × 3; residual PG-stage; no dropout; ' +
      'evaluation every 500 steps; ≈ 2 h 50 min on 2 cores, + 1¾ h for the PG-only ablation (--no-pg-only skips it)',
    stepsTw: 30000,
    stepsPg: 72000,
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
    evalEvery: 500,
    checkpointEvery: 500,
  },
} satisfies Record<string, Preset>;

/** A preset's name. */
export type PresetName = keyof typeof PRESETS;
