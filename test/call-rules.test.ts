/**
 * Precision of the rules about waiting and starting processes: the library model names the real cost
 * and timeout, rare paths (error, rescue, retry, an option off by default) are low and say so, the
 * recommended patterns stay silent, exits that are caught are not called crashes, and one root cause
 * is one finding with related locations.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { scan } from '../src/api.js';
import { parseTimeout, timeoutOf, LIBRARY_CALLS, describeTimeout } from '../src/core/model/library.js';
import { buildFileModel } from '../src/core/model/module.js';
import { parseElixir } from '../src/core/parse.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

async function findings(files: Record<string, string>, rule: string) {
  const dir = mkdtempSync(path.join(tmpdir(), 'otpfix-calls-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), text);
  }
  const result = await scan({ paths: [dir], cwd: dir, rules: [rule], config: { rules: {}, include: [], exclude: [] } });
  return result.findings;
}

describe('library model', () => {
  const site = (code: string) => {
    const text = `defmodule M do\n  def f(x) do\n    ${code}\n  end\nend\n`;
    const model = buildFileModel({ path: '/p/m.ex', relPath: 'm.ex', text }, parseElixir(text));
    return model.modules[0].functions.get('f/1')!.clauses[0].calls[0];
  };
  const entry = (pattern: string) => LIBRARY_CALLS.find((e) => e.pattern === pattern)!;

  it('reads the timeout a call sets, as an argument or an option, else the library default', () => {
    expect(timeoutOf(site('GenServer.call(x, :get, 30_000)'), entry('GenServer.call'))).toMatchObject({ value: 30000, from: 'call' });
    expect(timeoutOf(site('GenServer.call(x, :get)'), entry('GenServer.call'))).toMatchObject({ value: 5000, from: 'default' });
    expect(timeoutOf(site('Finch.request(x, MyFinch, receive_timeout: 60_000)'), entry('Finch.request'))).toMatchObject({ value: 60000 });
    expect(timeoutOf(site(':httpc.request(:get, {x, []}, [{:timeout, 10_000}], [])'), entry(':httpc.request'))).toMatchObject({ value: 10000 });
    expect(timeoutOf(site(':httpc.request(:get, {x, []}, [], [])'), entry(':httpc.request'))).toMatchObject({ value: 'infinity', from: 'default' });
    expect(timeoutOf(site(':rpc.call(x, M, :f, [], :timer.seconds(30))'), entry(':rpc.call'))).toMatchObject({ value: 30000 });
    expect(timeoutOf(site('Redix.command(x, ["GET", "k"])'), entry('Redix.command'))).toMatchObject({ value: 5000 });
    // A variable bound just before, and options we cannot read (no claim then).
    const bound = (code: string) => {
      const text = `defmodule M do\n  def f(x, opts) do\n    ${code}\n  end\nend\n`;
      const model = buildFileModel({ path: '/p/m.ex', relPath: 'm.ex', text }, parseElixir(text));
      const calls = model.modules[0].functions.get('f/2')!.clauses[0].calls;
      return calls[calls.length - 1];
    };
    expect(timeoutOf(bound('http_options = [ssl: [], timeout: 15000]\n    :httpc.request(:get, {x, []}, http_options, [])'), entry(':httpc.request'))).toMatchObject({ value: 15000, from: 'call' });
    expect(timeoutOf(bound('MyApp.Repo.all(x, opts)'), entry('*Repo.all'))).toBeUndefined();
    // recv/2 has no timeout argument: its length is not a timeout.
    expect(timeoutOf(site(':gen_tcp.recv(x, 0)'), entry(':gen_tcp.recv'))).toMatchObject({ value: 'infinity', from: 'default' });
  });

  it('shows timeouts as people write them', () => {
    expect(parseTimeout('15_000')).toBe(15000);
    expect(parseTimeout(':timer.minutes(2)')).toBe(120000);
    expect(parseTimeout('@timeout')).toBeUndefined();
    expect(describeTimeout({ value: 30000, from: 'call', text: '30_000' })).toBe('30 s');
    expect(describeTimeout({ value: undefined, from: 'call', text: '@timeout' })).toBe('its timeout (@timeout)');
    expect(describeTimeout({ value: 'infinity', from: 'call', text: ':infinity' })).toBe('no timeout');
  });
});

describe('blocking-handle-call precision', () => {
  it('names the real cost and both timeouts, and says when callers give up first', async () => {
    const [f, ...rest] = await findings(
      {
        'lib/prices.ex': `defmodule Shop.Prices do
  use GenServer

  def start_link(opts), do: GenServer.start_link(__MODULE__, opts, name: __MODULE__)
  def fetch(sku), do: GenServer.call(__MODULE__, {:fetch, sku}, 10_000)

  @impl true
  def init(opts), do: {:ok, Map.new(opts)}

  @impl true
  def handle_call({:fetch, sku}, _from, state) do
    resp = Req.get!(state.url, params: [sku: sku], receive_timeout: 30_000)
    {:reply, resp.body, state}
  end
end
`,
      },
      'blocking-handle-call',
    );
    expect(rest).toEqual([]);
    expect(f.severity).toBe('high');
    expect(f.message).toContain('Req.get! (an HTTP request to another service, timeout 30 s)');
    expect(f.message).toContain('callers (through fetch/1) wait up to 10 s');
    expect(f.message).toContain('their call exits while the server is still busy');
    expect(f.message).not.toContain('5 s');
  });

  it('reports a wait reached only after {:error, _} or in a rescue as low and says which path', async () => {
    const [f, ...rest] = await findings(
      {
        'lib/store.ex': `defmodule Shop.Store do
  use GenServer
  require Logger

  def start_link(opts), do: GenServer.start_link(__MODULE__, opts, name: __MODULE__)
  def put(key, value), do: GenServer.call(__MODULE__, {:put, key, value})

  @impl true
  def init(_opts), do: {:ok, %{}}

  @impl true
  def handle_call({:put, key, value}, _from, state) do
    case :ets.insert_new(:shop_store, {key, value}) do
      true ->
        {:reply, :ok, state}

      false ->
        {:reply, {:error, :exists}, state}
    end
  rescue
    ArgumentError ->
      Logger.warning("store table missing, backing off")
      Process.sleep(1_000)
      {:reply, {:error, :unavailable}, state}
  end

  def handle_call({:save, key}, _from, state) do
    case persist(key, state) do
      :ok -> {:reply, :ok, state}
      {:error, _reason} = error -> {:reply, retry_later(error), state}
    end
  end

  defp persist(key, state), do: if(Map.has_key?(state, key), do: :ok, else: {:error, :missing})

  defp retry_later(error) do
    Process.sleep(500)
    error
  end
end
`,
      },
      'blocking-handle-call',
    );
    expect(rest.length).toBe(1);
    for (const x of [f, ...rest]) {
      expect(x.severity).toBe('low');
      expect(x.message).toMatch(/only waits on a rare path \((in a rescue|after \{:error, _reason\} = error|in retry_later\/1)\)/);
    }
  });

  it('keeps a cache miss (Map.fetch ... :error ->) on the normal path', async () => {
    const [f, ...rest] = await findings(
      {
        'lib/geo.ex': `defmodule Geo.Locator do
  use GenServer

  def start_link(opts), do: GenServer.start_link(__MODULE__, opts, name: __MODULE__)
  def country(ip), do: GenServer.call(__MODULE__, {:country, ip})

  @impl true
  def init(opts), do: {:ok, %{url: opts[:url], cache: %{}}}

  @impl true
  def handle_call({:country, ip}, _from, %{cache: cache} = state) do
    case Map.fetch(cache, ip) do
      {:ok, country} ->
        {:reply, {:ok, country}, state}

      :error ->
        {:ok, %{body: country}} = Req.get(state.url <> ip)
        {:reply, {:ok, country}, %{state | cache: Map.put(cache, ip, country)}}
    end
  end
end
`,
      },
      'blocking-handle-call',
    );
    expect(rest).toEqual([]);
    expect(f.severity).toBe('high');
    expect(f.message).not.toContain('rare path');
  });

  it('stays silent on monitor + wait for :DOWN, and keeps a receive with its own timeout low', async () => {
    const all = await findings(
      {
        'lib/pool.ex': `defmodule Shop.Pool do
  use GenServer

  def start_link(opts), do: GenServer.start_link(__MODULE__, opts, name: __MODULE__)

  @impl true
  def init(_), do: {:ok, %{workers: %{}}}

  @impl true
  def handle_call({:stop_worker, pid}, _from, state) do
    ref = Process.monitor(pid)
    Process.exit(pid, :shutdown)

    receive do
      {:DOWN, ^ref, :process, ^pid, _reason} -> :ok
    end

    {:reply, :ok, %{state | workers: Map.delete(state.workers, pid)}}
  end

  def handle_call({:sync, pid}, _from, state) do
    send(pid, {:ping, self()})

    reply =
      receive do
        {:pong, ^pid} -> :ok
      after
        2_000 -> {:error, :timeout}
      end

    {:reply, reply, state}
  end
end
`,
      },
      'blocking-handle-call',
    );
    expect(all.length).toBe(1);
    expect(all[0].severity).toBe('low');
    expect(all[0].message).toContain('a receive bounded by its own timeout (2 s)');
  });
});

describe('blocking-init precision', () => {
  it('is silent on waiting for a stopped process to exit, and low on a handshake with a process it started', async () => {
    const all = await findings(
      {
        'lib/pipeline.ex': `defmodule Media.Pipeline do
  use GenServer

  def start_link(opts), do: GenServer.start_link(__MODULE__, opts)

  @impl true
  def init(opts) do
    {:ok, sup} = Media.ChildSup.start_link([])

    case Media.Setup.run(sup, opts) do
      {:ok, pid} ->
        {:ok, utility} = Media.ChildSup.start_utility(sup, %{owner: self()})
        table = receive do: ({:table, t} -> t)
        {:ok, %{sup: sup, pid: pid, utility: utility, table: table}}

      {:error, reason} ->
        Process.exit(sup, :shutdown)
        receive do: ({:EXIT, ^sup, _reason} -> :ok)
        {:stop, reason}
    end
  end
end
`,
      },
      'blocking-init',
    );
    expect(all.length).toBe(1);
    expect(all[0].severity).toBe('low');
    expect(all[0].message).toContain('receive (no timeout)');
  });
});

describe('coverage: code injected by __using__', () => {
  const AGENT = `defmodule Fleet.AgentBase do
  defmacro __using__(opts) do
    quote do
      use GenServer
      require Logger

      def start_link(args), do: GenServer.start_link(__MODULE__, args)

      @impl true
      def init(args) do
        {:ok, state} = mount(args, unquote(opts))
        {:ok, state}
      end

      def mount(args, opts) do
        result =
          Fleet.Retry.retry_operation(fn -> Fleet.Registry.register(self(), args) end,
            max_retries: 3
          )

        case result do
          {:ok, _} -> {:ok, Map.new(args)}
          {:error, reason} -> {:error, reason}
        end
      end

      @impl true
      def handle_call(:status, _from, state) do
        status = Req.get!(state.health_url).body
        {:reply, status, state}
      end
    end
  end
end
`;

  it('reports mount/2 and handle_call in the quote, detect only', async () => {
    const init = await findings({ 'lib/agent_base.ex': AGENT }, 'blocking-init');
    expect(init.length).toBe(1);
    const mount = init.find((f) => f.message.startsWith('mount/2'));
    expect(mount?.message).toContain('injected by Fleet.AgentBase.__using__');
    expect(mount?.message).toContain('Fleet.Retry.retry_operation (retries with waits between attempts)');
    expect(mount?.fixable).toBe(false);
    const calls = await findings({ 'lib/agent_base.ex': AGENT }, 'blocking-handle-call');
    expect(calls.length).toBe(1);
    expect(calls[0].fixable).toBe(false);
    expect(calls[0].message).toContain('Req.get! (an HTTP request to another service, default timeout 15 s)');
    expect(calls[0].message).toContain('injected by Fleet.AgentBase.__using__');
  });
});

describe('blocking-handle-call: a remote call only when an option is set', () => {
  it('is low and names the option', async () => {
    const [f, ...rest] = await findings(
      {
        'lib/sup.ex': `defmodule Media.SubSup do
  use GenServer

  def start_link(opts), do: GenServer.start_link(__MODULE__, opts)

  @impl true
  def init(opts), do: {:ok, opts}

  @impl true
  def handle_call({:start_child, child_opts}, _from, state) do
    pid =
      case child_opts[:node] do
        nil ->
          {:ok, pid} = GenServer.start(Media.Child, self())
          pid

        node ->
          {:ok, pid} = :rpc.call(node, GenServer, :start, [Media.Child, self()])
          pid
      end

    {:reply, {:ok, pid}, state}
  end
end
`,
      },
      'blocking-handle-call',
    );
    expect(rest).toEqual([]);
    expect(f.severity).toBe('low');
    expect(f.message).toContain('only when child_opts[:node] is set');
  });
});

describe('blocking-handle-call coverage: gen_statem', () => {
  it('reports a {:call, from} event that waits, in handle_event/4 and in state functions, detect only', async () => {
    const all = await findings(
      {
        'lib/vehicle.ex': `defmodule Fleet.Vehicle do
  @behaviour :gen_statem

  def start_link(opts), do: :gen_statem.start_link(__MODULE__, opts, [])
  def summary(pid), do: :gen_statem.call(pid, :summary, 20_000)

  @impl true
  def callback_mode, do: :handle_event_function

  @impl true
  def init(opts), do: {:ok, :online, Map.new(opts)}

  @impl true
  def handle_event({:call, from}, :summary, _state, data) do
    {:ok, resp} = Finch.request(Finch.build(:get, data.url), Fleet.Finch)
    {:keep_state_and_data, [{:reply, from, resp.body}]}
  end

  def handle_event(:info, :tick, _state, _data), do: :keep_state_and_data
end
`,
        'lib/door.ex': `defmodule Fleet.Door do
  @behaviour :gen_statem

  def start_link(opts), do: :gen_statem.start_link(__MODULE__, opts, [])

  @impl true
  def callback_mode, do: :state_functions

  @impl true
  def init(_), do: {:ok, :locked, %{}}

  def locked({:call, from}, {:unlock, code}, data) do
    Process.sleep(3_000)
    {:next_state, :open, data, [{:reply, from, {:ok, code}}]}
  end

  def locked(:info, _msg, _data), do: :keep_state_and_data
end
`,
      },
      'blocking-handle-call',
    );
    const vehicle = all.find((f) => f.file.endsWith('vehicle.ex'));
    const door = all.find((f) => f.file.endsWith('door.ex'));
    expect(all.length).toBe(2);
    expect(vehicle?.message).toContain('blocks the Fleet.Vehicle state machine on Finch.request (an HTTP request to another service, default timeout 15 s)');
    expect(vehicle?.message).toContain('callers (through summary/1) wait up to 20 s');
    expect(vehicle?.fixable).toBe(false);
    expect(door?.message).toContain('locked({:call, from}, {:unlock, code}, ...) blocks the Fleet.Door state machine on Process.sleep (a sleep of 3 s)');
  });
});

describe('sync-call-in-callback precision', () => {
  const STORAGE = `defmodule App.Storage do
  use GenServer
  def start_link(_), do: GenServer.start_link(__MODULE__, %{}, name: __MODULE__)
  def insert(key, value), do: GenServer.call(__MODULE__, {:insert, key, value}, 30_000)
  def init(s), do: {:ok, s}
  def handle_call({:insert, k, v}, _from, s), do: {:reply, :ok, Map.put(s, k, v)}
end
`;

  it('is one finding per root cause, with the other callbacks as related locations, and the real timeout', async () => {
    const all = await findings(
      {
        'lib/storage.ex': STORAGE,
        'lib/settings.ex': `defmodule App.Settings do
  use GenServer
  def start_link(_), do: GenServer.start_link(__MODULE__, %{}, name: __MODULE__)

  @impl true
  def init(s), do: {:ok, s}

  @impl true
  def handle_cast({:set, k, v}, state), do: {:noreply, save(state, k, v)}

  @impl true
  def handle_info({:remote_set, k, v}, state), do: {:noreply, save(state, k, v)}

  @impl true
  def handle_call({:set, k, v}, _from, state), do: {:reply, :ok, save(state, k, v)}

  defp save(state, k, v) do
    App.Storage.insert(k, v)
    Map.put(state, k, v)
  end
end
`,
      },
      'sync-call-in-callback',
    );
    expect(all.length).toBe(1);
    expect(all[0].related?.length).toBe(2);
    expect(all[0].message).toContain('the timeout (30 s)');
    expect(all[0].message).not.toContain('5000');
  });

  it('does not claim a crash when the exit is caught, and is low on a retry path', async () => {
    const all = await findings(
      {
        'lib/storage.ex': STORAGE,
        'lib/sync.ex': `defmodule App.Sync do
  use GenServer
  def start_link(_), do: GenServer.start_link(__MODULE__, %{}, name: __MODULE__)

  @impl true
  def init(s), do: {:ok, s}

  @impl true
  def handle_info({:flush, k, v}, state) do
    try do
      App.Storage.insert(k, v)
    catch
      :exit, _reason -> :ok
    end

    {:noreply, state}
  end

  def handle_info({:retry_flush, k, v}, state) do
    :ok = App.Storage.insert(k, v)
    {:noreply, state}
  end
end
`,
      },
      'sync-call-in-callback',
    );
    // Both clauses reach the same call: one finding, the retry clause related to it.
    expect(all.length).toBe(1);
    expect(all[0].related?.length).toBe(1);
    expect(all[0].message).toContain('the exit is caught, so it does not crash');
    expect(all[0].message).not.toContain('crashes App.Sync');
  });

  it('counts explicit recursion over a list as iteration', async () => {
    const [f, ...rest] = await findings(
      {
        'lib/health.ex': `defmodule App.Health do
  use GenServer
  def start_link(peers), do: GenServer.start_link(__MODULE__, peers, name: __MODULE__)

  @impl true
  def init(peers), do: {:ok, %{peers: peers, statuses: []}}

  @impl true
  def handle_info(:check, state) do
    {:noreply, %{state | statuses: check_all(state.peers, [])}}
  end

  defp check_all([], acc), do: Enum.reverse(acc)

  defp check_all([peer | rest], acc) do
    status = GenServer.call(peer, :status, 2_000)
    check_all(rest, [status | acc])
  end
end
`,
      },
      'sync-call-in-callback',
    );
    expect(rest).toEqual([]);
    expect(f.message).toContain('once per element of a collection');
    expect(f.message).toContain('the timeout (2 s)');
  });

  it('is low on a retry path and says so', async () => {
    const [f, ...rest] = await findings(
      {
        'lib/storage.ex': STORAGE,
        'lib/sync.ex': `defmodule App.Sync do
  use GenServer
  def start_link(_), do: GenServer.start_link(__MODULE__, %{}, name: __MODULE__)

  @impl true
  def init(s), do: {:ok, s}

  @impl true
  def handle_info({:retry_flush, k, v}, state) do
    :ok = App.Storage.insert(k, v)
    {:noreply, state}
  end
end
`,
      },
      'sync-call-in-callback',
    );
    expect(rest).toEqual([]);
    expect(f.severity).toBe('low');
    expect(f.message).toContain('only made on a rare path (in the retry message {:retry_flush, k, v})');
  });

  it('leaves terminate/2 (shutdown sequencing) and a GenServer init/1 (blocking-init) alone', async () => {
    const all = await findings(
      {
        'lib/storage.ex': STORAGE,
        'lib/watchman.ex': `defmodule App.Watchman do
  use GenServer
  def start_link(_), do: GenServer.start_link(__MODULE__, %{}, name: __MODULE__)

  @impl true
  def init(s) do
    Process.flag(:trap_exit, true)
    App.Storage.insert(:watchman, self())
    {:ok, s}
  end

  @impl true
  def terminate(_reason, _state) do
    App.Storage.insert(:watchman, nil)
    :ok
  end
end
`,
      },
      'sync-call-in-callback',
    );
    expect(all).toEqual([]);
  });
});

describe('unsupervised-spawn precision', () => {
  it('reports an unlinked Task.start doing remote calls with retries, naming the work', async () => {
    const all = await findings(
      {
        'lib/notifier.ex': `defmodule App.Notifier do
  use GenServer
  def start_link(opts), do: GenServer.start_link(__MODULE__, opts, name: __MODULE__)

  @impl true
  def init(opts), do: {:ok, Map.new(opts)}

  @impl true
  def handle_cast({:notify, url, payload}, state) do
    Task.start(fn -> deliver_with_retry(url, payload, 3) end)
    {:noreply, state}
  end

  def handle_cast({:drain, pids}, state) do
    spawn(fn -> Enum.each(pids, &send(&1, :drain)) end)
    {:noreply, state}
  end

  def handle_cast({:watch, path}, state) do
    parent = self()
    spawn_link(fn -> watch(path, parent) end)
    {:noreply, state}
  end

  defp watch(path, parent) do
    Process.sleep(1_000)
    send(parent, {:changed, path})
    watch(path, parent)
  end

  defp deliver_with_retry(_url, _payload, 0), do: {:error, :gave_up}

  defp deliver_with_retry(url, payload, attempts) do
    case Req.post(url, json: payload) do
      {:ok, %{status: 200}} -> :ok
      _ ->
        Process.sleep(1_000)
        deliver_with_retry(url, payload, attempts - 1)
    end
  end
end
`,
      },
      'unsupervised-spawn',
    );
    expect(all.length).toBe(1);
    expect(all[0].severity).toBe('medium');
    expect(all[0].message).toContain('Req.post');
    expect(all[0].message).toContain('an HTTP request to another service');
  });

  it('is low when the spawn only happens behind an option that is off by default', async () => {
    const all = await findings(
      {
        'lib/pubsub.ex': `defmodule App.PubSub do
  use Supervisor
  def start_link(opts), do: Supervisor.start_link(__MODULE__, opts, name: __MODULE__)

  @impl true
  def init(opts) do
    if Keyword.get(opts, :discovery, false) do
      Task.start(fn -> App.Repo.delete_all(App.Discovery) end)
    end

    Supervisor.init([], strategy: :one_for_one)
  end
end
`,
      },
      'unsupervised-spawn',
    );
    expect(all.length).toBe(1);
    expect(all[0].severity).toBe('low');
    expect(all[0].message).toContain('only when Keyword.get(opts, :discovery, false) is set');
  });
});
