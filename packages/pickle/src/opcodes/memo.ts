/** Opcodes that store the top of the stack in the memo and fetch it back: PUT, BINPUT, LONG_BINPUT, MEMOIZE, GET, BINGET, LONG_BINGET. */
import type { OpTable, PickleMachine } from '../machine';
import { OP } from './codes';
import { parseDecimal } from './numbers';

function textIndex(m: PickleMachine, what: string): number {
  const index = parseDecimal(m, m.line(), what);
  if (typeof index !== 'number' || index < 0) m.fail(`has the memo index ${index}, which is not in [0, 2^53)`);
  return index;
}

function get(m: PickleMachine, index: number): void {
  if (!m.memo.has(index)) m.fail(`refers to memo entry ${index}, which was never stored`);
  m.push(m.memo.get(index) ?? null);
}

export const memoOps: OpTable = {
  [OP.PUT]: (m) => void m.memo.set(textIndex(m, 'the PUT index'), m.top()),
  [OP.BINPUT]: (m) => void m.memo.set(m.u8(), m.top()),
  [OP.LONG_BINPUT]: (m) => void m.memo.set(m.u32(), m.top()),
  [OP.MEMOIZE]: (m) => void m.memo.set(m.memo.size, m.top()),
  [OP.GET]: (m) => get(m, textIndex(m, 'the GET index')),
  [OP.BINGET]: (m) => get(m, m.u8()),
  [OP.LONG_BINGET]: (m) => get(m, m.u32()),
};
