defmodule Directory do
  @moduledoc "Joining a node registers all of its agents."

  def join(node_name, agent_count) do
    agents = for i <- 1..agent_count, do: %{id: "#{node_name}/#{i}", node: node_name}
    {:ok, ^agent_count} = Directory.Registry.register_many(agents)
    :ok
  end
end
