defmodule Notifier.MailerTest do
  use ExUnit.Case

  alias Notifier.Mailer

  test "delivers and counts" do
    before = Mailer.sent()
    assert {:ok, "queued as " <> _} = Mailer.deliver(%{to: "a@example.com", subject: "hi"})
    assert {:error, :no_recipient} = Mailer.deliver(%{subject: "nobody"})
    assert Mailer.sent() == before + 2
  end

  test "concurrent deliveries all get their own answer" do
    tasks =
      for i <- 1..30 do
        Task.async(fn -> Mailer.deliver(%{to: "u#{i}@example.com", subject: "s"}) end)
      end

    assert Enum.all?(Task.await_many(tasks), &match?({:ok, _}, &1))
  end
end
