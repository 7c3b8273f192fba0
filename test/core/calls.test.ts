/** The cross-module call index and the telemetry model, on small in-memory projects. */
import { describe, expect, it } from 'vitest';
import { describeHops, entrySite, processFunctions, serverOf, syncCallsOf } from '../../src/core/model/calls.js';
import { buildFileModel, type FunctionDef } from '../../src/core/model/module.js';
import { buildIndex, type ProjectIndex } from '../../src/core/model/project.js';
import { emitterEvidence, handlerCalls, isTelemetryHandler, telemetryIndex } from '../../src/core/model/telemetry.js';
import { parseElixir } from '../../src/core/parse.js';

function project(sources: Record<string, string>): ProjectIndex {
  return buildIndex(
    Object.entries(sources).map(([path, text]) => buildFileModel({ path: `/p/${path}`, relPath: path, text }, parseElixir(text))),
  );
}

function fn(p: ProjectIndex, mod: string, key: string): FunctionDef {
  const f = p.modules.get(mod)?.functions.get(key);
  if (!f) throw new Error(`no ${mod}.${key}`);
  return f;
}

const REGISTRY = `
defmodule MyApp.Registry do
  use GenServer
  def start_link(_), do: GenServer.start_link(__MODULE__, %{}, name: :my_registry)
  def lookup(server \\\\ :my_registry, key), do: GenServer.call(server, {:lookup, key})
  def init(s), do: {:ok, s}
  def handle_call({:lookup, key}, _from, s), do: {:reply, Map.get(s, key), s}
end
`;

describe('sync-call index', () => {
  it('follows a public wrapper of another module through an alias, with the default server', () => {
    const p = project({
      'registry.ex': REGISTRY,
      'worker.ex': `
defmodule MyApp.Worker do
  use GenServer
  alias MyApp.Registry, as: Reg
  def init(s), do: {:ok, s}
  def handle_info({:find, key}, state) do
    value = find(key)
    {:noreply, Map.put(state, key, value)}
  end
  defp find(key), do: Reg.lookup(key)
end
`,
    });
    const calls = syncCallsOf(fn(p, 'MyApp.Worker', 'handle_info/2'), p);
    expect(calls).toHaveLength(1);
    const [call] = calls;
    expect(call.primitive).toBe('GenServer.call');
    expect(call.target).toEqual({ kind: 'name', name: 'my_registry' });
    expect(describeHops(call)).toBe('MyApp.Worker.find/1 → MyApp.Registry.lookup/2 → GenServer.call');
    expect(entrySite(call).name).toBe('find');
    expect(serverOf(call, call.target, p.modules.get('MyApp.Worker')!, p)?.module.name).toBe('MyApp.Registry');
    expect(call.loop).toBe(false);
  });

  it('binds a pid argument at the call site and marks calls made per element', () => {
    const p = project({
      'registry.ex': REGISTRY,
      'fanout.ex': `
defmodule MyApp.Fanout do
  use GenServer
  def init(s), do: {:ok, s}
  def handle_cast({:ask, servers, key}, state) do
    Enum.each(servers, fn server -> MyApp.Registry.lookup(server, key) end)
    me = self()
    MyApp.Registry.lookup(me, key)
    Task.start(fn -> MyApp.Registry.lookup(key) end)
    {:noreply, state}
  end
end
`,
    });
    const calls = syncCallsOf(fn(p, 'MyApp.Fanout', 'handle_cast/2'), p);
    // The call inside Task.start runs in the task, not in the server.
    expect(calls).toHaveLength(2);
    expect(calls[0].loop).toBe(true);
    expect(calls[0].target.kind).toBe('unknown');
    expect(calls[1].loop).toBe(false);
    expect(calls[1].target).toEqual({ kind: 'self' });
    // A pid whose request MyApp.Registry's handle_call answers is taken to be a registry process.
    expect(serverOf(calls[0], calls[0].target, p.modules.get('MyApp.Fanout')!, p)?.how).toBe('message');
  });
});

describe('telemetry model', () => {
  const ROUTER = `
defmodule Router do
  use GenServer
  @handler &__MODULE__.on_event/4
  def start_link(_), do: GenServer.start_link(__MODULE__, :ok, name: __MODULE__)
  def init(:ok) do
    me = self()
    :telemetry.attach("a", [:app, :a], fn _, _, _, _ -> GenServer.call(me, :ping) end, nil)
    :telemetry.attach("b", [:app, :b], @handler, %{to: self()})
    handler = &local_event/4
    :telemetry.attach("c", [:app, :c], handler, nil)
    {:ok, %{}}
  end
  def on_event(_, _, _, %{to: pid}), do: GenServer.call(pid, :ping)
  def local_event(_, _, _, _), do: :ok
  def handle_call(:ping, _from, s), do: {:reply, :pong, s}
  def handle_call(:work, _from, s) do
    report()
    {:reply, :ok, s}
  end
  defp report, do: :telemetry.execute([:app, :b], %{}, %{})
end
`;

  it('finds fn, attribute and variable handlers, and where they call', () => {
    const p = project({ 'router.ex': ROUTER });
    const attaches = telemetryIndex(p).attaches;
    expect(attaches.map((a) => a.handler.kind)).toEqual(['fn', 'function', 'function']);
    expect(isTelemetryHandler(fn(p, 'Router', 'on_event/4'), p)).toBe(true);
    expect(isTelemetryHandler(fn(p, 'Router', 'local_event/4'), p)).toBe(true);
    // A handler captured in init does not run in the server (module.ts treats the attach as a hand-off).
    expect(fn(p, 'Router', 'local_event/4').context).not.toBe('server');
    // The closure's `me` and the config's `to:` are both the router's own pid.
    const [a, b] = attaches;
    expect(handlerCalls(a, p).map((h) => h.process.kind === 'module' && h.process.module.name)).toEqual(['Router']);
    expect(handlerCalls(b, p).map((h) => h.process.kind === 'module' && h.process.module.name)).toEqual(['Router']);
  });

  it('knows which emits run in a process, through private helpers', () => {
    const p = project({ 'router.ex': ROUTER });
    const router = p.modules.get('Router')!;
    const [a, b] = telemetryIndex(p).attaches;
    const evidence = emitterEvidence(b, router, p);
    expect(evidence.inTarget.map((e) => e.path.map((f) => f.name))).toEqual([['handle_call', 'report']]);
    expect(emitterEvidence(a, router, p).unseen).toEqual(['app.a']);
    expect(processFunctions(router, p).has(fn(p, 'Router', 'on_event/4'))).toBe(false);
  });
});
