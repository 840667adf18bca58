"""The console's pages, one module per page (or page family); each gives `routes(console)`."""
