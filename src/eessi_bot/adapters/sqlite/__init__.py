"""SQLite (WAL) state of the bot: the inbox of deliveries and the outbox of GitHub writes."""
