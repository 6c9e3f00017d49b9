/**
 * For kill tests of command-line scripts: runs a TypeScript script in a child Node process
 * (`node --import tsx`) and resolves to its exit code and output; `onLine` sees each stdout line and may
 * send the child SIGINT, as Ctrl-C would. Node only (`node:child_process`), so not in the package's main
 * entry, which the browser tests load.
 *
 * @example
 * const run = await runNodeScript({ cwd: exampleDir, script: 'src/main.ts', args: ['--steps', '6'] }, (line, interrupt) => {
 *   if (/^step\s+1\//.test(line)) interrupt();
 * });
 * expect(run.code).toBe(130);
 */
import { spawn } from 'node:child_process';

/** What the child printed and how it ended. */
export interface ScriptRun {
  /** Exit code (null when a signal ended it). */
  code: number | null;
  stdout: string;
  /** The last 2 000 characters of stderr. */
  stderr: string;
}

/** Which script to run, where, with which arguments. */
export interface ScriptOptions {
  /** Working directory of the child (where its `tsx` resolves). */
  cwd: string;
  /** The script, relative to `cwd`. */
  script: string;
  /** Its arguments. */
  args: string[];
}

/** Runs `options.script` with `options.args`; `interrupt()` in `onLine` sends the child SIGINT (Ctrl-C). */
export function runNodeScript(
  options: ScriptOptions,
  onLine: (line: string, interrupt: () => void) => void = () => {},
): Promise<ScriptRun> {
  const child = spawn(process.execPath, ['--import', 'tsx', options.script, ...options.args], { cwd: options.cwd });
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => {
    const text = chunk.toString();
    stdout += text;
    for (const line of text.split('\n')) onLine(line, () => child.kill('SIGINT'));
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr: stderr.slice(-2000) })));
}
