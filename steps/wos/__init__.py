"""WOS-role steps: the suite plays the device and judges the WOS, one module per vocabulary."""
