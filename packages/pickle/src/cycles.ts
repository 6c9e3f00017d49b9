/** Finds a cycle among decoded lists, tuples and dicts, iteratively (no recursion, so any depth is safe). */
import type { PyValue } from './values';

type Container = PyValue[] | Map<PyValue, PyValue>;

function isContainer(v: PyValue): v is Container {
  return Array.isArray(v) || v instanceof Map;
}

function* children(c: Container): Iterator<PyValue> {
  if (Array.isArray(c)) yield* c;
  else
    for (const [k, v] of c) {
      yield k;
      yield v;
    }
}

/**
 * Returns `true` when some container reachable from `root` contains itself (directly or through others).
 * Each container is visited once: time linear in the number of items.
 */
export function hasCycle(root: PyValue): boolean {
  const finished = new WeakSet<object>();
  const onPath = new Set<object>();
  const path: Array<{ node: Container; next: Iterator<PyValue> }> = [];
  const enter = (v: PyValue): boolean => {
    if (!isContainer(v) || finished.has(v)) return false;
    if (onPath.has(v)) return true;
    onPath.add(v);
    path.push({ node: v, next: children(v) });
    return false;
  };
  if (enter(root)) return true;
  while (path.length > 0) {
    const frame = path[path.length - 1];
    const step = frame.next.next();
    if (step.done) {
      path.pop();
      onPath.delete(frame.node);
      finished.add(frame.node);
    } else if (enter(step.value)) return true;
  }
  return false;
}
