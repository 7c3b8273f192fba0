feed = Path.join(System.tmp_dir!(), "poller-feed-#{System.unique_integer([:positive])}")
File.write!(feed, "1,2,3\n")
Application.put_env(:poller, :feed_path, feed)
Application.put_env(:poller, :interval, 25)
# Restart the app so that the interval and the feed apply from the first refresh.
Application.stop(:poller)
Application.ensure_all_started(:poller)
ExUnit.start()
