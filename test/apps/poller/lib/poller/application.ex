defmodule Poller.Application do
  @moduledoc false
  use Application

  @impl true
  def start(_type, _args) do
    children = [
      {Task.Supervisor, name: Poller.TaskSupervisor},
      {Poller.Rates, interval: Application.get_env(:poller, :interval, 30_000)}
    ]

    Supervisor.start_link(children, strategy: :one_for_one, name: Poller.Supervisor)
  end
end
