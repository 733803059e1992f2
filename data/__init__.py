"""Content written for this project: the bundled starter pack and sample event logs."""
