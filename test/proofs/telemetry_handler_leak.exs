# proof-of: telemetry-handler-leak/seed-router
#
# Runs the Jido.SignalRouter that otpfix rewrote, kills it (terminate/2 does not run) and restarts
# it, three times. The original attached a new handler on every start (its id held the pid) and never
# removed the old ones, whose closures kept the dead pids. After the rewrite exactly one handler is
# attached, and events reach the running router.
[dir] = System.argv()
Code.require_file(Path.join(__DIR__, "support/telemetry.exs"))
Code.require_file(Path.join(dir, "seed-router.ex"))
Process.flag(:trap_exit, true)

restart = fn ->
  if pid = Process.whereis(Jido.SignalRouter) do
    ref = Process.monitor(pid)
    Process.exit(pid, :kill)

    receive do
      {:DOWN, ^ref, _, _, _} -> :ok
    end
  end

  {:ok, pid} = Jido.SignalRouter.start_link([])
  pid
end

pids = for _ <- 1..3, do: restart.()
router = List.last(pids)

handlers = :telemetry.list_handlers([:jido, :signal, :emitted])

if length(handlers) != 1,
  do: raise("#{length(handlers)} handlers attached after 3 starts: the old ones leaked")

:erlang.trace(router, true, [:receive])
:ok = :telemetry.execute([:jido, :signal, :emitted], %{count: 1}, %{type: :order})

receive do
  {:trace, ^router, :receive, {:route, [:jido, :signal, :emitted], %{count: 1}, %{type: :order}}} -> :ok
after
  1_000 -> raise "the running router did not receive the event"
end

IO.puts("telemetry handler: one handler after 3 killed starts; events reach the live router")
