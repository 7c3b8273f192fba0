# proof-of: ets-unbounded-growth/request-log-duplicate-bag
# options: {"cleanupIntervalMs": 50, "retentionMs": 500}
#
# Runs the Gateway.RequestLog that otpfix rewrote: a :duplicate_bag of {client, System.monotonic_time()}
# (native units) that every request adds to. otpfix added a cleanup timer that deletes records older
# than the retention (500 ms here), converted into native units. Shown here: old records go, recent
# ones stay, and under steady traffic the table holds about one retention period of requests.
[dir] = System.argv()
Code.require_file(Path.join(dir, "request-log-duplicate-bag.ex"))
alias Gateway.RequestLog

{:ok, _} = RequestLog.start_link([])
size = fn -> :ets.info(RequestLog, :size) end

for _ <- 1..50, do: RequestLog.hit("ancien-client")
Process.sleep(400)
for _ <- 1..20, do: RequestLog.hit("client-récent")
# Synchronous call: every cast before it has been handled.
50 = RequestLog.count("ancien-client")
70 = size.()

# 700 ms after the first hits (past the retention and a cleanup interval) they are gone; the
# recent ones, 300 ms old, are not.
Process.sleep(300)
0 = RequestLog.count("ancien-client")
20 = RequestLog.count("client-récent")
IO.puts("records past the retention removed, #{size.()} recent ones kept")

# Steady traffic for 3 s (ten retention periods): a batch of 100 hits every 10 ms.
deadline = System.monotonic_time(:millisecond) + 3_000

{written, sizes} =
  Enum.reduce_while(Stream.iterate(0, &(&1 + 1)), {0, []}, fn client, {written, sizes} ->
    if System.monotonic_time(:millisecond) < deadline do
      for _ <- 1..100, do: RequestLog.hit(client)
      _ = RequestLog.count(client)
      Process.sleep(10)
      {:cont, {written + 100, [size.() | sizes]}}
    else
      {:halt, {written, sizes}}
    end
  end)

IO.puts("under load: #{written} requests logged, table peaked at #{Enum.max(sizes)}")
true = written > 5_000
# About 550 ms of traffic (retention + interval) out of 3000 ms can be in the table.
true = Enum.max(sizes) < div(written, 4)
