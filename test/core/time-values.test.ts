/** The value, time and ETS-record models the ets-unbounded-growth rule stands on. */
import { describe, expect, it } from 'vitest';
import { opsReaching, recordsWritten, stateIsTable, timedElements } from '../../src/core/model/ets-records.js';
import { buildFileModel, type Clause, type FileModel } from '../../src/core/model/module.js';
import { buildIndex, type ProjectIndex } from '../../src/core/model/project.js';
import { constInt, timeValue } from '../../src/core/model/time.js';
import { valueOrigins } from '../../src/core/model/values.js';
import { parseElixir } from '../../src/core/parse.js';

function project(...sources: string[]): { files: FileModel[]; index: ProjectIndex } {
  const files = sources.map((text, i) => buildFileModel({ path: `/p/f${i}.ex`, relPath: `f${i}.ex`, text }, parseElixir(text)));
  return { files, index: buildIndex(files) };
}

function clauseOf(files: FileModel[], mod: string, fn: string, n = 0): Clause {
  const m = files.flatMap((f) => f.modules).find((x) => x.name === mod)!;
  return [...m.functions.values()].find((f) => `${f.name}/${f.arity}` === fn)!.clauses[n];
}

/** The time of the expression `expr` bound to `x` in `T.f/0`'s body (`x = expr; x`). */
function timeOf(body: string, extra = ''): ReturnType<typeof timeValue> {
  const { files, index } = project(`defmodule T do\n  @w 60_000\n${extra}\n  def f do\n    ${body}\n  end\nend\n`);
  const clause = clauseOf(files, 'T', 'f/0');
  const stmts = clause.body!.namedChildren;
  return timeValue(stmts[stmts.length - 1], clause, index);
}

describe('timeValue', () => {
  it('reads clocks and units, native by default', () => {
    expect(timeOf('System.monotonic_time(:millisecond)')).toMatchObject({ kind: 'at', clock: 'monotonic', unit: 'millisecond' });
    expect(timeOf(':os.system_time(:seconds)')).toMatchObject({ kind: 'at', clock: 'os', unit: 'second' });
    expect(timeOf(':erlang.system_time(1000)')).toMatchObject({ kind: 'at', clock: 'system', unit: 'millisecond' });
    expect(timeOf('System.monotonic_time()')).toMatchObject({ kind: 'at', unit: 'native' });
  });

  it('derives expiries, windows and follows variables and helpers', () => {
    expect(timeOf('now = System.system_time(:second)\n    now + ttl()')).toMatchObject({ kind: 'expiry', clock: 'system', unit: 'second' });
    const bucket = timeOf('System.system_time(:millisecond) |> div(@w)');
    expect(bucket).toMatchObject({ kind: 'bucket', unit: 'millisecond' });
    expect(bucket?.kind === 'bucket' && bucket.window.value).toBe(60_000);
    expect(timeOf('div(now(), :timer.minutes(2))', '  defp now, do: System.monotonic_time(:millisecond)\n')).toMatchObject({
      kind: 'bucket',
      clock: 'monotonic',
    });
  });

  it('says when a time cannot be compared, and what is not a time', () => {
    expect(timeOf('DateTime.add(DateTime.utc_now(), 60)')).toMatchObject({ kind: 'opaque', deadline: true });
    expect(timeOf('System.monotonic_time(unit)')).toMatchObject({ kind: 'opaque' });
    expect(timeOf('System.monotonic_time() - System.monotonic_time()')).toBeUndefined();
    expect(timeOf('div(count, 10)')).toBeUndefined();
    const runtime = timeOf('div(System.system_time(:second), opts[:window])');
    expect(runtime?.kind === 'bucket' && runtime.window.runtime).toMatch(/run time/);
  });

  it('evaluates compile-time integers', () => {
    const { files } = project('defmodule T do\n  @a 2\n  def f, do: @a * :timer.seconds(3) + 1_000\nend\n');
    const clause = clauseOf(files, 'T', 'f/0');
    expect(constInt(clause.body!, clause.fn.module)).toBe(7000);
  });
});

describe('valueOrigins', () => {
  const src = `defmodule V do
  def a(x), do: helper(x + 1)
  def b, do: helper(:atom)
  defp helper(v) do
    {:ok, w} = fetch()
    y = v
    {y, w}
  end
end
`;
  it('follows bindings to their right side and parameters to every caller', () => {
    const { files, index } = project(src);
    const clause = clauseOf(files, 'V', 'helper/1');
    const useAt = clause.body!.text.lastIndexOf('{y, w}') + clause.body!.startIndex;
    const [y] = valueOrigins('y', clause, useAt + 1, index)!;
    expect(y.node.text).toBe('v');
    const v = valueOrigins('v', y.clause, y.node.startIndex, index)!;
    expect(v.map((o) => o.node.text).sort()).toEqual([':atom', 'x + 1']);
    expect(v.map((o) => o.clause.fn.name).sort()).toEqual(['a', 'b']);
    expect(valueOrigins('w', clause, useAt + 4, index)).toBeUndefined(); // bound by a pattern
  });
});

describe('ETS records', () => {
  const owner = `defmodule Owner do
  use GenServer
  def init(_), do: {:ok, :ets.new(:t, [:set])}
  def handle_call({:put, k}, _from, table) do
    store(table, k)
    {:reply, :ok, table}
  end
  defp store(table, k), do: :ets.insert(table, {{k, System.os_time(:second)}, :v})
end
`;
  it('reaches a table through the state and helper parameters, and reads the record shape', () => {
    const { index } = project(owner);
    const table = index.tables[0];
    expect(stateIsTable(table)).toBe(true);
    const { ops } = opsReaching(index, table);
    const write = ops.find((o) => o.op === 'insert')!;
    expect(write).toBeDefined();
    const read = recordsWritten(write, index);
    if (!read || 'unreadable' in read) throw new Error('records expected');
    expect(read.records).toHaveLength(1);
    const [element] = timedElements(read.records[0].shape);
    expect(element.path).toEqual([0, 1]);
    expect(element.time).toMatchObject({ kind: 'at', clock: 'os', unit: 'second' });
  });

  it('reads a keyword list as {atom, value} records', () => {
    const { index } = project(`defmodule K do
  def init(_) do
    t = :ets.new(:k, [:named_table])
    :ets.insert(t, shell: IO, env: :dev, started: now())
    {:ok, nil}
  end
end
`);
    const write = opsReaching(index, index.tables[0]).ops.find((o) => o.op === 'insert')!;
    const read = recordsWritten(write, index);
    if (!read || 'unreadable' in read) throw new Error('records expected');
    expect(read.records.map((r) => r.shape.items.map((i) => i.kind))).toEqual([
      ['non-number', 'non-number'],
      ['non-number', 'non-number'],
      ['non-number', 'other'],
    ]);
  });

  it('says which writes it cannot read', () => {
    const { index } = project(`defmodule W do
  def init(_), do: {:ok, %{t: :ets.new(:w, [:bag])}}
  def handle_cast({:many, rows}, state) do
    :ets.insert(state.t, rows)
    {:noreply, state}
  end
end
`);
    const table = index.tables[0];
    const write = opsReaching(index, table).ops.find((o) => o.op === 'insert')!;
    expect(recordsWritten(write, index)).toEqual({ unreadable: expect.stringContaining('rows') });
  });
});
