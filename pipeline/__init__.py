"""The `arrears` command line and the end-to-end flows (`demo`)."""
