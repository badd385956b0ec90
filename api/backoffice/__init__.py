"""The coordinators' back-office under /admin: sign-in, overview, activity pages, forms, contacts, API tokens,
recurring rounds' schedules, the year's action plan and economy.

`mount_backoffice(app, ...)` adds its routes and its answers to anonymous visitors (303 to sign in), viewers
changing things (403) and forms without a CSRF token (403). Every page works without JavaScript.
"""

from __future__ import annotations

from fastapi import FastAPI

from api.backoffice.activity_page import activity_router
from api.backoffice.config import BackOfficeConfig, OidcConfig
from api.backoffice.contacts import contacts_router
from api.backoffice.context import ADMIN, BackOffice
from api.backoffice.dashboard import dashboard_router
from api.backoffice.messages import messages_router
from api.backoffice.office_log import office_log_router
from api.backoffice.oidc import OidcSignIn
from api.backoffice.plan_pages import plan_router
from api.backoffice.schedules import schedules_router
from api.backoffice.signin import signin_router
from api.backoffice.steering import steering_router
from api.backoffice.tokens import tokens_router
from api.backoffice.year_pages import year_router
from api.backoffice.year_report import year_report_router

__all__ = ["ADMIN", "BackOffice", "BackOfficeConfig", "OidcConfig", "mount_backoffice"]


def mount_backoffice(app: FastAPI, bo: BackOffice) -> None:
    bo.install(app)
    oidc = OidcSignIn(bo, bo.config.oidc) if bo.config.oidc is not None else None
    if oidc is not None:  # its routes and the cookie of the round trip to the provider
        oidc.install(app)
        app.include_router(oidc.router(), prefix=ADMIN)
    app.include_router(plan_router(bo), prefix=ADMIN)  # before /activities/{id}: 'new' and 'upload' are pages
    routers = (
        signin_router(bo, oidc),
        dashboard_router(bo),
        activity_router(bo),
        steering_router(bo),
        messages_router(bo),
        tokens_router(bo),
        contacts_router(bo),
        office_log_router(bo),
        schedules_router(bo),
        year_router(bo),
        year_report_router(bo),
    )
    for router in routers:
        app.include_router(router, prefix=ADMIN)
