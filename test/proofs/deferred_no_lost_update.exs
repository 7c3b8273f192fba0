# proof-of: blocking-handle-call/fold-on-current-state
#
# Issue 8, defect 1 (lost update). The rewritten Depot.Stock runs only the warehouse request in a
# task and folds the answer into the state in the server, on the state as it is when the answer
# comes back. While 20 syncs are in flight, 200 reservations change the state: none may be lost,
# every sync is counted, and a sync whose request crashes answers its caller with an error while
# the server keeps its state.
[dir] = System.argv()
Code.require_file(Path.join(dir, "fold-on-current-state.ex"))
{:ok, _} = Application.ensure_all_started(:logger)
Logger.configure(level: :emergency)
Application.put_env(:depot, :levels, %{"pear" => 7, "fig" => :crash})

{:ok, sup} = Depot.Application.start(:normal, [])
true = is_pid(Process.whereis(Depot.TaskSupervisor))

syncs = for _ <- 1..20, do: Task.async(fn -> Depot.Stock.sync("pear") end)
reserves = for _ <- 1..200, do: Task.async(fn -> Depot.Stock.reserve("pear", 1) end)
true = Enum.all?(Task.await_many(syncs, 10_000), &(&1 == {:ok, 7}))
true = Enum.all?(Task.await_many(reserves, 10_000), &(&1 == :ok))

case Depot.Stock.status("pear") do
  %{reserved: 200, level: 7, syncs: 20} -> :ok
  other -> raise "lost update: #{inspect(other)}"
end

# The syncs ran concurrently (20 x 50 ms serialized would be 1 s).
{us, _} = :timer.tc(fn -> 1..20 |> Enum.map(fn _ -> Task.async(fn -> Depot.Stock.sync("pear") end) end) |> Task.await_many(5_000) end)
if us > 700_000, do: raise("20 syncs took #{div(us, 1000)} ms: still serialized")

# A crashing request: the caller gets an error, not a timeout; the server and its state survive.
server = Process.whereis(Depot.Stock)
{:error, {:error, %RuntimeError{message: "warehouse down"}}} = Depot.Stock.sync("fig")
^server = Process.whereis(Depot.Stock)
%{reserved: 200, syncs: 40} = Depot.Stock.status("pear")

Supervisor.stop(sup)
IO.puts("deferred_no_lost_update: ok")
