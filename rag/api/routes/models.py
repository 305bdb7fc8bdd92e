"""GET /v1/models: the one model this server answers with, OpenAI-style."""

from __future__ import annotations

from fastapi import APIRouter

from rag.api.deps import ServiceDep, resolve_model
from rag.api.schemas import ErrorResponse, ModelCard, ModelList

router = APIRouter(tags=["models"])


@router.get("/models", response_model=ModelList, responses={401: {"model": ErrorResponse}})
def list_models(service: ServiceDep) -> ModelList:
    """The configured model (a GGUF file name, or RAG_LLM_MODEL behind RAG_LLM_BASE_URL).
    Chat requests may name it, or use the alias `rag`."""
    return ModelList(data=[ModelCard(id=service.model_name)])


@router.get(
    "/models/{model_id}",
    response_model=ModelCard,
    responses={401: {"model": ErrorResponse}, 404: {"model": ErrorResponse}},
)
def get_model(model_id: str, service: ServiceDep) -> ModelCard:
    """The configured model, under its id or the alias `rag`; any other id is a 404."""
    return ModelCard(id=resolve_model(model_id, service))
