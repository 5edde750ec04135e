"""A local stand-in for Stripe's Connect API (accounts, account links, transfers).

localstripe has no Connect, so the tests point VoiceHub's Connect base URL here.
It speaks Stripe's wire format to Stripe's own SDK: form-encoded bodies with
bracketed keys, objects shaped like Stripe's published examples (its own copies
in tests/billing/data/), errors as `{"error": {"type", "code", "message",
"param"}}` with Stripe's HTTP statuses, and `Idempotency-Key` honoured (the same
key answers the first response again; with other parameters it is an
`idempotency_error`). Its state is in memory; the tests drive what only Stripe
could do (an actor finishing onboarding, a lost answer) through its methods.
"""

from __future__ import annotations

import copy
import json
import secrets
import string
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

DATA = Path(__file__).parent / "data"

# Countries where an Express account can be opened (a subset of Stripe's list).
COUNTRIES = {"AT", "AU", "BE", "CA", "CH", "DE", "DK", "ES", "FI", "FR", "GB", "IE", "IT", "JP"}
COUNTRIES |= {"KR", "NL", "NO", "NZ", "PT", "SE", "SG", "US"}


def template(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DATA / f"{name}.json").read_text())
    return data


def _random(prefix: str, length: int = 24) -> str:
    alphabet = string.ascii_letters + string.digits
    return prefix + "".join(secrets.choice(alphabet) for _ in range(length))


