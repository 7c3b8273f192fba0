# proof-of: ets-unbounded-growth/rate-limiter-buckets
# options: {"cleanupIntervalMs": 100}
#
# Runs the seed's rate limiter (3.1) as otpfix rewrote it. Callers bump {{key, window}, count}
# buckets with window = div(System.monotonic_time(:millisecond), 1_000) in a public table; otpfix
# added a cleanup timer that deletes buckets older than the previous window. Shown here: buckets of
# past windows disappear, the current and previous windows survive (limiting still works), and
# under a stream of new clients the table holds about two windows of buckets, not all of them.
[dir] = System.argv()

defmodule Foundation.Telemetry do
  def emit(_event, _measurements, _metadata), do: :ok
end

Code.require_file(Path.join(dir, "rate-limiter-buckets.ex"))
alias Foundation.Services.RateLimiter

Logger.configure(level: :info)
{:ok, _} = RateLimiter.start_link()
table = :rate_limit_buckets
window = fn -> div(System.monotonic_time(:millisecond), 1_000) end
windows_of = fn key -> :ets.select(table, [{{{key, :"$1"}, :_}, [], [:"$1"]}]) end

# Right after a window starts: 100 clients hit once.
w0 = window.()
Stream.repeatedly(window) |> Enum.find(&(&1 > w0))
w1 = window.()
for i <- 1..100, do: :allow = RateLimiter.check_rate_limit({:client, i}, 10)
true = Enum.all?(1..100, &(windows_of.({:client, &1}) == [w1]))

# A live client keeps hitting until two windows later.
Stream.repeatedly(fn ->
  :allow = RateLimiter.check_rate_limit(:live, 1_000)
  Process.sleep(20)
  window.()
end)
|> Enum.find(&(&1 >= w1 + 2))

Process.sleep(300)
current = window.()
true = current == w1 + 2
# The 100 clients' buckets of window w1 are older than the previous window: gone.
true = Enum.all?(1..100, &(windows_of.({:client, &1}) == []))
# The live client's previous bucket survived the cleanups; it goes on counting in the current one.
[previous] = windows_of.(:live)
true = previous == current - 1
:allow = RateLimiter.check_rate_limit(:live, 1_000)
true = Enum.sort(windows_of.(:live)) == [current - 1, current]
# Limiting still counts within the window.
for _ <- 1..5, do: :allow = RateLimiter.check_rate_limit(:burst, 5)
{:deny, _retry_after} = RateLimiter.check_rate_limit(:burst, 5)
IO.puts("past-window buckets removed; current and previous windows kept")

# Load: new clients for 6 s (six windows) from 2 processes, in batches; sample the table meanwhile.
parent = self()
deadline = System.monotonic_time(:millisecond) + 6_000

for w <- 1..2 do
  spawn_link(fn ->
    n =
      Enum.reduce_while(Stream.iterate(0, &(&1 + 1)), 0, fn batch, _ ->
        if System.monotonic_time(:millisecond) < deadline do
          for i <- 1..200, do: RateLimiter.check_rate_limit({:load, w, batch, i}, 10)
          Process.sleep(5)
          {:cont, batch + 1}
        else
          {:halt, batch * 200}
        end
      end)

    send(parent, {:written, n})
  end)
end

sample = fn sample, done, samples ->
  if done == 2 do
    samples
  else
    receive do
      {:written, n} -> sample.(sample, done + 1, [{:written, n} | samples])
    after
      50 ->
        now = window.()
        oldest = :ets.select(table, [{{{:_, :"$1"}, :_}, [], [:"$1"]}]) |> Enum.min(fn -> now end)
        sample.(sample, done, [{:size, :ets.info(table, :size), now - oldest} | samples])
    end
  end
end

samples = sample.(sample, 0, [])
written = for {:written, n} <- samples, reduce: 0, do: (acc -> acc + n)
sizes = for {:size, size, _} <- samples, do: size
ages = for {:size, _, age} <- samples, do: age

IO.puts(
  "under load: #{written} buckets written over 6 windows, table peaked at #{Enum.max(sizes)}, " <>
    "oldest bucket at most #{Enum.max(ages)} windows behind"
)

# Never a bucket more than two windows old (two only until the next 100 ms cleanup), so the table
# holds about two windows of buckets out of six.
true = Enum.max(ages) <= 2
true = written > 10_000
true = Enum.max(sizes) < div(written, 2)
