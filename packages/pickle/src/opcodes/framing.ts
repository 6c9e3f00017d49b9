/** Opcodes that frame the pickle and move the stack: PROTO, FRAME, STOP, MARK, POP, POP_MARK, DUP. */
import { STOPPED, type OpTable, type PickleMachine } from '../machine';
import { HIGHEST_PROTOCOL, OP } from './codes';

function loadProto(m: PickleMachine): void {
  const protocol = m.u8();
  if (protocol > HIGHEST_PROTOCOL) {
    m.fail(`declares pickle protocol ${protocol}, but this reader knows protocols 0–${HIGHEST_PROTOCOL}`);
  }
}

/** FRAME only announces how many bytes the next opcodes take; the reader does not need it. */
function loadFrame(m: PickleMachine): void {
  const length = m.u64();
  if (m.pos + length > m.bytes.length)
    m.fail(`announces a ${length}-byte frame past the end of the file (truncated pickle)`);
}

function loadStop(m: PickleMachine): typeof STOPPED {
  m.result = m.pop();
  return STOPPED;
}

/** POP drops the top item, or the whole top stack when it is empty (as CPython does). */
function loadPop(m: PickleMachine): void {
  if (m.stack.length > 0) m.stack.pop();
  else m.popMark();
}

export const framingOps: OpTable = {
  [OP.PROTO]: loadProto,
  [OP.FRAME]: loadFrame,
  [OP.STOP]: loadStop,
  [OP.MARK]: (m) => m.mark(),
  [OP.POP]: loadPop,
  [OP.POP_MARK]: (m) => void m.popMark(),
  [OP.DUP]: (m) => m.push(m.top()),
};
