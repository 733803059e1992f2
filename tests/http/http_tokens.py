"""Tokens the HTTP tests configure and present."""

API_TOKEN = "http-test-write-token"
READ_TOKEN = "http-test-read-token"
WRITE = {"Authorization": f"Bearer {API_TOKEN}"}
