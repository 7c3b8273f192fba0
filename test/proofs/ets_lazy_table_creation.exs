# proof-of: ets-lazy-table-creation/seed-rate-limiter
#
# Runs Foundation.Services.RateLimiter as otpfix rewrote it: a short-lived process (a Task, as a
# request process would be) records hits and exits; the bucket table and its counts survive, because
# the table now belongs to the rate limiter's own process. The original (fixtures/before) is run the
# same way: there the Task created and owned the table, so its exit deleted it with every count.
[dir] = System.argv()
Code.put_compiler_option(:ignore_module_conflict, true)

defmodule Proof do
  alias Foundation.Services.RateLimiter

  # Hits from a Task that then exits; returns what a later caller sees.
  def run(file) do
    Code.require_file(file)
    {:ok, pid} = RateLimiter.start_link()

    Task.async(fn -> for _ <- 1..3, do: RateLimiter.hit(:client, 60_000) end) |> Task.await()

    seen =
      try do
        {:count, RateLimiter.count(:client, 60_000)}
      rescue
        ArgumentError -> :table_gone
      end

    owner = :ets.info(:rate_limit_buckets, :owner)
    GenServer.stop(pid)
    {seen, owner == pid}
  end
end

# Stay inside one 60 s window.
into = Integer.mod(System.monotonic_time(:millisecond), 60_000)
if into > 55_000, do: Process.sleep(60_000 - into + 50)

{{:count, 3}, true} = Proof.run(Path.join(dir, "seed-rate-limiter.ex"))

before = Path.expand("../../fixtures/before/ets-lazy-table-creation/seed-rate-limiter.ex", __DIR__)
{:table_gone, false} = Proof.run(before)

IO.puts("lazy table: rewritten, the limiter owns the table and 3 hits from an exited Task survive; originally the Task owned it and its exit deleted the table")
