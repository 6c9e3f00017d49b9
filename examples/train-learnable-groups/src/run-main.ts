/**
 * For the kill tests: runs this example's `main.ts` in a child process (`runNodeScript`) and resolves to
 * its exit code and output; `onLine` sees each stdout line and may send it SIGINT.
 */
import { fileURLToPath } from 'node:url';
import { runNodeScript, type ScriptRun } from '@phalanx/testing/child-process';

const exampleDir = fileURLToPath(new URL('..', import.meta.url));

/** What the child printed and how it ended. */
export type MainRun = ScriptRun;

/** Runs `main.ts` with `args`; `interrupt()` in `onLine` sends the child SIGINT (Ctrl-C). */
export function runMain(
  args: string[],
  onLine: (line: string, interrupt: () => void) => void = () => {},
): Promise<MainRun> {
  return runNodeScript({ cwd: exampleDir, script: 'src/main.ts', args }, onLine);
}
