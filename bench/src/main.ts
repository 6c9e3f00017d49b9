/**
 * `pnpm bench`: runs every benchmark script in its own process (so that one backend's state or memory
 * never colours another's figures) and lists where the results went. Select with
 * `pnpm bench -- layers data` (names of scripts in bench/src without `.ts`).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RESULTS_DIR } from './harness';

const ALL = ['layers', 'wasm-training', 'data', 'models', 'ehpe', 'threads'];
const here = dirname(fileURLToPath(import.meta.url));
const wanted = process.argv.slice(2).filter((a) => a !== '--');
const topics = (wanted.length ? wanted : ALL).filter((t) => existsSync(join(here, `${t}.ts`)));

let failed = 0;
for (const topic of topics) {
  console.log(`\n=== bench: ${topic}`);
  const result = spawnSync(process.execPath, ['--import', 'tsx', join(here, `${topic}.ts`)], { stdio: 'inherit' });
  if (result.status !== 0) {
    failed++;
    console.error(`bench ${topic} failed with exit code ${result.status}`);
  }
}
console.log(`\nResults in ${RESULTS_DIR}`);
process.exit(failed ? 1 : 0);
