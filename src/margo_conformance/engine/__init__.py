"""The Docker engine: starting it, images and cached builds, SUT containers and their cleanup."""
