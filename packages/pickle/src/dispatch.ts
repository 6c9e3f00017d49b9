/**
 * The dispatch table: opcode byte → handler, as CPython's `Unpickler.dispatch`. Each group of opcodes lives
 * in its own module under `opcodes/`; auditing or adding an opcode touches one small function.
 */
import type { OpHandler, OpTable } from './machine';
import { containerOps } from './opcodes/containers';
import { framingOps } from './opcodes/framing';
import { memoOps } from './opcodes/memo';
import { numberOps } from './opcodes/numbers';
import { objectOps } from './opcodes/objects';
import { stringOps } from './opcodes/strings';

function table(...groups: OpTable[]): ReadonlyArray<OpHandler | undefined> {
  const out = new Array<OpHandler | undefined>(256).fill(undefined);
  for (const group of groups) {
    for (const [code, handler] of Object.entries(group)) out[Number(code)] = handler;
  }
  return out;
}

/** Handler of each opcode byte (`undefined`: not an opcode of protocols 0–5). */
export const DISPATCH = table(framingOps, numberOps, stringOps, containerOps, memoOps, objectOps);
