# A local stand-in for the warehouse API: inets' httpd serving one file per SKU.
root = Path.join(System.tmp_dir!(), "inventory-warehouse-#{System.unique_integer([:positive])}")
File.mkdir_p!(Path.join(root, "levels"))
File.write!(Path.join([root, "levels", "apple"]), "42\n")
File.write!(Path.join([root, "levels", "pear"]), "7\n")

{:ok, pid} =
  :inets.start(:httpd,
    port: 0,
    server_name: ~c"warehouse",
    server_root: String.to_charlist(root),
    document_root: String.to_charlist(root),
    bind_address: {127, 0, 0, 1},
    # httpc reusing a connection httpd is closing can time out under load.
    keep_alive: false
  )

port = :httpd.info(pid)[:port]
Application.put_env(:inventory, :warehouse_url, "http://127.0.0.1:#{port}")
ExUnit.start()
