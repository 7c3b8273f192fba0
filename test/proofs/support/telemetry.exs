# A minimal :telemetry with the library's semantics, for proofs (the real one is a hex package, not
# part of Elixir): handlers live in a public ETS table owned by a process of their own, run in the
# process that calls execute/3, and a handler that raises, exits or throws is detached and reported
# to the process registered as :proof_observer, if any.
defmodule :telemetry do
  @table :telemetry_proof_handlers

  defp table do
    if :ets.whereis(@table) == :undefined do
      parent = self()

      spawn(fn ->
        :ets.new(@table, [:bag, :public, :named_table])
        send(parent, :table_ready)
        Process.sleep(:infinity)
      end)

      receive do
        :table_ready -> :ok
      end
    end

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
    if :ets.match_object(table(), {:_, id, :_, :_}) == [] do
      {:error, :not_found}
    else
      :ets.match_delete(table(), {:_, id, :_, :_})
      :ok
    end
  end

  def list_handlers(prefix) do
    for {event, id, fun, config} <- :ets.tab2list(table()), List.starts_with?(event, prefix) do
      %{id: id, event_name: event, function: fun, config: config}
    end
  end

  def execute(event, measurements, metadata) do
    for {^event, id, fun, config} <- :ets.lookup(table(), event) do
      try do
        fun.(event, measurements, metadata, config)
      catch
        kind, reason ->
          if observer = Process.whereis(:proof_observer),
            do: send(observer, {:handler_failed, id, kind, reason})

          detach(id)
      end
    end

    :ok
  end
end
