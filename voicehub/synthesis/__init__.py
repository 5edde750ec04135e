"""The synthesis pipeline: consent gate, engine, take, usage — and batch jobs."""
