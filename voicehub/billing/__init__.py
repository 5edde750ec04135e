"""Stripe: studios' customers and invoices, actors' Connect accounts and payouts, webhooks."""
