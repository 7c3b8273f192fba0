# proof-of: supervisor-max-children/use-dynamic-supervisor
# options: {"maxChildren": 3}
#
# Runs the Chat.RoomSupervisor that otpfix rewrote: with the limit in DynamicSupervisor.init/1,
# starting children past it returns {:error, :max_children} and the running children are untouched.
# The fix was offered because every start site handles the error: Chat.Lobby, the only caller of
# start_room/1, turns a full server into {:error, :server_busy} instead of crashing, also when many
# callers race for the last slots.
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

# At the limit, the project's own caller copes: no crash, a clear answer.
{:error, :server_busy} = Chat.Lobby.join(6)

# Many callers racing for the slots: exactly the free ones succeed, the others are turned away.
:ok = DynamicSupervisor.terminate_child(Chat.RoomSupervisor, elem(Enum.at(started, 2), 1))

answers =
  100..130
  |> Enum.map(fn id -> Task.async(fn -> Chat.Lobby.join(id) end) end)
  |> Task.await_many(5_000)

1 = Enum.count(answers, &match?({:ok, _}, &1))
30 = Enum.count(answers, &(&1 == {:error, :server_busy}))
%{active: 3} = DynamicSupervisor.count_children(Chat.RoomSupervisor)

IO.puts("max_children: 4th child refused with {:error, :max_children}; a freed slot is reused")
