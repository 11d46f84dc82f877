"""The cluster as the web control shows it (issue 18): ``GET /api/v1/cluster``.

Which node this is, every node with its load and whether its heartbeat is fresh, and
which node each running conference lives on (the lease Kamailio routes by). Read from
the shared store, so every node answers the same. Who may read it is ``authorize``'s
``VIEW_AUDIT_LOG``, as for the status page and the audit log: the administrator
and the security administrator.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from mcu import cluster
from mcu.control.access import Control, Principal, control_of, principal_of, require
from mcu.control.schemas import ERRORS
from mcu.permissions import Actor, Operation

Auth = Annotated[Principal, Depends(principal_of)]
Ctl = Annotated[Control, Depends(control_of)]


async def cluster_status(ctl: Control, actor: Actor) -> dict[str, Any]:
    """This node, the nodes and the conferences' leases; ``node_id`` null and empty
    lists on an MCU that is not part of a cluster."""
    await require(ctl, actor, Operation.VIEW_AUDIT_LOG, None)
    member = ctl.live.cluster_member()
    if member is None:
        return {"node_id": None, "nodes": [], "conferences": []}
    return await cluster.status(ctl.store, member.lease_s, member.node_id)


def build_router() -> APIRouter:
    router = APIRouter(prefix="/api/v1", responses=ERRORS, tags=["cluster"])

    @router.get("/cluster")
    async def get_cluster(principal: Auth, ctl: Ctl) -> dict[str, Any]:
        """This node's id, every node (address, load, heartbeat, `alive`) and where
        each running conference lives (`conferences`: numeric_id -> node_id)."""
        return await cluster_status(ctl, principal.actor)

    return router


__all__ = ["build_router", "cluster_status"]
