# proof-of: blocking-handle-call/task-await-pipe
#
# Runs the Reports.Builder that otpfix rewrote. The documented crash behaviour: when the deferred
# work raises or exits, the caller gets {:error, {kind, reason}} at once (not a timeout), the crash
# is logged by the Task.Supervisor, and the server keeps running with its state.
[dir] = System.argv()
{:ok, _} = Application.ensure_all_started(:logger)
Logger.configure(level: :none)

defmodule Reports.Renderer do
  def render(:boom), do: raise("renderer crashed")
  def render(id), do: Process.sleep(200) && {:report, id}
end

Code.require_file(Path.join(dir, "task-await-pipe.ex"))

{:ok, _} = Task.Supervisor.start_link(name: Reports.TaskSupervisor)
{:ok, renderers} = Task.Supervisor.start_link()
{:ok, server} = Reports.Builder.start_link(task_supervisor: renderers)

# Concurrency: 10 reports of 200 ms each.
{us, results} =
  :timer.tc(fn ->
    1..10 |> Enum.map(&Task.async(fn -> Reports.Builder.build(&1) end)) |> Task.await_many(5_000)
  end)

true = results == Enum.map(1..10, &{:ok, {:report, &1}})
if us >= 1_000_000, do: raise("10 x 200 ms builds took #{div(us, 1000)} ms: still serialized")

# A crash inside the deferred work: answered at once with an error, server alive.
{crash_us, reply} = :timer.tc(fn -> Reports.Builder.build(:boom) end)
{:error, {:exit, _reason}} = reply
if crash_us > 1_000_000, do: raise("the caller waited #{div(crash_us, 1000)} ms for a crashed task")
true = Process.alive?(server)
{:ok, {:report, 11}} = Reports.Builder.build(11)

IO.puts("deferred reply: crash answered in #{div(crash_us, 1000)} ms with #{inspect(elem(reply, 0))}; server alive")
