/**
 * Opcodes that build tuples, lists, dicts and sets. Tuples, lists and sets are JavaScript arrays (the
 * machine remembers which arrays are tuples and sets, so APPEND on a tuple or ADDITEMS on a list fails as
 * in Python); dicts are `Map`s. Items are added one at a time, never spread into a call, so a single
 * APPENDS or SETITEMS of any length cannot overflow the JavaScript stack.
 */
import type { OpTable, PickleMachine } from '../machine';
import type { PyValue } from '../values';
import { OP } from './codes';

function tuple(m: PickleMachine, items: PyValue[]): PyValue[] {
  m.tuples.add(items);
  return items;
}

/** The list on top of the stack, for APPEND and APPENDS. */
function targetList(m: PickleMachine): PyValue[] {
  const list = m.top();
  if (!Array.isArray(list) || m.tuples.has(list) || m.sets.has(list)) m.fail('appends to something that is not a list');
  return list;
}

/** The dict on top of the stack, for SETITEM and SETITEMS. */
function targetDict(m: PickleMachine): Map<PyValue, PyValue> {
  const dict = m.top();
  if (!(dict instanceof Map)) m.fail('sets items on something that is not a dict');
  return dict;
}

function setPairs(m: PickleMachine, dict: Map<PyValue, PyValue>, items: PyValue[]): void {
  if (items.length % 2 !== 0) m.fail(`has an odd number of items (${items.length}) for key/value pairs`);
  for (let i = 0; i < items.length; i += 2) dict.set(items[i], items[i + 1]);
}

function loadAppends(m: PickleMachine): void {
  const items = m.popMark();
  const list = targetList(m);
  for (const item of items) list.push(item);
}

function loadDict(m: PickleMachine): void {
  const dict = new Map<PyValue, PyValue>();
  setPairs(m, dict, m.popMark());
  m.push(dict);
}

function loadSetItem(m: PickleMachine): void {
  const value = m.pop();
  const key = m.pop();
  targetDict(m).set(key, value);
}

function loadAddItems(m: PickleMachine): void {
  const items = m.popMark();
  const set = m.top();
  if (!Array.isArray(set) || !m.sets.has(set) || m.tuples.has(set)) m.fail('adds items to something that is not a set');
  for (const item of items) set.push(item);
}

function loadEmptySet(m: PickleMachine): void {
  const set: PyValue[] = [];
  m.sets.add(set);
  m.push(set);
}

function loadFrozenSet(m: PickleMachine): void {
  const set = m.popMark();
  m.sets.add(set);
  m.tuples.add(set);
  m.push(set);
}

export const containerOps: OpTable = {
  [OP.EMPTY_TUPLE]: (m) => m.push(tuple(m, [])),
  [OP.TUPLE]: (m) => m.push(tuple(m, m.popMark())),
  [OP.TUPLE1]: (m) => m.push(tuple(m, [m.pop()])),
  [OP.TUPLE2]: (m) => {
    const b = m.pop();
    m.push(tuple(m, [m.pop(), b]));
  },
  [OP.TUPLE3]: (m) => {
    const c = m.pop();
    const b = m.pop();
    m.push(tuple(m, [m.pop(), b, c]));
  },
  [OP.EMPTY_LIST]: (m) => m.push([]),
  [OP.LIST]: (m) => m.push(m.popMark()),
  [OP.APPEND]: (m) => {
    const item = m.pop();
    targetList(m).push(item);
  },
  [OP.APPENDS]: loadAppends,
  [OP.EMPTY_DICT]: (m) => m.push(new Map()),
  [OP.DICT]: loadDict,
  [OP.SETITEM]: loadSetItem,
  [OP.SETITEMS]: (m) => {
    const items = m.popMark();
    setPairs(m, targetDict(m), items);
  },
  [OP.EMPTY_SET]: loadEmptySet,
  [OP.ADDITEMS]: loadAddItems,
  [OP.FROZENSET]: loadFrozenSet,
};
