"""The engine: the resumable epoch loop, search and training jobs, the step every strategy shares, devices and ranks."""
