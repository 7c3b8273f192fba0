defmodule Tele.RequestStats do
  @moduledoc "Counts requests, from [:http, :request, :stop] events."
  use GenServer

  def start_link(_), do: GenServer.start_link(__MODULE__, :ok, name: __MODULE__)
  def count, do: GenServer.call(__MODULE__, :count)

  @impl true
  def init(:ok) do
    me = self()

    :telemetry.attach(
      "http-request-#{inspect(me)}",
      [:http, :request, :stop],
      fn _e, _m, _meta, _ ->
        send(me, :request)
      end,
      nil
    )

    {:ok, 0}
  end

  @impl true
  def handle_info(:request, n), do: {:noreply, n + 1}

  @impl true
  def handle_call(:count, _from, n), do: {:reply, n, n}
end
