"""The flows that join the folders: the December story (`demo`) and what the quality suites
read from the warehouse (`quality_inputs`)."""
