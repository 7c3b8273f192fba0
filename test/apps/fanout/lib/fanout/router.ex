defmodule Fanout.Router do
  @moduledoc """
  Routes ledger events to every subscriber. Subscribers rebuild balances from the events, so each
  one must receive every event, in order.
  """
  use GenServer

  def start_link(_), do: GenServer.start_link(__MODULE__, :ok, name: __MODULE__)

  def subscribe(pid \\ self()), do: GenServer.call(__MODULE__, {:subscribe, pid})

  def publish(event), do: GenServer.cast(__MODULE__, {:publish, event})

  @impl true
  def init(:ok), do: {:ok, %{subscribers: MapSet.new()}}

  @impl true
  def handle_call({:subscribe, pid}, _from, state) do
    Process.monitor(pid)
    {:reply, :ok, %{state | subscribers: MapSet.put(state.subscribers, pid)}}
  end

  @impl true
  def handle_cast({:publish, event}, state) do
    Enum.each(state.subscribers, fn pid -> send(pid, {:ledger_event, event}) end)
    {:noreply, state}
  end

  @impl true
  def handle_info({:DOWN, _ref, :process, pid, _reason}, state) do
    {:noreply, %{state | subscribers: MapSet.delete(state.subscribers, pid)}}
  end
end
