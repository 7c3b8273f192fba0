defmodule Jobs do
  @moduledoc "Runs jobs: parked workers under a DynamicSupervisor, or one-off tasks."

  @doc "Park a worker for `fun`; returns the job's id."
  def park(fun) do
    id = System.unique_integer([:positive])
    DynamicSupervisor.start_child(Jobs.WorkerSupervisor, {Jobs.Worker, %{id: id, fun: fun}})
    id
  end

  @doc "Tell every parked worker to run."
  def run_all(reply_to) do
    for {_, pid, _, _} <- DynamicSupervisor.which_children(Jobs.WorkerSupervisor),
        do: send(pid, {:run, reply_to})

    :ok
  end

  @doc "Compute `fun` for every item in parallel, in order."
  def map(items, fun) do
    items
    |> Enum.map(fn item -> Task.Supervisor.async(Jobs.TaskSupervisor, fn -> fun.(item) end) end)
    |> Task.await_many(10_000)
  end
end
