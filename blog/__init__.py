"""blog: a FastAPI + SQLModel blogging API written to be read; README.md has the course map."""
