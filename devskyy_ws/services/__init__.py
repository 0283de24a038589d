"""Business logic: agents, tasks, Round Table, 3D pipeline, metrics. No HTTP here."""
