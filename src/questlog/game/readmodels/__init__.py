"""The game's read models: one module per read model, holding its table declarations and
its queries (the projectors that fill them are in `questlog.projections.game_*`)."""
