defmodule :telemetry do
  @moduledoc false
  # A minimal stand-in for the telemetry library (no dependencies can be fetched here): handlers in
  # an ETS table owned by the application, executed in the emitting process.

  def attach(id, event, fun, config), do: attach_many(id, [event], fun, config)

  def attach_many(id, events, fun, config) do
    if :ets.member(:telemetry_handlers, id) do
      {:error, :already_exists}
    else
      :ets.insert(:telemetry_handlers, {id, events, fun, config})
      :ok
    end
  end

  def detach(id) do
    if :ets.member(:telemetry_handlers, id) do
      :ets.delete(:telemetry_handlers, id)
      :ok
    else
      {:error, :not_found}
    end
  end

  def execute(event, measurements, metadata) do
    for {_id, events, fun, config} <- :ets.tab2list(:telemetry_handlers), event in events do
      fun.(event, measurements, metadata, config)
    end

    :ok
  end
end
