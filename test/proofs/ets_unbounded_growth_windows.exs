# proof-of: ets-unbounded-growth/sliding-window-reader
# options: {"cleanupIntervalMs": 20}
#
# Runs the Api.BurstLimiter that otpfix rewrote. Callers count requests in {{client, window}, n}
# buckets of 200 ms, and recent/1 sums the current window and the four before it. A cleanup that kept
# only the current and previous windows would delete buckets recent/1 still sums. Shown here: for two
# seconds of steady traffic, with the cleanup running every 20 ms, recent/1 always returns every hit
# of the last five windows (counted independently here), and buckets past them are deleted.
[dir] = System.argv()
Code.require_file(Path.join(dir, "sliding-window-reader.ex"))
alias Api.BurstLimiter

{:ok, _} = BurstLimiter.start_link([])
window = fn -> div(System.system_time(:millisecond), 200) end
expected = fn hits, w -> Enum.sum(for v <- (w - 4)..w, do: Map.get(hits, v, 0)) end

deadline = System.monotonic_time(:millisecond) + 2_000

{hits, checks} =
  Enum.reduce_while(Stream.cycle([:go]), {%{}, 0}, fn _, {hits, checks} ->
    if System.monotonic_time(:millisecond) < deadline do
      BurstLimiter.hit("client")
      w = window.()
      hits = Map.update(hits, w, 1, &(&1 + 1))
      seen = BurstLimiter.recent("client")
      # The window may turn between our count and the limiter's (or several times, on a loaded
      # machine): any window from before to after the read will do, give or take the hit at a turn.
      candidates = for v <- w..window.(), do: expected.(hits, v)

      if seen < Enum.min(candidates) - 1 or seen > Enum.max(candidates) + 1,
        do: raise("recent/1 saw #{seen} hits, the last five windows hold #{inspect(candidates)}: a live bucket was deleted")

      Process.sleep(3)
      {:cont, {hits, checks + 1}}
    else
      {:halt, {hits, checks}}
    end
  end)

true = checks > 100
# Buckets of windows older than the five read (and one to spare) go at the next cleanups.
old_buckets = fn ->
  now = window.()
  kept = :ets.match(:api_burst_limiter, {{"client", :"$1"}, :_}) |> List.flatten()
  {kept, Enum.filter(kept, &(&1 < now - 5))}
end

{kept, _} =
  Enum.find_value(1..150, fn _ ->
    Process.sleep(20)
    {kept, old} = old_buckets.()
    if old == [], do: {kept, old}
  end) || raise("buckets of old windows stay in the table: #{inspect(old_buckets.())}")
true = map_size(hits) >= 9
IO.puts("#{checks} reads of five windows all complete; #{length(kept)} of #{map_size(hits)} windows kept")
