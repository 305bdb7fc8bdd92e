"""GET /healthz: is the server up, and is the model busy? Never needs the API key."""

from __future__ import annotations

from fastapi import APIRouter

from rag.api.deps import ModelQueueDep, ServiceDep
from rag.api.schemas import GenerationStatus, Health

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health)
@router.head("/healthz", response_model=Health, include_in_schema=False)
def health(service: ServiceDep, queue: ModelQueueDep) -> Health:
    """Up once the embedder, store and model are loaded; says which model and which store it
    serves, whether a generation is running and how many requests wait for the model. Cheap:
    touches neither the store nor the model. HEAD answers too, for monitors that probe with it."""
    return Health(
        model=service.model_name,
        store_id=service.settings.store_id(),
        generation=GenerationStatus(busy=queue.busy, waiting=queue.waiting),
    )
