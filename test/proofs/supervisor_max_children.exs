# proof-of: supervisor-max-children/use-dynamic-supervisor
# options: {"maxChildren": 3}
#
# Runs the Chat.RoomSupervisor that otpfix rewrote: with the limit in DynamicSupervisor.init/1,
# starting children past it returns {:error, :max_children} and the running children are untouched.
[dir] = System.argv()

defmodule Chat.Room do
  use GenServer
  def start_link(room_id), do: GenServer.start_link(__MODULE__, room_id)
  @impl true
  def init(room_id), do: {:ok, room_id}
end

Code.require_file(Path.join(dir, "use-dynamic-supervisor.ex"))

{:ok, _sup} = Chat.RoomSupervisor.start_link(:ok)

started = for id <- 1..3, do: Chat.RoomSupervisor.start_room(id)
true = Enum.all?(started, &match?({:ok, pid} when is_pid(pid), &1))

{:error, :max_children} = Chat.RoomSupervisor.start_room(4)
%{active: 3} = DynamicSupervisor.count_children(Chat.RoomSupervisor)

# Room 1 stops; a slot frees up.
{:ok, first} = hd(started)
:ok = DynamicSupervisor.terminate_child(Chat.RoomSupervisor, first)
{:ok, _} = Chat.RoomSupervisor.start_room(5)

IO.puts("max_children: 4th child refused with {:error, :max_children}; a freed slot is reused")
