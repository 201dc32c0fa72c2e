"""Organisations (tenants), their API keys and their sites."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Header, status

from bitgoeul.errors import AuthenticationError
from bitgoeul.model import Site
from bitgoeul.services.tenancy import create_organisation

from ..deps import State, TenantDep
from ..schemas import (
    KeyCreate,
    KeyCreated,
    KeyPublic,
    OrganisationCreate,
    OrganisationCreated,
    OrganisationPublic,
    Page,
    SiteCreate,
    SitePublic,
)
from .paging import Cursor, Limit, page_of

router = APIRouter(prefix="/v1")


@router.post(
    "/organisations",
    status_code=status.HTTP_201_CREATED,
    tags=["organisations"],
    summary="Create an organisation (operator only)",
    responses={401: {"description": "No or wrong operator token."}},
)
def create_org(
    body: OrganisationCreate,
    state: State,
    x_operator_token: Annotated[
        str | None, Header(description="The service's operator token.")
    ] = None,
) -> OrganisationCreated:
    """Create a tenant and return its first key (scopes read, write, admin), shown once."""
    expected = state.settings.operator_token
    if (
        expected is None
        or not x_operator_token
        or not hmac.compare_digest(expected.get_secret_value().encode(), x_operator_token.encode())
    ):
        raise AuthenticationError(
            "creating organisations needs the operator token in the X-Operator-Token header"
            if expected is not None
            else "this service has no operator token: create organisations with "
            "`bitgoeul org create`"
        )
    with state.lock:
        issued = create_organisation(
            state.store, body.org_id, name=body.name, directory=state.directory
        )
    return OrganisationCreated(
        organisation=OrganisationPublic(org_id=body.org_id, name=body.name),
        admin_key=KeyCreated(**KeyPublic.of(issued.key).model_dump(), token=issued.token),
    )


@router.get("/organisation", tags=["organisations"], summary="The caller's organisation")
def get_org(tenant: TenantDep) -> OrganisationPublic:
    """Return the organisation the key belongs to."""
    org = tenant.organisation()
    return OrganisationPublic(org_id=org.org_id, name=org.name)


@router.get("/keys", tags=["keys"], summary="List API keys (admin)")
def list_keys(tenant: TenantDep, limit: Limit = 100, cursor: Cursor = None) -> Page[KeyPublic]:
    """Every key of the organisation, without secrets, oldest first."""
    keys = [KeyPublic.of(k) for k in tenant.api_keys()]
    return page_of(keys, limit=limit, cursor=cursor)


@router.post(
    "/keys", status_code=status.HTTP_201_CREATED, tags=["keys"], summary="Issue an API key (admin)"
)
def create_key(body: KeyCreate, tenant: TenantDep) -> KeyCreated:
    """Issue a key; its secret (``token``) is shown only in this response."""
    issued = tenant.issue_key(
        scopes=body.scopes,
        name=body.name,
        site_ids=body.site_ids,
        share=body.share,
        expires_at=body.expires_at,
    )
    return KeyCreated(**KeyPublic.of(issued.key).model_dump(), token=issued.token)


@router.delete("/keys/{key_id}", tags=["keys"], summary="Revoke an API key (admin)")
def revoke_key(key_id: str, tenant: TenantDep) -> KeyPublic:
    """Revoke a key at once; requests with it are refused from now on."""
    return KeyPublic.of(tenant.revoke_key(key_id))


@router.get("/sites", tags=["sites"], summary="List sites")
def list_sites(tenant: TenantDep, limit: Limit = 100, cursor: Cursor = None) -> Page[SitePublic]:
    """List the sites the key reaches, by id."""
    sites = [
        SitePublic(site_id=s.site_id, name=s.name, timezone=s.timezone) for s in tenant.sites()
    ]
    return page_of(sites, limit=limit, cursor=cursor)


@router.post(
    "/sites", status_code=status.HTTP_201_CREATED, tags=["sites"], summary="Create a site (admin)"
)
def create_site(body: SiteCreate, tenant: TenantDep) -> SitePublic:
    """Create a site in the caller's organisation."""
    site = tenant.add_site(
        Site(site_id=body.site_id, org_id=tenant.org_id, name=body.name, timezone=body.timezone)
    )
    return SitePublic(site_id=site.site_id, name=site.name, timezone=site.timezone)


@router.get("/sites/{site_id}", tags=["sites"], summary="Get a site")
def get_site(site_id: str, tenant: TenantDep) -> SitePublic:
    """One site."""
    site = tenant.site(site_id)
    return SitePublic(site_id=site.site_id, name=site.name, timezone=site.timezone)
