import Config

# Background delivery is opt-in (production turns it on).
config :notifier, async_delivery: false
