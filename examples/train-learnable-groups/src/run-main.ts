/**
 * For the kill tests: runs this example's `main.ts` in a child process (`node --import tsx`) and
 * resolves to its exit code and output; `onLine` sees each stdout line and may send it SIGINT.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const exampleDir = fileURLToPath(new URL('..', import.meta.url));

/** What the child printed and how it ended. */
export interface MainRun {
  code: number | null;
  stdout: string;
  /** The last 2 000 characters of stderr. */
  stderr: string;
}

/** Runs `main.ts` with `args`; `interrupt()` in `onLine` sends the child SIGINT (Ctrl-C). */
export function runMain(
  args: string[],
  onLine: (line: string, interrupt: () => void) => void = () => {},
): Promise<MainRun> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], { cwd: exampleDir });
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
