defmodule Jobs.Worker do
  @moduledoc "One long-lived worker per job; it waits for :run, then reports to the caller."
  use GenServer, restart: :temporary

  def start_link(job), do: GenServer.start_link(__MODULE__, job)

  @impl true
  def init(job), do: {:ok, job}

  @impl true
  def handle_info({:run, reply_to}, job) do
    send(reply_to, {:done, job.id, job.fun.()})
    {:stop, :normal, job}
  end
end
