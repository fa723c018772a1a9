"""Data sets: loaders (local directory or checksum-verified download), splits and scaling."""
