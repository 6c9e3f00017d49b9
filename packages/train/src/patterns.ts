/** Name patterns given by the user (parameter groups, freezing). Internal: not exported by the package. */

/**
 * `pattern` without the `g` and `y` flags, whose `test` is stateful (it starts at `lastIndex`, which a match
 * leaves behind): tested name after name, such a pattern skipped the name after each match.
 *
 * @example
 * const kernels = withoutStatefulFlags(/kernel/g);
 * ['a/kernel', 'b/kernel'].map((name) => kernels.test(name)); // [true, true] (with /kernel/g: [true, false])
 */
export function withoutStatefulFlags(pattern: RegExp): RegExp {
  return pattern.global || pattern.sticky ? new RegExp(pattern.source, pattern.flags.replace(/[gy]/g, '')) : pattern;
}
