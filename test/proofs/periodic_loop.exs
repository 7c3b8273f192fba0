# proof-of: task-await-in-callback/periodic-reschedule-after
#
# Issue 8, defect 2 (a periodic loop that stops for good). Feed.Rates refreshes, then reschedules.
# Rewritten, the reschedule runs before the work starts, so: a failing feed is logged and the loop
# goes on (the server is not restarted: same pid); a feed slower than the interval never runs twice
# at once (ticks are skipped while a refresh is running); the server answers while a refresh runs.
[dir] = System.argv()
Code.require_file(Path.join(dir, "periodic-reschedule-after.ex"))
{:ok, _} = Application.ensure_all_started(:logger)
Logger.configure(level: :emergency)

defmodule Wait do
  def until(fun, deadline \\ 3_000) do
    cond do
      fun.() -> :ok
      deadline <= 0 -> raise "condition not met in time"
      true -> Process.sleep(10) && until(fun, deadline - 10)
    end
  end
end

Application.put_env(:feed, :interval, 30)
Application.put_env(:feed, :delay, 10)
Application.put_env(:feed, :rates, [1, 2, 3])
{:ok, _sup} = Feed.Application.start(:normal, [])
server = Process.whereis(Feed.Rates)

Wait.until(fn -> Feed.Rates.current().refreshes >= 3 end)
[1, 2, 3] = Feed.Rates.current().rates

# The feed fails for a while: every refresh crashes, the loop keeps ticking, the server stays.
Application.put_env(:feed, :rates, :fail)
Process.sleep(200)
^server = Process.whereis(Feed.Rates)
%{refreshes: n} = Feed.Rates.current()
Application.put_env(:feed, :rates, [4, 5])
Wait.until(fn -> Feed.Rates.current().rates == [4, 5] end)
Wait.until(fn -> Feed.Rates.current().refreshes >= n + 3 end)
^server = Process.whereis(Feed.Rates)

# A feed slower (250 ms) than the interval (30 ms): never two refreshes at once, and the server
# answers at once while one runs.
Application.put_env(:feed, :delay, 250)
Process.sleep(50)

max_running =
  Enum.reduce(1..60, 0, fn _, acc ->
    {us, _} = :timer.tc(fn -> Feed.Rates.current() end)
    if us > 100_000, do: raise("the server waited #{div(us, 1000)} ms behind a refresh")
    Process.sleep(10)
    max(acc, length(Task.Supervisor.children(Feed.TaskSupervisor)))
  end)

if max_running > 1, do: raise("#{max_running} refreshes ran at once")
if max_running < 1, do: raise("no refresh was seen running")
IO.puts("periodic_loop: ok")
