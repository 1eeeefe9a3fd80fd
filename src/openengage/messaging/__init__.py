"""Messaging (issue #10): channels (SMTP, webhook), the sender, system events of deliveries.

Campaign templates are a pure leaf (rules/templates.py) so the store can refuse a bad one when it is
saved; the transaction API is api/transactions.py. Layer 2: imports only the store's contract.
"""
