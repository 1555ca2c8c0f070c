"""The flows that join the folders: the December story (`demo`, its steps run by `demo_run`)
and what the quality suites read from the warehouse (`quality_inputs`)."""
