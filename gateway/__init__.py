"""rcgate: a compatibility gateway for the RhodeCode / Kallithea JSON-RPC API family."""

__version__ = "0.1.0"
