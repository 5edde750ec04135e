"""The actor's portal: server-rendered pages over the same services the REST API uses."""
