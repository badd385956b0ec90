"""The participant-facing web app.

For now a stub: a start page and a read-only activity page. Registration
forms, withdrawal links and surveys come with the participant web (next issue).
"""

from __future__ import annotations

from html import escape

from fastapi import FastAPI, HTTPException
from fastapi.responses import HTMLResponse

from activities_impl.compose import when
from activities_impl.store import Store, StoreError


def _page(title: str, body: str) -> HTMLResponse:
    return HTMLResponse(f"""<!doctype html><html lang="sv"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{escape(title)}</title></head>
<body><main>{body}</main></body></html>""")


def create_app(store: Store) -> FastAPI:
    app = FastAPI(title="runflow", docs_url=None, redoc_url=None)

    @app.get("/healthz")
    def healthz() -> dict:
        return {"ok": True}

    @app.get("/", response_class=HTMLResponse)
    def index() -> HTMLResponse:
        items = "".join(f'<li><a href="/a/{escape(a.id)}">{escape(a.title)}</a></li>' for a in store.activities())
        return _page("RUN – aktiviteter", f"<h1>RUN – aktiviteter</h1><ul>{items}</ul>"
                     "<p>Anmälan via webben öppnar snart.</p>")

    @app.get("/a/{activity_id}", response_class=HTMLResponse)
    def activity_page(activity_id: str) -> HTMLResponse:
        try:
            plan = store.plan(activity_id)
        except StoreError:
            raise HTTPException(404, "Aktiviteten finns inte") from None
        sessions = "".join(f"<li>{escape(when(s.start, s.end))}</li>" for s in plan.sessions)
        return _page(plan.title, f"<h1>{escape(plan.title)}</h1><p>{escape(plan.description)}</p>"
                     f"<h2>Tillfällen</h2><ul>{sessions}</ul>"
                     f"<p>Sista anmälningsdag: {escape(when(plan.registration.deadline))}</p>")

    return app
