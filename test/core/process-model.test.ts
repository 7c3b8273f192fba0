/** The model helpers behind the process rules: blocking calls, variables, tail positions, state writes. */
import { describe, expect, it } from 'vitest';
import { blockingCallsIn, describeBlocking, patternsFrom } from '../../src/core/model/blocking.js';
import { buildFileModel, type FileModel } from '../../src/core/model/module.js';
import { buildIndex } from '../../src/core/model/project.js';
import { tailsOf } from '../../src/core/model/returns.js';
import { fieldWrites } from '../../src/core/model/state.js';
import { boundVariables, freeVariables, patternVariables } from '../../src/core/model/vars.js';
import { parseElixir } from '../../src/core/parse.js';

function model(text: string, path = '/virtual/a.ex'): FileModel {
  return buildFileModel({ path, relPath: 'a.ex', text }, parseElixir(text));
}

const SERVER = `
defmodule S do
  use GenServer
  def init(opts) do
    Task.start(fn -> Process.sleep(10) end)
    drain()
    connect(opts)
  end
  def handle_info(:tick, state) do
    ref = Process.send_after(self(), :tick, 10)
    if Process.cancel_timer(ref) == false do
      receive do
        :tick -> :ok
      end
    end
    {:noreply, state}
  end
  defp connect(opts), do: do_connect(opts[:url])
  defp do_connect(url), do: Finch.request(url, MyFinch)
  defp drain do
    receive do
      _ -> drain()
    after
      0 -> :ok
    end
  end
  def later, do: fn -> HTTPoison.get("x") end
  def remote, do: Other.fetch(1)
end
defmodule Other do
  def fetch(id), do: GenServer.call(Other.Server, {:fetch, id})
end
`;

describe('blockingCallsIn', () => {
  const file = model(SERVER);
  const s = file.modules.find((m) => m.name === 'S')!;

  it('follows local calls several hops, ignoring spawned work and receive ... after 0', () => {
    const calls = blockingCallsIn(s.functions.get('init/1')!);
    expect(calls.map((c) => [c.what, c.chain.map((f) => f.name)])).toEqual([['Finch.request', ['init', 'connect', 'do_connect']]]);
    expect(describeBlocking(calls[0])).toBe('Finch.request (via connect/1 → do_connect/1)');
  });

  it('treats a receive after Process.cancel_timer as a flush, and stored fns as not run', () => {
    expect(blockingCallsIn(s.functions.get('handle_info/2')!)).toEqual([]);
    expect(blockingCallsIn(s.functions.get('later/0')!)).toEqual([]);
  });

  it('follows calls into other scanned modules only when given the project', () => {
    const fn = s.functions.get('remote/0')!;
    expect(blockingCallsIn(fn)).toEqual([]);
    const found = blockingCallsIn(fn, { project: buildIndex([file]) });
    expect(found.map((c) => [c.what, c.category])).toEqual([['GenServer.call', 'sync-call']]);
  });

  it('takes its list from an option', () => {
    const calls = blockingCallsIn(s.functions.get('init/1')!, { patterns: patternsFrom(['Process.sleep']) });
    expect(calls).toEqual([]); // the only sleep runs in a Task
  });
});

describe('variables', () => {
  const stmts = (src: string) => parseElixir(src).rootNode.namedChildren;

  it('reads free variables through patterns, pins, guards and comprehensions', () => {
    const code = stmts(`x = f(a)
case g(x, b) do
  {:ok, c} when c > d -> c
  ^e -> :ok
end
for {p, _} <- subs, do: send(p, m)`);
    expect([...freeVariables(code)]).toEqual(['a', 'b', 'd', 'e', 'subs', 'm']);
    expect([...boundVariables(code)]).toEqual(['x']);
  });

  it('binds pattern variables but not pinned ones', () => {
    expect([...patternVariables(stmts('{:ok, %{a: a} = b, ^c}')[0])]).toEqual(['a', 'b']);
  });
});

describe('tailsOf', () => {
  it('collects the values a body returns through case, if/else and with/else', () => {
    const body = parseElixir(`x = 1
case x do
  1 -> {:ok, 1}
  _ -> if y, do: {:stop, :y}, else: :ignore
end`).rootNode.namedChildren;
    const tails = tailsOf(body);
    expect(tails.complete).toBe(true);
    expect(tails.nodes.map((n) => n.text)).toEqual(['{:ok, 1}', '{:stop, :y}', ':ignore']);
  });

  it('says when a path returns a value it cannot see', () => {
    expect(tailsOf(parseElixir('if x do\n  1\nend').rootNode.namedChildren).complete).toBe(false);
  });
});

describe('fieldWrites', () => {
  it('classifies growth, shrinking and bounded writes', () => {
    const file = model(`
defmodule W do
  use GenServer
  def handle_cast({:a, x}, s), do: {:noreply, %{s | log: [x | s.log]}}
  def handle_cast({:b, x}, s), do: {:noreply, %{s | recent: [x | s.recent] |> Enum.take(10)}}
  def handle_cast({:c, k, v}, s), do: {:noreply, put_in(s.by_id[k], v)}
  def handle_cast({:d, k}, s), do: {:noreply, update_in(s.by_id, &Map.delete(&1, k))}
  def handle_cast({:e, x}, s), do: {:noreply, %{s | q: push(s.q, x)}}
  defp push(q, x), do: :queue.in(x, q)
end`);
    const writes = fieldWrites(file.modules[0]).map((w) => `${w.field}:${w.kind}${w.how ? `:${w.how}` : ''}`);
    expect(writes).toEqual(['log:grow:prepend', 'recent:shrink', 'by_id:grow:keyed insert', 'by_id:shrink', 'q:grow:queue in via push/2']);
  });
});
