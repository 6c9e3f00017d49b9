/**
 * `pnpm start`: runs `src/main.ts`, the root README's program, character for character — which reads no
 * arguments. A flag or a positional is a usage error (one line, exit code 2) rather than being ignored by a
 * 100-step run that was not asked for; `--help` says what the run does. Edit `src/main.ts` to change it.
 */
const USAGE = `quick-model: the README's example — a small conv net read out by SoftArgmax25D, trained for 100 steps of
batch 16 on synthetic hands (wasm), a loss line every 25 steps. It takes no arguments: edit src/main.ts to change it.`;

// `pnpm start -- …` may pass the `--` through.
const args = process.argv.slice(2).filter((arg, i) => !(i === 0 && arg === '--'));
if (args.length === 1 && (args[0] === '--help' || args[0] === '-h')) {
  console.log(USAGE);
  process.exit(0);
}
if (args.length > 0) {
  console.error(`error: quick-model takes no arguments, but received '${args.join(' ')}' (see --help).`);
  process.exit(2);
}
await import('./main');

export {};
