"""blog: a FastAPI + SQLModel blogging API written to be read; docs/lessons/ is the course."""
