# proof-of: telemetry-handler-sync-call/seed-router
#
# Runs the Jido.SignalRouter that otpfix rewrote. The router emits [:jido, :signal, :emitted] from
# inside its own handle_call; the telemetry handler runs in the emitting process (the router), so the
# original GenServer.call(router_pid, ...) there exits with :calling_self and the signal is dropped.
# After the rewrite, publish/2 returns promptly and the signal is routed to the subscriber.
[dir] = System.argv()

# A minimal :telemetry with the library's semantics (the real one is a hex package, not part of
# Elixir): handlers live in an ETS table, run in the process that calls execute/3, and a handler
# that raises or exits is detached and reported.
defmodule :telemetry do
  @table :telemetry_proof_handlers

  defp table do
    if :ets.whereis(@table) == :undefined,
      do: :ets.new(@table, [:bag, :public, :named_table])

    @table
  end

  def attach(id, event, fun, config), do: attach_many(id, [event], fun, config)

  def attach_many(id, events, fun, config) do
    if :ets.match_object(table(), {:_, id, :_, :_}) != [] do
      {:error, :already_exists}
    else
      for event <- events, do: :ets.insert(table(), {event, id, fun, config})
      :ok
    end
  end

  def detach(id) do
    case :ets.match_delete(table(), {:_, id, :_, :_}) do
      true -> :ok
    end
  end

  def execute(event, measurements, metadata) do
    for {^event, id, fun, config} <- :ets.lookup(table(), event) do
      try do
        fun.(event, measurements, metadata, config)
      catch
        kind, reason ->
          send(:proof_observer, {:handler_failed, id, kind, reason})
          detach(id)
      end
    end

    :ok
  end
end

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
