/**
 * Opcodes that name globals, call them and set object state: GLOBAL, STACK_GLOBAL, REDUCE, NEWOBJ,
 * NEWOBJ_EX, INST, OBJ, BUILD, PERSID, BINPERSID (and the extension-registry opcodes, refused).
 *
 * This is where a pickle could run code, so nothing here calls anything but the allowed classes: a global
 * outside the allow-list is refused when it is named (before any call), and a call reaches only the
 * `create` of an allowed class.
 */
import type { OpTable, PickleClass, PickleMachine } from '../machine';
import type { PyGlobal, PyValue } from '../values';
import { isPyGlobal } from '../values';
import { OP } from './codes';

/** Python's `find_class`: a reference to `module.name` if it is allowed. */
function findClass(m: PickleMachine, module: string, name: string): PyGlobal {
  const full = `${module}.${name}`;
  if (!m.options.globals.has(full)) {
    m.fail(`refers to the Python global '${full}', which this reader does not rebuild`);
  }
  return { kind: 'global', name: full };
}

/** Calls the class `callee` refers to with `args` and pushes the object it returns. */
function call(m: PickleMachine, callee: PyValue, args: PyValue): void {
  if (!isPyGlobal(callee)) m.fail('calls something that is not a global');
  if (!Array.isArray(args)) m.fail(`calls '${callee.name}' without an argument tuple`);
  const cls: PickleClass | null | undefined = m.options.globals.get(callee.name);
  if (!cls) m.fail(`calls '${callee.name}', which this reader does not call`);
  const made = cls.create(args, m);
  if (typeof made === 'object' && made !== null && !m.makers.has(made)) m.makers.set(made, cls);
  m.push(made);
}

function loadStackGlobal(m: PickleMachine): void {
  const name = m.pop();
  const module = m.pop();
  if (typeof module !== 'string' || typeof name !== 'string') m.fail('names a global with something other than text');
  m.push(findClass(m, module, name));
}

function loadReduce(m: PickleMachine): void {
  const args = m.pop();
  call(m, m.pop(), args);
}

function loadNewObjEx(m: PickleMachine): void {
  const kwargs = m.pop();
  const args = m.pop();
  const cls = m.pop();
  if (!(kwargs instanceof Map) || kwargs.size > 0) m.fail('passes keyword arguments, which this reader does not');
  call(m, cls, args);
}

function loadInst(m: PickleMachine): void {
  const module = m.line();
  const name = m.line();
  const cls = findClass(m, module, name);
  call(m, cls, m.popMark());
}

function loadObj(m: PickleMachine): void {
  const items = m.popMark();
  if (items.length === 0) m.fail('has no class to instantiate');
  call(m, items[0], items.slice(1));
}

function loadBuild(m: PickleMachine): void {
  const state = m.pop();
  const target = m.top();
  const cls = typeof target === 'object' && target !== null ? m.makers.get(target) : undefined;
  if (!cls?.setState) m.fail('sets the state of an object this reader does not rebuild');
  cls.setState(target, state, m);
  m.incomplete.delete(target as object);
}

function persistent(m: PickleMachine, pid: PyValue): void {
  const load = m.options.persistentLoad;
  if (!load) m.fail('uses a persistent id, which this reader was given no way to resolve');
  m.push(load(pid, m));
}

const refuseExtension = (m: PickleMachine): never =>
  m.fail('uses the copyreg extension registry, which this reader does not support');

export const objectOps: OpTable = {
  [OP.GLOBAL]: (m) => {
    const module = m.line();
    m.push(findClass(m, module, m.line()));
  },
  [OP.STACK_GLOBAL]: loadStackGlobal,
  [OP.REDUCE]: loadReduce,
  [OP.NEWOBJ]: loadReduce,
  [OP.NEWOBJ_EX]: loadNewObjEx,
  [OP.INST]: loadInst,
  [OP.OBJ]: loadObj,
  [OP.BUILD]: loadBuild,
  [OP.PERSID]: (m) => persistent(m, m.line()),
  [OP.BINPERSID]: (m) => persistent(m, m.pop()),
  [OP.EXT1]: refuseExtension,
  [OP.EXT2]: refuseExtension,
  [OP.EXT4]: refuseExtension,
};
