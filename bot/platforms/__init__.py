"""Platform adapters: they translate between a platform's wire format and core events/actions."""
