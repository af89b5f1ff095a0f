"""Deploying a found network: its export to ONNX or a torch.export program, the parity and speed checks that vouch
for the file, and the model card that goes with it (``nasframe export``).

It sits above the engine and the studies because it reuses their readers (runs, architectures, cost tables) and
below the CLI, which only parses options and prints what this layer returns.
"""
