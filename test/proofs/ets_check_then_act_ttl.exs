# proof-of: ets-check-then-act/ttl-cache-public
#
# Runs Foundation.Infrastructure.Cache as otpfix rewrote it. A reader (get/2) finds an expired
# record while a writer (put/3) stores a fresh value under the same key. The original deletes the
# key after its expiry check, so when the writer slips in between the reader's lookup and delete,
# the fresh value is lost. The rewrite deletes only the exact stale record it read.
#
# The interleaving is made reproducible as in the counter proof: one scheduler, and the reader burns
# N reductions first so that for some N it is preempted between :ets.lookup and the delete, and the
# writer (queued behind it) runs in that gap. The proof scans N and asserts that the original loses
# the fresh value for some N, and the rewrite for none.
[dir] = System.argv()
Code.put_compiler_option(:ignore_module_conflict, true)

defmodule Foundation.Telemetry do
  def emit(_event, _meta), do: :ok
end

defmodule Proof do
  alias Foundation.Infrastructure.Cache

  # For each N: true when the fresh value survived.
  def scan(file, offsets) do
    Code.require_file(file)
    {:ok, pid} = Cache.start_link()
    online = :erlang.system_flag(:schedulers_online, 1)

    try do
      for n <- offsets, do: {n, race(n)}
    after
      :erlang.system_flag(:schedulers_online, online)
      GenServer.stop(pid)
    end
  end

  defp race(n) do
    key = make_ref()
    # Already expired.
    :ok = Cache.put(key, :stale, -1)
    parent = self()

    reader =
      spawn(fn ->
        receive do
          :go ->
            burn(n)
            Cache.get(key)
            send(parent, :read)
        end
      end)

    writer =
      spawn(fn ->
        receive do
          :go ->
            :ok = Cache.put(key, :fresh, 60_000)
            send(parent, :written)
        end
      end)

    send(reader, :go)
    send(writer, :go)
    receive(do: (:read -> :ok))
    receive(do: (:written -> :ok))
    match?([{_, :fresh, _}], :ets.lookup(Cache, key))
  end

  defp burn(0), do: :ok
  defp burn(n), do: burn(n - 1)
end

offsets = 3700..4050
before = Path.expand("../../fixtures/before/ets-check-then-act/ttl-cache-public.ex", __DIR__)
lost = for {n, false} <- Proof.scan(before, offsets), do: n

if lost == [] do
  IO.puts(:stderr, "the schedule scan never hit the original's race; the proof would show nothing")
  System.halt(1)
end

rewritten = Path.join(dir, "ttl-cache-public.ex")
[] = for {n, false} <- Proof.scan(rewritten, offsets), do: n

IO.puts(
  "ttl: the original deleted a fresh value at #{length(lost)} of #{Enum.count(offsets)} offsets (first #{hd(lost)}); " <>
    "the rewrite kept it at all of them"
)
