"""A run's configuration: the SUT file and options as one frozen RunConfig, interop choices, selection, workers."""
