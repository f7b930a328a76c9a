"""The suite playing the device: a Margo V24 client that records every exchange."""
