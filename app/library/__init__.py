"""The published instrument library: immutable, content-hashed instrument versions in the database."""
