/**
 * The ETS rules' evidence and precision: messages name who runs the code and who writes the table,
 * severity follows the evidence, and the process model keeps serialized code silent.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { scan } from '../src/api.js';
import { FIXTURES } from './support/fixtures.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

async function findings(target: string | Record<string, string>, rule: string) {
  let dir: string;
  if (typeof target === 'string') dir = target;
  else {
    dir = mkdtempSync(path.join(tmpdir(), 'otpfix-ets-'));
    dirs.push(dir);
    for (const [name, text] of Object.entries(target)) {
      mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
      writeFileSync(path.join(dir, name), text);
    }
  }
  const result = await scan({ paths: [dir], cwd: dir, rules: [rule], config: { rules: {}, include: [], exclude: [] } });
  return result.findings;
}

const fixture = (rule: string, name: string) => path.join(FIXTURES, 'before', rule, name);

describe('ets-check-then-act evidence', () => {
  it('names the callers, the table access and every writer with its process', async () => {
    const [f, ...rest] = await findings(fixture('ets-check-then-act', 'counter-rate-limiter.ex'), 'ets-check-then-act');
    expect(rest).toEqual([]);
    expect(f.severity).toBe('high');
    expect(f.message).toContain('runs in callers of Foundation.RateLimiter.check/2');
    expect(f.message).toContain(':rate_limit_buckets is :public and written by');
    expect(f.message).toContain("Foundation.RateLimiter.handle_info/2 (Foundation.RateLimiter's process)");
    expect(f.fixable).toBe(true);
  });

  const helper = `
defmodule Counters.Store do
  def bump(table, key) do
    case :ets.lookup(table, key) do
      [{^key, n}] -> :ets.insert(table, {key, n + 1})
      [] -> :ets.insert(table, {key, 1})
    end
  end
end
`;
  const server = (extra: string) => `
defmodule Counters.Server do
  use GenServer
  def start_link(_), do: GenServer.start_link(__MODULE__, nil, name: __MODULE__)
  def hit(key), do: GenServer.cast(__MODULE__, {:hit, key})
  @impl true
  def init(nil), do: {:ok, :ets.new(:counters, [:named_table, :public])}
  @impl true
  def handle_cast({:hit, key}, table) do
    Counters.Store.bump(:counters, key)
    ${extra}
    {:noreply, table}
  end
end
`;

  it('is silent when a helper module runs only in the owning server (cross-module process)', async () => {
    expect(await findings({ 'store.ex': helper, 'server.ex': server(':ok') }, 'ets-check-then-act')).toEqual([]);
  });

  it('reports the same helper once a spawned task also runs it', async () => {
    const found = await findings(
      { 'store.ex': helper, 'server.ex': server('Task.start(fn -> Counters.Store.bump(:counters, key) end)') },
      'ets-check-then-act',
    );
    expect(found.length).toBeGreaterThan(0);
    expect(found.every((f) => f.message.includes('a process spawned in Counters.Server.handle_cast/2'))).toBe(true);
  });

  it('reports a check-then-act in the owner when callers also write the :public table', async () => {
    const src = `
defmodule Quota.Server do
  use GenServer
  def start_link(_), do: GenServer.start_link(__MODULE__, nil, name: __MODULE__)
  def reset(user), do: :ets.insert(:quotas, {user, 0})
  @impl true
  def init(nil), do: {:ok, :ets.new(:quotas, [:named_table, :public])}
  @impl true
  def handle_call({:use, user}, _from, table) do
    case :ets.lookup(:quotas, user) do
      [{^user, used}] -> :ets.insert(:quotas, {user, used + 1})
      [] -> :ets.insert(:quotas, {user, 1})
    end

    {:reply, :ok, table}
  end
end
`;
    const found = await findings({ 'quota.ex': src }, 'ets-check-then-act');
    const counter = found.find((f) => f.message.includes('(counter)'));
    expect(counter?.message).toContain("runs in Quota.Server's process");
    expect(counter?.message).toContain('Quota.Server.reset/1 (callers)');
    // Without the callers' writer the owner's callbacks are serialized: silent.
    expect(await findings({ 'quota.ex': src.replace(/  def reset.*\n/, '') }, 'ets-check-then-act')).toEqual([]);
  });

  it('lowers the severity when the table is handed in by callers and not created in the scan', async () => {
    const found = await findings({ 'store.ex': helper }, 'ets-check-then-act');
    const counter = found.find((f) => f.message.includes('(counter)'));
    expect(counter?.severity).toBe('medium');
    expect(counter?.message).toContain('not created in the scanned code');
  });

  it('stays silent for a table from an opaque call and inside a lock', async () => {
    const src = `
defmodule Opaque do
  def bump(key) do
    {table, _} = tables_for(key)
    case :ets.lookup(table, key) do
      [{^key, n}] -> :ets.insert(table, {key, n + 1})
      [] -> :ets.insert(table, {key, 1})
    end
  end

  def locked(key) do
    :global.trans({__MODULE__, key}, fn ->
      case :ets.lookup(:locked_counts, key) do
        [{^key, n}] -> :ets.insert(:locked_counts, {key, n + 1})
        [] -> :ets.insert(:locked_counts, {key, 1})
      end
    end)
  end

  defp tables_for(_key), do: {:persistent_term.get(:t), nil}
end
`;
    expect(await findings({ 'opaque.ex': src }, 'ets-check-then-act')).toEqual([]);
    // Without the lock the same code is reported: the silence above comes from the lock.
    const unlocked = src.replace(':global.trans({__MODULE__, key}, fn ->', 'Enum.each([key], fn _ ->');
    expect((await findings({ 'opaque.ex': unlocked }, 'ets-check-then-act')).length).toBeGreaterThan(0);
  });

  it('does not pair a read and a write of different keys', async () => {
    const src = `
defmodule Keys do
  def start, do: :ets.new(:keys_demo, [:named_table, :public])

  def mark(k) do
    case :ets.lookup(:keys_demo, :enabled) do
      [{:enabled, true}] -> :ets.insert(:keys_demo, {k, :marked})
      _ -> :ok
    end
  end
end
`;
    expect(await findings({ 'keys.ex': src }, 'ets-check-then-act')).toEqual([]);
  });
});

describe('ets-lazy-table-creation evidence', () => {
  it('is low priority when the same function also runs at application start', async () => {
    const app = `
defmodule Shop.Application do
  use Application
  def start(_type, _args) do
    Shop.Prices.setup()
    Supervisor.start_link([], strategy: :one_for_one)
  end
end
`;
    const prices = `
defmodule Shop.Prices do
  def setup do
    if :ets.whereis(:prices) == :undefined do
      :ets.new(:prices, [:named_table, :public])
    end

    :ok
  end

  def put(sku, price) do
    setup()
    :ets.insert(:prices, {sku, price})
  end
end
`;
    const [f] = await findings({ 'app.ex': app, 'prices.ex': prices }, 'ets-lazy-table-creation');
    expect(f.severity).toBe('low');
    expect(f.message).toContain("Shop.Application's process");
    const [alone] = await findings({ 'prices.ex': prices }, 'ets-lazy-table-creation');
    expect(alone.severity).toBe('high');
  });
});

describe('ets-full-scan-delete severity', () => {
  it('is low for a table bounded by evidence, medium otherwise', async () => {
    const [bounded] = await findings(fixture('ets-full-scan-delete', 'detect-bounded-static-table.ex'), 'ets-full-scan-delete');
    expect(bounded.severity).toBe('low');
    expect(bounded.message).toContain('filled only when it is created');
    const [seed] = await findings(fixture('ets-full-scan-delete', 'detect-seed-index-cleanup.ex'), 'ets-full-scan-delete');
    expect(seed.severity).toBe('medium');
    expect(seed.message).toContain('4 full-table scans in a row');
    expect(seed.message).toContain('MABEAM.AgentRegistry.handle_call/3 ({:unregister, agent_id})');
  });
});

describe('ets-arbitrary-eviction after the fix', () => {
  it('keeps an info note about the arbitrary victim, not fixable', async () => {
    const found = await findings(path.join(FIXTURES, 'after', 'ets-arbitrary-eviction', 'seed-cache-put.ex'), 'ets-arbitrary-eviction');
    expect(found.map((f) => [f.severity, f.fixable])).toEqual([['info', false]]);
  });
});

describe('ets-check-then-act: what a read only picks a branch for', () => {
  const LIMITER = `defmodule Mail.RateLimiter do
  @moduledoc "Counts sends per key; update_counter is atomic, the lookup only picks the branch."
  use GenServer

  @table __MODULE__.ETS

  def start_link(opts), do: GenServer.start_link(__MODULE__, opts, name: __MODULE__)

  def hit(key, limit, interval) do
    now = System.monotonic_time(:millisecond)

    counter =
      case :ets.lookup(@table, key) do
        [{^key, _count, expires_at}] when expires_at <= now -> reset(key, now + interval)
        [{^key, _count, _expires_at}] -> increment(key)
        [] -> reset(key, now + interval)
      end

    if counter > limit, do: {:error, :rate_limited}, else: :ok
  end

  defp increment(key), do: :ets.update_counter(@table, key, {2, 1})

  defp reset(key, expires_at) do
    :ets.insert(@table, {key, 1, expires_at})
    1
  end

  @impl true
  def init(_opts) do
    :ets.new(@table, [:named_table, :public, :set, write_concurrency: true])
    {:ok, %{}}
  end
end
`;

  it('an atomic update_counter in the branch that found the key is no counter race; the inserts on a miss or expiry are', async () => {
    const found = await findings({ 'lib/limiter.ex': LIMITER }, 'ets-check-then-act');
    const lines = found.map((f) => [f.line, f.message.slice(0, 60)]);
    expect(found.some((f) => f.message.includes('(counter)')), JSON.stringify(lines)).toBe(false);
    expect(found.some((f) => f.message.includes('insert-if-absent'))).toBe(true);
  });

  it('a cache filled on a miss with the value it returns is duplicate work, not a lost write', async () => {
    expect(await findings(fixture('ets-check-then-act', 'valid-cache-fill.ex'), 'ets-check-then-act')).toEqual([]);
  });
});
