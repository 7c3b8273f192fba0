defmodule Tele.Application do
  @moduledoc false
  use Application

  @impl true
  def start(_type, _args) do
    :ets.new(:telemetry_handlers, [:set, :public, :named_table])
    children = [Tele.RequestLog, Tele.RequestStats]
    Supervisor.start_link(children, strategy: :one_for_one, name: Tele.Supervisor)
  end
end
