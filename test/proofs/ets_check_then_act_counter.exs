# proof-of: ets-check-then-act/counter-rate-limiter
#
# Runs Foundation.RateLimiter as otpfix rewrote it against many concurrent callers of check/2 on its
# :public table, and the original (fixtures/before) the same way.
#
# To make the race reproducible, the callers run on one scheduler and each burns N reductions
# before calling check/2. A process is preempted when its 4000-reduction budget runs out at a
# function call, so for some N every caller is preempted between its :ets.lookup and its
# :ets.update_counter: all read the same count. The proof scans N and asserts that
#   - the original admits more callers than the limit for some N (the schedules reach the race), and
#   - the rewrite admits exactly the limit for every N, and in free-running rounds on all schedulers.
[dir] = System.argv()
Code.put_compiler_option(:ignore_module_conflict, true)

defmodule Proof do
  @callers 50
  @limit 5

  def limit, do: @limit

  # {n, admitted} for each reduction offset n, all callers on one scheduler.
  def scan(file, offsets) do
    with_limiter(file, fn ->
      online = :erlang.system_flag(:schedulers_online, 1)

      try do
        for n <- offsets, do: {n, race_round(n)}
      after
        :erlang.system_flag(:schedulers_online, online)
      end
    end)
  end

  # Admitted counts of rounds run on every scheduler with no reduction offset.
  def free(file, rounds) do
    with_limiter(file, fn -> for _ <- 1..rounds, do: race_round(0) end)
  end

  defp with_limiter(file, fun) do
    Code.require_file(file)
    # Stay inside one 60 s window of the limiter for the whole run.
    into = Integer.mod(System.monotonic_time(:millisecond), 60_000)
    if into > 50_000, do: Process.sleep(60_000 - into + 50)
    {:ok, pid} = Foundation.RateLimiter.start_link([])

    try do
      fun.()
    after
      GenServer.stop(pid)
    end
  end

  defp race_round(n) do
    key = make_ref()
    parent = self()

    pids =
      for _ <- 1..@callers do
        spawn(fn ->
          receive do
            :go ->
              burn(n)
              send(parent, {:result, Foundation.RateLimiter.check(key, @limit)})
          end
        end)
      end

    Enum.each(pids, &send(&1, :go))
    results = for _ <- 1..@callers, do: receive(do: ({:result, r} -> r))
    Enum.count(results, &match?({:allow, _}, &1))
  end

  defp burn(0), do: :ok
  defp burn(n), do: burn(n - 1)
end

limit = Proof.limit()
offsets = 3700..4050
before = Path.expand("../../fixtures/before/ets-check-then-act/counter-rate-limiter.ex", __DIR__)

racy = for {n, admitted} <- Proof.scan(before, offsets), admitted > limit, do: {n, admitted}

if racy == [] do
  IO.puts(:stderr, "the schedule scan never hit the original's race; the proof would show nothing")
  System.halt(1)
end

rewritten = Path.join(dir, "counter-rate-limiter.ex")
over = for {n, admitted} <- Proof.scan(rewritten, offsets), admitted != limit, do: {n, admitted}
[] = over
free = Proof.free(rewritten, 40)
^free = List.duplicate(limit, 40)

{n, worst} = Enum.max_by(racy, &elem(&1, 1))

IO.puts(
  "counter: original admitted up to #{worst} of 50 callers (limit #{limit}) at offset #{n}, over-admitting at " <>
    "#{length(racy)} offsets; the rewrite admitted exactly #{limit} at all #{Enum.count(offsets)} offsets and in 40 free rounds"
)
