"""The floor to compare with: a bare FastAPI app with one plain `def` route, nothing else."""

from fastapi import FastAPI

app = FastAPI()


@app.get("/bare")
def bare() -> dict[str, bool]:
    return {"ok": True}
