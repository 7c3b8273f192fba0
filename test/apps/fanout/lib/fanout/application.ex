defmodule Fanout.Application do
  @moduledoc false
  use Application

  @impl true
  def start(_type, _args) do
    Supervisor.start_link([Fanout.Router], strategy: :one_for_one, name: Fanout.Supervisor)
  end
end
