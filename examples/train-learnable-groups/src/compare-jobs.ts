/**
 * Compares runs of the training job (`main.ts`) from their output folders: a Markdown table of the
 * held-out 2D EPE at chosen steps, the mean of the last evaluations and the learned groups, then the
 * largest gap of each run's curve to the first run's, over the whole run and from a given step.
 *
 *   node --import tsx src/compare-jobs.ts --job long-run-2='fusion 1e-2, seed 1' \
 *     --job long-run-fuslr3='fusion 3e-3, seed 1' [--at 2000,6000,10000,14000] [--last 7] [--gap-from 10000]
 */
import { nameAndLabel, readJobCurve } from './job-curve';
import { jobTable, largestGap, type CurveGap, type LabelledJob } from './job-table';
import { exitOnError, intFlag, parseCommandLine, UsageError } from './usage';

const USAGE = 'usage: compare-jobs.ts --job DIR[=label]… [--at S1,S2,…] [--last N] [--gap-from STEP]';

/** The command line, checked: a mistake is a {@link UsageError}. */
function readArgs(argv: string[]) {
  const { values } = parseCommandLine({
    args: argv[0] === '--' ? argv.slice(1) : argv,
    options: {
      job: { type: 'string', multiple: true },
      at: { type: 'string', default: '2000,6000,10000,14000' },
      last: { type: 'string', default: '7' },
      'gap-from': { type: 'string', default: '10000' },
    },
  });
  const jobs = values.job ?? [];
  if (jobs.length === 0) throw new UsageError(`--job is required. ${USAGE}`);
  if (jobs.some((arg) => nameAndLabel(arg)[0] === '')) throw new UsageError(`--job needs a folder: ${USAGE}`);
  const atSteps = values.at.split(',').map((s) => intFlag('at', s, 0, 0));
  return {
    jobs,
    atSteps,
    last: intFlag('last', values.last, 7),
    gapFrom: intFlag('gap-from', values['gap-from'], 0, 0),
  };
}

function main(): void {
  const { jobs: jobArgs, atSteps, last, gapFrom } = readArgs(process.argv.slice(2));
  const jobs: LabelledJob[] = jobArgs.map((arg) => {
    const [dir, label] = nameAndLabel(arg);
    return { label, curve: readJobCurve(dir) };
  });
  console.log(jobTable(jobs, { atSteps, last }));

  const describeGap = (gap: CurveGap | undefined) =>
    gap === undefined ? 'no common step' : `${gap.gapPx.toFixed(2)} px at step ${gap.step}`;
  const [first, ...others] = jobs;
  for (const job of others) {
    const whole = largestGap(first.curve, job.curve);
    const late = largestGap(first.curve, job.curve, gapFrom);
    console.log(
      `\nlargest gap of '${job.label}' to '${first.label}': ${describeGap(whole)}; from step ${gapFrom}: ${describeGap(late)}`,
    );
  }
}

try {
  main();
} catch (error) {
  exitOnError(error);
}
