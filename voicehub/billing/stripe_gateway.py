"""The one module that talks to Stripe, through Stripe's own SDK.

Two base URLs: billing (customers, invoice items, invoices) and Connect
(accounts, account links, transfers). Both are https://api.stripe.com in
production; the tests point billing at localstripe and Connect at a local
double. Every call that creates something at Stripe carries an idempotency key
made from VoiceHub's own ids, so a retried run gets back the object the first
run made instead of a second one. Stripe's errors come out as VoiceHub's:
`StripeUnavailable` when Stripe could not be reached or asked to retry (the
caller retries later, with the same key), `StripeRefused` when it answered no.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import stripe

from voicehub.errors import VoiceHubError
from voicehub.settings import Settings


class StripeNotConfigured(VoiceHubError):
    status = 503
    code = "stripe_not_configured"
    title = "Stripe is not configured"


class StripeUnavailable(VoiceHubError):
    status = 503
    code = "stripe_unavailable"
    title = "Stripe cannot be reached"


class StripeRefused(VoiceHubError):
    status = 502
    code = "stripe_refused"
    title = "Stripe refused the request"


@dataclass(frozen=True)
class StripeInvoice:
    id: str
    status: str
    currency: str
    subtotal: int
    amount_paid: int
    hosted_invoice_url: str | None
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StripeInvoiceItem:
    id: str
    amount: int
    currency: str
    invoice: str | None
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ConnectAccount:
    id: str
    country: str
    details_submitted: bool
    payouts_enabled: bool


@dataclass(frozen=True)
class AccountLink:
    url: str
    expires_at: int


@dataclass(frozen=True)
class Transfer:
    id: str
    amount: int
    currency: str
    destination: str
    transfer_group: str | None
    metadata: dict[str, str] = field(default_factory=dict)


def _plain(obj: Any) -> dict[str, Any]:
    plain: dict[str, Any] = obj.to_dict()
    return plain


def _metadata(data: Mapping[str, Any]) -> dict[str, str]:
    return {str(k): str(v) for k, v in (data.get("metadata") or {}).items()}


def _invoice(data: Mapping[str, Any]) -> StripeInvoice:
    return StripeInvoice(
        id=data["id"],
        status=str(data.get("status") or ""),
        currency=str(data.get("currency") or "").upper(),
        subtotal=int(data.get("subtotal") or 0),
        amount_paid=int(data.get("amount_paid") or 0),
        hosted_invoice_url=data.get("hosted_invoice_url"),
        metadata=_metadata(data),
    )


def _account(data: Mapping[str, Any]) -> ConnectAccount:
    return ConnectAccount(
        id=data["id"],
        country=str(data.get("country") or ""),
        details_submitted=bool(data.get("details_submitted")),
        payouts_enabled=bool(data.get("payouts_enabled")),
    )


def _transfer(data: Mapping[str, Any]) -> Transfer:
    return Transfer(
        id=data["id"],
        amount=int(data["amount"]),
        currency=str(data["currency"]).upper(),
        destination=str(data.get("destination") or ""),
        transfer_group=data.get("transfer_group"),
        metadata=_metadata(data),
    )


@contextmanager
def _calling(what: str) -> Iterator[None]:
    """Stripe's errors as VoiceHub's: retry later, or a refusal with Stripe's own code."""
    try:
        yield
    except (stripe.APIConnectionError, stripe.RateLimitError) as error:
        raise StripeUnavailable(f"Stripe could not be reached to {what}: {error}") from error
    except stripe.StripeError as error:
        status = error.http_status or 0
        # 409: a request with the same idempotency key is still running at Stripe.
        if status >= 500 or status == 409:
            raise StripeUnavailable(
                f"Stripe could not {what} just now ({status}): {error.user_message or error}"
            ) from error
        raise StripeRefused(
            f"Stripe refused to {what}: {error.user_message or error}",
            stripe_code=error.code,
            stripe_status=status,
        ) from error


