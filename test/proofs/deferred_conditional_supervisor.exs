# proof-of: blocking-handle-call/conditional-supervisor
#
# Issue 8, defect 3. Mail.DeliverySupervisor runs only when async delivery is configured, so the
# rewrite must not rely on it: it adds Mail.TaskSupervisor before Mail.Sender in every branch of the
# application's tree. With the default configuration (the branch without the delivery supervisor)
# deliveries must work (no :noproc) and run concurrently; with async delivery on, too.
[dir] = System.argv()
Code.require_file(Path.join(dir, "application.ex"))
Code.require_file(Path.join(dir, "sender.ex"))
{:ok, _} = Application.ensure_all_started(:logger)
Logger.configure(level: :emergency)

for async <- [false, true] do
  Application.put_env(:mail, :async_delivery, async)
  {:ok, sup} = Mail.Application.start(:normal, [])
  nil = if(async, do: nil, else: Process.whereis(Mail.DeliverySupervisor))

  {us, results} =
    :timer.tc(fn ->
      1..30 |> Enum.map(&Task.async(fn -> Mail.Sender.deliver(%{to: "u#{&1}"}) end)) |> Task.await_many(5_000)
    end)

  true = Enum.all?(results, &match?({:ok, _}, &1))
  # 30 x 10 ms serialized is 300 ms.
  if us > 250_000, do: raise("30 deliveries took #{div(us, 1000)} ms: still serialized")
  Supervisor.stop(sup)
end

IO.puts("deferred_conditional_supervisor: ok")
