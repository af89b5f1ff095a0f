"""Everything on disk: run directories, safetensors checkpoints, atomic writes, and reading runs back."""
