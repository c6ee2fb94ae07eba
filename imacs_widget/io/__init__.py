"""Files: the attribution cache that lets a killed run resume, saved result files, and
loaders that turn image folders / files into arrays for the CLI."""
