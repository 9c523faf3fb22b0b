"""System tests: real gunicorn servers and CLI workers against a scratch PostgreSQL database and Redis (issue 10)."""
