"""The project bank: publish a record, search the records of the whole network, adopt
one with credit to its origin."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from sqlmodel import Session
from starlette.responses import Response

from node.api.ids import RowId
from node.api.v1.deps import db, json_with_etag, member_tx
from node.api.v1.economy_io import Adoption, NewProject, ProjectOut
from node.api.v1.outputs import Items, ok
from node.api.v1.schemas import defaults
from node.governance.bodies import body_by_handle
from node.models import ProjectRecord
from node.projects import bank
from node.tx import Tx

router = APIRouter(prefix="/api/v1", tags=["project bank"])


def _view(session: Session, row: ProjectRecord) -> dict[str, object]:
    return bank.view(row, bank.adoptions(session, [row.uri]).get(row.uri, 0))


@router.get("/projects", responses=ok(Items[ProjectOut]))
def search(request: Request, q: str = "", sector: str = "",
           session: Session = Depends(db)) -> Response:
    """Records known to this node (every node holds the network's), newest first,
    filtered by words of `q` and by `sector`."""
    rows = bank.search(session, q[:200], sector[:100])
    counts = bank.adoptions(session, [r.uri for r in rows])
    return json_with_etag(request, {"items": [bank.view(r, counts.get(r.uri, 0))
                                              for r in rows]})


@router.post("/bodies/{handle}/projects", status_code=201, responses=ok(ProjectOut, 201))
def publish(request: Request, handle: str, data: NewProject,
            tx: Tx = Depends(member_tx),
            session: Session = Depends(db)) -> Response:
    """A facilitator publishes the body's record to the bank."""
    row = bank.publish_record(tx, body_by_handle(session, handle),
                              data.title, data.sector,
                              data.model_dump(exclude={"title", "sector"}))
    session.commit()
    return json_with_etag(request, _view(session, row), 201)


@router.post("/bodies/{handle}/projects/{record_id}/adopt", status_code=201,
             responses=ok(ProjectOut, 201))
def adopt(request: Request, handle: str, record_id: RowId, data: Adoption = defaults(Adoption),
          tx: Tx = Depends(member_tx),
          session: Session = Depends(db)) -> Response:
    """Adopt another body's record: the body publishes its own, naming the origin."""
    row = bank.adopt(tx, body_by_handle(session, handle), record_id, data.note)
    session.commit()
    return json_with_etag(request, _view(session, row), 201)
