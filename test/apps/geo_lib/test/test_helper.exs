# A local stand-in for the geo-IP service: inets' httpd serving one file per address.
root = Path.join(System.tmp_dir!(), "geo-#{System.unique_integer([:positive])}")
File.mkdir_p!(root)
File.write!(Path.join(root, "10.0.0.1"), "NL\n")
File.write!(Path.join(root, "10.0.0.2"), "BR\n")

{:ok, pid} =
  :inets.start(:httpd,
    port: 0,
    server_name: ~c"geo",
    server_root: String.to_charlist(root),
    document_root: String.to_charlist(root),
    bind_address: {127, 0, 0, 1},
    # httpc reusing a connection httpd is closing can time out under load.
    keep_alive: false
  )

Application.put_env(:geo_lib, :test_url, "http://127.0.0.1:#{:httpd.info(pid)[:port]}")
ExUnit.start()
