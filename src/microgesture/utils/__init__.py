"""Small helpers with no dependency on any stage."""
