"""The SQL archive: table models, engines and migrations, and the store that writes it."""
