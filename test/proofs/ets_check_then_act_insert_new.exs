# proof-of: ets-check-then-act/insert-if-absent-atomics
#
# Runs Metrics.Counters as otpfix rewrote it: two processes bump a new key at the same time. The
# original inserts a fresh :atomics counter when its lookup finds none, so when both find none the
# second insert replaces the first counter and an increment is lost. With :ets.insert_new the first
# counter wins and both increments land on it.
#
# Interleavings are reproduced as in the counter proof (one scheduler, the first bumper burns N
# reductions so that for some N it is preempted between its lookup and its insert).
[dir] = System.argv()
Code.put_compiler_option(:ignore_module_conflict, true)

defmodule Proof do
  # For each N, the counter's value after two concurrent bumps of a new key.
  def scan(file, offsets) do
    Code.require_file(file)
    {:ok, pid} = Metrics.Counters.start_link(nil)
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
    parent = self()

    bumpers =
      for burn <- [n, 0] do
        spawn(fn ->
          receive do
            :go ->
              burn(burn)
              Metrics.Counters.bump(key)
              send(parent, :done)
          end
        end)
      end

    Enum.each(bumpers, &send(&1, :go))
    for _ <- bumpers, do: receive(do: (:done -> :ok))
    [{^key, ref}] = :ets.lookup(Metrics.Counters, key)
    :atomics.get(ref, 1)
  end

  defp burn(0), do: :ok
  defp burn(n), do: burn(n - 1)
end

offsets = 3700..4050
before = Path.expand("../../fixtures/before/ets-check-then-act/insert-if-absent-atomics.ex", __DIR__)
lost = for {n, count} <- Proof.scan(before, offsets), count != 2, do: n

if lost == [] do
  IO.puts(:stderr, "the schedule scan never hit the original's race; the proof would show nothing")
  System.halt(1)
end

rewritten = Path.join(dir, "insert-if-absent-atomics.ex")
[] = for {n, count} <- Proof.scan(rewritten, offsets), count != 2, do: {n, count}

IO.puts("insert_new: the original lost an increment at #{length(lost)} offsets; the rewrite counted both at all #{Enum.count(offsets)}")
