defmodule Shop.Carts do
  @moduledoc "One cart process per customer, started on demand; a full shop asks to come back later."

  def open(customer_id) do
    case DynamicSupervisor.start_child(Shop.CartSupervisor, {Shop.Cart, customer_id}) do
      {:ok, pid} -> {:ok, pid}
      {:error, _reason} -> {:error, :try_again_later}
    end
  end
end

defmodule Shop.Cart do
  use GenServer

  def start_link(customer_id), do: GenServer.start_link(__MODULE__, customer_id)

  @impl true
  def init(customer_id), do: {:ok, %{customer_id: customer_id, items: []}}

  @impl true
  def handle_call({:add, sku, qty}, _from, state) do
    {:reply, :ok, %{state | items: [{sku, qty} | state.items]}}
  end
end
