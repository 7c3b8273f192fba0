defmodule Poller.Rates do
  @moduledoc "Keeps the latest rates, refreshed from the feed on an interval."
  use GenServer

  require Logger

  def start_link(opts) do
    GenServer.start_link(__MODULE__, opts, name: __MODULE__)
  end

  @doc "The latest rates and how many refreshes have completed."
  def current, do: GenServer.call(__MODULE__, :current)

  @impl true
  def init(opts) do
    send(self(), :refresh)
    {:ok, %{interval: Keyword.fetch!(opts, :interval), rates: [], refreshes: 0}}
  end

  @impl true
  def handle_info(:refresh, state) do
    rates = Poller.Source.fetch_rates()
    Process.send_after(self(), :refresh, state.interval)
    {:noreply, %{state | rates: rates, refreshes: state.refreshes + 1}}
  end

  @impl true
  def handle_call(:current, _from, state) do
    {:reply, %{rates: state.rates, refreshes: state.refreshes}, state}
  end
end
