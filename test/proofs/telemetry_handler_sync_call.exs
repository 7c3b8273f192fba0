# proof-of: telemetry-handler-sync-call/seed-router
#
# Runs the Jido.SignalRouter that otpfix rewrote. The router emits [:jido, :signal, :emitted] from
# inside its own handle_call; the telemetry handler runs in the emitting process (the router), so the
# original GenServer.call(router_pid, ...) there exits with :calling_self and the signal is dropped.
# After the rewrite, publish/2 returns promptly and the signal is routed to the subscriber.
[dir] = System.argv()

Code.require_file(Path.join(__DIR__, "support/telemetry.exs"))

Process.register(self(), :proof_observer)
Code.require_file(Path.join(dir, "seed-router.ex"))

{:ok, _} = Jido.SignalRouter.start_link([])
:ok = Jido.SignalRouter.subscribe(:order)

{micros, :ok} = :timer.tc(fn -> Jido.SignalRouter.publish(:order, %{id: 1}) end)
if micros > 1_000_000, do: raise("publish/2 took #{div(micros, 1000)} ms: the router was blocked")

receive do
  {:routed_signal, [:jido, :signal, :emitted], %{count: 1}, %{type: :order, payload: %{id: 1}}} -> :ok
after
  1_000 -> raise "the signal emitted inside the router was never routed"
end

receive do
  {:handler_failed, _id, kind, reason} -> raise "the handler failed: #{inspect({kind, reason})}"
after
  0 -> :ok
end

# Emitted from another process too: still routed, and the router still answers calls.
Task.await(Task.async(fn -> :telemetry.execute([:jido, :signal, :routed], %{count: 2}, %{type: :order}) end))

receive do
  {:routed_signal, [:jido, :signal, :routed], %{count: 2}, _} -> :ok
after
  1_000 -> raise "the signal emitted from a task was never routed"
end

:ok = Jido.SignalRouter.publish(:other, %{})
IO.puts("telemetry handler: an event emitted inside the router is routed; publish returned in #{div(micros, 1000)} ms")
