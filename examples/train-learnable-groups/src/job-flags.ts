/**
 * The training job's command line (`main.ts`): its own flags beside the recipe flags of `flags.ts`, and the
 * `--help` text of both, with the defaults of each preset. The README's "Command line" section is this text.
 */
import { recipeHelp, type FlagTable } from './flags';
import { PRESETS } from './presets';

/** `parseArgs` options of the job's own flags (the recipe flags are added by `parseFlags`). */
export const JOB_FLAGS = {
  preset: { type: 'string' },
  out: { type: 'string' },
  'test-size': { type: 'string' },
  'eval-every': { type: 'string' },
  'checkpoint-every': { type: 'string' },
  resume: { type: 'boolean', default: false },
  init: { type: 'string' },
  threads: { type: 'string' },
  'data-workers': { type: 'string' },
  replicas: { type: 'string' },
  tag: { type: 'string' },
  help: { type: 'boolean', default: false },
} as const satisfies FlagTable;

/** What `--help` prints. */
export const JOB_HELP = `Train Learnable Groups on synthetic hands (wasm).
  --help                this text
  --preset NAME         'demo' (default: the short run of pnpm demo) or 'pretrained' (the long run of the
                        shipped model); every flag below overrides the preset
  --out DIR             output folder (default runs/learnable-groups/latest)
  --test-size N         held-out samples (default 256; seed 90210, never trained on)
  --eval-every N        held-out evaluation period in steps (default: the preset's)
  --checkpoint-every N  checkpoint period (default: the preset's)
  --resume              continue from the newest checkpoint in <out>/checkpoints (same flags!)
  --init FILE           start from PyTorch weights: a .pth/.pt checkpoint (read directly, no Python;
                        e.g. the release's RHD_final.pth with --full) or a .safetensors file. The
                        model configuration must match the checkpoint's (strict import)
  --threads N           threads of the wasm backend (default: every core)
  --data-workers N      worker threads rendering the training data ahead of the trainer (default 1; 0: none)
  --replicas N          data-parallel replicas in worker threads, each with a 1-thread wasm backend and a
                        shard of every batch; gradients averaged each step (default: the preset's —
                        2 for both presets, capped by the cores). Works with --resume, --init and Ctrl-C
                        as a single process does
  --tag TEXT            a free label, ignored
${recipeHelp(Object.fromEntries(Object.entries(PRESETS).map(([name, p]) => [name, p.recipe])))}

presets: ${Object.entries(PRESETS)
  .map(([k, p]) => `${k} = ${p.describe}`)
  .join('\n         ')}`;
