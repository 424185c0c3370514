"""Process wiring: threads and event loops that run collectors, flows and the venue side by side."""
