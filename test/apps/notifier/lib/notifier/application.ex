defmodule Notifier.Application do
  @moduledoc false
  use Application

  @impl true
  def start(_type, _args) do
    children =
      if Application.get_env(:notifier, :async_delivery, false) do
        [{Task.Supervisor, name: Notifier.DeliverySupervisor}, Notifier.Mailer]
      else
        [Notifier.Mailer]
      end

    Supervisor.start_link(children, strategy: :one_for_one, name: Notifier.Supervisor)
  end
end
