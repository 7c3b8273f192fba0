defmodule Notifier.Mailer do
  @moduledoc "Delivers notifications through the mail relay and counts what was sent."
  use GenServer

  def start_link(opts \\ []), do: GenServer.start_link(__MODULE__, opts, name: __MODULE__)

  @doc "Deliver a message; replies with the relay's answer."
  def deliver(message), do: GenServer.call(__MODULE__, {:deliver, message})

  @doc "How many messages were handed to the relay."
  def sent, do: GenServer.call(__MODULE__, :sent)

  @impl true
  def init(_opts), do: {:ok, %{sent: 0}}

  @impl true
  def handle_call({:deliver, message}, _from, state) do
    result = Notifier.Smtp.deliver(message)
    {:reply, result, %{state | sent: state.sent + 1}}
  end

  def handle_call(:sent, _from, state), do: {:reply, state.sent, state}
end
