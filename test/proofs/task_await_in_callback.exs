# proof-of: task-await-in-callback/rates-refresh
#
# Runs the Fx.Rates that otpfix rewrote: while the providers take 500 ms, the server answers calls
# at once (before, it waited for Task.await_many), and the refreshed rates still land in its state.
[dir] = System.argv()
{:ok, _} = Application.ensure_all_started(:logger)

defmodule SlowSource do
  def providers, do: [:ecb, :fed]
  def fetch(:ecb), do: Process.sleep(500) && %{"EUR/USD" => 1.08}
  def fetch(:fed), do: Process.sleep(500) && %{"USD/JPY" => 151.2}
end

Code.require_file(Path.join(dir, "rates-refresh.ex"))
{:ok, _} = Task.Supervisor.start_link(name: Fx.TaskSupervisor)
{:ok, _} = Fx.Rates.start_link(source: SlowSource)

# init/1 sent :refresh; the providers are now being queried.
Process.sleep(50)
{us, nil} = :timer.tc(fn -> Fx.Rates.get("EUR/USD") end)
if us > 200_000, do: raise("get/1 waited #{div(us, 1000)} ms behind the refresh")

Process.sleep(700)
1.08 = Fx.Rates.get("EUR/USD")
151.2 = Fx.Rates.get("USD/JPY")
IO.puts("task-await-in-callback: call answered in #{div(us, 1000)} ms during the refresh; rates updated after")
