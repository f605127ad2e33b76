"""Display-only widgets: each shows what it is given and reports user input as signals; no business logic."""
