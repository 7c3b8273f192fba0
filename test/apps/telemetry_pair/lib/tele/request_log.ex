defmodule Tele.RequestLog do
  @moduledoc "Keeps the last request paths, from [:http, :request, :stop] events."
  use GenServer

  def start_link(_), do: GenServer.start_link(__MODULE__, :ok, name: __MODULE__)
  def paths, do: GenServer.call(__MODULE__, :paths)

  @impl true
  def init(:ok) do
    me = self()

    :telemetry.attach(
      "http-request-#{inspect(me)}",
      [:http, :request, :stop],
      fn _e, _m, meta, _ ->
        send(me, {:request, meta.path})
      end,
      nil
    )

    {:ok, []}
  end

  @impl true
  def handle_info({:request, path}, paths), do: {:noreply, Enum.take([path | paths], 100)}

  @impl true
  def handle_call(:paths, _from, paths), do: {:reply, paths, paths}
end
