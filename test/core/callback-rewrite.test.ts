/** Deriving handle_cast clauses and reading where a call's value goes. */
import { describe, expect, it } from 'vitest';
import { deriveHandleCast, tailExpressions, valueDiscarded } from '../../src/core/callback-rewrite.js';
import { buildFileModel, type Clause, type FileModel } from '../../src/core/model/module.js';
import { parseElixir } from '../../src/core/parse.js';

function model(text: string): FileModel {
  return buildFileModel({ path: '/p/a.ex', relPath: 'a.ex', text }, parseElixir(text));
}

function clauses(file: FileModel, key = 'handle_call/3'): Clause[] {
  return file.modules[0].functions.get(key)!.clauses;
}

const SERVER = `defmodule S do
  use GenServer
  def handle_call(:ping, _from, s), do: {:reply, :pong, s}

  def handle_call({:put, k, v}, _from, state) do
    old = Map.get(state, k)
    {:reply, old, Map.put(state, k, v)}
  end

  def handle_call({:get, k}, from, state) do
    GenServer.reply(from, Map.get(state, k))
    {:noreply, state}
  end

  def handle_call({:maybe, k}, _from, state) do
    case Map.fetch(state, k) do
      {:ok, v} -> {:reply, v, state}
      :error -> {:reply, nil, Map.put(state, k, :seen)}
    end
  end

  def handle_call(:work, _from, state), do: {:reply, expensive(state), state}
end
`;

describe('deriveHandleCast', () => {
  const file = model(SERVER);
  const [ping, put, get, maybe, work] = clauses(file);

  it('turns a one-liner reply into {:noreply, state}', () => {
    expect(deriveHandleCast(ping, file)).toEqual({ text: 'def handle_cast(:ping, s), do: {:noreply, s}' });
  });

  it('marks a variable that only fed the reply as unused', () => {
    expect(deriveHandleCast(put, file)).toEqual({
      text: 'def handle_cast({:put, k, v}, state) do\n  _old = Map.get(state, k)\n  {:noreply, Map.put(state, k, v)}\nend',
    });
  });

  it('declines a clause that replies through from', () => {
    expect(deriveHandleCast(get, file)).toHaveProperty('reason');
  });

  it('rewrites every branch of a case', () => {
    const derived = deriveHandleCast(maybe, file);
    expect('text' in derived && derived.text).toContain('{:ok, _v} -> {:noreply, state}');
    expect('text' in derived && derived.text).toContain(':error -> {:noreply, Map.put(state, k, :seen)}');
    expect(tailExpressions(maybe.body!, false)).toHaveLength(2);
  });

  it('declines when dropping the reply would drop work', () => {
    expect(deriveHandleCast(work, file)).toEqual({ reason: expect.stringContaining('expensive(state)') });
  });
});

describe('valueDiscarded', () => {
  const file = model(`defmodule H do
  def handle(a, b) do
    GenServer.call(a, :x)
    y = GenServer.call(b, :y)
    try do
      GenServer.call(a, :z)
    catch
      :exit, _ -> :ok
    end
  end
end
`);
  const clause = file.modules[0].functions.get('handle/2')!.clauses[0];
  const calls = clause.calls.filter((s) => s.module === 'GenServer');

  it('tells a statement from a bound value, through a trailing try', () => {
    expect(calls.map((c) => valueDiscarded(c.node, clause.body!))).toEqual([true, false, true]);
  });
});
