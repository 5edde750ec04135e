"""Run localstripe's app on 127.0.0.1, on a free port, with its state in memory only.

localstripe's own command listens on every interface and keeps its state in
/tmp/localstripe.pickle, shared by whoever runs it; the tests start this module
in a subprocess instead (`python -m tests.billing.localstripe_server`), which
prints the port it bound and serves until it is terminated.

It also teaches localstripe the parts of Stripe's invoice API that VoiceHub
uses and localstripe 1.15 lacks: a one-off invoice of the customer's pending
invoice items (`POST /v1/invoices` without a subscription, which its invoice
model supports but its route refuses), the `collection_method`,
`days_until_due`, `auto_advance` and `currency` parameters of that call, and
`POST /v1/invoices/{id}/finalize`.
"""

from __future__ import annotations

import socket
from typing import Any

from aiohttp import web
from localstripe import resources
from localstripe.errors import UserError


def _in_memory_only(_store: Any) -> None:
    """localstripe saves its whole state to a fixed file after every change; not here."""


resources.Store.dump_to_disk = _in_memory_only

from localstripe.server import app, json_response  # noqa: E402  (after the store is patched)

_create_invoice = resources.Invoice._api_create


def _create_invoice_with_collection(
    collection_method: str | None = None,
    days_until_due: str | int | None = None,
    auto_advance: str | bool | None = None,
    currency: str | None = None,
    **params: Any,
) -> Any:
    if collection_method not in (None, "charge_automatically", "send_invoice"):
        raise UserError(400, "Bad request", {"param": "collection_method"})
    if collection_method == "send_invoice" and days_until_due is None:
        raise UserError(400, "Missing required param: days_until_due.")
    if params.get("subscription") is None:
        params.pop("pending_invoice_items_behavior", None)
        invoice = resources.Invoice(**params)
    else:
        invoice = _create_invoice(**params)
    if currency is not None and invoice.lines._list and invoice.currency != currency.lower():
        raise UserError(400, "The pending invoice items are in another currency.")
    invoice.collection_method = collection_method or "charge_automatically"
    invoice.days_until_due = None if days_until_due is None else int(days_until_due)
    invoice.auto_advance = str(auto_advance).lower() == "true"
    invoice.hosted_invoice_url = None
    return invoice


resources.Invoice._api_create = staticmethod(_create_invoice_with_collection)


async def _finalize(request: web.Request) -> web.Response:
    invoice = resources.Invoice._api_retrieve(request.match_info["id"])
    if invoice.status != "draft":
        raise UserError(400, "This invoice is already finalized.", {"code": "invoice_not_editable"})
    invoice._finalize()
    invoice.hosted_invoice_url = f"https://invoice.stripe.test/i/{invoice.id}"
    response: web.Response = json_response(invoice._export())
    return response


app.router.add_post("/v1/invoices/{id}/finalize", _finalize)


def main() -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    print(sock.getsockname()[1], flush=True)
    web.run_app(app, sock=sock, print=None, access_log=None, handle_signals=True)


if __name__ == "__main__":
    main()
