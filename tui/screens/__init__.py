"""One screen per module; each talks to the engine through `app.engine` only."""
