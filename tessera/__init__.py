"""The ground floor every other package stands on: the project's settings (`settings`) and the one way to open
the warehouse (`warehouse`). It imports no other Tessera package and no Dagster."""
