# proof-of: ets-arbitrary-eviction/seed-cache-put
#
# Runs Foundation.Infrastructure.Cache as otpfix rewrote it, with max_size 3: once the cache is full,
# updating a key that is already cached must not evict anything. The original (fixtures/before) is
# run the same way: its update evicts :ets.first/1, so the cache loses an unrelated entry.
[dir] = System.argv()
Code.put_compiler_option(:ignore_module_conflict, true)

defmodule Proof do
  alias Foundation.Infrastructure.Cache

  # Fill the cache, then update a cached key that is not the one :ets.first/1 would pick.
  def run(file) do
    Code.require_file(file)
    {:ok, pid} = Cache.start_link(max_size: 3)
    for k <- [:a, :b, :c], do: :ok = Cache.put(k, 1)
    table = :sys.get_state(pid).table
    victim = :ets.first(table)
    updated = Enum.find([:a, :b, :c], &(&1 != victim))
    :ok = Cache.put(updated, 2)
    keys = table |> :ets.tab2list() |> Enum.map(&elem(&1, 0)) |> Enum.sort()
    GenServer.stop(pid)
    keys
  end
end

[:a, :b, :c] = Proof.run(Path.join(dir, "seed-cache-put.ex"))

before = Path.expand("../../fixtures/before/ets-arbitrary-eviction/seed-cache-put.ex", __DIR__)
lost = Proof.run(before)
2 = length(lost)

IO.puts("eviction: updating a cached key in a full cache keeps all 3 entries; the original evicted one (#{inspect(lost)} left)")
