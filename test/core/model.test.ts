import { describe, expect, it } from 'vitest';
import { buildFileModel, findCallChain, siteName, type FileModel, type ModuleDef } from '../../src/core/model/module.js';
import { buildIndex } from '../../src/core/model/project.js';
import { parseElixir } from '../../src/core/parse.js';

function model(text: string): FileModel {
  return buildFileModel({ path: '/x/a.ex', relPath: 'a.ex', text }, parseElixir(text));
}
function mod(file: FileModel, name: string): ModuleDef {
  const m = file.modules.find((x) => x.name === name);
  if (!m) throw new Error(`no module ${name} in ${file.modules.map((x) => x.name)}`);
  return m;
}

const SERVER = `
defmodule MyApp.Cache do
  use GenServer
  alias MyApp.Store.Backend, as: Store
  alias MyApp.{Clock, Metrics}

  def start_link(opts), do: GenServer.start_link(__MODULE__, opts, name: __MODULE__)
  def get(key), do: GenServer.call(__MODULE__, {:get, key})
  def peek(key), do: lookup(key)

  @impl true
  def init(opts), do: {:ok, opts}

  @impl true
  def handle_call({:get, key}, _from, state) when is_binary(key) do
    {:reply, fetch(key), state}
  end

  def handle_call({:get, _key}, _from, state), do: {:reply, nil, state}

  defp fetch(key), do: key |> normalize() |> load()
  defp normalize(key), do: String.downcase(key)
  defp load(key) do
    Metrics.count(:load)
    Store.read(key, Clock.now())
  end
  defp lookup(key), do: :ets.lookup(__MODULE__, key)
  defp shared(x), do: x
  defp unused(x), do: x

  def handle_cast(:tick, state) do
    shared(1)
    Task.start(fn -> spawned_only() end)
    {:noreply, state}
  end

  def public_too, do: shared(2)
  defp spawned_only, do: :ok

  defmodule Inner do
    def hello, do: Clock.now()
  end
end
`;

describe('module model', () => {
  const file = model(SERVER);
  const m = mod(file, 'MyApp.Cache');

  it('knows what a module is and nests modules', () => {
    expect([...m.kinds]).toEqual(['genserver']);
    expect(mod(file, 'MyApp.Cache.Inner').kinds.size).toBe(0);
    expect(m.usesImpl).toBe(true);
  });

  it('groups guarded and do: clauses into one function', () => {
    const hc = m.functions.get('handle_call/3')!;
    expect(hc.clauses).toHaveLength(2);
    expect(hc.clauses[0].guard?.text).toBe('is_binary(key)');
    expect(hc.clauses[1].oneLiner).toBe(true);
    expect(hc.isCallback).toBe(true);
  });

  it('runs callbacks and helpers reachable only from them in the server, several hops deep', () => {
    const ctx = (key: string) => m.functions.get(key)!.context;
    expect(ctx('handle_call/3')).toBe('server');
    expect(ctx('fetch/1')).toBe('server');
    expect(ctx('load/1')).toBe('server'); // handle_call → fetch → load (through a pipe)
    expect(ctx('get/1')).toBe('caller');
    expect(ctx('lookup/1')).toBe('caller');
    expect(ctx('shared/1')).toBe('both');
    expect(ctx('unused/1')).toBe('unreachable');
    // Only reachable through a fn handed to Task.start: it runs in the task, not the server.
    expect(ctx('spawned_only/0')).toBe('unreachable');
  });

  it('normalizes calls: aliases (incl. as: and multi-alias), pipes, __MODULE__', () => {
    const load = m.functions.get('load/1')!.clauses[0].calls.map(siteName);
    expect(load).toEqual(['MyApp.Metrics.count', 'MyApp.Store.Backend.read', 'MyApp.Clock.now']);
    const fetch = m.functions.get('fetch/1')!.clauses[0].calls;
    expect(fetch.map((c) => [c.name, c.arity])).toEqual([['normalize', 1], ['load', 1]]);
    const get = m.functions.get('get/1')!.clauses[0].calls[0];
    expect(get.args[0].text).toBe('__MODULE__');
    expect(mod(file, 'MyApp.Cache.Inner').functions.get('hello/0')!.clauses[0].calls.map(siteName)).toEqual(['MyApp.Clock.now']);
  });

  it('marks work handed to another process as spawned', () => {
    const cast = m.functions.get('handle_cast/2')!.clauses[0].calls;
    const spawned = cast.find((c) => c.name === 'spawned_only')!;
    expect(spawned.spawned).toBe(true);
    expect(spawned.fnHost).toBe('Task.start');
    expect(cast.find((c) => c.name === 'shared')!.spawned).toBe(false);
  });

  it('finds call chains through local helpers', () => {
    const chain = findCallChain(m.functions.get('handle_call/3')!, (f) => f.name === 'load');
    expect(chain?.map((f) => f.name)).toEqual(['handle_call', 'fetch', 'load']);
  });
});

describe('ETS facts', () => {
  const file = model(`
defmodule Limits do
  use GenServer
  @table :limits

  def init(_) do
    :ets.new(@table, [:named_table, :public, :set])
    t = :ets.new(:private_stuff, [:ordered_set])
    {:ok, %{table: t}}
  end

  def hit(key), do: :ets.update_counter(@table, key, 1, {key, 0})
  def handle_call({:put, k}, _from, %{table: table} = state) do
    :ets.insert(table, {k, 1})
    {:reply, :ok, state}
  end
  def handle_cast(:clear, state) do
    state.table |> :ets.delete_all_objects()
    {:noreply, state}
  end
end
`);
  const index = buildIndex([file]);

  it('knows each table: name, access, type, where the id is kept', () => {
    const [named, priv] = index.tables;
    expect([named.name, named.named, named.access, named.type]).toEqual(['limits', true, 'public', 'set']);
    expect([priv.named, priv.access, priv.type, priv.variable, priv.field]).toEqual([false, 'protected', 'ordered_set', 't', 'table']);
  });

  it('links operations to tables by name, state field, pattern-bound field and pipe', () => {
    const [named, priv] = index.tables;
    expect(index.opsOn(named).map((o) => o.op)).toEqual(['update_counter']);
    expect(index.opsOn(priv).map((o) => o.op).sort()).toEqual(['delete_all_objects', 'insert']);
  });
});
