defmodule Inventory.Application do
  @moduledoc false
  use Application

  @impl true
  def start(_type, _args) do
    children = [
      {Task.Supervisor, name: Inventory.TaskSupervisor},
      Inventory.Stock
    ]

    Supervisor.start_link(children, strategy: :one_for_one, name: Inventory.Supervisor)
  end
end