class StripeGateway:
    """VoiceHub's calls to Stripe: the billing side and the Connect side."""

    def __init__(
        self,
        *,
        api_key: str,
        api_base: str,
        connect_api_base: str = "",
        max_network_retries: int = 2,
    ) -> None:
        if not api_key:
            raise StripeNotConfigured(
                "VOICEHUB_STRIPE_API_KEY is not set, so VoiceHub cannot reach Stripe."
            )
        self.billing = stripe.StripeClient(
            api_key,
            base_addresses={"api": api_base},
            max_network_retries=max_network_retries,
        )
        self.connect = stripe.StripeClient(
            api_key,
            base_addresses={"api": connect_api_base or api_base},
            max_network_retries=max_network_retries,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> StripeGateway:
        return cls(
            api_key=settings.stripe_api_key,
            api_base=settings.stripe_api_base,
            connect_api_base=settings.stripe_connect_api_base,
            max_network_retries=settings.stripe_max_network_retries,
        )

    # Billing: studios' customers and invoices.

    def create_customer(self, *, studio_id: str, name: str) -> str:
        with _calling("create the studio's customer"):
            customer = self.billing.v1.customers.create(
                params={"name": name, "metadata": {"voicehub_studio_id": studio_id}},
                options={"idempotency_key": f"customer:{studio_id}"},
            )
        return str(customer.id)

    def pending_invoice_items(self, customer: str) -> list[StripeInvoiceItem]:
        """The customer's invoice items not yet on an invoice."""
        items = []
        with _calling("list the customer's invoice items"):
            listing = self.billing.v1.invoice_items.list(
                params={"customer": customer, "limit": 100}
            )
            for item in listing.auto_paging_iter():
                data = _plain(item)
                if data.get("invoice") is None:
                    items.append(
                        StripeInvoiceItem(
                            id=data["id"],
                            amount=int(data["amount"]),
                            currency=str(data["currency"]).upper(),
                            invoice=None,
                            metadata=_metadata(data),
                        )
                    )
        return items

    def create_invoice_item(
        self,
        *,
        customer: str,
        amount_minor: int,
        currency: str,
        description: str,
        metadata: dict[str, str],
        idempotency_key: str,
    ) -> str:
        with _calling("add an invoice item"):
            item = self.billing.v1.invoice_items.create(
                params={
                    "customer": customer,
                    "amount": amount_minor,
                    "currency": currency.lower(),
                    "description": description,
                    "metadata": metadata,
                },
                options={"idempotency_key": idempotency_key},
            )
        return str(item.id)

    def find_invoice(self, customer: str, metadata_key: str, value: str) -> StripeInvoice | None:
        """The customer's invoice whose metadata says it is VoiceHub's invoice `value`, if any."""
        with _calling("list the customer's invoices"):
            listing = self.billing.v1.invoices.list(params={"customer": customer, "limit": 100})
            for invoice in listing.auto_paging_iter():
                data = _plain(invoice)
                if _metadata(data).get(metadata_key) == value:
                    return _invoice(data)
        return None

    def create_invoice(
        self,
        *,
        customer: str,
        currency: str,
        description: str,
        metadata: dict[str, str],
        days_until_due: int,
        idempotency_key: str,
    ) -> StripeInvoice:
        """A draft invoice of the customer's pending invoice items, sent for them to pay."""
        with _calling("create the invoice"):
            invoice = self.billing.v1.invoices.create(
                params={
                    "customer": customer,
                    "currency": currency.lower(),
                    "description": description,
                    "metadata": metadata,
                    "collection_method": "send_invoice",
                    "days_until_due": days_until_due,
                    "auto_advance": False,
                    "pending_invoice_items_behavior": "include",
                },
                options={"idempotency_key": idempotency_key},
            )
        return _invoice(_plain(invoice))

    def retrieve_invoice(self, invoice_id: str) -> StripeInvoice:
        with _calling("read the invoice"):
            return _invoice(_plain(self.billing.v1.invoices.retrieve(invoice_id)))

    def finalize_invoice(self, invoice_id: str, *, idempotency_key: str) -> StripeInvoice:
        """Finalize a draft: it gets its number and hosted page, and Stripe sends it."""
        with _calling("finalize the invoice"):
            invoice = self.billing.v1.invoices.finalize_invoice(
                invoice_id,
                params={"auto_advance": True},
                options={"idempotency_key": idempotency_key},
            )
        return _invoice(_plain(invoice))

    # Connect: actors' Express accounts and the transfers that pay them.

    def create_express_account(self, *, actor_id: str, country: str) -> ConnectAccount:
        with _calling("open the actor's payout account"):
            account = self.connect.v1.accounts.create(
                params={
                    "type": "express",
                    "country": country,
                    "business_type": "individual",
                    "capabilities": {"transfers": {"requested": True}},
                    "metadata": {"voicehub_actor_id": actor_id},
                },
                options={"idempotency_key": f"account:{actor_id}"},
            )
        return _account(_plain(account))

    def retrieve_account(self, account_id: str) -> ConnectAccount:
        with _calling("read the payout account"):
            return _account(_plain(self.connect.v1.accounts.retrieve(account_id)))

    def create_account_link(
        self, *, account_id: str, return_url: str, refresh_url: str
    ) -> AccountLink:
        """A fresh single-use onboarding link.

        Deliberately without an idempotency key: each call must give a new link
        (the previous one may have been used or expired), and making one changes
        nothing at Stripe worth protecting from a repeat.
        """
        with _calling("make an onboarding link"):
            link = self.connect.v1.account_links.create(
                params={
                    "account": account_id,
                    "type": "account_onboarding",
                    "return_url": return_url,
                    "refresh_url": refresh_url,
                }
            )
        return AccountLink(url=str(link.url), expires_at=int(link.expires_at))

    def find_transfer(
        self, *, destination: str, transfer_group: str, metadata_key: str, value: str
    ) -> Transfer | None:
        """A transfer already made for VoiceHub's payout `value`, if any."""
        with _calling("list transfers"):
            listing = self.connect.v1.transfers.list(
                params={"destination": destination, "transfer_group": transfer_group, "limit": 100}
            )
            for transfer in listing.auto_paging_iter():
                data = _plain(transfer)
                if _metadata(data).get(metadata_key) == value:
                    return _transfer(data)
        return None

    def create_transfer(
        self,
        *,
        amount_minor: int,
        currency: str,
        destination: str,
        transfer_group: str,
        metadata: dict[str, str],
        idempotency_key: str,
    ) -> Transfer:
        with _calling("transfer to the actor's account"):
            transfer = self.connect.v1.transfers.create(
                params={
                    "amount": amount_minor,
                    "currency": currency.lower(),
                    "destination": destination,
                    "transfer_group": transfer_group,
                    "metadata": metadata,
                },
                options={"idempotency_key": idempotency_key},
            )
        return _transfer(_plain(transfer))
