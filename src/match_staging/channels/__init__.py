"""Notification channels, one module each; heavy SDKs load only when their channel is used."""
