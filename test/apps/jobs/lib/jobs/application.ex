defmodule Jobs.Application do
  @moduledoc false
  use Application

  @impl true
  def start(_type, _args) do
    children = [
      {Task.Supervisor, name: Jobs.TaskSupervisor},
      {DynamicSupervisor, name: Jobs.WorkerSupervisor, strategy: :one_for_one}
    ]

    Supervisor.start_link(children, strategy: :one_for_one, name: Jobs.Supervisor)
  end
end
