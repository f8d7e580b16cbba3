"""Background work on RQ: sending messages outside a webhook (alerts, reminders, media)."""
