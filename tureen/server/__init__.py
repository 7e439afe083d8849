"""`tureen server`: the tracking server (REST API, artifact proxy, auth) and the web UI (`tureen.server.ui`)."""
