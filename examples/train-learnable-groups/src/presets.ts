/**
 * The two ways this job is run: the short demo (`pnpm demo`, ≤ 10 minutes on 2 cores) and the long run
 * of the model shipped in `@phalanx/pretrained` (≤ 3 hours on 2 cores, resumable).
 */
import type { RecipePreset } from './flags';

/** A named preset: the recipe defaults and the evaluation/checkpoint periods. */
export interface Preset {
  /** One line for `--help`. */
  describe: string;
  /** Defaults of the recipe flags. */
  recipe: RecipePreset;
  /** Held-out evaluation period (steps) for a run of `steps` steps. */
  evalEvery: (steps: number) => number;
  /** Checkpoint period (steps). */
  checkpointEvery: (steps: number) => number;
  /**
   * Data-parallel replicas when `--replicas` is not given (capped by the cores available; 1: one process
   * training the whole batch).
   */
  replicas: number;
}

/** The presets by name. */
export const PRESETS = {
  demo: {
    describe:
      '560 steps × 32 at 64 px on 2 data-parallel replicas of 16, Adam 4.5e-3 with a 30-step warm-up and cosine ' +
      'decay, scoremap CE × 1 (σ 1.5), initial weights of seed 1',
    recipe: {
      steps: 560,
      batch: 32,
      inputSize: 64,
      lrRest: 4.5e-3,
      warmup: 30,
      decay: 'cosine',
      heatmapWeight: 0,
      scoremapWeight: 1,
      heatmapSigma: 1.5,
    },
    evalEvery: (steps) => Math.max(1, Math.ceil(steps / 4)),
    checkpointEvery: (steps) => Math.max(1, Math.ceil(steps / 2)),
    replicas: 2,
  },
  pretrained: {
    describe:
      '14000 steps × 32 at 64 px on 2 data-parallel replicas of 16, Adam 3e-3, 200-step warm-up, one cosine ' +
      'decay over the whole run (restart period = steps: no restart); evaluation every 250 steps',
    recipe: {
      steps: 14000,
      // One cycle: the period of the warm restarts is the whole run. (The shipped run's flags were
      // `--steps 14000 --restart-every 14000` over the earlier two-cycle preset, whose restartPeak it kept:
      // with no restart it changes no rate, and keeping it makes this preset's config that run's exactly.)
      restartEvery: 14000,
      restartPeak: 0.5,
      batch: 32,
      inputSize: 64,
      lrRest: 3e-3,
      warmup: 200,
      decay: 'cosine',
      heatmapWeight: 0,
      scoremapWeight: 1,
      heatmapSigma: 1.5,
    },
    evalEvery: () => 250,
    checkpointEvery: () => 125,
    replicas: 2,
  },
} satisfies Record<string, Preset>;

/** A preset's name. */
export type PresetName = keyof typeof PRESETS;
