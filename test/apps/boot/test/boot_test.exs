defmodule Boot.BootTest do
  use ExUnit.Case

  setup do
    :persistent_term.put({Boot.Store, :status}, :up)
    :ok
  end

  describe "Boot.Repository fails fast" do
    test "starts and answers with a good url" do
      pid = start_supervised!({Boot.Repository, url: "store://a"})
      assert Boot.Repository.url() == "store://a"
      assert Process.alive?(pid)
    end

    test "missing or bad options are start errors" do
      Process.flag(:trap_exit, true)
      assert {:error, {:missing_option, :url}} = Boot.Repository.start_link(name: :r1)
      assert {:error, {:invalid_option, :url}} = Boot.Repository.start_link(url: 42, name: :r2)
      refute Process.whereis(:r1)
    end

    test "a store that is down stops the start" do
      Process.flag(:trap_exit, true)
      :persistent_term.put({Boot.Store, :status}, :down)
      assert {:error, :econnrefused} = Boot.Repository.start_link(url: "store://b", name: :r3)
    end

    test "the name is registered when start_link returns" do
      {:ok, pid} = Boot.Repository.start_link(url: "store://c", name: :r4)
      assert Process.whereis(:r4) == pid
      GenServer.stop(pid)
    end
  end

  describe "Boot.Catalog" do
    test "answers lookups as soon as it has started" do
      start_supervised!({Boot.Catalog, url: "store://d"})
      assert Boot.Catalog.lookup("greeting") == {:ok, "hello from store://d"}
    end

    test "casts sent right after start are applied after the load" do
      start_supervised!({Boot.Catalog, url: "store://e"})
      Boot.Catalog.put("k", "v")
      assert Boot.Catalog.lookup("k") == {:ok, "v"}
      assert Boot.Catalog.lookup("greeting") == {:ok, "hello from store://e"}
    end

    test "a missing url is a start error" do
      assert {:error, {{%ArgumentError{}, _stacktrace}, _child}} =
               start_supervised({Boot.Catalog, []})
    end
  end
end
