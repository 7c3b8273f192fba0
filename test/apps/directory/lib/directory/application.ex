defmodule Directory.Application do
  @moduledoc false
  use Application

  @impl true
  def start(_type, _args) do
    Supervisor.start_link([Directory.Registry], strategy: :one_for_one, name: Directory.Supervisor)
  end
end