def unflatten(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """`metadata[a]=1&capabilities[transfers][requested]=true` as nested dicts."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        parts = key.replace("]", "").split("[")
        node = out
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return out


class StripeError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        type_: str = "invalid_request_error",
        executed: bool = False,
    ) -> None:
        super().__init__(message)
        self.status = status
        # Stripe keeps an idempotent result only once the endpoint began to execute: not
        # for a request refused on its parameters.
        self.executed = executed
        self.body: dict[str, Any] = {"error": {"type": type_, "message": message}}
        if code:
            self.body["error"]["code"] = code
        if param:
            self.body["error"]["param"] = param


@dataclass
class Seen:
    """A request as the double received it."""

    method: str
    path: str
    params: dict[str, Any]
    idempotency_key: str | None
    replayed: bool = False


@dataclass
class State:
    accounts: dict[str, dict[str, Any]] = field(default_factory=dict)
    transfers: dict[str, dict[str, Any]] = field(default_factory=dict)
    links: list[dict[str, Any]] = field(default_factory=list)
    # Available platform balance per (lower-case) currency, in its minor unit.
    balance: dict[str, int] = field(
        default_factory=lambda: {"jpy": 100_000_000, "usd": 10_000_000, "eur": 10_000_000}
    )
    idempotent: dict[str, tuple[str, dict[str, Any], int, dict[str, Any]]] = field(
        default_factory=dict
    )
    requests: list[Seen] = field(default_factory=list)
    # Requests ("POST /v1/transfers") to carry out whose answer is then lost, or to refuse
    # before doing anything, as many times as counted.
    lose_answer: dict[str, int] = field(default_factory=dict)
    unreachable: dict[str, int] = field(default_factory=dict)


class ConnectDouble:
    """The server, on 127.0.0.1 and a free port, in a thread of the test process."""

    def __init__(self, api_key_prefix: str = "sk_test_") -> None:
        self.state = State()
        self.lock = threading.Lock()
        self.api_key_prefix = api_key_prefix
        double = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                double._handle(self, "GET")

            def do_POST(self) -> None:
                double._handle(self, "POST")

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> ConnectDouble:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def reset(self) -> None:
        with self.lock:
            self.state = State()

    # What only Stripe (or the actor at Stripe) could do.

    def onboard(self, account_id: str) -> dict[str, Any]:
        """The actor finished onboarding: Stripe verified them and enabled payouts."""
        with self.lock:
            return self._onboard(account_id)

    def _onboard(self, account_id: str) -> dict[str, Any]:
        account = self._account(account_id, param="account", status=404)
        account.update(details_submitted=True, payouts_enabled=True, charges_enabled=False)
        account["capabilities"] = {"transfers": "active"}
        for key in ("currently_due", "eventually_due", "past_due"):
            account["requirements"][key] = []
        account["requirements"]["disabled_reason"] = None
        return copy.deepcopy(account)

    def account(self, account_id: str) -> dict[str, Any]:
        with self.lock:
            return copy.deepcopy(self.state.accounts[account_id])

    def transfers(self) -> list[dict[str, Any]]:
        with self.lock:
            return copy.deepcopy(list(self.state.transfers.values()))

    def requests(self, method: str | None = None, path: str | None = None) -> list[Seen]:
        with self.lock:
            return [
                r
                for r in self.state.requests
                if (method is None or r.method == method) and (path is None or r.path == path)
            ]

    def set_balance(self, currency: str, amount_minor: int) -> None:
        with self.lock:
            self.state.balance[currency.lower()] = amount_minor

    def lose_next_answer(self, request: str, times: int = 1) -> None:
        """Carry out the next `request` ("POST /v1/transfers") but close without answering."""
        with self.lock:
            self.state.lose_answer[request] = times

    def refuse_next(self, request: str, times: int = 1) -> None:
        """Drop the next `request` unanswered, before doing anything (Stripe unreachable)."""
        with self.lock:
            self.state.unreachable[request] = times

    # The wire.

    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        split = urlsplit(handler.path)
        path = split.path
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length).decode() if length else ""
        params = unflatten(parse_qsl(raw if method == "POST" else split.query, True))
        key = handler.headers.get("Idempotency-Key")
        request = f"{method} {path}"
        with self.lock:
            if self.state.unreachable.get(request, 0) > 0:
                self.state.unreachable[request] -= 1
                handler.close_connection = True
                return
            lose = self.state.lose_answer.get(request, 0) > 0
            if lose:
                self.state.lose_answer[request] -= 1
            seen = Seen(method, path, params, key)
            self.state.requests.append(seen)
            try:
                status, body = self._answer(handler, method, path, params, key, seen)
            except StripeError as error:
                status, body = error.status, error.body
        if lose:
            handler.close_connection = True
            return
        payload = json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(payload)))
        handler.send_header("Request-Id", _random("req_", 14))
        if seen.replayed:
            handler.send_header("Idempotent-Replayed", "true")
        handler.end_headers()
        handler.wfile.write(payload)

    def _answer(
        self,
        handler: BaseHTTPRequestHandler,
        method: str,
        path: str,
        params: dict[str, Any],
        key: str | None,
        seen: Seen,
    ) -> tuple[int, dict[str, Any]]:
        auth = handler.headers.get("Authorization", "")
        if not auth.startswith(f"Bearer {self.api_key_prefix}"):
            raise StripeError(401, "Invalid API Key provided.")
        if method == "POST" and key:
            stored = self.state.idempotent.get(key)
            if stored is not None:
                request, first_params, status, body = stored
                if request != f"{method} {path}" or first_params != params:
                    raise StripeError(
                        400,
                        "Keys for idempotent requests can only be used with the same parameters"
                        " they were first used with. Try using a key other than"
                        f" '{key}' if you meant to execute a different request.",
                        type_="idempotency_error",
                    )
                seen.replayed = True
                return status, copy.deepcopy(body)
        try:
            status, body = self._route(method, path, params)
        except StripeError as error:
            if method == "POST" and key and error.executed:
                self.state.idempotent[key] = (
                    f"{method} {path}",
                    params,
                    error.status,
                    copy.deepcopy(error.body),
                )
            raise
        if method == "POST" and key:
            self.state.idempotent[key] = (f"{method} {path}", params, status, copy.deepcopy(body))
        return status, body

    def _route(self, method: str, path: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        parts = path.strip("/").split("/")
        if parts[:2] == ["v1", "accounts"]:
            if method == "POST" and len(parts) == 2:
                return 200, self._create_account(params)
            if method == "GET" and len(parts) == 3:
                return 200, copy.deepcopy(self._account(parts[2], param="account", status=404))
        if parts == ["v1", "account_links"] and method == "POST":
            return 200, self._create_account_link(params)
        if parts[:2] == ["v1", "transfers"]:
            if method == "POST" and len(parts) == 2:
                return 200, self._create_transfer(params)
            if method == "GET" and len(parts) == 2:
                return 200, self._list_transfers(params)
            if method == "GET" and len(parts) == 3:
                transfer = self.state.transfers.get(parts[2])
                if transfer is None:
                    raise StripeError(
                        404,
                        f"No such transfer: '{parts[2]}'",
                        code="resource_missing",
                        param="id",
                    )
                return 200, copy.deepcopy(transfer)
        # Test-only control, never Stripe's: the account's actor finished onboarding.
        if method == "POST" and parts[:2] == ["_test", "accounts"] and parts[3:] == ["onboard"]:
            return 200, self._onboard(parts[2])
        raise StripeError(
            404,
            f"Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs"
            " or we can help at https://support.stripe.com/.",
        )

    def _account(self, account_id: str, *, param: str, status: int) -> dict[str, Any]:
        account = self.state.accounts.get(account_id)
        if account is None:
            raise StripeError(
                status, f"No such account: '{account_id}'", code="resource_missing", param=param
            )
        return account

    def _create_account(self, params: dict[str, Any]) -> dict[str, Any]:
        kind = params.get("type", "standard")
        if kind not in ("standard", "express", "custom"):
            raise StripeError(400, f"Invalid type: {kind}", code="parameter_invalid_string")
        country = str(params.get("country", "US"))
        if country not in COUNTRIES:
            raise StripeError(
                400,
                f"Country '{country}' is unknown. Try using a 2-character alphanumeric country"
                " code instead, such as 'US', 'EG', or 'GB'.",
                code="country_unsupported",
                param="country",
            )
        account = template("account")
        account_id = _random("acct_", 16)
        requested = {
            name: "inactive"
            for name, wanted in (params.get("capabilities") or {}).items()
            if str((wanted or {}).get("requested")).lower() == "true"
        }
        account.update(
            id=account_id,
            type=kind,
            country=country,
            email=params.get("email"),
            business_type=params.get("business_type"),
            metadata=dict(params.get("metadata") or {}),
            capabilities=requested,
            charges_enabled=False,
            payouts_enabled=False,
            details_submitted=False,
            created=int(time.time()),
            default_currency={"JP": "jpy", "US": "usd", "GB": "gbp"}.get(country, "eur"),
        )
        account["controller"] = {"type": "application", "stripe_dashboard": {"type": kind}}
        account["external_accounts"]["url"] = f"/v1/accounts/{account_id}/external_accounts"
        self.state.accounts[account_id] = account
        return copy.deepcopy(account)

    def _create_account_link(self, params: dict[str, Any]) -> dict[str, Any]:
        for name in ("account", "type", "refresh_url", "return_url"):
            if not params.get(name):
                raise StripeError(
                    400, f"Missing required param: {name}.", code="parameter_missing", param=name
                )
        if params["type"] not in ("account_onboarding", "account_update"):
            raise StripeError(400, "Invalid type.", code="parameter_invalid_string", param="type")
        account = self._account(params["account"], param="account", status=400)
        link = template("account_link")
        now = int(time.time())
        link.update(
            created=now,
            expires_at=now + 300,
            url=f"https://connect.stripe.test/setup/e/{account['id']}/{_random('', 12)}",
        )
        self.state.links.append(link)
        return copy.deepcopy(link)

    def _create_transfer(self, params: dict[str, Any]) -> dict[str, Any]:
        for name in ("amount", "currency", "destination"):
            if not params.get(name):
                raise StripeError(
                    400, f"Missing required param: {name}.", code="parameter_missing", param=name
                )
        amount_text = str(params["amount"])
        if not amount_text.isdigit() or int(amount_text) < 1:
            raise StripeError(
                400,
                "This value must be greater than or equal to 1.",
                code="parameter_invalid_integer",
                param="amount",
            )
        amount, currency = int(amount_text), str(params["currency"]).lower()
        destination = self._account(params["destination"], param="destination", status=400)
        if destination["capabilities"].get("transfers") != "active":
            raise StripeError(
                400,
                "Your destination account needs to have at least one of the following"
                " capabilities enabled: transfers, crypto_transfers, legacy_payments",
                code="insufficient_capabilities_for_transfer",
                param="destination",
                executed=True,
            )
        if amount > self.state.balance.get(currency, 0):
            raise StripeError(
                400,
                "You have insufficient available funds in your Stripe account. Try adding"
                " funds directly to your available balance by creating Charges using the"
                " 4000000000000077 test card. See: https://stripe.com/docs/testing#available-balance",
                code="balance_insufficient",
                executed=True,
            )
        self.state.balance[currency] -= amount
        transfer = template("transfer")
        transfer_id = _random("tr_")
        transfer.update(
            id=transfer_id,
            amount=amount,
            currency=currency,
            destination=destination["id"],
            destination_payment=_random("py_", 14),
            balance_transaction=_random("txn_"),
            created=int(time.time()),
            description=params.get("description"),
            metadata=dict(params.get("metadata") or {}),
            transfer_group=params.get("transfer_group"),
            amount_reversed=0,
            reversed=False,
        )
        transfer["reversals"]["url"] = f"/v1/transfers/{transfer_id}/reversals"
        self.state.transfers[transfer_id] = transfer
        return copy.deepcopy(transfer)

    def _list_transfers(self, params: dict[str, Any]) -> dict[str, Any]:
        found = [
            copy.deepcopy(t)
            for t in reversed(self.state.transfers.values())
            if params.get("destination") in (None, t["destination"])
            and params.get("transfer_group") in (None, t["transfer_group"])
        ]
        return {"object": "list", "url": "/v1/transfers", "has_more": False, "data": found}
