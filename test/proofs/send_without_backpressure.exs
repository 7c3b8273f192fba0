# proof-of: send-without-backpressure/topic-relay
# options: {"maxMailbox": 100, "dropWhenFull": true}
#
# Runs the Relay.TopicHub that otpfix rewrote. One subscriber never reads its mailbox, another
# reads as fast as it can. After 5000 publishes the stuck subscriber's mailbox holds 100 messages
# (the threshold), not 5000; every message not queued is counted by dropped_messages/0, and the
# fast subscriber gets every message that was not dropped for it.
[dir] = System.argv()
Code.require_file(Path.join(dir, "topic-relay.ex"))

{:ok, hub} = Relay.TopicHub.start_link(name: :hub)
parent = self()

stuck =
  spawn(fn ->
    :ok = Relay.TopicHub.subscribe(:hub, "orders")
    send(parent, :subscribed)
    Process.sleep(:infinity)
  end)

fast =
  spawn(fn ->
    :ok = Relay.TopicHub.subscribe(:hub, "orders")
    send(parent, :subscribed)

    count = fn count_fun, n ->
      receive do
        {:order, _} -> count_fun.(count_fun, n + 1)
        {:report, to} -> send(to, {:received, n})
      end
    end

    count.(count, 0)
  end)

for _ <- 1..2, do: receive(do: (:subscribed -> :ok))

total = 5_000
for i <- 1..total, do: Relay.TopicHub.publish(:hub, "orders", {:order, i})
# Every publish has been handled once the hub answers a system call queued after them.
_ = :sys.get_state(hub)

{:message_queue_len, stuck_len} = Process.info(stuck, :message_queue_len)
if stuck_len > 100, do: raise("the stuck subscriber's mailbox grew to #{stuck_len}")

send(fast, {:report, self()})
received = receive(do: ({:received, n} -> n))
dropped = Relay.TopicHub.dropped_messages()

# The stuck subscriber lost total - stuck_len; the fast one lost the rest of the dropped count.
fast_dropped = dropped - (total - stuck_len)
true = fast_dropped >= 0
^total = received + fast_dropped

IO.puts("send-without-backpressure: stuck mailbox #{stuck_len} (not #{total}), dropped #{dropped}, fast subscriber got #{received}")
