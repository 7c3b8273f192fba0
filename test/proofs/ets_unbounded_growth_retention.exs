# proof-of: ets-unbounded-growth/sliding-log-select-count
# options: {"cleanupIntervalMs": 50}
#
# Runs the Gateway.RecentRequests that otpfix rewrote: a :duplicate_bag of {client, written_at} that
# recent/1 counts over the last second (a match-spec guard `written_at > now - 1_000`). otpfix derived
# the retention from that reader: entries older than twice its look-back (2 s) go. A cleanup with a
# shorter retention would delete entries recent/1 still counts. Shown here: entries stay while the
# reader counts them, through many cleanups, and are not deleted before 2 s; they go after; and under
# steady traffic the table holds about two seconds of requests, not all of them.
[dir] = System.argv()
Code.require_file(Path.join(dir, "sliding-log-select-count.ex"))
alias Gateway.RecentRequests

{:ok, pid} = RecentRequests.start_link([])
table = :sys.get_state(pid).log
size = fn -> :ets.info(table, :size) end

now = fn -> System.monotonic_time(:millisecond) end
t_start = now.()
for _ <- 1..50, do: RecentRequests.hit("ancien-client")
50 = RecentRequests.recent("ancien-client")

# Poll until they are gone. While the reader's second has not passed since the first hit it must
# count all 50 (nothing deleted early); none may leave the table before two seconds have passed
# (the cleanup runs every 50 ms). Both follow from the clock order, whatever the machine's load.
gone_after =
  Enum.reduce_while(Stream.cycle([:poll]), nil, fn _, _ ->
    seen = RecentRequests.recent("ancien-client")
    left = size.()
    t = now.()

    cond do
      t - t_start < 1_000 and seen != 50 ->
        raise "after #{t - t_start} ms the reader counts #{seen} of 50: entries it reads were deleted"

      left < 50 and t - t_start < 2_000 ->
        raise "#{50 - left} entries deleted #{t - t_start} ms after they were written, before twice the reader's look-back"

      left == 0 ->
        {:halt, t - t_start}

      t - t_start > 8_000 ->
        raise "entries 8 s old are still in the table"

      true ->
        Process.sleep(20)
        {:cont, nil}
    end
  end)

IO.puts("entries kept while the reader counts them, removed #{gone_after} ms after they were written")

# Steady traffic for 6 s: a batch of 100 hits every 10 ms.
deadline = System.monotonic_time(:millisecond) + 6_000

{written, sizes} =
  Enum.reduce_while(Stream.iterate(0, &(&1 + 1)), {0, []}, fn client, {written, sizes} ->
    if System.monotonic_time(:millisecond) < deadline do
      for _ <- 1..100, do: RecentRequests.hit(client)
      100 = RecentRequests.recent(client)
      Process.sleep(10)
      {:cont, {written + 100, [size.() | sizes]}}
    else
      {:halt, {written, sizes}}
    end
  end)

IO.puts("under load: #{written} requests logged, table peaked at #{Enum.max(sizes)}")
true = written > 5_000
# About 2 s of traffic (twice the look-back, plus a cleanup interval) out of 6 s can be in the table.
true = Enum.max(sizes) < div(written * 3, 5)
