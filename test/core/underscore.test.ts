/**
 * underscoreUnused (used by every fix that rewrites a callback head): a variable bound twice in one
 * match must not become `_name` twice, which the compiler warns about (issue 8, defect 9).
 */
import { describe, expect, it } from 'vitest';
import { underscoreUnused } from '../../src/core/model/vars.js';
import { parseElixir } from '../../src/core/parse.js';

function params(head: string) {
  const root = parseElixir(`def f(${head}), do: :ok\n`).rootNode;
  const args = root.descendantsOfType('arguments')[1];
  return args.namedChildren;
}

describe('underscoreUnused', () => {
  it('underscores a variable bound once and not kept', () => {
    const [p] = params('{:tick, timer_ref, n}');
    expect(underscoreUnused(p, new Set(['n']))).toBe('{:tick, _timer_ref, n}');
  });

  it('leaves a variable bound twice in the same pattern as it is', () => {
    const [p] = params('%{timer: timer_ref, last: timer_ref, n: n}');
    expect(underscoreUnused(p, new Set())).toBe('%{timer: timer_ref, last: timer_ref, n: _n}');
  });

  it('leaves a variable the other parameters of the head also bind', () => {
    const [msg, state] = params('{:done, timer_ref}, %{timer_ref: timer_ref} = state');
    expect(underscoreUnused(msg, new Set(['state']), [state])).toBe('{:done, timer_ref}');
    expect(underscoreUnused(state, new Set(['state']), [msg])).toBe('%{timer_ref: timer_ref} = state');
  });

  it('does not count pins, calls or fields as bindings', () => {
    const [p] = params('{^timer_ref, ref}');
    expect(underscoreUnused(p, new Set())).toBe('{^timer_ref, _ref}');
  });
});
