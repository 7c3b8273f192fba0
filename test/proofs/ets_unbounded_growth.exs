# proof-of: ets-unbounded-growth/ttl-cache-expiry
# options: {"cleanupIntervalMs": 50}
#
# Runs the MyApp.Cache that otpfix rewrote. Its records are {key, value, expires_at} with
# expires_at = System.monotonic_time(:millisecond) + ttl; otpfix added a cleanup timer that deletes
# expired records. Shown here: expired entries disappear, live ones survive (and still read), and
# under a steady stream of short-lived writes the table stays bounded instead of growing with them.
[dir] = System.argv()
Code.require_file(Path.join(dir, "ttl-cache-expiry.ex"))

{:ok, _} = MyApp.Cache.start_link(ttl: 60_000)
table = :sys.get_state(MyApp.Cache).table
size = fn -> :ets.info(table, :size) end

# 200 entries that expire in 20 ms, 10 that live for a minute.
for i <- 1..200, do: :ok = MyApp.Cache.put({:short, i}, "éphémère #{i}", 20)
for i <- 1..10, do: :ok = MyApp.Cache.put({:live, i}, "durable #{i}", 60_000)
210 = size.()

Process.sleep(250)
10 = size.()
for i <- 1..10, do: {:ok, "durable " <> _} = MyApp.Cache.get({:live, i})
:miss = MyApp.Cache.get({:short, 1})
IO.puts("expired entries removed, #{size.()} live entries kept")

# Load: one writer puts unique short-lived keys for 1.5 s while the table size is sampled.
parent = self()

writer =
  spawn_link(fn ->
    deadline = System.monotonic_time(:millisecond) + 1_500

    count =
      Stream.iterate(0, &(&1 + 1))
      |> Enum.reduce_while(0, fn i, _ ->
        if System.monotonic_time(:millisecond) < deadline do
          :ok = MyApp.Cache.put({:load, i}, i, 20)
          {:cont, i + 1}
        else
          {:halt, i}
        end
      end)

    send(parent, {:written, count})
  end)

sample = fn sample, max ->
  receive do
    {:written, count} -> {count, max}
  after
    10 -> sample.(sample, max(max, size.()))
  end
end

{written, max_size} = sample.(sample, 0)
true = is_pid(writer)
IO.puts("under load: #{written} entries written, table size peaked at #{max_size}")
# Only entries younger than ttl + interval (70 ms of the 1500 ms) can be in the table at once.
true = written > 1_000
true = max_size < div(written, 4)

Process.sleep(250)
10 = size.()
IO.puts("after the load: #{size.()} entries (the live ones)")
