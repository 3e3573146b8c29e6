"""The side-by-side benchmark of rcgate (`python -m bench --help`, `make bench`); not part of the package."""
