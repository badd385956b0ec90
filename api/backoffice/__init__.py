"""The coordinators' back-office under /admin: sign-in, overview, activity pages, forms, contacts, API tokens.

`mount_backoffice(app, ...)` adds its routes and its answers to anonymous visitors (303 to sign in), viewers
changing things (403) and forms without a CSRF token (403). Every page works without JavaScript.
"""

from __future__ import annotations

from fastapi import FastAPI

from api.backoffice.config import BackOfficeConfig, OidcConfig
from api.backoffice.context import ADMIN, BackOffice
from api.backoffice.dashboard import dashboard_router
from api.backoffice.signin import signin_router

__all__ = ["ADMIN", "BackOffice", "BackOfficeConfig", "OidcConfig", "mount_backoffice"]


def mount_backoffice(app: FastAPI, bo: BackOffice) -> None:
    bo.install(app)
    for router in (signin_router(bo), dashboard_router(bo)):
        app.include_router(router, prefix=ADMIN)
